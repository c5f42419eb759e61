"""Learn the kind of a text column with DP: categorical, float, integer or datetime.

A DataFrame's text columns (``object`` or ``string`` dtype) are learned too, but only
as dates or labels (``UntypedColumn(numbers=False)``): dates read from a file without
``parse_dates`` come back as dates, written as ISO 8601 text like the input.

A CSV file carries no types: every value is text. Reading a column's kind from its
values (as pandas' type inference does) lets one row decide it: one ``NA`` turns an
integer column into floats, one ``"unknown"`` turns a numeric column into labels.
Here each present value falls in one of four classes (:data:`VALUE_CLASSES`): an
integer, a non-integer number, an ISO 8601 date, or other text. The class histogram
has L2 sensitivity 1 (one row moves one class by one; a missing value is in none),
so one discrete Gaussian release per column costs ``1 / (2 sigma^2)``; the kind is a
function of the noisy histogram only (:func:`kind_from_noisy_classes`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..privacy.accountant import Accountant
from ..privacy.mechanisms import gaussian_counts
from ..privacy.noise import NoiseSource
from ..rows.engine import ColumnValues
from .column_types import KIND_DTYPES
from .specs import CategoricalColumn, ColumnSpec, NumericColumn, UntypedColumn

__all__ = ["KIND_SHARE", "VALUE_CLASSES", "kind_from_noisy_classes", "learn_kind", "value_classes"]

log = logging.getLogger(__name__)

#: The classes a present value falls in, in histogram order.
VALUE_CLASSES = ("integer", "float", "datetime", "text")

#: A column takes a parsed kind when that kind's noisy share of present values reaches this.
KIND_SHARE = 0.9

#: Non-integer numbers that stay under this many noise deviations leave a numeric column integer.
FLOAT_SIGMAS = 3.0


def value_classes(series: pd.Series) -> np.ndarray:
    """How many present values of ``series`` are integers, other numbers, ISO 8601 dates and other text.

    Examples
    --------
    >>> value_classes(pd.Series(["12", "3.5", "2020-01-31", "n/a", None, "7"])).tolist()
    [2, 1, 1, 1]
    """
    try:  # each distinct value is classified once, weighted by how often it occurs
        found, distinct = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts): by their text, row by row
        return _classes_of(series.dropna()).sum(axis=0)
    weights = np.bincount(found[found >= 0], minlength=len(distinct))
    return (_classes_of(pd.Series(np.asarray(distinct, dtype=object))) * weights[:, None]).sum(axis=0).astype(np.int64)


def _classes_of(values: pd.Series) -> np.ndarray:
    """One row per value: a one-hot of integer, other number, ISO 8601 date, other text."""
    text = values.astype(str).str.strip()
    number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    finite = np.isfinite(number)
    integral = finite & (np.floor(np.where(finite, number, 0.0)) == number)
    dates = np.zeros(len(text), dtype=bool)
    dates[~finite] = pd.to_datetime(text[~finite], errors="coerce", utc=True, format="ISO8601").notna().to_numpy()
    other = ~finite & ~dates
    return np.stack([integral, finite & ~integral, dates, other], axis=1).astype(np.int64)


def kind_from_noisy_classes(noisy: np.ndarray, sigma: float) -> str | None:
    """The kind a noisy class histogram supports, or ``None`` when it is all noise.

    Post-processing (spends nothing). With ``c`` the noisy counts clipped at 0 and
    ``N`` their sum: ``None`` when ``N < 4 sigma``; numeric when integers and other
    numbers make at least :data:`KIND_SHARE` of ``N`` (integer when the other numbers
    stay under ``FLOAT_SIGMAS sigma``, else float); datetime when dates do; else
    categorical.

    Examples
    --------
    >>> kind_from_noisy_classes(np.array([9500, 3, 0, 400]), sigma=10.0)
    'integer'
    >>> kind_from_noisy_classes(np.array([4000, 2500, -4, 12]), sigma=10.0)
    'float'
    >>> kind_from_noisy_classes(np.array([12, 0, 0, 900]), sigma=10.0)
    'categorical'
    >>> kind_from_noisy_classes(np.array([14, -3, 8, 5]), sigma=10.0) is None
    True
    """
    c = np.maximum(np.asarray(noisy, dtype=np.float64), 0.0)
    total = c.sum()
    if total < 4.0 * sigma:
        return None
    integers, floats, dates, _ = c
    if integers + floats >= KIND_SHARE * total:
        return "integer" if floats < FLOAT_SIGMAS * sigma else "float"
    if dates >= KIND_SHARE * total:
        return "datetime"
    return "categorical"


def learn_kind(
    series: pd.Series | ColumnValues, spec: UntypedColumn, sigma: float, accountant: Accountant, noise: NoiseSource
) -> ColumnSpec:
    """An incomplete spec of the kind learned for ``series`` (one ledger entry).

    When the noisy histogram is all noise the column is read as text (categorical),
    and the log says so.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> acc = Accountant(1.0, 1e-9, secure=False)
    >>> years = pd.Series([str(y) for y in range(1950, 2000)] * 100 + ["unknown"] * 10)
    >>> spec = learn_kind(years, UntypedColumn("year"), 10.0, acc, SeededNoise(np.random.default_rng(0)))
    >>> spec.kind, spec.dtype, [e.what for e in acc.ledger]
    ('integer', 'Int64', ["kind of 'year' (value classes)"])
    """
    counts = ColumnValues.of(series).tally(value_classes)
    noisy = gaussian_counts(counts, sigma, f"kind of {spec.name!r} (value classes)", accountant, noise)
    kind = kind_from_noisy_classes(noisy, sigma)
    if kind is None:
        if spec.numbers:
            log.warning(
                "column %r: too few values for the noise to tell its kind; it is read as text (declare its kind "
                "in the schema, e.g. {%r: {'kind': 'integer'}}, or give more budget)", spec.name, spec.name,
            )
        else:  # a DataFrame's text column: labels, as its dtype says, unless it is known to hold dates
            log.info(
                "column %r: too few values for the noise to tell dates from labels; it is read as labels (if it "
                "holds dates, declare {%r: {'kind': 'datetime'}})", spec.name, spec.name,
            )
        kind = "categorical"
    if kind in ("integer", "float") and not spec.numbers:
        kind = "categorical"  # a DataFrame's text column of numbers: its dtype says labels
    dtype = spec.dtype or KIND_DTYPES[kind]
    if kind == "categorical":
        return CategoricalColumn(spec.name, None, missing=spec.missing, dtype=dtype)
    unit = "auto" if kind == "datetime" else None
    return NumericColumn(spec.name, kind=kind, missing=spec.missing, dtype=dtype, points=None, unit=unit, bins=None)
