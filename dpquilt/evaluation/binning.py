"""An evaluation binning that no synthesizer chose: k-way total variation on the real table's terms.

Measuring a synthetic table on the synthesizer's own schema compares coarse bins with
coarse bins: a column decoded to 3.4 years when the real one holds whole years, or to
1910 when the real years run 1963-2015, looks perfect if both land in the same wide
bin. Here every column is binned from the real table alone:

* numeric and datetime columns with at most ``exact_up_to`` distinct values, and every
  other column (text, categories, bools), by exact value; a synthetic value the real
  column never holds falls in one ``other`` bin;
* other numeric and datetime columns at the real values' quantiles (deciles by
  default): bin ``0`` holds values up to the real minimum, bin ``i`` the values in
  ``(e_{i-1}, e_i]``, and one more bin those above the maximum, so a point mass at
  the minimum (the zeros of a zero-inflated amount) keeps a bin of its own;
* missing values, in any column, in a bin of their own.

The error of order ``k`` is the mean over ``k``-way marginals of
``0.5 || p_real - p_synth ||_1`` (as in the AIM paper's workload error), on a seeded
sample of at most ``max_marginals`` marginals when there are more. Evaluation reads the
real table without noise: it is for the curator and for benchmarks, never for release.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..schema.column_types import numeric_values

__all__ = ["ColumnBins", "EvaluationBinning", "binned_tv", "independent_columns"]

#: Numeric columns with at most this many distinct real values are compared by value.
EXACT_UP_TO = 20


@dataclass(frozen=True)
class ColumnBins:
    """How one column is binned: by exact ``values`` or at quantile ``edges`` (never both).

    Examples
    --------
    >>> ColumnBins("x", edges=(0.0, 5.0, 9.0)).codes(pd.Series([0.0, 3.0, 9.0, 12.0, None])).tolist()
    [0, 1, 2, 3, 4]
    >>> ColumnBins("c", values=("a", "b")).codes(pd.Series(["b", "zzz", None])).tolist()
    [1, 2, 3]
    """

    name: str
    values: tuple | None = None
    edges: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if (self.values is None) == (self.edges is None):
            raise ValueError(f"column {self.name!r}: give exact values or quantile edges, not both or neither")

    @property
    def size(self) -> int:
        """Bins: values + other + missing, or edges + 1 (above the maximum) + missing."""
        return len(self.values) + 2 if self.values is not None else len(self.edges) + 2

    def codes(self, series: pd.Series) -> np.ndarray:
        """The bin of every value of ``series`` (missing last)."""
        missing = series.isna().to_numpy()
        out = np.full(len(series), self.size - 1, dtype=np.int64)
        present = series[~missing]
        if self.values is not None:
            index = pd.Index(list(self.values), dtype=object)
            found = index.get_indexer(_comparable(present).to_numpy(dtype=object))
            out[~missing] = np.where(found >= 0, found, len(self.values))
        else:
            out[~missing] = np.searchsorted(np.asarray(self.edges), _as_float(present), side="left")
        return out


def _comparable(values: pd.Series) -> pd.Series:
    """Values as comparable labels: numbers as floats (so ``3`` matches ``3.0``), the rest as they are."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(object)
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.Series(_as_float(values), index=values.index, dtype=object)
    return values.astype(object)


def _as_float(values: pd.Series) -> np.ndarray:
    """Present values as floats: datetimes in seconds since 1970 (as the codec counts them), the rest parsed."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return numeric_values(values, "datetime")
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)


def _numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    return (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)) or (
        pd.api.types.is_datetime64_any_dtype(dtype)
    )


@dataclass(frozen=True)
class EvaluationBinning:
    """Bins for every column of a real table, chosen from that table alone.

    Examples
    --------
    >>> real = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50})
    >>> binning = EvaluationBinning.of(real)
    >>> binning["x"].edges[:3], binning["c"].values
    ((0.0, 9.9, 19.8), ('a', 'b'))
    """

    columns: tuple[ColumnBins, ...]

    @classmethod
    def of(cls, real: pd.DataFrame, quantiles: int = 10, exact_up_to: int = EXACT_UP_TO) -> EvaluationBinning:
        """Exact values for categories and numbers with few values, quantile edges for the rest."""
        bins = []
        for name in real.columns:
            col = real[name]
            present = col.dropna()
            if _numeric(col) and present.nunique() > exact_up_to:
                x = _as_float(present)
                edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, quantiles + 1)))
                bins.append(ColumnBins(name, edges=tuple(float(e) for e in edges)))
            else:
                labels = pd.unique(_comparable(present))
                bins.append(ColumnBins(name, values=tuple(sorted(labels, key=lambda v: (type(v).__name__, v)))))
        return cls(tuple(bins))

    def __getitem__(self, name: str) -> ColumnBins:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"column {name!r} is not binned; known: {[c.name for c in self.columns]}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def codes(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        """Every column's bins for ``df`` (which must hold the binned columns)."""
        missing = [n for n in self.names if n not in df.columns]
        if missing:
            raise ValueError(f"the table lacks column(s) {missing}; compare tables with the same columns")
        return {c.name: c.codes(df[c.name]) for c in self.columns}


def _tv(real: dict[str, np.ndarray], synth: dict[str, np.ndarray], sizes: dict[str, int], cols: Sequence[str]) -> float:
    key_r = np.zeros(len(next(iter(real.values()))), dtype=np.int64)
    key_s = np.zeros(len(next(iter(synth.values()))), dtype=np.int64)
    for c in cols:
        key_r = key_r * sizes[c] + real[c]
        key_s = key_s * sizes[c] + synth[c]
    cells, inverse = np.unique(np.concatenate([key_r, key_s]), return_inverse=True)
    p = np.bincount(inverse[: key_r.size], minlength=cells.size) / max(key_r.size, 1)
    q = np.bincount(inverse[key_r.size:], minlength=cells.size) / max(key_s.size, 1)
    return 0.5 * float(np.abs(p - q).sum())


def binned_tv(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    k: int = 2,
    binning: EvaluationBinning | None = None,
    max_marginals: int = 500,
    seed: int = 0,
) -> float:
    """Mean total variation over ``k``-way marginals on an evaluation binning of ``real``.

    Parameters
    ----------
    real, synth : DataFrame
        The real table and a synthetic one with the same columns.
    k : int
        Marginal order.
    binning : EvaluationBinning, optional
        Default: :meth:`EvaluationBinning.of` ``(real)``.
    max_marginals : int
        When there are more ``k``-way marginals, a seeded sample of this many.
    seed : int
        Seed of that sample.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame({"years": rng.integers(0, 11, 2000)})
    >>> whole = pd.DataFrame({"years": rng.integers(0, 11, 2000)})
    >>> fractional = whole.astype(float) + 0.4  # 3.4 years where the real table holds whole years
    >>> binned_tv(real, whole, k=1) < 0.05, binned_tv(real, fractional, k=1)
    (True, 1.0)
    """
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    binning = binning or EvaluationBinning.of(real)
    codes_r, codes_s = binning.codes(real), binning.codes(synth)
    sizes = {c.name: c.size for c in binning.columns}
    names = list(binning.names)
    total = math.comb(len(names), k)
    if total <= max_marginals:
        marginals = list(itertools.combinations(names, k))
    else:
        rng = np.random.default_rng(seed)
        chosen: set[tuple[int, ...]] = set()
        while len(chosen) < max_marginals:
            chosen.add(tuple(sorted(rng.choice(len(names), size=k, replace=False).tolist())))
        marginals = [tuple(names[i] for i in idx) for idx in sorted(chosen)]
    return float(np.mean([_tv(codes_r, codes_s, sizes, cols) for cols in marginals]))


def independent_columns(real: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows, each column drawn on its own from the real column's values (not private).

    The baseline a synthesizer must beat on joint statistics: exact 1-way marginals,
    no dependence between columns.

    Examples
    --------
    >>> real = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    >>> independent_columns(real, 5, np.random.default_rng(0)).shape
    (5, 2)
    """
    return pd.DataFrame(
        {c: real[c].iloc[rng.integers(0, len(real), n)].reset_index(drop=True) for c in real.columns}
    )
