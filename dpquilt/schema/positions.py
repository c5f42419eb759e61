"""Where a numeric value sits inside its bin: the quantity a refiner learns and samples.

A binned numeric column keeps its bin in the graphical model; a refiner only chooses
the position ``u`` in ``[0, 1)`` inside the bin, so the model's marginals are kept
exactly whatever the refiner does. ``value = e_i + u (e_{i+1} - e_i)``; integer
columns take the floor, so bin ``i`` holds the integers ``e_i .. e_{i+1} - 1``. Values
on a grid of step ``grain`` (dated columns: whole days) are placed as integers in
units of the grain.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .sorted_search import search_right

__all__ = ["positions_in_bins", "uniform_positions", "values_from_positions"]


def positions_in_bins(
    values: np.ndarray, edges: np.ndarray, kind: str = "float", grain: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bin index and position in ``[0, 1)`` of each value (values are clipped to the edges).

    Private when ``values`` are: a refiner reads them only through a DP mechanism.

    Examples
    --------
    >>> bins, u = positions_in_bins(np.array([0.0, 0.75, 1.0]), np.array([0.0, 0.5, 1.0]))
    >>> bins.tolist(), u[:2].tolist(), bool(u[2] < 1.0)
    ([0, 1, 1], [0.0, 0.5], True)
    >>> positions_in_bins(np.array([86400.0 * 3]), np.array([0.0, 86400.0 * 4]), "datetime", grain=86400.0)[1].tolist()
    [0.875]
    """
    edges = np.asarray(edges, dtype=np.float64)
    x = np.clip(np.asarray(values, dtype=np.float64), edges[0], edges[-1])
    bins = np.clip(search_right(edges, x) - 1, 0, edges.size - 2)
    lo, hi = edges[bins], edges[bins + 1]
    width = hi - lo
    step = 1.0 if kind == "integer" else grain
    if step is not None:  # the grid points e_i, e_i + step, .. sit at the centres of equal slots
        u = (np.floor((x - lo) / step) + 0.5) / np.maximum(width / step, 1.0)
    else:
        u = (x - lo) / np.where(width > 0, width, 1.0)
    return bins, np.clip(u, 0.0, np.nextafter(1.0, 0.0))


def values_from_positions(
    edges: np.ndarray, bins: np.ndarray, u: np.ndarray, kind: str = "float", grain: float | None = None
) -> np.ndarray:
    """Values at positions ``u`` in ``[0, 1)`` of bins ``bins`` (the inverse of :func:`positions_in_bins`).

    On a grid (integers, or ``grain``), the grid point whose slot holds ``u``.

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
    step = 1.0 if kind == "integer" else grain
    if step is not None:
        slots = (hi - lo) / step
        return lo + step * np.minimum(np.floor(u * slots), np.maximum(slots - 1, 0))
    # rounding can carry lo + u (hi - lo) up to hi, which is the next bin's left edge
    return np.minimum(lo + u * (hi - lo), np.maximum(np.nextafter(hi, -np.inf), lo))


def uniform_positions(
    bin_codes: Mapping[str, np.ndarray], missing_codes: Mapping[str, int | None], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """A uniform position in ``[0, 1)`` for every non-missing code; NaN for missing ones.

    Draws column by column in the mapping's order, one draw per non-missing row.

    Examples
    --------
    >>> u = uniform_positions({"x": np.array([0, 2, 1])}, {"x": 2}, np.random.default_rng(0))
    >>> bool(np.isnan(u["x"][1])), bool(0 <= u["x"][0] < 1)
    (True, True)
    """
    out = {}
    for name, codes in bin_codes.items():
        codes = np.asarray(codes)
        missing = missing_codes.get(name)
        present = codes != missing if missing is not None else np.ones(codes.size, dtype=bool)
        u = np.full(codes.size, np.nan)
        u[present] = rng.random(int(present.sum()))
        out[name] = u
    return out
