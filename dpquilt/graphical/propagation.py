"""Sum-product on a junction tree, planned once and run many times.

Mirror descent calibrates the same junction tree thousands of times with new
potentials. :class:`Propagation` works out everything that depends only on the
tree (which node holds each clique, message order, the axes each message sums out
and how it broadcasts against its neighbour) when it is built, so each call is a
short sequence of numpy kernels.

Messages are passed in probability space with per-node rescaling (Koller and
Friedman 2009, Sec. 10.2 "sum-product message passing", with the normalisation
of Box 10.A): each node's potential is ``exp(psi - max psi)``, so it costs one
``exp`` per node instead of one per message, and every message is rescaled to
maximum 1 so that nothing overflows. Each node multiplies its children's
messages into its own table in place on the way up, and its parent's on the way
down, which leaves the belief; the message to a child is the belief summed onto
the separator divided by the child's own message (the division of
belief-update, Sec. 10.3, done on the separator only). Cells whose probability is
below about 1e-300 of the node's largest come out as exact zeros.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .clique_groups import CliqueGroups
from ..marginals.tables import sum_out, widen

__all__ = ["Propagation", "breadth_first"]

Clique = tuple[str, ...]


class Propagation:
    """A calibration plan for one junction tree and one set of potential cliques.

    Parameters
    ----------
    nodes : sequence of cliques
        Junction-tree nodes.
    edges : sequence of (int, int)
        Tree edges between node indices (a forest is allowed).
    domain : mapping of str to int
    cliques : sequence of cliques
        The cliques whose log-potentials each call receives; each must lie inside a node.

    Examples
    --------
    >>> import numpy as np
    >>> plan = Propagation([("a", "b"), ("b", "c")], [(0, 1)], {"a": 2, "b": 2, "c": 2},
    ...                    [("a", "b"), ("b", "c")])
    >>> mu = plan.marginals([np.zeros((2, 2)), np.log([[1.0, 1.0], [1.0, 3.0]])], total=6.0)
    >>> mu[1].round(6).tolist()
    [[1.0, 1.0], [1.0, 3.0]]
    """

    def __init__(
        self,
        nodes: Sequence[Clique],
        edges: Sequence[tuple[int, int]],
        domain: Mapping[str, int],
        cliques: Sequence[Clique],
    ) -> None:
        self.nodes = [tuple(n) for n in nodes]
        self.shapes = [tuple(int(domain[a]) for a in n) for n in self.nodes]
        homes = []  # the node holding each clique
        for clique in cliques:
            home = next((i for i, n in enumerate(self.nodes) if set(clique) <= set(n)), None)
            if home is None:
                raise ValueError(f"clique {tuple(clique)} lies in no junction-tree node")
            homes.append(home)
        self.groups = CliqueGroups(self.nodes, homes, [tuple(c) for c in cliques], domain)
        self.order, self.parent = breadth_first(len(self.nodes), edges)
        self.children: list[list[int]] = [[] for _ in self.nodes]
        for i in self.order:
            if self.parent[i] >= 0:
                self.children[self.parent[i]].append(i)
        # for each non-root node i and its parent p, with the separator's columns in i's order:
        # up_axes[i]    the axes of i summed out for its message to p
        # up_shape[i]   (transpose, shape) that broadcasts that message against p's axes
        # down_sum[i]   the axes of p summed out for p's message to i, and the transpose into i's order
        # down_shape[i] the shape that broadcasts p's message against i's axes
        self.up_axes, self.up_shape, self.down_sum, self.down_shape = {}, {}, {}, {}
        for i, p in enumerate(self.parent):
            if p < 0:
                continue
            node, parent = self.nodes[i], self.nodes[p]
            cols = [a for a in node if a in parent]
            in_parent = [a for a in parent if a in cols]
            to_parent = tuple(cols.index(a) for a in in_parent)
            to_child = tuple(in_parent.index(a) for a in cols)
            identity = tuple(range(len(cols)))
            self.up_axes[i] = tuple(k for k, a in enumerate(node) if a not in cols)
            self.up_shape[i] = (
                None if to_parent == identity else to_parent,
                tuple(int(domain[a]) if a in cols else 1 for a in parent),
            )
            self.down_sum[i] = (
                tuple(k for k, a in enumerate(parent) if a not in cols),
                None if to_child == identity else to_child,
            )
            self.down_shape[i] = tuple(int(domain[a]) if a in cols else 1 for a in node)

    def log_potentials(self, tables: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Sum the clique tables into node tables (``psi``)."""
        psi = [np.zeros(shape) for shape in self.shapes]
        self.groups.add_to_nodes(psi, tables, 1.0)
        return psi

    def times_exp(
        self, node_tables: Sequence[np.ndarray], tables: Sequence[np.ndarray], scale: float
    ) -> tuple[list[np.ndarray], float]:
        """Each node's table times ``exp(scale * t)`` of its cliques' tables ``t``, up to the
        returned log factor, as new tables (see :meth:`CliqueGroups.times_exp`)."""
        return self.groups.times_exp(node_tables, tables, scale)

    def clique_marginals(self, node_tables: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each clique's marginal (axes in the clique's order) from calibrated node marginals."""
        return self.groups.clique_marginals(node_tables)

    def marginals(self, tables: Sequence[np.ndarray], total: float) -> list[np.ndarray]:
        """Calibrated node marginals (counts summing to ``total``) for the cliques' log-potentials."""
        return self.calibrate(tables, total)[0]

    def calibrate(
        self, tables: Sequence[np.ndarray], total: float, on_nodes: bool = False
    ) -> tuple[list[np.ndarray], float]:
        """Calibrated node marginals and the log-partition function ``log Z``.

        ``tables`` are the cliques' log-potentials, or with ``on_nodes=True`` the
        nodes' own (``psi``, one table per node in the node's axis order).

        ``log Z = log sum_x exp(sum_C theta_C(x_C))`` is recovered from the scale
        factors taken out along the way: each node's ``max psi`` and each upward
        message's rescaling, plus the log mass of each root's belief.
        """
        potential, log_z = [], 0.0
        for table in tables if on_nodes else self.log_potentials(tables):
            top = np.max(table)
            top = float(top) if np.isfinite(top) else 0.0
            buffer = np.subtract(table, top)
            potential.append(np.exp(buffer, out=buffer))
            log_z += top
        return self.propagate(potential, log_z, total)

    def propagate(
        self, potential: list[np.ndarray], log_scale: float, total: float
    ) -> tuple[list[np.ndarray], float]:
        """:meth:`calibrate` from the nodes' potentials: non-negative tables equal to
        ``exp(psi)`` up to the common factor ``exp(log_scale)``. They are not modified."""
        log_z = log_scale
        work = list(potential)
        owned = [False] * len(work)  # a node's table is copied at its first product, then updated in place

        def multiply(i: int, factor: np.ndarray) -> None:
            factor = widen(factor, work[i].shape)
            if owned[i]:
                work[i] *= factor
            else:
                work[i], owned[i] = work[i] * factor, True

        # upward (leaves first): each node absorbs its children's messages, then sums onto its separator
        up: dict[int, np.ndarray] = {}
        up_scale: dict[int, float] = {}  # the log of what each upward message was divided by
        for i in reversed(self.order):
            for c in self.children[i]:
                perm, shape = self.up_shape[c]
                multiply(i, (up[c] if perm is None else np.transpose(up[c], perm)).reshape(shape))
            if self.parent[i] >= 0:
                up[i], up_scale[i] = _rescale(sum_out(work[i], self.up_axes[i]))
                log_z += up_scale[i] if up_scale[i] > -np.inf else 0.0  # -inf: no mass below the separator
        # downward (root first): the parent's message completes the belief; a child's message leaves
        # out the child's own, which depends on the separator only, so it is divided out after summing.
        # A child's belief mass is its upward message against the downward one, on the separator, so
        # the scaling to ``total`` rides on the downward message: one pass over the node, not two
        down: dict[int, np.ndarray] = {}
        out: list[np.ndarray] = [np.empty(0)] * len(self.nodes)
        for i in self.order:
            is_root, scaled = i not in down, False
            if not is_root:
                factor = _to_total(total, float(np.sum(up[i] * down[i], dtype=np.float64)), up_scale[i])
                scaled = factor is not None
                multiply(i, (down[i] * factor if scaled else down[i]).reshape(self.down_shape[i]))
            belief = work[i]
            for c in self.children[i]:
                axes, to_child = self.down_sum[c]
                total_sep = sum_out(belief, axes)
                total_sep = total_sep if to_child is None else np.transpose(total_sep, to_child)
                msg = np.divide(total_sep, up[c], out=np.zeros_like(total_sep), where=up[c] > 0)
                down[c] = _rescale(msg)[0]
            if scaled:
                out[i] = work[i]
                continue
            mass = float(belief.sum(dtype=np.float64))  # a root (its mass gives log Z), or a node whose mass is out of range
            if is_root:
                log_z += float(np.log(mass)) if mass > 0 else -np.inf
            if mass > 0:
                multiply(i, np.asarray(total / mass, dtype=belief.dtype))
                out[i] = work[i]
            else:
                out[i] = np.full_like(belief, total / belief.size)
        return out, log_z


def _to_total(total: float, inner: float, log_scale: float) -> float | None:
    """``total / (inner * exp(log_scale))``: the factor that scales a child's belief, whose
    mass is ``inner`` (its upward message, rescaled, against the downward one) times
    ``exp(log_scale)``, to ``total``; ``None`` when that mass is zero or the factor is out
    of floating-point range (the caller then sums the belief).

    Examples
    --------
    >>> round(_to_total(100.0, 4.0, math.log(5.0)), 12)  # 100 / (4 * 5)
    5.0
    >>> _to_total(100.0, 4.0, -744.0) is None, _to_total(100.0, 0.0, 0.0) is None
    (True, True)
    """
    if not (total > 0 and inner > 0 and log_scale > -np.inf):
        return None
    log_factor = math.log(total) - math.log(inner) - log_scale
    return math.exp(log_factor) if abs(log_factor) < 700 else None


def _rescale(msg: np.ndarray) -> tuple[np.ndarray, float]:
    """``msg`` scaled to maximum 1, and the log of the factor taken out (``-inf`` for an
    all-zero message, which is replaced by ones)."""
    top = msg.max()
    return (msg / top, float(np.log(top))) if top > 0 else (np.ones_like(msg), -np.inf)


def breadth_first(n: int, edges: Sequence[tuple[int, int]], root: int = 0) -> tuple[list[int], list[int]]:
    """Breadth-first order of a forest's ``n`` nodes from ``root`` (then every other
    component), and each node's parent (-1 for roots).

    Examples
    --------
    >>> breadth_first(4, [(0, 1), (1, 2)])  # node 3 is a second tree
    ([0, 1, 2, 3], [-1, 0, 1, -1])
    """
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for i, j in edges:
        nbrs[i].append(j)
        nbrs[j].append(i)
    parent, seen, order = [-1] * n, [False] * n, []
    for start in [root, *range(n)]:
        if seen[start]:
            continue
        seen[start] = True
        queue = [start]
        while queue:
            i = queue.pop(0)
            order.append(i)
            for j in nbrs[i]:
                if not seen[j]:
                    seen[j], parent[j] = True, i
                    queue.append(j)
    return order, parent
