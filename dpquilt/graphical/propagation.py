"""Sum-product on a junction tree, planned once and run many times.

Mirror descent calibrates the same junction tree thousands of times with new
potentials. :class:`Propagation` works out everything that depends only on the
tree (which node holds each clique, axis orders, message order, ``einsum``
subscripts) when it is built, so each call is a short sequence of numpy kernels.

Messages are passed in probability space with per-node rescaling (Koller and
Friedman 2009, Sec. 10.2 "sum-product message passing", with the normalisation
of Box 10.A): each node's potential is ``exp(psi - max psi)``, so it costs one
``exp`` per node instead of one per message, and every message is rescaled to
maximum 1 so that nothing overflows. Cells whose probability is below about
1e-300 of the node's largest come out as exact zeros.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

import numpy as np

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
        # einsum subscripts are local to each node (letters by position), so any number of columns works
        local = [{a: string.ascii_letters[k] for k, a in enumerate(n)} for n in self.nodes]
        if max((len(n) for n in self.nodes), default=0) > len(string.ascii_letters):
            raise ValueError("a junction-tree node has more than 52 columns; the model is far too large")
        spec = ["".join(local[i][a] for a in n) for i, n in enumerate(self.nodes)]
        self.placement = []  # (node, transpose, shape) per clique
        for clique in cliques:
            clique = tuple(clique)
            home = next((i for i, n in enumerate(self.nodes) if set(clique) <= set(n)), None)
            if home is None:
                raise ValueError(f"clique {clique} lies in no junction-tree node")
            ordered = [a for a in self.nodes[home] if a in clique]
            perm = tuple(clique.index(a) for a in ordered)
            shape = tuple(int(domain[a]) if a in clique else 1 for a in self.nodes[home])
            self.placement.append((home, perm, shape))
        self.order, self.parent = breadth_first(len(self.nodes), edges)
        self.children: list[list[int]] = [[] for _ in self.nodes]
        for i in self.order:
            if self.parent[i] >= 0:
                self.children[self.parent[i]].append(i)
        # separator of each non-root node with its parent, columns in the child's order, spelled in the
        # child's letters (sep) and in the parent's (sep_up)
        sep, sep_up = {}, {}
        for i, p in enumerate(self.parent):
            if p >= 0:
                cols = [a for a in self.nodes[i] if a in self.nodes[p]]
                sep[i] = "".join(local[i][a] for a in cols)
                sep_up[i] = "".join(local[p][a] for a in cols)
        # upward: node i times its children's messages, summed onto the separator with its parent
        self.up_expr = {i: ",".join([spec[i]] + [sep_up[c] for c in self.children[i]]) + "->" + sep[i] for i in sep}
        # belief of node i: its potential times every incoming message
        self.belief_expr = []
        for i in range(len(self.nodes)):
            incoming = [sep_up[c] for c in self.children[i]] + ([sep[i]] if i in sep else [])
            self.belief_expr.append(",".join([spec[i]] + incoming) + "->" + spec[i])
        # downward to child c: parent's belief summed onto their separator (then divided by c's upward message)
        self.down_expr = {c: spec[self.parent[c]] + "->" + sep_up[c] for c in sep}

    def log_potentials(self, tables: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Sum the clique tables into node tables (``psi``); a node's only clique, already
        in the node's axis order, is used as is."""
        psi: list[np.ndarray | None] = [None] * len(self.nodes)
        for (home, perm, shape), table in zip(self.placement, tables):
            table = np.asarray(table, dtype=np.float64)
            if perm != tuple(range(len(perm))):
                table = np.transpose(table, perm)
            table = table.reshape(shape)
            psi[home] = table if psi[home] is None else psi[home] + table
        return [
            np.zeros(s) if p is None else p if p.shape == s else np.broadcast_to(p, s) + 0.0
            for p, s in zip(psi, self.shapes)
        ]

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
            top = top if np.isfinite(top) else 0.0
            potential.append(np.exp(table - top))
            log_z += float(top)
        up: dict[int, np.ndarray] = {}
        for i in reversed(self.order):
            if self.parent[i] < 0:
                continue
            msg = np.einsum(self.up_expr[i], potential[i], *(up[c] for c in self.children[i]))
            up[i], scale = _rescale(msg)
            log_z += scale
        down: dict[int, np.ndarray] = {}
        out: list[np.ndarray] = [np.empty(0)] * len(self.nodes)
        for i in self.order:
            incoming = [up[c] for c in self.children[i]] + ([down[i]] if i in down else [])
            belief = np.einsum(self.belief_expr[i], potential[i], *incoming) if incoming else potential[i]
            for c in self.children[i]:
                # the message to c excludes c's own: it depends on the separator only, so divide after summing
                total_sep = np.einsum(self.down_expr[c], belief)
                msg = np.divide(total_sep, up[c], out=np.zeros_like(total_sep), where=up[c] > 0)
                down[c] = _rescale(msg)[0]
            mass = belief.sum()
            if self.parent[i] < 0:
                log_z += float(np.log(mass)) if mass > 0 else -np.inf
            out[i] = belief * (total / mass) if mass > 0 else np.full_like(belief, total / belief.size)
        return out, log_z


def _rescale(msg: np.ndarray) -> tuple[np.ndarray, float]:
    """``msg`` scaled to maximum 1, and the log of the factor taken out (0 for an all-zero message,
    which is replaced by ones)."""
    top = msg.max()
    return (msg / top, float(np.log(top))) if top > 0 else (np.ones_like(msg), 0.0)


def breadth_first(n: int, edges: Sequence[tuple[int, int]], root: int = 0) -> tuple[list[int], list[int]]:
    """Breadth-first order of a forest's ``n`` nodes from ``root`` (then every other
    component), and each node's parent (-1 for roots)."""
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
