"""Rows as vectors in ``[-1, 1]`` for a standalone diffusion model, and back.

As in TabDDPM and FinDiff, numeric and categorical columns are diffused together:

* a numeric column is its value scaled linearly from the schema's (public or
  DP-learned) clip range to ``[-1, 1]``, plus, when the column may be missing, a
  ``+/-1`` missing flag; a missing value's own feature is masked out of the loss;
* a categorical column is its one-hot code in ``{-1, +1}`` (every code of the
  schema, ``other`` and ``missing`` included) and decodes by argmax (the Gaussian
  one-hot treatment; TabDDPM's multinomial diffusion is the alternative).

The map is a function of the schema only: nothing is fitted on private rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..marginals.dataset import Dataset
from ..marginals.encoding import decode, encode
from ..schema import CategoricalColumn, NumericColumn, Schema
from ..schema_inference import numeric_values
from .positions import positions_in_bins

__all__ = ["FeatureMap"]


@dataclass(frozen=True)
class FeatureMap:
    """The feature layout of a complete schema.

    Examples
    --------
    >>> s = Schema([CategoricalColumn("c", ("a", "b"), other=False, missing=False),
    ...             NumericColumn("x", lower=0.0, upper=10.0, missing=False)])
    >>> fm = FeatureMap(s)
    >>> x, present = fm.features(pd.DataFrame({"c": ["b"], "x": [2.5]}))
    >>> x.tolist(), fm.width
    ([[-1.0, 1.0, -0.5]], 3)
    >>> fm.rows(x, np.random.default_rng(0)).to_dict("list")
    {'c': ['b'], 'x': [2.5]}
    """

    schema: Schema

    def __post_init__(self) -> None:
        if not self.schema.complete:
            todo = [c.name for c in self.schema.columns if not c.complete]
            raise ValueError(f"FeatureMap needs a complete schema; column(s) {todo} lack facts")

    def _blocks(self):
        start = 0
        for spec in self.schema.columns:
            if isinstance(spec, CategoricalColumn):
                width = spec.size
            else:
                width = 1 + int(spec.missing)
            yield spec, start, width
            start += width

    @property
    def width(self) -> int:
        return sum(w for _, _, w in self._blocks())

    def features(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(x, present)``: features ``(n, width)`` in ``[-1, 1]`` and the mask of observed ones.

        Reads private values when ``df`` is private: pass them only to DP training.
        """
        codes = encode(df, self.schema).data
        n = codes.n_rows
        x = np.full((n, self.width), -1.0)
        present = np.ones((n, self.width), dtype=bool)
        for spec, start, width in self._blocks():
            col = np.asarray(codes.columns[spec.name], dtype=np.int64)
            if isinstance(spec, CategoricalColumn):
                x[np.arange(n), start + col] = 1.0
                continue
            lo, hi = spec.clip_range
            value = np.zeros(n)
            observed = ~df[spec.name].isna().to_numpy()
            value[observed] = np.clip(numeric_values(df[spec.name], spec.kind), lo, hi)
            x[:, start] = np.where(observed, 2.0 * (value - lo) / max(hi - lo, 1e-12) - 1.0, 0.0)
            present[:, start] = observed
            if spec.missing:
                x[:, start + 1] = np.where(observed, -1.0, 1.0)
        return x, present

    def rows(self, x: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Decode features to a DataFrame with the schema's dtypes (argmax for codes)."""
        x = np.asarray(x, dtype=np.float64)
        codes, positions = {}, {}
        for spec, start, width in self._blocks():
            if isinstance(spec, CategoricalColumn):
                codes[spec.name] = np.argmax(x[:, start : start + width], axis=1)
                continue
            lo, hi = spec.clip_range
            value = lo + (np.clip(x[:, start], -1.0, 1.0) + 1.0) / 2.0 * (hi - lo)
            if spec.kind == "integer":
                value = np.round(value)
            bins, u = positions_in_bins(value, np.asarray(spec.bin_edges()), spec.kind)
            if spec.missing:
                bins = np.where(x[:, start + 1] > 0, spec.missing_code, bins)
            codes[spec.name], positions[spec.name] = bins, u
        data = Dataset(codes, self.schema.domain())
        return decode(data, self.schema, rng, positions)
