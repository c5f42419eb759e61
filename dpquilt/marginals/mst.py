"""MST: measure 1-way marginals, select a maximum spanning tree of pairs, measure it.

McKenna, Miklau and Sheldon, "Winning the NIST Contest: A scalable and general
approach to differentially private synthetic data", JPC 2021 (arXiv:2108.04978),
Algorithm 1. The zCDP budget ``rho`` is split in three equal parts:

1. every 1-way marginal, each with ``sigma_1 = sqrt(d / (2 rho/3))``;
2. ``r - 1`` exponential-mechanism selections of tree edges (Kruskal with a noisy
   choice), each ``epsilon = sqrt(8 (rho/3) / (r - 1))``, scoring pair ``(a, b)`` by
   ``|| x_ab - xhat_ab ||_1`` where ``xhat`` is the independent model of step 1
   (sensitivity 1: one row moves one cell of ``x_ab`` by one);
3. the ``r - 1`` selected 2-way marginals, each with ``sigma_2 = sqrt((r-1) / (2 rho/3))``.

As in the reference, values whose noisy 1-way count is below ``3 sigma_1`` are
merged into one code before steps 2 and 3 (Section 4 of the paper), and split back
uniformly at random when records are decoded.

This module only asks a :class:`~dpquilt.marginals.oracle.MarginalOracle` and the
accountant, so the same code runs on local rows and on federated secure sums.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..privacy.accountant import Accountant
from .compression import Compression, compress
from .measurement import Measurement, merge_priors, noisy_total
from .oracle import MarginalOracle, even_sigma

__all__ = ["MSTResult", "mst", "pair_estimates", "project_to_simplex"]
#: Sensitivity of an MST selection score ``|| x_ab - xhat_ab ||_1`` under add/remove-one-row.
MST_SCORE_SENSITIVITY = 1.0
@dataclass(frozen=True)
class MSTResult:
    """What MST released: measurements over the compressed domain, and the compression.

    Examples
    --------
    See :func:`mst`, whose example returns one.
    """

    measurements: tuple[Measurement, ...]
    compression: Compression
    edges: tuple[tuple[str, str], ...]


def project_to_simplex(z: np.ndarray, w2: np.ndarray, total: float) -> np.ndarray:
    """``argmin_x sum_i w2_i (x_i - z_i)^2`` s.t. ``x >= 0``, ``sum x = total``.

    KKT gives ``x_i = max(0, z_i - lam / w2_i)``; ``lam`` is found by bisection.

    Examples
    --------
    >>> project_to_simplex(np.array([5.0, -1.0, 2.0]), np.ones(3), total=6.0).round(6).tolist()
    [4.5, 0.0, 1.5]
    """
    lo = float(np.min((z - total) * w2)) - 1.0
    hi = float(np.max(z * w2)) + 1.0
    for _ in range(200):
        lam = 0.5 * (lo + hi)
        if np.clip(z - lam / w2, 0, None).sum() > total:
            lo = lam
        else:
            hi = lam
    return np.clip(z - 0.5 * (lo + hi) / w2, 0, None)


def independent_estimate(one_way: Sequence[Measurement], total: float) -> dict[str, np.ndarray]:
    """The Private-PGM estimate from 1-way measurements only, in closed form.

    With no shared cliques the model is a product of its 1-way marginals, and each
    is the weighted least-squares projection of its measurement onto the simplex
    ``{x >= 0, sum x = total}``.
    """
    out = {}
    for m in one_way:
        w = m.cell_weights
        out[m.cols[0]] = project_to_simplex(m.noisy / w, w**2, total)
    return out


def pair_estimates(names: Sequence[str], marginals: dict[str, np.ndarray]) -> dict[tuple[str, str], np.ndarray]:
    """The independent model's 2-way marginals ``xhat_a xhat_b^T / total`` for every pair.

    Post-processing of released 1-way measurements; MST scores a pair by
    ``|| x_ab - xhat_ab ||_1`` (sensitivity :data:`MST_SCORE_SENSITIVITY`).

    Examples
    --------
    >>> pair_estimates(["a", "b"], {"a": np.array([6.0, 4.0]), "b": np.array([5.0, 5.0])})[("a", "b")].tolist()
    [[3.0, 3.0], [2.0, 2.0]]
    """
    total = float(next(iter(marginals.values())).sum())
    return {
        (a, b): np.outer(marginals[a], marginals[b]) / max(total, 1.0) for a, b in itertools.combinations(names, 2)
    }


def pair_sigma(rho: float, columns: int) -> float | None:
    """The noise scale MST gives each selected 2-way marginal: ``sqrt((d - 1) / (2 rho / 3))``.

    What a synthesizer expects before it runs (to size learned bins); ``None`` for one column.

    Examples
    --------
    >>> round(pair_sigma(0.5, columns=10), 3)
    5.196
    """
    if columns < 2 or rho <= 0:
        return None
    return math.sqrt((columns - 1) / (2.0 * rho / 3.0))


def mst(
    oracle: MarginalOracle, rho: float, accountant: Accountant, prior: Sequence[Measurement] = ()
) -> MSTResult:
    """Run MST's measurement and selection with zCDP budget ``rho``, asking only ``oracle``.

    Returns the released measurements (fit a model to them with
    :func:`~dpquilt.graphical.estimate`), the compression and the tree's edges.
    ``prior`` holds earlier releases of 1-way cells (the schema's category and
    point-mass counts, :mod:`dpquilt.schema.releases`); each is merged into the
    column's 1-way measurement (:func:`~dpquilt.marginals.measurement.merge_priors`)
    before compression, selection and estimation: post-processing, no cost.

    Examples
    --------
    >>> from dpquilt.marginals.oracle import LocalOracle
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> from dpquilt.schema.dataset import Dataset
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 2, 2000)
    >>> data = Dataset({"a": a, "b": a ^ (rng.random(2000) < 0.1), "c": rng.integers(0, 3, 2000)},
    ...                {"a": 2, "b": 2, "c": 3})
    >>> acc = Accountant(1.0, 1e-9, secure=False)
    >>> result = mst(LocalOracle(data, SeededNoise(rng)), acc.rho_budget, acc)
    >>> len(result.edges), ("a", "b") in result.edges, round(acc.rho_spent / acc.rho_budget, 9)
    (2, True, 1.0)
    """
    names = list(oracle.domain)
    third = rho / 3.0 if len(names) > 1 else rho  # one column: nothing to select or pair
    one_way = merge_priors(oracle.measure([(c,) for c in names], even_sigma(len(names), third), accountant), prior)
    compression, log1 = compress(one_way, dict(oracle.domain))
    small = oracle.compressed(compression)
    estimates = pair_estimates(names, independent_estimate(log1, noisy_total(log1)))
    edges = small.select_tree(list(estimates), list(estimates.values()), third, accountant) if len(names) > 1 else []
    log2 = small.measure(edges, even_sigma(len(edges), third), accountant) if edges else []
    return MSTResult(tuple(log1 + log2), compression, tuple(edges))
