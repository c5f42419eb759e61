"""Private-PGM's mirror descent in numpy: ``EstimationOptions(algorithm="mirror_descent")``, iterate for iterate ``mbi``'s.

Solves the same problem as ``mbi.estimation.MirrorDescent`` (Algorithm 1 of McKenna,
Sheldon and Miklau, "Graphical-model based estimation and inference for differential
privacy", ICML 2019, arXiv:1901.09136)::

    min_{mu in M}  L(mu) = sum_i 0.5 || (w_i * mu_{C_i} - y_i) / sigma_i ||^2

by entropic mirror descent on the log-potentials ``theta``: ``theta <- theta - alpha
grad L(mu)``, ``mu = marginals(theta)``, with mbi's Armijo rule (accept when
``L(mu) - L(mu') >= alpha/2 <grad L(mu), mu - mu'>``, then ``alpha *= 1.01``; else
``alpha /= 2``) and its initial step ``alpha = 2 / (Lip * total)``.

Marginals come from a :class:`~dpquilt.graphical.propagation.Propagation` plan built
once per clique set (numpy, nothing compiled), so a model whose clique set grows
every round (AIM) never waits for a compiler. The iterates equal ``mbi``'s step for
step (``tests/graphical/test_junction.py``); on the small models of MST and AIM each
step costs about a millisecond, where ``mbi`` first compiles for seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..marginals.measurement import Measurement
from .junction import build_junction_tree
from .propagation import Propagation
from ..marginals.tables import sum_out

__all__ = ["MarginalProblem", "expand_potentials", "maximal_cliques", "lipschitz", "mirror_descent"]

Clique = tuple[str, ...]
#: ``watch(iterations_done, answer)``: whether to end a descent, from ``answer(i)``, measurement
#: ``i``'s answer ``w_i * mu_{C_i}`` at the iterate (flat, as its noisy vector)
Watch = Callable[[int, Callable[[int], np.ndarray]], bool]


def maximal_cliques(cliques: Sequence[Clique]) -> list[Clique]:
    """Cliques not contained in another (first occurrence kept, order preserved).

    Examples
    --------
    >>> maximal_cliques([("a",), ("a", "b"), ("b", "c"), ("b",)])
    [('a', 'b'), ('b', 'c')]
    """
    out: list[Clique] = []
    for c in sorted({tuple(c) for c in cliques}, key=lambda c: (-len(c), c)):
        if not any(set(c) <= set(m) for m in out):
            out.append(c)
    return out


def _home(clique: Clique, maximal: Sequence[Clique], domain: Mapping[str, int] | None = None) -> Clique:
    """The containing clique with the fewest cells (the first such; any when ``domain`` is None),
    the routing of mbi's ``clique_mapping``."""
    containing = [m for m in maximal if set(clique) <= set(m)]
    if domain is None:
        return containing[0]
    return min(containing, key=lambda m: int(np.prod([domain[a] for a in m])))


def lipschitz(domain: Mapping[str, int], measurements: Sequence[Measurement], maximal: Sequence[Clique]) -> float:
    """Bound on the Lipschitz constant of grad L (exact for identity queries).

    ``max_C sum_{i -> C} ||Q_i||^2 / sigma_i^2 * |C| / |C_i|``, as in mbi's
    ``calculate_l2_lipschitz_from_metadata``.

    Examples
    --------
    >>> ms = [Measurement(("a",), np.zeros(2), 2.0), Measurement(("a", "b"), np.zeros(6), 1.0)]
    >>> lipschitz({"a": 2, "b": 3}, ms, [("a", "b")])  # 1/4 * 6/2 + 1/1 * 6/6
    1.75
    """
    blocks: dict[Clique, float] = {}
    for m in measurements:
        home = _home(m.cols, maximal, domain)
        q2 = 1.0 if m.weights is None else float(np.max(np.asarray(m.weights) ** 2))
        ratio = np.prod([domain[a] for a in home]) / np.prod([domain[a] for a in m.cols])
        blocks[home] = blocks.get(home, 0.0) + q2 / m.sigma**2 * ratio
    return float(max(blocks.values())) if blocks else 1.0


def expand_potentials(
    domain: Mapping[str, int], potentials: Mapping[Clique, np.ndarray], cliques: Sequence[Clique]
) -> dict[Clique, np.ndarray]:
    """Re-express log-potentials over ``cliques``, each old table added into one clique containing it.

    The distribution is unchanged when every old clique lies inside a new one (as
    in AIM, whose clique set only grows); a table no new clique contains is dropped.

    Examples
    --------
    >>> grown = expand_potentials({"a": 2, "b": 3}, {("a",): np.log(np.array([1.0, 3.0]))}, [("a", "b")])
    >>> np.exp(grown[("a", "b")]).round(6).tolist()  # the same distribution over the larger clique
    [[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]]
    """
    theta = {c: np.zeros([domain[a] for a in c]) for c in cliques}
    for clique, table in potentials.items():
        clique = tuple(clique)
        if any(set(clique) <= set(c) for c in cliques):
            home = _home(clique, cliques)
            theta[home] = theta[home] + _broadcast(np.asarray(table), clique, home, domain)
    return theta


def _broadcast(table: np.ndarray, attrs: Clique, target: Clique, domain: Mapping[str, int]) -> np.ndarray:
    ordered = [a for a in target if a in attrs]
    t = np.transpose(table, [attrs.index(a) for a in ordered])
    shape = [domain[a] if a in attrs else 1 for a in target]
    return np.broadcast_to(t.reshape(shape), [domain[a] for a in target])


class MarginalProblem:
    """The loss, its gradient and the marginal oracle over fixed maximal cliques.

    Everything that depends only on the cliques (the junction tree, the propagation
    plan, the axes each measurement sums over) is computed once here.

    Examples
    --------
    >>> problem = MarginalProblem({"a": 2, "b": 2}, [Measurement(("a", "b"), np.array([4.0, 1.0, 1.0, 4.0]), 1.0)], 10.0)
    >>> problem.cliques
    [('a', 'b')]
    >>> [m.round(6).tolist() for m in problem.marginals([np.zeros((2, 2))])]  # uniform potentials
    [[[2.5, 2.5], [2.5, 2.5]]]
    """

    def __init__(self, domain: Mapping[str, int], measurements: Sequence[Measurement], total: float) -> None:
        self.domain = dict(domain)
        self.total = total
        self.cliques = maximal_cliques([m.cols for m in measurements])
        self.tree = tree = build_junction_tree(self.domain, self.cliques)
        self.plan = Propagation(tree.nodes, tree.edges, self.domain, self.cliques)
        index = {c: k for k, c in enumerate(self.cliques)}
        self.terms = []  # per measurement: clique, reduction, its slice of the residual, transpose back, shapes, w, sigma
        offset = 0
        for m in measurements:
            k = index[_home(m.cols, self.cliques, self.domain)]
            home = self.cliques[k]
            axes, perm = _reduction(home, m.cols)
            back = tuple(np.argsort(perm)) if perm is not None else None
            shape = tuple(self.domain[a] if a in m.cols else 1 for a in home)
            w = None if m.weights is None else np.asarray(m.weights, dtype=np.float64)
            cols_shape = tuple(self.domain[a] for a in m.cols)
            part = slice(offset, offset + int(np.size(m.noisy)))
            offset = part.stop
            self.terms.append((k, axes, perm, part, back, cols_shape, shape, w, float(m.sigma)))
        #: every measurement's ``y_i / sigma_i``, concatenated in the order of the residual
        self.scaled_y = np.concatenate(
            [np.asarray(m.noisy, dtype=np.float64).ravel() / m.sigma for m in measurements] or [np.zeros(0)]
        )

    def marginals(self, theta: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each clique's marginal under the log-potentials ``theta``."""
        return self.readout(self.plan.marginals(theta, self.total))

    def readout(self, nodes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each clique's marginal from calibrated node marginals."""
        return self.plan.clique_marginals(nodes)

    def residual(self, mu: Sequence[np.ndarray]) -> np.ndarray:
        """All measurements' ``r_i = (w_i * mu_{C_i} - y_i) / sigma_i``, concatenated; ``L = r.r / 2``.

        ``r`` is affine in ``mu``, so the residual of a convex combination of marginals is
        the same combination of their residuals.
        """
        r = np.empty(self.scaled_y.size)
        for k, axes, perm, part, _, _, _, w, sigma in self.terms:
            x = _apply(mu[k], axes, perm).ravel()
            r[part] = (x if w is None else w * x) / sigma
        r -= self.scaled_y
        return r

    def gradient(self, r: np.ndarray) -> list[np.ndarray]:
        """``grad L = sum_i Q_i^T (w_i r_i / sigma_i)``, one table per clique, from the residual."""
        grad: list[np.ndarray | None] = [None] * len(self.cliques)
        for k, _, _, part, back, cols_shape, shape, w, sigma in self.terms:
            g = ((r[part] if w is None else w * r[part]) / sigma).reshape(cols_shape)
            if back is not None:
                g = np.transpose(g, back)  # into the clique's axis order
            g = g.reshape(shape)
            grad[k] = g if grad[k] is None else grad[k] + g
        sizes = [tuple(self.domain[a] for a in c) for c in self.cliques]
        return [np.zeros(s) if g is None else g if g.shape == s else np.broadcast_to(g, s) for g, s in zip(grad, sizes)]

    def answer(self, r: np.ndarray, i: int) -> np.ndarray:
        """Measurement ``i``'s ``w_i * mu_{C_i}`` (flat, as its noisy vector) from the residual ``r``."""
        part = self.terms[i][3]
        return (r[part] + self.scaled_y[part]) * self.terms[i][8]

    def term_losses(self, r: np.ndarray) -> np.ndarray:
        """Each measurement's share ``||r_i||^2 / 2`` of the loss, from the residual."""
        return np.array([0.5 * _dot(r[term[3]], r[term[3]]) for term in self.terms])

    def loss(self, mu: Sequence[np.ndarray]) -> float:
        """``L(mu)`` alone."""
        r = self.residual(mu)
        return 0.5 * _dot(r, r)

    def loss_and_grad(self, mu: Sequence[np.ndarray]) -> tuple[float, list[np.ndarray]]:
        """``L(mu)`` and its gradient, one table per clique."""
        r = self.residual(mu)
        return 0.5 * _dot(r, r), self.gradient(r)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two vectors without BLAS: a threaded BLAS call on these short
    vectors costs far more than the arithmetic (up to 0.4 ms each on a busy 2-core machine)."""
    return float(np.einsum("i,i->", a, b))


def _reduction(attrs: Clique, keep: Clique) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """Axes of ``attrs`` to sum out, and the transpose (None if none) that orders the rest as ``keep``."""
    axes = tuple(i for i, a in enumerate(attrs) if a not in keep)
    kept = [a for a in attrs if a in keep]
    perm = tuple(kept.index(a) for a in keep)
    return axes, (None if perm == tuple(range(len(perm))) else perm)


def _apply(table: np.ndarray, axes: tuple[int, ...], perm: tuple[int, ...] | None) -> np.ndarray:
    out = sum_out(table, axes) if axes else table
    return out if perm is None else np.transpose(out, perm)


def mirror_descent(
    domain: Mapping[str, int],
    measurements: Sequence[Measurement],
    total: float,
    iters: int,
    warm_start: Mapping[Clique, np.ndarray] | None = None,
    stop: Callable[[int, float, np.ndarray], bool] | None = None,
    check_every: int = 50,
    watch: Watch | None = None,
) -> dict[Clique, np.ndarray]:
    """Log-potentials over the measurements' maximal cliques after at most ``iters`` steps.

    ``warm_start`` maps cliques to log-potentials; each is added into a new clique
    that contains it (the distribution it defines is unchanged). Every
    ``check_every`` iterations ``stop(iterations_done, loss, term_losses)`` may end the descent
    (``mbi`` checks at the same points), and so may ``watch(iterations_done, answer)``, where
    ``answer(i)`` is measurement ``i``'s answer at the iterate (:meth:`MarginalProblem.answer`).

    Examples
    --------
    A consistent noiseless measurement is recovered:

    >>> from dpquilt.graphical.model import GraphicalModel
    >>> domain = {"a": 2, "b": 2}
    >>> theta = mirror_descent(domain, [Measurement(("a", "b"), np.array([4.0, 1.0, 1.0, 4.0]), 1.0)], 10.0, iters=500)
    >>> GraphicalModel(domain, 10.0, theta).project(["a", "b"]).round(3).tolist()
    [[4.0, 1.0], [1.0, 4.0]]
    """
    problem = MarginalProblem(domain, measurements, total)
    start = expand_potentials(problem.domain, warm_start or {}, problem.cliques)
    theta = [start[c] for c in problem.cliques]
    alpha = 2.0 / (lipschitz(problem.domain, measurements, problem.cliques) * total)
    mu = problem.marginals(theta)
    loss, grad = problem.loss_and_grad(mu)
    for it in range(1, iters + 1):
        theta2 = [t - alpha * g for t, g in zip(theta, grad)]
        mu2 = problem.marginals(theta2)
        loss2, grad2 = problem.loss_and_grad(mu2)  # the gradient is wasted only on a rejected step
        decrease = sum(_dot(g.ravel(), (a - b).ravel()) for g, a, b in zip(grad, mu, mu2))
        if loss - loss2 >= 0.5 * alpha * decrease:
            theta, mu, loss, grad, alpha = theta2, mu2, loss2, grad2, alpha * 1.01
        else:
            alpha *= 0.5
        if it % check_every == 0 and (stop is not None or watch is not None):
            r = problem.residual(mu)
            if stop is not None and stop(it, loss, problem.term_losses(r)):
                break
            if watch is not None and watch(it, lambda i, r=r: problem.answer(r, i)):
                break
    return dict(zip(problem.cliques, theta))
