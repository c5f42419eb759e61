"""The default refiner: a value drawn uniformly inside its bin. Spends nothing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..schema import NumericColumn
from .positions import values_from_positions

__all__ = ["UniformInBin"]


@dataclass(frozen=True)
class UniformInBin:
    """Decode bin ``i`` to a uniform value in ``[e_i, e_{i+1})``.

    Integer columns draw a uniform integer among ``e_i .. e_{i+1} - 1``. Reads no
    private data, so it needs no budget.

    Examples
    --------
    >>> import numpy as np
    >>> spec = NumericColumn("x", lower=0.0, upper=1.0, bins=2)
    >>> v = UniformInBin().values_in_bins(spec, np.array(spec.bin_edges()), np.array([0, 1]),
    ...                                   np.random.default_rng(0))
    >>> bool(0 <= v[0] < 0.5 <= v[1] <= 1)
    True
    """

    def values_in_bins(
        self, spec: NumericColumn, edges: np.ndarray, bins: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        return values_from_positions(edges, bins, rng.random(bins.size), spec.kind)
