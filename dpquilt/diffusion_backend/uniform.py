"""The default backend: each value drawn uniformly inside its bin. Spends nothing."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..marginals.dataset import Dataset
from .layout import Layout

__all__ = ["UniformBackend", "uniform_positions"]


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


class UniformBackend:
    """Uniform-in-bin decoding: the marginal path's default refiner.

    Reads no private data, so ``fit`` spends nothing and ignores its inputs.

    Examples
    --------
    >>> from dpquilt.schema import NumericColumn, Schema
    >>> lay = Layout.of(Schema([NumericColumn("x", lower=0, upper=1, bins=2)]))
    >>> from dpquilt.marginals.dataset import Dataset
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
