"""The free backend: each value drawn uniformly inside its bin. Spends nothing."""

from __future__ import annotations

import numpy as np

from ..schema.dataset import Dataset
from ..schema.positions import uniform_positions
from .layout import Layout

__all__ = ["UniformBackend", "uniform_positions"]


class UniformBackend:
    """Uniform-in-bin decoding: spends nothing (``refiner="uniform"``).

    Reads no private data, so ``fit`` spends nothing and ignores its inputs.

    Examples
    --------
    >>> from dpquilt.schema import NumericColumn, Schema
    >>> lay = Layout.of(Schema([NumericColumn("x", lower=0, upper=1, bins=2)]))
    >>> from dpquilt.schema.dataset import Dataset
    >>> u = UniformBackend().fit(lay).sample(Dataset({"x": np.array([0, 1, 2])}, {"x": 3}), np.random.default_rng(0))
    >>> bool(np.isnan(u["x"][2]))
    True
    """

    name = "uniform"

    def fit(self, layout: Layout, codes=None, targets=None, accountant=None, device="auto", **_) -> UniformBackend:
        """Keep the layout; read nothing else (the other arguments are the :class:`Backend` protocol's)."""
        self.layout_ = layout
        return self

    def sample(self, data: Dataset, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """A uniform position in ``[0, 1)`` inside each record's bin, NaN for missing codes."""
        return uniform_positions(self.layout_.numeric_codes(data), self.layout_.missing_by_column, rng)
