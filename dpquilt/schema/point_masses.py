"""Learn a numeric column's point masses with DP: the exact values that hold many rows.

Real numeric columns are rarely continuous: amounts are zero for most rows, a loan term
is 36 or 60, a year column holds a few dozen years, an age in whole years a few dozen
values. Binned and decoded uniformly, such values come back as 3e-05 instead of 0, 35-37
instead of 36, 3.4 years. Here the exact values are released by the stability histogram
(thresholded discrete Gaussian counts over the values present, as for category lists;
Korolova et al. 2009, Rogers 2023): one row holds one value, so the histogram has L2
sensitivity 1 and costs ``1 / (2 sigma^2)`` plus the threshold's delta. Values whose
noisy count clears the threshold get codes of their own that decode exactly
(:class:`~dpquilt.schema.NumericColumn` ``points``); at most :data:`MAX_POINTS`, the
largest noisy counts, are kept (post-processing). The same release tells whether the
column has missing values (:func:`has_missing`): their count is one more key, of a
public domain, so it is released whatever it is and costs nothing more.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pandas as pd

from ..privacy.accountant import Accountant
from ..privacy.mechanisms import thresholded_counts
from ..privacy.noise import NoiseSource
from ..rows.engine import ColumnValues, ValueCounts, sorted_counts
from .column_types import numeric_values
from .specs import NumericColumn

__all__ = ["MAX_POINTS", "MISSING_KEY", "MISSING_SIGMAS", "has_missing", "known_missing", "learn_points", "numeric_value_tally", "release_points",
           "value_tally"]

#: Most point masses a column keeps (each is one more code in every marginal it enters).
MAX_POINTS = 64

class _MissingKey:
    """The key of missing values: equal to nothing else, so no value of a column can take its place."""

    def __repr__(self) -> str:
        return "<missing>"

    def __reduce__(self) -> str:
        """Pickled as the module's one instance (releases cross processes in cross-silo fits).

        >>> import pickle
        >>> pickle.loads(pickle.dumps(MISSING_KEY)) is MISSING_KEY
        True
        """
        return "MISSING_KEY"


#: The key of missing values in a column's released value histogram.
MISSING_KEY = _MissingKey()

#: A column keeps a code for missing values when their noisy count reaches this many noise deviations.
MISSING_SIGMAS = 3.0


def value_tally(kind: str | None, series: pd.Series) -> tuple[dict, np.ndarray]:
    """How many rows hold each present value (numbers for a numeric ``kind``, labels for ``None``),
    and how many are missing: what point masses and category lists are learned from.

    Examples
    --------
    >>> value_tally("integer", pd.Series([3, None, 3, 1]))
    ({1.0: 1, 3.0: 2}, array([1]))
    >>> value_tally(None, pd.Series(["a", "b", "a"]))
    ({'a': 2, 'b': 1}, array([0]))
    """
    if kind is not None:
        counts, missing = numeric_value_tally(kind, series)
        return counts.as_dict(), missing
    counts = series.value_counts(dropna=True)
    return sorted_counts(dict(zip(counts.index.tolist(), counts.to_numpy().tolist()))), np.array([int(series.isna().sum())])


def known_missing(count: int, may_be_missing: bool) -> dict:
    """``{MISSING_KEY: count}`` when the spec may hold missing values, else nothing: the ``known``
    key of a thresholded release (:func:`~dpquilt.privacy.mechanisms.thresholded_counts`).

    Examples
    --------
    >>> known_missing(4, True), known_missing(4, False)
    ({<missing>: 4}, {})
    """
    return {MISSING_KEY: int(count)} if may_be_missing else {}


def numeric_value_tally(kind: str, series: pd.Series) -> tuple[ValueCounts, np.ndarray]:
    """:func:`value_tally` of a numeric column, its distinct values kept as arrays (:class:`ValueCounts`).

    Examples
    --------
    >>> counts, missing = numeric_value_tally("float", pd.Series([0.0, 2.5, 0.0, None]))
    >>> counts.as_dict(), missing.tolist()
    ({0.0: 2, 2.5: 1}, [1])
    """
    return ValueCounts.of(numeric_values(series, kind)), np.array([int(series.isna().sum())])


def has_missing(released: dict, sigma: float, missing: bool) -> bool:
    """Whether to keep a missing code: the spec allows one and the noisy count of missing values clears
    :data:`MISSING_SIGMAS` ``sigma`` (post-processing). Removes :data:`MISSING_KEY` from ``released``.

    Without it, noise gives the missing code of a column that has no missing values a
    little mass, and synthetic rows get missing values the real ones never had; with
    it, rows whose rare missing values stayed under the threshold are left out at
    encoding (a row-wise filter).

    Examples
    --------
    >>> released = {0.0: 4000, MISSING_KEY: 12}
    >>> has_missing(released, sigma=10.0, missing=True), released
    (False, {0.0: 4000})
    """
    count = released.pop(MISSING_KEY, None)
    return bool(missing and count is not None and count >= MISSING_SIGMAS * sigma)


def learn_points(
    series: pd.Series | ColumnValues, spec: NumericColumn, sigma: float, delta: float, accountant: Accountant, noise: NoiseSource
) -> NumericColumn:
    """``spec`` with the point masses of ``series`` learned with DP (one ledger entry), and whether it has missing values.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> rng = np.random.default_rng(0)
    >>> debt = pd.Series(np.where(rng.random(5000) < 0.8, 0.0, rng.lognormal(7, 1, 5000)))
    >>> spec = learn_points(debt, NumericColumn("debt", points=None), 10.0, 1e-10,
    ...                     Accountant(1.0, 1e-9, secure=False), SeededNoise(np.random.default_rng(0)))
    >>> spec.points, spec.missing  # the zeros (no single non-zero amount holds enough rows); nothing missing
    ((0.0,), False)
    """
    return release_points(series, spec, sigma, delta, accountant, noise)[0]


def release_points(
    series: pd.Series | ColumnValues, spec: NumericColumn, sigma: float, delta: float, accountant: Accountant, noise: NoiseSource
) -> tuple[NumericColumn, dict]:
    """:func:`learn_points`, also returning the released noisy counts (value or :data:`MISSING_KEY` -> count).

    The counts are DP outputs that the marginal path reuses
    (:class:`~dpquilt.schema.releases.CountRelease`).
    """
    counts, (missing,) = ColumnValues.of(series).tally(functools.partial(numeric_value_tally, spec.kind))
    released = thresholded_counts(
        counts.as_dict(), sigma, delta, f"point masses of {spec.name!r}", accountant, noise,
        known=known_missing(int(missing), spec.missing),
    )
    kept = dict(released)
    missing = has_missing(kept, sigma, spec.missing)
    largest = sorted(kept, key=lambda v: -kept[v])[:MAX_POINTS]
    return replace(spec, points=tuple(sorted(float(v) for v in largest)), missing=missing), released
