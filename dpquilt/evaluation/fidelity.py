"""Per-column and pairwise fidelity of numeric columns.

* Mean 1-D Wasserstein distance (earth mover's distance of the marginal
  distributions, ``W_1 = int |F(x) - G(x)| dx``), each divided by the column's public
  range so that columns of different scales average fairly.
* Correlation difference: mean absolute difference of the Pearson correlations over
  pairs of numeric columns (as in the SDMetrics "CorrelationSimilarity" family).

Like :mod:`.workload`, these read the real data without noise: they are for the data
curator and for benchmarks, not for release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["wasserstein_distances", "mean_wasserstein", "correlation_difference"]


def _numeric(series: pd.Series) -> np.ndarray:
    s = series.dropna()
    if pd.api.types.is_datetime64_any_dtype(s):
        return (s - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=np.float64)
    return s.to_numpy(dtype=np.float64)


def wasserstein_distances(
    real: pd.DataFrame, synthetic: pd.DataFrame, ranges: Mapping[str, tuple[float, float]]
) -> dict[str, float]:
    """``W_1(real[c], synthetic[c]) / (hi - lo)`` for each column ``c`` of ``ranges``.

    Real values are clipped to ``ranges`` (the schema's public bounds), since a
    synthesizer cannot produce values outside them. Missing values are left out.

    Examples
    --------
    >>> real = pd.DataFrame({"x": [0.0, 1.0]})
    >>> wasserstein_distances(real, pd.DataFrame({"x": [0.5, 1.5]}), {"x": (0.0, 2.0)})
    {'x': 0.25}
    """
    from scipy.stats import wasserstein_distance

    out = {}
    for col, (lo, hi) in ranges.items():
        if not hi > lo:
            raise ValueError(f"column {col!r}: range ({lo}, {hi}) is empty; pass its public bounds")
        r, s = np.clip(_numeric(real[col]), lo, hi), _numeric(synthetic[col])
        if r.size == 0 or s.size == 0:
            raise ValueError(f"column {col!r} has no non-missing values in the {'real' if r.size == 0 else 'synthetic'} table")
        out[col] = float(wasserstein_distance(r, s)) / (hi - lo)
    return out


def mean_wasserstein(real: pd.DataFrame, synthetic: pd.DataFrame, ranges: Mapping[str, tuple[float, float]]) -> float:
    """Mean of :func:`wasserstein_distances` over the columns.

    Examples
    --------
    >>> real = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 10.0]})
    >>> synth = pd.DataFrame({"x": [0.5, 1.5], "y": [0.0, 10.0]})
    >>> mean_wasserstein(real, synth, {"x": (0.0, 2.0), "y": (0.0, 10.0)})  # (0.5 / 2 + 0) / 2
    0.125
    """
    return float(np.mean(list(wasserstein_distances(real, synthetic, ranges).values())))


def correlation_difference(real: pd.DataFrame, synthetic: pd.DataFrame, columns: Sequence[str]) -> float:
    """Mean ``|corr_real(a, b) - corr_synth(a, b)|`` over pairs of ``columns`` (Pearson, pairwise complete).

    A constant synthetic column has no correlation; it counts as 0.

    Examples
    --------
    >>> real = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, 3.0]})
    >>> correlation_difference(real, pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3.0, 2.0, 1.0]}), ["a", "b"])
    2.0
    """
    columns = list(columns)
    if len(columns) < 2:
        raise ValueError(f"correlation_difference needs at least two numeric columns, got {columns}")

    def corr(df):
        frame = pd.DataFrame({c: pd.Series(_numeric(df[c]), index=df[c].dropna().index) for c in columns})
        return frame.corr().fillna(0.0).to_numpy()

    upper = np.triu_indices(len(columns), 1)
    return float(np.abs(corr(real) - corr(synthetic))[upper].mean())
