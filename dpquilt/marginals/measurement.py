"""Noisy marginal measurements, the hand-off from the marginal path to the estimator.

Also the merging of two independent noisy measurements of the same clique into one
(inverse-variance weights, cell by cell), which lets the marginal path reuse counts
released earlier, while the schema was learned (:mod:`dpquilt.schema.releases`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Measurement", "cell_measurement", "merge_measurements", "merge_priors", "noisy_total"]


@dataclass(frozen=True)
class Measurement:
    """A noisy marginal ``y = w * x_C + N(0, sigma^2)`` released by a mechanism.

    Parameters
    ----------
    cols : tuple of str
        The clique ``C``.
    noisy : ndarray
        The noisy counts, flattened in row-major order of ``cols``.
    sigma : float
        Standard deviation of the noise on each entry of ``noisy``.
    weights : ndarray or None
        Per-cell weights ``w`` of the query (``None`` is the identity), used when a
        measurement is re-expressed over a compressed domain.

    Examples
    --------
    >>> Measurement(("a",), np.array([3.0, 5.0]), 1.5).cols
    ('a',)
    """

    cols: tuple[str, ...]
    noisy: np.ndarray
    sigma: float
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cols", tuple(self.cols))
        noisy = np.asarray(self.noisy, dtype=np.float64).ravel()
        if not np.all(np.isfinite(noisy)):
            raise ValueError(f"Measurement {self.cols}: noisy counts must be finite")
        if not self.sigma > 0:
            raise ValueError(f"Measurement {self.cols}: sigma must be > 0, got {self.sigma!r}")
        if self.weights is not None and np.shape(self.weights) != noisy.shape:
            raise ValueError(f"Measurement {self.cols}: weights shape {np.shape(self.weights)} != {noisy.shape}")
        object.__setattr__(self, "noisy", noisy)

    @property
    def cell_weights(self) -> np.ndarray:
        """The weights ``w`` as an array (ones for the identity query).

        Examples
        --------
        >>> Measurement(("a",), np.array([3.0, 5.0]), 1.5).cell_weights.tolist()
        [1.0, 1.0]
        """
        return np.ones_like(self.noisy) if self.weights is None else np.asarray(self.weights, dtype=np.float64)


def cell_measurement(column: str, size: int, cells: np.ndarray, noisy: np.ndarray, sigma: float) -> Measurement:
    """Noisy counts of some ``cells`` of ``column``'s 1-way marginal, as a measurement with weight 0 elsewhere.

    Not for the estimator on its own (cells with weight 0 carry no information and
    break the record-count estimate): merge it into a full measurement of the same
    column with :func:`merge_measurements`.

    Examples
    --------
    >>> m = cell_measurement("a", 3, np.array([2]), np.array([7.0]), 2.0)
    >>> m.noisy.tolist(), m.weights.tolist()
    ([0.0, 0.0, 7.0], [0.0, 0.0, 1.0])
    """
    y, w = np.zeros(size), np.zeros(size)
    y[cells], w[cells] = noisy, 1.0
    return Measurement((column,), y, sigma, w)


def merge_measurements(full: Measurement, extra: Measurement) -> Measurement:
    """One measurement holding what two independent measurements of the same clique say.

    Cell by cell, ``y_k = w_k x + N(0, sigma_k^2)`` for ``k = 1, 2`` have precision
    ``p = w_1^2 / sigma_1^2 + w_2^2 / sigma_2^2`` about ``x`` and the best linear
    unbiased estimate ``xhat = (w_1 y_1 / sigma_1^2 + w_2 y_2 / sigma_2^2) / p``. The
    result keeps ``full``'s ``sigma`` with weights ``w = sigma sqrt(p)`` and noisy
    counts ``w xhat``: its least-squares term ``sum p (x - xhat)^2`` equals the sum of
    the two measurements' terms up to a constant, so the estimator sees the same
    objective (Private-PGM, McKenna et al. 2019, eq. 2). Post-processing: no cost.
    ``full`` must measure every cell.

    Examples
    --------
    >>> a = Measurement(("a",), np.array([10.0, 20.0]), 2.0)
    >>> b = cell_measurement("a", 2, np.array([0]), np.array([13.0]), 2.0)
    >>> m = merge_measurements(a, b)
    >>> (m.noisy / m.weights).tolist(), (m.sigma / m.weights).round(4).tolist()  # estimates and their deviations
    ([11.5, 20.0], [1.4142, 2.0])
    """
    if full.cols != extra.cols or full.noisy.shape != extra.noisy.shape:
        raise ValueError(f"cannot merge measurements of {full.cols} and {extra.cols}: they must measure the same cells")
    w1, w2 = full.cell_weights, extra.cell_weights
    if np.any(w1 <= 0):
        raise ValueError(f"merge_measurements: the first measurement of {full.cols} must measure every cell")
    precision = w1**2 / full.sigma**2 + w2**2 / extra.sigma**2
    estimate = (w1 * full.noisy / full.sigma**2 + w2 * extra.noisy / extra.sigma**2) / precision
    weights = full.sigma * np.sqrt(precision)
    return Measurement(full.cols, weights * estimate, full.sigma, weights)


def merge_priors(measurements: Sequence[Measurement], priors: Sequence[Measurement]) -> list[Measurement]:
    """``measurements`` with each prior merged into the measurement of the same clique (:func:`merge_measurements`).

    A prior whose clique was not measured is dropped.

    Examples
    --------
    >>> one_way = [Measurement(("a",), np.array([10.0, 20.0]), 2.0), Measurement(("b",), np.array([5.0]), 1.0)]
    >>> merged = merge_priors(one_way, [cell_measurement("a", 2, np.array([0]), np.array([13.0]), 2.0)])
    >>> [(m.noisy / m.cell_weights).tolist() for m in merged]
    [[11.5, 20.0], [5.0]]
    """
    out = list(measurements)
    for prior in priors:
        for i, m in enumerate(out):
            if m.cols == prior.cols:
                out[i] = merge_measurements(m, prior)
                break
    return out


def noisy_total(measurements: Sequence[Measurement]) -> float:
    """Minimum-variance unbiased estimate of the record count from the measurements.

    Each measurement gives ``t = sum_i y_i / w_i`` with variance
    ``sigma^2 sum_i 1 / w_i^2``; the estimates are averaged with inverse-variance
    weights (post-processing; at least 1).

    Examples
    --------
    >>> noisy_total([Measurement(("a",), np.array([60.0, 40.0]), 1.0), Measurement(("b",), np.array([30.0, 80.0]), 1.0)])
    105.0
    """
    estimates, variances = [], []
    for m in measurements:
        w = m.cell_weights
        estimates.append(float(np.sum(m.noisy / w)))
        variances.append(float(m.sigma**2 * np.sum(1.0 / w**2)))
    if not estimates:
        return 1.0
    return max(1.0, float(np.average(estimates, weights=1.0 / np.asarray(variances))))
