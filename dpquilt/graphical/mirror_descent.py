"""Private-PGM's mirror descent in numpy, for many small warm-started re-estimations.

Solves the same problem as ``mbi.estimation.MirrorDescent`` (Algorithm 1 of McKenna,
Sheldon and Miklau, "Graphical-model based estimation and inference for differential
privacy", ICML 2019, arXiv:1901.09136)::

    min_{mu in M}  L(mu) = sum_i 0.5 || (w_i * mu_{C_i} - y_i) / sigma_i ||^2

by entropic mirror descent on the log-potentials ``theta``: ``theta <- theta - alpha
grad L(mu)``, ``mu = marginals(theta)``, with mbi's Armijo rule (accept when
``L(mu) - L(mu') >= alpha/2 <grad L(mu), mu - mu'>``, then ``alpha *= 1.01``; else
``alpha /= 2``) and its initial step ``alpha = 2 / (Lip * total)``.

Marginals come from :mod:`dpquilt.graphical.junction` (numpy, nothing compiled), so a
model whose clique set grows every round (AIM) never waits for a compiler. The
final, long estimation still runs in ``mbi`` (see :func:`dpquilt.graphical.model.estimate`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..marginals.measurement import Measurement
from .junction import JunctionTree, build_junction_tree, calibrate, marginalise

__all__ = ["expand_potentials", "maximal_cliques", "lipschitz", "mirror_descent"]

Clique = tuple[str, ...]


def maximal_cliques(cliques: Sequence[Clique]) -> list[Clique]:
    """Cliques not contained in another (first occurrence kept, order preserved)."""
    out: list[Clique] = []
    for c in sorted({tuple(c) for c in cliques}, key=lambda c: (-len(c), c)):
        if not any(set(c) <= set(m) for m in out):
            out.append(c)
    return out


def _home(clique: Clique, maximal: Sequence[Clique]) -> Clique:
    return next(m for m in maximal if set(clique) <= set(m))


def lipschitz(domain: Mapping[str, int], measurements: Sequence[Measurement], maximal: Sequence[Clique]) -> float:
    """Bound on the Lipschitz constant of grad L (exact for identity queries).

    ``max_C sum_{i -> C} ||Q_i||^2 / sigma_i^2 * |C| / |C_i|``, as in mbi's
    ``calculate_l2_lipschitz_from_metadata``.
    """
    blocks: dict[Clique, float] = {}
    for m in measurements:
        home = _home(m.cols, maximal)
        q2 = 1.0 if m.weights is None else float(np.max(np.asarray(m.weights) ** 2))
        ratio = np.prod([domain[a] for a in home]) / np.prod([domain[a] for a in m.cols])
        blocks[home] = blocks.get(home, 0.0) + q2 / m.sigma**2 * ratio
    return max(blocks.values()) if blocks else 1.0


def expand_potentials(
    domain: Mapping[str, int], potentials: Mapping[Clique, np.ndarray], cliques: Sequence[Clique]
) -> dict[Clique, np.ndarray]:
    """Re-express log-potentials over ``cliques``, each old table added into one clique containing it.

    The distribution is unchanged when every old clique lies inside a new one (as
    in AIM, whose clique set only grows); a table no new clique contains is dropped.
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


class _Problem:
    """The loss, its gradient and the marginal oracle over fixed maximal cliques."""

    def __init__(self, domain: Mapping[str, int], measurements: Sequence[Measurement], total: float) -> None:
        self.domain = dict(domain)
        self.measurements = list(measurements)
        self.total = total
        self.cliques = maximal_cliques([m.cols for m in measurements])
        self.tree: JunctionTree = build_junction_tree(self.domain, self.cliques)
        self.homes = [_home(m.cols, self.cliques) for m in measurements]
        self.node_of = {c: next(n for n in self.tree.nodes if set(c) <= set(n)) for c in self.cliques}

    def marginals(self, theta: Mapping[Clique, np.ndarray]) -> dict[Clique, np.ndarray]:
        nodes = calibrate(self.tree, self.domain, theta, self.total)
        return {c: marginalise(nodes[self.node_of[c]], self.node_of[c], c) for c in self.cliques}

    def loss_and_grad(self, mu: Mapping[Clique, np.ndarray]) -> tuple[float, dict[Clique, np.ndarray]]:
        loss = 0.0
        grad = {c: np.zeros_like(mu[c]) for c in self.cliques}
        for m, home in zip(self.measurements, self.homes):
            x = marginalise(mu[home], home, m.cols).ravel()
            w = 1.0 if m.weights is None else m.weights
            r = (w * x - m.noisy) / m.sigma
            loss += 0.5 * float(r @ r)
            g = (w * r / m.sigma).reshape([self.domain[a] for a in m.cols])
            grad[home] = grad[home] + _broadcast(g, m.cols, home, self.domain)
        return loss, grad

    def loss(self, mu: Mapping[Clique, np.ndarray]) -> float:
        total = 0.0
        for m, home in zip(self.measurements, self.homes):
            x = marginalise(mu[home], home, m.cols).ravel()
            w = 1.0 if m.weights is None else m.weights
            r = (w * x - m.noisy) / m.sigma
            total += 0.5 * float(r @ r)
        return total


def mirror_descent(
    domain: Mapping[str, int],
    measurements: Sequence[Measurement],
    total: float,
    iters: int,
    warm_start: Mapping[Clique, np.ndarray] | None = None,
) -> dict[Clique, np.ndarray]:
    """Log-potentials over the measurements' maximal cliques after ``iters`` steps.

    ``warm_start`` maps cliques to log-potentials; each is added into a new clique
    that contains it (the distribution it defines is unchanged).
    """
    problem = _Problem(domain, measurements, total)
    theta = expand_potentials(problem.domain, warm_start or {}, problem.cliques)
    alpha = 2.0 / (lipschitz(problem.domain, measurements, problem.cliques) * total)
    mu = problem.marginals(theta)
    loss, grad = problem.loss_and_grad(mu)
    for _ in range(iters):
        theta2 = {c: theta[c] - alpha * grad[c] for c in theta}
        mu2 = problem.marginals(theta2)
        loss2 = problem.loss(mu2)
        decrease = sum(float(np.vdot(grad[c], mu[c] - mu2[c])) for c in theta)
        if loss - loss2 >= 0.5 * alpha * decrease:
            theta, mu, alpha = theta2, mu2, alpha * 1.01
            loss, grad = problem.loss_and_grad(mu)
        else:
            alpha *= 0.5
    return theta
