"""Rows as vectors in ``[-1, 1]`` for a standalone diffusion model, and back.

As in TabDDPM and FinDiff, numeric and categorical columns are diffused together:

* a numeric column is its value scaled linearly from the schema's (public or
  DP-learned) clip range to ``[-1, 1]``, or, given a :class:`BinnedCDF` for it,
  Gaussianised as TabDDPM's quantile transform does (``Phi^-1(F(x))``, rescaled into
  ``[-1, 1]``) with ``F`` a piecewise-linear CDF through *noisy* bin counts (or counts
  of an already released table); plus, when the column may be missing, a ``+/-1``
  missing flag; a missing value's own feature is masked out of the loss;
* a categorical column is its one-hot code in ``{-1, +1}`` (every code of the
  schema, ``other`` and ``missing`` included) and decodes by argmax (the Gaussian
  one-hot treatment; TabDDPM's multinomial diffusion is the alternative).

The map is a function of the schema and of DP releases only: nothing is fitted on
private rows for free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ..schema import CategoricalColumn, NumericColumn, Schema
from ..schema.codec import decode, encode
from ..schema.column_types import conform_column, numeric_values
from ..schema.dataset import Dataset
from ..schema.positions import positions_in_bins

__all__ = ["BinnedCDF", "FeatureMap", "bin_counts"]

#: Gaussianised features clip the CDF to [TAIL, 1 - TAIL] and divide by Phi^-1(1 - TAIL).
TAIL = 1e-3
_Z_MAX = float(ndtri(1.0 - TAIL))


@dataclass(frozen=True)
class BinnedCDF:
    """A piecewise-linear CDF through bin edges: ``F(e_0) = 0``, ``F(e_k) = 1``.

    Built from (noisy) bin counts: negative counts are set to 0 and every bin gets a
    small floor (``1e-3`` of the mean count) so that ``F`` is strictly increasing and
    invertible. A function of the counts only, so as private as they are.
    ``missing_share`` is the share of rows whose value is missing, from the same
    histogram's missing cell (``None`` when the column cannot be missing or the cell was
    not released): :meth:`FeatureMap.matched_to_cdfs` gives that share of the samples
    the missing flag.

    Examples
    --------
    >>> cdf = BinnedCDF.from_counts((0.0, 1.0, 3.0), np.array([30, 10]))
    >>> round(float(cdf.forward(np.array([1.0]))[0]), 3), round(float(cdf.inverse(np.array([0.875]))[0]), 2)
    (0.75, 2.0)
    """

    edges: tuple[float, ...]
    cdf: tuple[float, ...]
    missing_share: float | None = None

    @classmethod
    def from_counts(cls, edges, counts, missing_share: float | None = None) -> BinnedCDF:
        counts = np.maximum(np.asarray(counts, dtype=np.float64), 0.0)
        counts = counts + 1e-3 * max(counts.mean(), 1e-9)
        cdf = np.concatenate([[0.0], np.cumsum(counts)]) / counts.sum()
        return cls(tuple(float(e) for e in edges), tuple(float(c) for c in cdf), missing_share)

    @classmethod
    def from_histogram(cls, spec: NumericColumn, counts) -> BinnedCDF:
        """The CDF through a column's released code histogram (:func:`bin_counts`): its bins
        make ``F``; its missing cell over the whole histogram (each clipped at 0) is
        ``missing_share``. Post-processing of the counts.

        Examples
        --------
        >>> spec = NumericColumn("x", lower=0.0, upper=3.0, bins=2, points=(), missing=True)
        >>> cdf = BinnedCDF.from_histogram(spec, np.array([30.0, 10.0, 10.0]))  # two bins, then missing
        >>> cdf.missing_share
        0.2
        """
        counts = np.asarray(counts, dtype=np.float64)
        if counts.size != spec.size:
            raise ValueError(f"column {spec.name!r}: a histogram of {counts.size} cells, its codes are {spec.size}")
        share = None
        if spec.missing:
            kept = np.maximum(counts, 0.0)
            share = float(kept[-1] / kept.sum()) if kept.sum() > 0 else 0.0
        return cls.from_counts(spec.bin_edges(), counts[: spec.n_bins], share)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.interp(x, self.edges, self.cdf)

    def inverse(self, u: np.ndarray) -> np.ndarray:
        return np.interp(u, self.cdf, self.edges)


def bin_counts(df: pd.DataFrame, schema: Schema) -> dict[str, np.ndarray]:
    """Each numeric column's code histogram: its bins, then its point masses, then missing.

    Every row falls in exactly one cell of each column's histogram, so one row moves
    a column's histogram by 1 in L1 and L2. Private when ``df`` is: release them only
    with noise (sensitivity 1 per column). The bins give the quantile transform's CDF
    and the missing cell the share of missing values
    (:meth:`BinnedCDF.from_histogram`).

    Examples
    --------
    >>> from dpquilt.schema import NumericColumn
    >>> schema = Schema([NumericColumn("x", lower=0, upper=10, bins=2, points=(), missing=True)])
    >>> bin_counts(pd.DataFrame({"x": [1.0, 2.0, 9.0, None]}), schema)["x"].tolist()  # two bins, missing
    [2, 1, 1]
    """
    codes = encode(df, schema).data
    out = {}
    for spec in schema.columns:
        if isinstance(spec, NumericColumn):
            col = np.asarray(codes.columns[spec.name], dtype=np.int64)
            out[spec.name] = np.bincount(col, minlength=spec.size)  # one cell per code
    return out


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
    cdfs: Mapping[str, BinnedCDF] = field(default_factory=dict)

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
        encoded = encode(df, self.schema)
        codes, df = encoded.data, df[encoded.kept]
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
            series, _ = conform_column(df[spec.name], spec)
            observed = ~series.isna().to_numpy()
            value[observed] = np.clip(numeric_values(series, spec.kind), lo, hi)
            x[:, start] = np.where(observed, self._to_feature(spec.name, value, lo, hi), 0.0)
            present[:, start] = observed
            if spec.missing:
                x[:, start + 1] = np.where(observed, -1.0, 1.0)
        return x, present

    def _to_feature(self, name: str, value: np.ndarray, lo: float, hi: float) -> np.ndarray:
        if name in self.cdfs:
            u = np.clip(self.cdfs[name].forward(value), TAIL, 1.0 - TAIL)
            return ndtri(u) / _Z_MAX
        return 2.0 * (value - lo) / max(hi - lo, 1e-12) - 1.0

    def _from_feature(self, name: str, z: np.ndarray, lo: float, hi: float) -> np.ndarray:
        if name in self.cdfs:
            return self.cdfs[name].inverse(ndtr(z * _Z_MAX))
        return lo + (z + 1.0) / 2.0 * (hi - lo)

    def matched_to_cdfs(self, x: np.ndarray) -> np.ndarray:
        """``x`` with each Gaussianised column's values replaced, rank for rank, by its CDF's quantiles.

        Among the rows where a column is present (its missing flag off), the ``k``-th
        smallest of ``m`` values becomes ``Phi^-1((k + 1/2) / m)`` (rescaled, tails
        clipped as in :meth:`features`), so the decoded column follows its released CDF
        ``F`` and the model keeps only the order of the rows: the margins come from the
        released histograms and the dependence from the model (a copula, Sklar 1959; as
        DPCopula does with DP margins, Li, Xiong and Jiang, EDBT 2014). A function of
        the samples and of released CDFs: post-processing. Columns without a CDF (scaled
        linearly) are left as they are.

        The missing flag is matched the same way first: where the CDF carries the
        released share ``p`` of missing values, the ``round(p n)`` samples with the
        largest flags are missing and the others present. A noisy model otherwise drifts
        its flags towards zero and writes missing values into many rows of a column
        that has none (diamonds over 3 clients at epsilon 1: 25-44% of some columns).

        Examples
        --------
        >>> s = Schema([NumericColumn("x", lower=0.0, upper=10.0, missing=False)])
        >>> fm = FeatureMap(s, {"x": BinnedCDF.from_counts((0.0, 5.0, 10.0), np.array([50, 50]))})
        >>> z = np.array([[0.9], [-0.2], [0.95], [0.8]])  # the model put every value high
        >>> fm.rows(fm.matched_to_cdfs(z), np.random.default_rng(0))["x"].round(2).tolist()  # the CDF's quartiles
        [6.25, 1.25, 8.75, 3.75]
        """
        x = np.array(x, dtype=np.float64, copy=True)
        for spec, start, _ in self._blocks():
            if spec.name not in self.cdfs:
                continue
            share = self.cdfs[spec.name].missing_share
            if spec.missing and share is not None:
                x[:, start + 1] = _flags_at_share(x[:, start + 1], share)
            rows = np.flatnonzero(x[:, start + 1] <= 0) if spec.missing else np.arange(x.shape[0])
            if not rows.size:
                continue
            ranks = np.empty(rows.size)
            ranks[np.argsort(x[rows, start], kind="stable")] = np.arange(rows.size)
            u = np.clip((ranks + 0.5) / rows.size, TAIL, 1.0 - TAIL)
            x[rows, start] = ndtri(u) / _Z_MAX
        return x

    def rows(self, x: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Decode features to a DataFrame with the schema's dtypes (argmax for codes)."""
        x = np.asarray(x, dtype=np.float64)
        codes, positions = {}, {}
        for spec, start, width in self._blocks():
            if isinstance(spec, CategoricalColumn):
                codes[spec.name] = np.argmax(x[:, start : start + width], axis=1)
                continue
            lo, hi = spec.clip_range
            value = np.clip(self._from_feature(spec.name, np.clip(x[:, start], -1.0, 1.0), lo, hi), lo, hi)
            if spec.kind == "integer":
                value = np.round(value)
            bins, u = positions_in_bins(value, np.asarray(spec.bin_edges()), spec.kind, spec.grain)
            if spec.missing:
                bins = np.where(x[:, start + 1] > 0, spec.missing_code, bins)
            codes[spec.name], positions[spec.name] = bins, u
        data = Dataset(codes, self.schema.domain())
        return decode(data, self.schema, rng, positions)


def _flags_at_share(flags: np.ndarray, share: float) -> np.ndarray:
    """``+1`` on the ``round(share n)`` largest of ``n`` flags, ``-1`` on the rest (ties by position).

    Examples
    --------
    >>> _flags_at_share(np.array([0.3, -0.9, 0.8, 0.1]), 0.5).tolist()
    [1.0, -1.0, 1.0, -1.0]
    """
    n = flags.size
    on = int(round(min(max(share, 0.0), 1.0) * n))
    out = np.full(n, -1.0)
    if on:
        out[np.argsort(-flags, kind="stable")[:on]] = 1.0
    return out
