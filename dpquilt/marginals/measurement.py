"""Noisy marginal measurements, the hand-off from the marginal path to the estimator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Measurement"]


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
