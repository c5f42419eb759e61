"""Learn the facts a schema lacks from the data, with DP, paid for by the accountant.

* Kinds of text columns: :mod:`dpquilt.schema.kinds` (a noisy histogram of value classes).
* Units of datetime columns (days, months, years or instants): :mod:`dpquilt.schema.time_units`.
* Numeric bounds: :mod:`dpquilt.schema.bounds` (a noisy histogram over log-spaced bands);
  when no band is significant, :class:`~dpquilt.schema.bounds.BoundsNotLearnedError` names
  the column and the fix instead of inventing a range.
* Category lists: the stability histogram (thresholded discrete Gaussian counts);
  values under the threshold go to the column's ``other`` code.
* Whether a column has missing values: one more key of the category or point-mass
  histogram (:func:`~dpquilt.schema.point_masses.has_missing`), at no extra cost.

Each learned fact is one ledger entry (bounds: three). The budget for this step is the
``rho`` and ``delta`` the caller passes (the synthesizer's ``schema_share``), split over
the facts to learn by :data:`FACT_WEIGHTS` (delta evenly over the thresholded releases).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np  # noqa: F401  (the examples use it)
import pandas as pd

from ..privacy.accountant import Accountant
from ..privacy.mechanisms import sigma_for_rho, thresholded_counts
from ..privacy.noise import NoiseSource
from ..rows.batched import run_side_by_side
from ..rows.engine import ColumnValues, RowEngine
from ..rows.inputs import as_row_engine
from .bounds import learn_bounds
from .column_types import can_hold_missing, conform_column, conform_frame, output_dtype, spec_for_series
from .kinds import learn_kind
from .point_masses import has_missing, known_missing, release_points, value_tally
from .releases import CountRelease
from .specs import CategoricalColumn, ColumnSpec, Schema, UntypedColumn
from .time_units import learn_unit

__all__ = [
    "FACT_WEIGHTS",
    "PreparedTable",
    "SCHEMA_DELTA_SHARE",
    "complete_schema",
    "facts_to_learn",
    "learn_schema",
    "learn_missing_facts",
    "learn_schema_with_releases",
    "merge_specs",
    "prepare_table",
]

log = logging.getLogger(__name__)

def merge_specs(df: pd.DataFrame, hint: Schema | None) -> Schema:
    """One spec per column of ``df``: the user's where given (dtype filled in), else from the dtype.

    Reads the column names and dtypes only (public metadata), never the values. A
    declared spec whose kind the frame's dtype cannot hold (integers read as text)
    decodes to the kind's dtype (:func:`~dpquilt.schema.column_types.output_dtype`).

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
    """The (column, fact) pairs to learn with DP: 'kind', 'categories', 'unit', 'points' or 'bounds'.

    A column whose kind is learned needs more facts once its kind is known
    (categories, or unit, points and bounds); :func:`learn_schema` budgets for them.

    Examples
    --------
    >>> facts_to_learn(merge_specs(pd.DataFrame({"x": [1.0], "c": ["a"]}), None))
    [('x', 'points'), ('x', 'bounds'), ('c', 'kind')]
    """
    todo = []
    for c in schema.columns:
        if isinstance(c, UntypedColumn):
            todo.append((c.name, "kind"))
        elif isinstance(c, CategoricalColumn):
            if c.categories is None:
                todo.append((c.name, "categories"))
        else:
            if c.unit == "auto":
                todo.append((c.name, "unit"))
            if c.points is None:
                todo.append((c.name, "points"))  # first: the range is then learned from the other values
            if c.edges is None and (c.lower is None or c.upper is None):
                todo.append((c.name, "bounds"))
    return todo


#: Relative zCDP budget of each kind of fact. A category list needs the most: its values are
#: released only above a threshold of about 7 noise deviations, and a column with dozens of
#: categories loses every one of them to ``other`` when the threshold passes its counts.
#: On ``benchmarks/raw_tables.py`` (6 tables, 2 seeds) 3:1 against 1:1 lowered mean 2-way TV
#: from 0.196 to 0.184 at epsilon 1 and from 0.084 to 0.081 at epsilon 10, on every table
#: (2:1: 0.189 and 0.082), at the cost of slightly coarser numeric facts.
#: A unit (four classes, read at a 3-sigma margin) and a kind need less.
FACT_WEIGHTS = {"kind": 0.5, "categories": 3.0, "unit": 0.5, "points": 1.0, "bounds": 1.0}

#: Share of delta given to thresholded category lists when some must be learned.
SCHEMA_DELTA_SHARE = 0.1


@dataclass(frozen=True)
class PreparedTable:
    """A table ready to encode: its complete schema, its values in each column's kind, curator notes.

    ``curator_notes`` count values that did not parse as their column's kind (they
    became missing): not DP, for the curator only. ``releases`` are the noisy counts
    that learning released (category lists, point masses), for the marginal path to
    reuse (:mod:`dpquilt.schema.releases`).
    """

    schema: Schema
    frame: pd.DataFrame
    curator_notes: tuple[str, ...]
    releases: tuple[CountRelease, ...] = ()


def prepare_table(
    df: pd.DataFrame,
    hint: Schema | Mapping[str, Any] | None,
    schema_share: float,
    accountant: Accountant,
    noise: NoiseSource,
    measurement_sigma: float | None = None,
) -> PreparedTable:
    """Every synthesizer's first step: kinds from public facts, facts learned with DP, values conformed.

    The public facts in ``hint`` cost nothing; the missing ones (kinds of columns
    declared ``kind="auto"``, category lists, bounds) are learned with DP
    (:func:`learn_schema`) from ``schema_share`` of the zCDP budget left in
    ``accountant`` (and :data:`SCHEMA_DELTA_SHARE` of delta when category lists may
    have to be learned). Each column is then conformed to its kind
    (:func:`~dpquilt.schema.column_types.conform_column`): values that do not parse become
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
    specs, releases = learn_missing_facts(df, hint, schema_share, accountant, noise, measurement_sigma)
    frame, notes = conform_frame(df, specs)
    return PreparedTable(specs, frame, notes, releases)


def learn_missing_facts(
    table: pd.DataFrame | RowEngine,
    hint: Schema | Mapping[str, Any] | None,
    schema_share: float,
    accountant: Accountant,
    noise: NoiseSource,
    measurement_sigma: float | None = None,
) -> tuple[Schema, tuple[CountRelease, ...]]:
    """The complete schema of ``table`` and the counts released learning it (:func:`prepare_table`'s first half).

    ``table`` is a DataFrame or rows anywhere (:class:`~dpquilt.rows.engine.RowEngine`,
    e.g. Dask partitions): the kinds come from its declared types, the facts from
    tallies of its columns, so a table split into parts gives the same schema, ledger
    and releases as the same rows in one frame.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> df = pd.DataFrame({"c": ["a"] * 3000 + ["b"] * 2000})
    >>> schema, releases = learn_missing_facts(df, None, 0.1, Accountant(1.0, 1e-9, secure=False),
    ...                                        SeededNoise(np.random.default_rng(0)))
    >>> schema["c"].categories, [r.what for r in releases]
    (('a', 'b'), ["categories of 'c'"])
    """
    rows = as_row_engine(table)
    if hint is not None and not isinstance(hint, Schema):
        hint = Schema.from_public(hint)
    specs = merge_specs(rows.meta(), hint)
    todo = facts_to_learn(specs)
    if not todo:
        return specs, ()
    learns_lists = any(fact in ("categories", "points", "kind") for _, fact in todo)
    delta_schema = SCHEMA_DELTA_SHARE * accountant.delta if learns_lists else 0.0
    rho_schema = schema_share * accountant.remaining_rho(extra_delta=delta_schema)
    log.info("learning %d schema facts with DP (rho=%.3g)", len(todo), rho_schema)
    return learn_schema_with_releases(rows, specs, rho_schema, delta_schema, accountant, noise, measurement_sigma)


def complete_schema(
    df: pd.DataFrame | RowEngine,
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
    >>> (schema["age"].lower, schema["age"].upper), [e.what.split(" of ")[0] for e in acc.ledger]  # only age's facts cost
    ((20, 79), ['point masses', 'bounds', 'lower bound', 'upper bound'])
    """
    return learn_missing_facts(df, hint, schema_share, accountant, noise)[0]


def learn_schema(
    df: pd.DataFrame,
    schema: Schema,
    rho: float,
    delta: float,
    accountant: Accountant,
    noise: NoiseSource,
    measurement_sigma: float | None = None,
) -> Schema:
    """Complete ``schema`` by learning its missing facts from ``df`` with DP.

    ``rho`` and ``delta`` are this step's budget, split over the facts by
    :data:`FACT_WEIGHTS` (delta evenly over the thresholded releases: category lists,
    point masses). Returns the complete schema; each fact learned is
    one entry in ``accountant``'s ledger. ``measurement_sigma``, the noise the
    synthesizer expects on its marginals, sizes the bins of columns without public
    bins (:func:`~dpquilt.schema.bounds.bins_for_rows`).

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> df = pd.DataFrame({"city": ["oslo"] * 3000 + ["rome"] * 2000 + ["atlantis"]})
    >>> acc = Accountant(1.0, 1e-9, secure=False)
    >>> schema = learn_schema(df, merge_specs(df, None), 0.001, 1e-10, acc, SeededNoise(np.random.default_rng(0)))
    >>> schema["city"].categories  # the one-row value stays out (it goes to 'other')
    ('oslo', 'rome')
    """
    return learn_schema_with_releases(df, schema, rho, delta, accountant, noise, measurement_sigma)[0]


def learn_schema_with_releases(
    df: pd.DataFrame | RowEngine,
    schema: Schema,
    rho: float,
    delta: float,
    accountant: Accountant,
    noise: NoiseSource,
    measurement_sigma: float | None = None,
) -> tuple[Schema, tuple[CountRelease, ...]]:
    """:func:`learn_schema`, also returning the noisy counts it released (category lists, point masses).

    The marginal path reuses them as measurements of 1-way cells
    (:mod:`dpquilt.schema.releases`): post-processing, so each count is paid for once.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> df = pd.DataFrame({"city": ["oslo"] * 3000 + ["rome"] * 2000})
    >>> acc = Accountant(1.0, 1e-9, secure=False)
    >>> schema, releases = learn_schema_with_releases(df, merge_specs(df, None), 0.001, 1e-10, acc,
    ...                                               SeededNoise(np.random.default_rng(0)))
    >>> [(r.column, r.what) for r in releases], list(releases[0].counts)  # with the count of missing values
    ([('city', "categories of 'city'")], ['oslo', 'rome', <missing>])
    """
    todo = facts_to_learn(schema)
    if not todo:
        return schema, ()
    if rho <= 0:
        cols = sorted({c for c, _ in todo})
        raise ValueError(
            f"schema_share=0 leaves no budget to learn the facts of column(s) {cols}; "
            f"pass them as public facts (schema=...) or set schema_share > 0"
        )
    kinds = [name for name, fact in todo if fact == "kind"]
    # a learned kind brings its list, or its unit, points and bounds: reserve the larger
    follow_up = max(FACT_WEIGHTS["categories"], FACT_WEIGHTS["unit"] + FACT_WEIGHTS["points"] + FACT_WEIGHTS["bounds"])
    unit = rho / (sum(FACT_WEIGHTS[fact] for _, fact in todo) + follow_up * len(kinds))
    sigma = {fact: sigma_for_rho(unit * weight) for fact, weight in FACT_WEIGHTS.items()}
    n_lists = sum(1 for _, f in todo if f in ("categories", "points", "kind"))  # thresholded releases
    delta_each = delta / n_lists if n_lists else 0.0
    rows = as_row_engine(df)
    # each column's facts are learned by its own reader; the tallies they ask together share a pass
    learned_kinds = run_side_by_side(rows, [
        functools.partial(_learn_kind_of, name=name, spec=schema[name], sigma=sigma["kind"], accountant=accountant,
                          noise=noise)
        for name in kinds
    ])
    for spec in learned_kinds:
        schema = schema.replace_column(spec)
    facts_by_column: dict[str, list[str]] = {}
    for name, fact in facts_to_learn(schema):
        facts_by_column.setdefault(name, []).append(fact)
    learned = run_side_by_side(rows, [
        functools.partial(_learn_column_facts, name=name, facts=facts, spec=schema[name], sigma=sigma,
                          delta_each=delta_each, accountant=accountant, noise=noise,
                          measurement_sigma=measurement_sigma)
        for name, facts in facts_by_column.items()
    ])
    releases: list[CountRelease] = []
    for spec, column_releases in learned:
        schema = schema.replace_column(spec)
        releases += column_releases
    return schema, tuple(releases)


def _learn_kind_of(rows: RowEngine, name: str, spec: ColumnSpec, sigma: float, accountant: Accountant,
                   noise: NoiseSource) -> ColumnSpec:
    return learn_kind(ColumnValues(rows, name), spec, sigma, accountant, noise)


def _learn_column_facts(
    rows: RowEngine, name: str, facts: list[str], spec: ColumnSpec, sigma: dict[str, float], delta_each: float,
    accountant: Accountant, noise: NoiseSource, measurement_sigma: float | None,
) -> tuple[ColumnSpec, list[CountRelease]]:
    """One column's missing facts, in order (each on the spec the previous ones completed), and its releases."""
    releases = []
    for fact in facts:
        series = ColumnValues(rows, name).map(functools.partial(_conformed, spec))
        if fact == "categories":
            spec, counts = _learn_categories(series, spec, sigma[fact], delta_each, accountant, noise)
            releases.append(CountRelease(name, counts, sigma[fact], f"categories of {name!r}"))
        elif fact == "unit":
            spec = learn_unit(series, spec, sigma[fact], accountant, noise)
        elif fact == "points":
            spec, counts = release_points(series, spec, sigma[fact], delta_each, accountant, noise)
            releases.append(CountRelease(name, counts, sigma[fact], f"point masses of {name!r}"))
        else:
            spec = learn_bounds(series, spec, sigma[fact], accountant, noise, measurement_sigma)
    return spec, releases


def _conformed(spec: ColumnSpec, series: pd.Series) -> pd.Series:
    return conform_column(series, spec)[0]


def _learn_categories(
    values: ColumnValues, spec: CategoricalColumn, sigma: float, delta: float, accountant: Accountant, noise: NoiseSource
) -> tuple[CategoricalColumn, dict]:
    """``spec`` with its category list and missing flag learned, and the released noisy counts."""
    counts, (missing,) = values.tally(functools.partial(value_tally, None))
    released = thresholded_counts(
        counts, sigma, delta, f"categories of {spec.name!r}", accountant, noise,
        known=known_missing(int(missing), spec.missing),
    )
    kept = dict(released)
    missing = has_missing(kept, sigma, spec.missing)
    categories = tuple(sorted(kept, key=lambda v: (type(v).__name__, v)))
    return replace(spec, categories=categories, other=True, missing=missing), released
