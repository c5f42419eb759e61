"""Learn the facts a schema lacks from the data, with DP, paid for by the accountant.

* Numeric bounds: a noisy histogram over data-independent, log-spaced bands
  (:func:`band_edges`); the bounds are the outer edges of the lowest and the highest
  band whose noisy count reaches ``BAND_THRESHOLD_SIGMAS`` standard deviations,
  widened to any run of adjacent bands beyond them whose noisy sum is significant
  (:func:`occupied_bands`: a thin tail spread over several bands).
  One row falls in one band, so the histogram has L2 sensitivity 1 and one Gaussian
  measurement learns both bounds of a column. Bins are then equal-width between the
  bounds, a function of the DP output only. (The idea is that of a DP bounds search
  over exponentially growing bands, as in OpenDP's ``exponential_bounds_search``,
  done here with one histogram.) When no band is significant, the range is not
  invented from noise: :class:`BoundsNotLearnedError` names the column and the fix.
* Category lists: the stability histogram (thresholded discrete Gaussian counts);
  values under the threshold go to the column's ``other`` code.

Each learned fact is one ledger entry. The budget for this step is the ``rho`` and
``delta`` the caller passes (the synthesizer's ``schema_share``), split evenly over
the facts to learn (delta only over category lists).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from .column_types import can_hold_missing, conform_column, output_dtype, spec_for_series
from .kinds import learn_kind
from .privacy.accountant import Accountant
from .privacy.mechanisms import gaussian_counts, sigma_for_rho, thresholded_counts
from .privacy.noise import NoiseSource
from .schema import CategoricalColumn, ColumnSpec, NumericColumn, Schema, UntypedColumn

__all__ = [
    "BAND_THRESHOLD_SIGMAS",
    "BoundsNotLearnedError",
    "PreparedTable",
    "SCHEMA_DELTA_SHARE",
    "band_edges",
    "complete_schema",
    "facts_to_learn",
    "learn_schema",
    "merge_specs",
    "numeric_values",
    "occupied_bands",
    "prepare_table",
]

log = logging.getLogger(__name__)

#: A band counts as occupied when its noisy count reaches this many sigmas (with
#: ~100 bands, the largest pure-noise count is about 3 sigma).
BAND_THRESHOLD_SIGMAS = 4.0

#: Longest run of adjacent bands tested together when widening the bounds (three decades).
BAND_RUN = 9

_MANTISSAS = (1.0, 2.0, 5.0)
_FLOAT_DECADES = range(-4, 13)


def band_edges(kind: str, lower: float | None = None, upper: float | None = None) -> np.ndarray:
    """Data-independent band edges for learning a column's bounds.

    Floats: ``0`` and ``+-m 10^k`` for ``m`` in (1, 2, 5) and ``k`` in -4..12.
    Integers: the same with ``k >= 0``. Datetimes: 1 January of every year from
    1900 to 2101, in seconds since 1970. A public half-bound replaces the edges
    beyond it.

    Examples
    --------
    >>> e = band_edges("integer", lower=0)
    >>> float(e[0]), float(e[1]), float(e[2]), float(e[3])
    (0.0, 1.0, 2.0, 5.0)
    """
    if kind == "datetime":
        years = pd.date_range("1900-01-01", "2101-01-01", freq="YS")
        edges = ((years - pd.Timestamp(0)).total_seconds()).to_numpy(dtype=np.float64)
    else:
        decades = range(0, 13) if kind == "integer" else _FLOAT_DECADES
        pos = np.array([m * 10.0**k for k in decades for m in _MANTISSAS])
        edges = np.unique(np.concatenate([-pos, [0.0], pos]))
    if lower is not None:
        edges = np.unique(np.concatenate([[lower], edges[edges > lower]]))
    if upper is not None:
        edges = np.unique(np.concatenate([edges[edges < upper], [upper]]))
    return edges


def occupied_bands(noisy: np.ndarray, sigma: float, longest_run: int = BAND_RUN) -> tuple[int, int] | None:
    """First and last band of a column's range, from its noisy band histogram.

    Post-processing of the released histogram (it spends nothing):

    1. Bands whose noisy count reaches ``BAND_THRESHOLD_SIGMAS * sigma`` are occupied;
       if none is, the histogram says nothing about where the values lie (the largest
       noisy band is then noise) and the answer is ``None``.
    2. A thin tail spreads its rows over several bands, none of which passes alone
       (a column that is zero for most rows and between 100 and 5,000 for the rest).
       A run of ``w`` adjacent bands (``2 <= w <= longest_run``) lying wholly beyond
       the range is significant when its noisy sum reaches ``t sigma sqrt(w)``. The
       range is widened to the nearest end of a significant run above it (and the
       nearest start of one below), trimmed to the run's last (first) band whose
       noisy count reaches ``sigma``, and the search repeats beyond the new range.
       Taking the nearest end keeps a run that is significant because of its first
       bands from carrying the range over the empty bands after them.
       A single empty band passes step 1 with probability
       ``p = P(Z >= BAND_THRESHOLD_SIGMAS)``; with ``longest_run - 1`` runs starting
       at each band, each run is tested at level ``p / (4 (longest_run - 1))``, so
       runs of pure noise pass at most a quarter as often as single bands do
       (Bonferroni; ``t`` = 4.76 for the defaults). A false pass is as harmful as a
       lost tail (the range then spans many decades), hence the small level.

    Parameters
    ----------
    noisy : ndarray of int
        Noisy count of each band, in band order.
    sigma : float
        Standard deviation of each count's noise.
    longest_run : int
        Most adjacent bands summed in step 2.

    Returns
    -------
    (int, int) or None
        Indices of the first and last band of the range; ``None`` when no band is
        significant (too few rows for the noise: the range cannot be learned).

    Examples
    --------
    >>> noisy = np.zeros(20, dtype=int)
    >>> noisy[3] = 4000              # most rows: one band
    >>> noisy[9:13] = 350            # a tail over four bands, each under 4 sigma = 400
    >>> occupied_bands(noisy, sigma=100.0)
    (3, 12)
    >>> occupied_bands(noisy, sigma=100.0, longest_run=1)  # without step 2
    (3, 3)
    >>> occupied_bands(np.array([30, 250, 10]), sigma=100.0) is None  # nothing reaches 4 sigma
    True
    """
    noisy = np.asarray(noisy, dtype=np.float64)
    passing = np.flatnonzero(noisy >= BAND_THRESHOLD_SIGMAS * sigma)
    if not passing.size:
        return None
    first, last = passing[0], passing[-1]
    level = NormalDist().cdf(-BAND_THRESHOLD_SIGMAS) / (4 * max(longest_run - 1, 1))
    t = -NormalDist().inv_cdf(level)
    last = _widen_upwards(noisy, sigma, int(last), t, longest_run)
    first = noisy.size - 1 - _widen_upwards(noisy[::-1], sigma, noisy.size - 1 - int(first), t, longest_run)
    return int(first), int(last)


def _widen_upwards(noisy: np.ndarray, sigma: float, last: int, t: float, longest_run: int) -> int:
    """Step 2 of :func:`occupied_bands` above band ``last`` (the bands reversed give the step below)."""
    cum = np.concatenate([[0.0], np.cumsum(noisy)])
    index = np.arange(noisy.size)
    last_some = np.maximum.accumulate(np.where(noisy >= sigma, index, -1))  # last band <= i with a count >= sigma
    significant = {
        width: np.flatnonzero(cum[width:] - cum[:-width] >= t * sigma * math.sqrt(width))  # runs a .. a + width - 1
        for width in range(2, longest_run + 1)
    }
    while True:  # to the nearest end of a significant run beyond the range, then search beyond it again
        ends = [int(starts[starts > last].min()) + width - 1 for width, starts in significant.items()
                if (starts > last).any()]
        if not ends:
            return last
        last = int(last_some[min(ends)])


class BoundsNotLearnedError(ValueError):
    """No band of a column's noisy histogram is significant: its range cannot be learned.

    Raised instead of inventing a range from noise. A function of the DP release only
    (the noisy histogram), so raising it reveals nothing beyond what was paid for.

    Examples
    --------
    >>> print(BoundsNotLearnedError("age", 412.0))  # doctest: +NORMALIZE_WHITESPACE
    cannot learn the range of column 'age' with this budget and table size: no band of its noisy
    histogram reached 412 rows (4 noise standard deviations). Pass public bounds
    (schema={'age': {'lower': ..., 'upper': ...}}), a larger epsilon, a larger schema_share, or more rows
    """

    def __init__(self, column: str, threshold: float) -> None:
        self.column = column
        super().__init__(
            f"cannot learn the range of column {column!r} with this budget and table size: no band of its noisy "
            f"histogram reached {threshold:.0f} rows ({BAND_THRESHOLD_SIGMAS:g} noise standard deviations). "
            f"Pass public bounds (schema={{{column!r}: {{'lower': ..., 'upper': ...}}}}), a larger epsilon, "
            f"a larger schema_share, or more rows"
        )


def numeric_values(series: pd.Series, kind: str) -> np.ndarray:
    """The non-missing values of a numeric column as float64 (datetimes in epoch seconds).

    Examples
    --------
    >>> numeric_values(pd.Series([3, None, 1]), "integer").tolist()
    [3.0, 1.0]
    >>> numeric_values(pd.Series(["1970-01-02"]), "datetime").tolist()  # seconds since 1970
    [86400.0]
    """
    s = series.dropna()
    if kind == "datetime":
        s = pd.to_datetime(s)
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return ((s - pd.Timestamp(0)).dt.total_seconds()).to_numpy(dtype=np.float64)
    return s.to_numpy(dtype=np.float64)


def merge_specs(df: pd.DataFrame, hint: Schema | None) -> Schema:
    """One spec per column of ``df``: the user's where given (dtype filled in), else from the dtype.

    Reads the column names and dtypes only (public metadata), never the values. A
    declared spec whose kind the frame's dtype cannot hold (integers read as text)
    decodes to the kind's dtype (:func:`~dpquilt.column_types.output_dtype`).

    Examples
    --------
    >>> hint = Schema.from_public({"x": {"lower": 0, "upper": 10}})
    >>> spec = merge_specs(pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]}), hint)
    >>> (spec["x"].lower, spec["x"].upper, spec["x"].dtype), spec["c"].complete
    ((0, 10, 'float64'), False)
    """
    hint = hint or Schema()
    unknown = [n for n in hint.names if n not in df.columns]
    if unknown:
        raise ValueError(
            f"the schema describes column(s) {unknown} that the data does not have; "
            f"remove them from the schema or check the column names"
        )
    specs: list[ColumnSpec] = []
    for name in df.columns:
        if name in hint:
            spec = hint[name]
            if spec.dtype is None and not isinstance(spec, UntypedColumn):
                spec = replace(spec, dtype=output_dtype(spec, df[name].dtype))
            if spec.missing and not can_hold_missing(df[name].dtype):
                spec = replace(spec, missing=False)  # the dtype says no value is missing
        else:
            spec = spec_for_series(df[name])
        specs.append(spec)
    return Schema(tuple(specs))


def facts_to_learn(schema: Schema) -> list[tuple[str, str]]:
    """The (column, fact) pairs to learn with DP: 'kind', 'categories' or 'bounds'.

    A column whose kind is learned needs one fact more once its kind is known
    (categories or bounds); :func:`learn_schema` budgets for it.

    Examples
    --------
    >>> facts_to_learn(merge_specs(pd.DataFrame({"x": [1.0], "c": ["a"]}), None))
    [('x', 'bounds'), ('c', 'categories')]
    """
    todo = []
    for c in schema.columns:
        if isinstance(c, UntypedColumn):
            todo.append((c.name, "kind"))
        elif isinstance(c, CategoricalColumn):
            if c.categories is None:
                todo.append((c.name, "categories"))
        elif not c.complete:
            todo.append((c.name, "bounds"))
    return todo


#: Share of delta given to thresholded category lists when some must be learned.
SCHEMA_DELTA_SHARE = 0.1


@dataclass(frozen=True)
class PreparedTable:
    """A table ready to encode: its complete schema, its values in each column's kind, curator notes.

    ``curator_notes`` count values that did not parse as their column's kind (they
    became missing): not DP, for the curator only.
    """

    schema: Schema
    frame: pd.DataFrame
    curator_notes: tuple[str, ...]


def prepare_table(
    df: pd.DataFrame,
    hint: Schema | Mapping[str, Any] | None,
    schema_share: float,
    accountant: Accountant,
    noise: NoiseSource,
) -> PreparedTable:
    """Every synthesizer's first step: kinds from public facts, facts learned with DP, values conformed.

    The public facts in ``hint`` cost nothing; the missing ones (kinds of columns
    declared ``kind="auto"``, category lists, bounds) are learned with DP
    (:func:`learn_schema`) from ``schema_share`` of the zCDP budget left in
    ``accountant`` (and :data:`SCHEMA_DELTA_SHARE` of delta when category lists may
    have to be learned). Each column is then conformed to its kind
    (:func:`~dpquilt.column_types.conform_column`): values that do not parse become
    missing and are counted in ``curator_notes``.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> df = pd.DataFrame({"n": ["3", "4", "x"], "c": ["a", "b", "a"]})
    >>> hint = {"n": {"kind": "integer", "lower": 0, "upper": 9}, "c": {"categories": ["a", "b"]}}
    >>> prepared = prepare_table(df, hint, 0.1, Accountant(1.0, 1e-9, secure=False), SeededNoise(np.random.default_rng(0)))
    >>> prepared.frame["n"].tolist()[:2], prepared.schema["n"].dtype, prepared.curator_notes
    ([3.0, 4.0], 'Int64', ("column 'n': 1 present value(s) did not parse as integer and were treated as missing",))
    """
    if hint is not None and not isinstance(hint, Schema):
        hint = Schema.from_public(hint)
    specs = merge_specs(df, hint)
    todo = facts_to_learn(specs)
    if todo:
        learns_lists = any(fact in ("categories", "kind") for _, fact in todo)
        delta_schema = SCHEMA_DELTA_SHARE * accountant.delta if learns_lists else 0.0
        rho_schema = schema_share * accountant.remaining_rho(extra_delta=delta_schema)
        log.info("learning %d schema facts with DP (rho=%.3g)", len(todo), rho_schema)
        specs = learn_schema(df, specs, rho_schema, delta_schema, accountant, noise)
    columns, notes = {}, []
    for spec in specs.columns:
        columns[spec.name], failed = conform_column(df[spec.name], spec)
        if failed:
            notes.append(
                f"column {spec.name!r}: {failed} present value(s) did not parse as "
                f"{_kind_name(spec)} and were treated as missing"
            )
    frame = pd.DataFrame({name: col.array for name, col in columns.items()}, index=df.index)  # no realignment
    return PreparedTable(specs, frame, tuple(notes))


def complete_schema(
    df: pd.DataFrame,
    hint: Schema | Mapping[str, Any] | None,
    schema_share: float,
    accountant: Accountant,
    noise: NoiseSource,
) -> Schema:
    """The user's schema for ``df``, with what it lacks learned from ``schema_share`` of the budget.

    :func:`prepare_table` without the conformed frame.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> df = pd.DataFrame({"age": np.random.default_rng(0).integers(20, 70, 5000), "sex": ["F", "M"] * 2500})
    >>> acc = Accountant(1.0, 1e-9, secure=False)
    >>> schema = complete_schema(df, {"sex": {"categories": ["F", "M"]}}, 0.1, acc, SeededNoise(np.random.default_rng(0)))
    >>> schema["age"].lower <= 20 and schema["age"].upper >= 69, [e.what for e in acc.ledger]  # only the bounds cost
    (True, ["bounds of 'age' (log-band histogram)"])
    """
    return prepare_table(df, hint, schema_share, accountant, noise).schema


def _kind_name(spec: ColumnSpec) -> str:
    return "categorical" if isinstance(spec, CategoricalColumn) else spec.kind


def learn_schema(
    df: pd.DataFrame,
    schema: Schema,
    rho: float,
    delta: float,
    accountant: Accountant,
    noise: NoiseSource,
) -> Schema:
    """Complete ``schema`` by learning its missing facts from ``df`` with DP.

    ``rho`` and ``delta`` are this step's budget, split evenly over the facts (delta
    only over category lists). Returns the complete schema; each fact learned is
    one entry in ``accountant``'s ledger.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> df = pd.DataFrame({"city": ["oslo"] * 3000 + ["rome"] * 2000 + ["atlantis"]})
    >>> acc = Accountant(1.0, 1e-9, secure=False)
    >>> schema = learn_schema(df, merge_specs(df, None), 0.001, 1e-10, acc, SeededNoise(np.random.default_rng(0)))
    >>> schema["city"].categories  # the one-row value stays out (it goes to 'other')
    ('oslo', 'rome')
    """
    todo = facts_to_learn(schema)
    if not todo:
        return schema
    if rho <= 0:
        cols = sorted({c for c, _ in todo})
        raise ValueError(
            f"schema_share=0 leaves no budget to learn the facts of column(s) {cols}; "
            f"pass them as public facts (schema=...) or set schema_share > 0"
        )
    kinds = [name for name, fact in todo if fact == "kind"]
    sigma = sigma_for_rho(rho / (len(todo) + len(kinds)))  # a learned kind brings its list or bounds
    n_lists = sum(1 for _, f in todo if f in ("categories", "kind"))
    delta_each = delta / n_lists if n_lists else 0.0
    for name in kinds:
        schema = schema.replace_column(learn_kind(df[name], schema[name], sigma, accountant, noise))
    for name, fact in facts_to_learn(schema):
        spec = schema[name]
        series, _ = conform_column(df[name], spec)
        if fact == "categories":
            spec = _learn_categories(series, spec, sigma, delta_each, accountant, noise)
        else:
            spec = _learn_bounds(series, spec, sigma, accountant, noise)
        schema = schema.replace_column(spec)
    return schema


def _learn_categories(
    series: pd.Series, spec: CategoricalColumn, sigma: float, delta: float, accountant: Accountant, noise: NoiseSource
) -> CategoricalColumn:
    counts = series.value_counts(dropna=True)
    kept = thresholded_counts(
        dict(zip(counts.index, counts.to_numpy())), sigma, delta, f"categories of {spec.name!r}", accountant, noise
    )
    categories = tuple(sorted(kept, key=lambda v: (type(v).__name__, v)))
    return replace(spec, categories=categories, other=True)


def _learn_bounds(
    series: pd.Series, spec: NumericColumn, sigma: float, accountant: Accountant, noise: NoiseSource
) -> NumericColumn:
    edges = band_edges(spec.kind, lower=spec.lower, upper=spec.upper)
    x = numeric_values(series, spec.kind)
    band = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2)
    counts = np.bincount(band, minlength=edges.size - 1)
    noisy = gaussian_counts(counts, sigma, f"bounds of {spec.name!r} (log-band histogram)", accountant, noise)
    bands = occupied_bands(noisy, sigma)
    if bands is None:
        raise BoundsNotLearnedError(spec.name, BAND_THRESHOLD_SIGMAS * sigma)
    first, last = bands
    lower = spec.lower if spec.lower is not None else float(edges[first])
    upper = spec.upper if spec.upper is not None else float(edges[last + 1])
    if spec.kind == "integer":
        upper = upper - 1.0 if spec.upper is None else upper  # band [a, b) holds integers up to b - 1
    return replace(spec, lower=lower, upper=max(upper, lower))
