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
from ..schema.dataset import Dataset
from .measurement import Measurement, merge_priors
from .oracle import MarginalOracle, even_sigma

__all__ = ["Compression", "MSTResult", "mst", "pair_estimates", "project_to_simplex"]
#: Sensitivity of an MST selection score ``|| x_ab - xhat_ab ||_1`` under add/remove-one-row.
MST_SCORE_SENSITIVITY = 1.0
#: Codes with noisy 1-way count below this many standard deviations are merged.
COMPRESS_SIGMAS = 3.0


@dataclass(frozen=True)
class Compression:
    """Merging of rarely seen codes, chosen from noisy 1-way counts only.

    ``mapping[c][code]`` is the compressed code; ``merged[c]`` lists the original
    codes folded into the last compressed code (empty when nothing was merged).

    Examples
    --------
    >>> c = Compression({"a": np.array([0, 1, 2, 2])}, {"a": np.array([2, 3])})  # codes 2 and 3 merged
    >>> c.domain, c.apply(Dataset({"a": np.array([0, 3, 2])}, {"a": 4})).columns["a"].tolist()
    ({'a': 3}, [0, 2, 2])
    """

    mapping: dict[str, np.ndarray]
    merged: dict[str, np.ndarray]

    @classmethod
    def identity(cls, domain: dict[str, int]) -> Compression:
        """No merging."""
        return cls({c: np.arange(k) for c, k in domain.items()}, {c: np.array([], dtype=np.int64) for c in domain})

    @property
    def domain(self) -> dict[str, int]:
        return {c: int(m.max()) + 1 for c, m in self.mapping.items()}

    def apply(self, data: Dataset) -> Dataset:
        return Dataset({c: self.mapping[c][data.columns[c]] for c in data.names}, self.domain)

    def spread(self, column: str, marginal: np.ndarray) -> np.ndarray:
        """A 1-way ``marginal`` over compressed codes as one over the original codes.

        The merged code's mass is split evenly over the codes it holds, as :meth:`undo`
        draws them.

        Examples
        --------
        >>> c = Compression({"a": np.array([0, 1, 2, 2])}, {"a": np.array([2, 3])})
        >>> c.spread("a", np.array([5.0, 3.0, 2.0])).tolist()
        [5.0, 3.0, 1.0, 1.0]
        """
        mapping, merged = self.mapping[column], self.merged[column]
        out = np.asarray(marginal, dtype=np.float64)[mapping]
        if merged.size:
            out[merged] /= merged.size
        return out

    def undo(self, data: Dataset, rng: np.random.Generator) -> Dataset:
        """Map compressed codes back, drawing merged codes uniformly among their originals."""
        out = {}
        for c in data.names:
            size, merged = self.mapping[c].size, self.merged[c]
            kept = np.flatnonzero(~np.isin(np.arange(size), merged))
            codes = data.columns[c].astype(np.int64)
            is_kept = codes < kept.size
            original = np.empty_like(codes)
            original[is_kept] = kept[codes[is_kept]]
            if merged.size:
                original[~is_kept] = rng.choice(merged, size=int((~is_kept).sum()))
            out[c] = original
        return Dataset(out, {c: m.size for c, m in self.mapping.items()})


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


def compress(one_way: Sequence[Measurement], domain: dict[str, int]) -> tuple[Compression, list[Measurement]]:
    """Merge codes with noisy count under ``COMPRESS_SIGMAS * sigma`` (post-processing).

    The merged cell's measurement is the sum of the merged cells' estimates ``y_i / w_i``,
    whose variance is ``sigma^2 sum_i 1 / w_i^2``; its weight ``(sum_i 1 / w_i^2)^(-1/2)``
    (``1/sqrt(k)`` for ``k`` unit-weight cells) keeps the noise at ``sigma``.
    """
    mapping, merged, measurements = {}, {}, []
    for m in one_way:
        (col,) = m.cols
        y = m.noisy
        w = m.cell_weights
        keep = y >= COMPRESS_SIGMAS * m.sigma  # y / w >= 3 sigma / w: the estimate clears 3 of its deviations
        rare = np.flatnonzero(~keep)
        idx = np.empty(domain[col], dtype=np.int64)
        idx[keep] = np.arange(int(keep.sum()))
        idx[~keep] = int(keep.sum())
        mapping[col], merged[col] = idx, rare
        if rare.size == 0:
            measurements.append(m)
            continue
        w_merged = 1.0 / math.sqrt(float(np.sum(1.0 / w[rare] ** 2)))
        y2 = np.append(y[keep], w_merged * float(np.sum(y[rare] / w[rare])))
        measurements.append(Measurement(m.cols, y2, m.sigma, np.append(w[keep], w_merged)))
    return Compression(mapping, merged), measurements


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
    from ..graphical.model import noisy_total

    estimates = pair_estimates(names, independent_estimate(log1, noisy_total(log1)))
    edges = small.select_tree(list(estimates), list(estimates.values()), third, accountant) if len(names) > 1 else []
    log2 = small.measure(edges, even_sigma(len(edges), third), accountant) if edges else []
    return MSTResult(tuple(log1 + log2), compression, tuple(edges))
