"""Learn the resolution of a datetime column with DP: whole years, months, days, or instants.

A column of booking dates holds midnights; a column of month starts holds the first of
each month. Decoding such a column as instants spread over its bins invents times of
day and days of the month that never occur. Here each present value falls in one of
four classes (:data:`UNIT_CLASSES`, by its wall-clock time): the start of a year, the
start of another month, another midnight, or a time of day. One row moves one class by
one (a missing value is in none), so the class histogram has L2 sensitivity 1 and one
discrete Gaussian release per column costs ``1 / (2 sigma^2)``; the unit is a function
of the noisy histogram only (:func:`unit_from_noisy_classes`).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd

from ..privacy.accountant import Accountant
from ..privacy.mechanisms import gaussian_counts
from ..privacy.noise import NoiseSource
from ..rows.engine import ColumnValues
from .specs import NumericColumn

__all__ = ["FINER_SIGMAS", "UNIT_CLASSES", "learn_unit", "unit_classes", "unit_from_noisy_classes"]

log = logging.getLogger(__name__)

#: The classes a present value falls in, from the coarsest, in histogram order.
UNIT_CLASSES = ("year", "month", "day", "time")

#: Values finer than a unit that stay under this many noise deviations leave the column at that unit.
FINER_SIGMAS = 3.0


def wall_clock(series: pd.Series) -> pd.Series:
    """The present values of a datetime column as naive wall-clock times (a time zone's local time).

    Examples
    --------
    >>> wall_clock(pd.Series(pd.to_datetime(["2020-03-01"])).dt.tz_localize("Europe/Oslo")).tolist()
    [Timestamp('2020-03-01 00:00:00')]
    """
    s = pd.to_datetime(series.dropna())
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s


def unit_classes(series: pd.Series) -> np.ndarray:
    """How many present values of a datetime column start a year, start another month, are another midnight, or not.

    Examples
    --------
    >>> values = ["2020-01-01", "2020-05-01", "2020-05-17", "2020-05-17 10:30", None]
    >>> unit_classes(pd.Series(pd.to_datetime(values, format="ISO8601"))).tolist()
    [1, 1, 1, 1]
    """
    s = wall_clock(series)
    midnight = (s == s.dt.normalize()).to_numpy()
    first = (s.dt.day == 1).to_numpy() & midnight
    january = (s.dt.month == 1).to_numpy() & first
    return np.array([january.sum(), (first & ~january).sum(), (midnight & ~first).sum(), (~midnight).sum()],
                    dtype=np.int64)


def unit_from_noisy_classes(noisy: np.ndarray, sigma: float) -> str | None:
    """The coarsest unit a noisy class histogram supports, or ``None`` for instants.

    Post-processing (spends nothing). With ``c`` the noisy counts clipped at 0: ``None``
    when their sum is under ``4 sigma`` (all noise) or when times of day reach
    ``FINER_SIGMAS sigma``; else ``"day"`` when midnights other than month starts reach
    it, else ``"month"`` when month starts other than year starts do, else ``"year"``.

    Examples
    --------
    >>> unit_from_noisy_classes(np.array([30, 400, 9000, 4]), sigma=10.0)
    'day'
    >>> unit_from_noisy_classes(np.array([300, 3300, -5, 12]), sigma=10.0)
    'month'
    >>> unit_from_noisy_classes(np.array([50, 40, 900, 800]), sigma=10.0) is None
    True
    """
    c = np.maximum(np.asarray(noisy, dtype=np.float64), 0.0)
    if c.sum() < 4.0 * sigma:
        return None
    threshold = FINER_SIGMAS * sigma
    for unit, finer in (("year", c[1:]), ("month", c[2:]), ("day", c[3:])):
        if finer.sum() < threshold:
            return unit
    return None


def learn_unit(
    series: pd.Series | ColumnValues, spec: NumericColumn, sigma: float, accountant: Accountant, noise: NoiseSource
) -> NumericColumn:
    """``spec`` with its unit learned from ``series`` (one ledger entry); ``None`` keeps instants.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> acc = Accountant(1.0, 1e-9, secure=False)
    >>> days = pd.Series(pd.date_range("2020-01-01", periods=400, freq="D").repeat(20))
    >>> spec = learn_unit(days, NumericColumn("day", kind="datetime", unit="auto"), 10.0, acc,
    ...                   SeededNoise(np.random.default_rng(0)))
    >>> spec.unit, [e.what for e in acc.ledger]
    ('day', ["unit of 'day' (year, month, day or time)"])
    """
    noisy = gaussian_counts(ColumnValues.of(series).tally(unit_classes), sigma, f"unit of {spec.name!r} (year, month, day or time)",
                            accountant, noise)
    unit = unit_from_noisy_classes(noisy, sigma)
    if unit is None and np.maximum(noisy, 0).sum() < 4.0 * sigma:
        log.info("column %r: too few values for the noise to tell its unit; it is kept as instants", spec.name)
    return replace(spec, unit=unit)
