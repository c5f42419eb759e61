"""Where a numeric value sits inside its bin: the quantity a refiner learns and samples.

A binned numeric column keeps its bin in the graphical model; a refiner only chooses
the position ``u`` in ``[0, 1)`` inside the bin, so the model's marginals are kept
exactly whatever the refiner does. ``value = e_i + u (e_{i+1} - e_i)``; integer
columns take the floor, so bin ``i`` holds the integers ``e_i .. e_{i+1} - 1``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["positions_in_bins", "values_from_positions"]


def positions_in_bins(values: np.ndarray, edges: np.ndarray, kind: str = "float") -> tuple[np.ndarray, np.ndarray]:
    """Bin index and position in ``[0, 1)`` of each value (values are clipped to the edges).

    Private when ``values`` are: a refiner reads them only through a DP mechanism.

    Examples
    --------
    >>> bins, u = positions_in_bins(np.array([0.0, 0.75, 1.0]), np.array([0.0, 0.5, 1.0]))
    >>> bins.tolist(), u[:2].tolist(), bool(u[2] < 1.0)
    ([0, 1, 1], [0.0, 0.5], True)
    """
    edges = np.asarray(edges, dtype=np.float64)
    x = np.clip(np.asarray(values, dtype=np.float64), edges[0], edges[-1])
    bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2)
    lo, hi = edges[bins], edges[bins + 1]
    width = hi - lo
    if kind == "integer":  # integers e_i .. e_{i+1}-1 sit at the centres of equal slots
        u = (np.floor(x) - lo + 0.5) / np.maximum(width, 1.0)
    else:
        u = (x - lo) / np.where(width > 0, width, 1.0)
    return bins, np.clip(u, 0.0, np.nextafter(1.0, 0.0))


def values_from_positions(edges: np.ndarray, bins: np.ndarray, u: np.ndarray, kind: str = "float") -> np.ndarray:
    """Values at positions ``u`` in ``[0, 1)`` of bins ``bins`` (the inverse of :func:`positions_in_bins`).

    Examples
    --------
    >>> values_from_positions(np.array([0.0, 0.5, 1.0]), np.array([0, 1]), np.array([0.5, 0.0])).tolist()
    [0.25, 0.5]
    >>> values_from_positions(np.array([0.0, 3.0]), np.array([0, 0]), np.array([0.0, 0.99]), "integer").tolist()
    [0.0, 2.0]
    """
    edges = np.asarray(edges, dtype=np.float64)
    lo, hi = edges[bins], edges[bins + 1]
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, np.nextafter(1.0, 0.0))
    if kind == "integer":
        return np.minimum(lo + np.floor(u * (hi - lo)), np.maximum(hi - 1, lo))
    # rounding can carry lo + u (hi - lo) up to hi, which is the next bin's left edge
    return np.minimum(lo + u * (hi - lo), np.maximum(np.nextafter(hi, -np.inf), lo))
