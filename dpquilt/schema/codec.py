"""Encode a DataFrame to integer codes under a complete schema, and decode back.

Encoding is a deterministic function of the row and the (public or DP-learned)
schema, so it adds no privacy cost and moves no fact from the data into the
encoding. Values are first conformed to their column's kind (values that do not parse
become missing); values outside public bounds are clipped; values not in a category
list map to ``other``; missing values map to their own code. A row holding a value the
schema has no code for (a missing value where it declares no missing code, an unlisted
value where it declares no ``other``) is left out: a filter row by row, so neighbouring
tables stay neighbours, and no single row can make encoding fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from .column_types import conform_column, numeric_values, parse_note
from .dataset import Dataset
from .positions import uniform_positions, values_from_positions
from .sorted_search import sorted_position
from .specs import CategoricalColumn, NumericColumn, Schema

__all__ = ["Encoded", "encode", "decode"]


@dataclass(frozen=True)
class Encoded:
    """Codes of the encodable rows plus notes for the curator (clipping, unlisted values, rows left out).

    ``kept`` marks the input rows that were encoded. The notes are data-dependent and
    not differentially private.

    Examples
    --------
    >>> s = Schema.from_public({"x": {"lower": 0, "upper": 10, "bins": 2}})
    >>> encode(pd.DataFrame({"x": [1.0, 50.0]}), s).notes[0][:38]
    "column 'x': 1 of 2 values (50.0%) lay "
    """

    data: Dataset
    notes: tuple[str, ...]
    kept: np.ndarray


def encode(df: pd.DataFrame, schema: Schema) -> Encoded:
    """Map each column of ``df`` to codes ``0 .. size - 1`` under ``schema``.

    Categories map to their position, unlisted values to ``other``, numbers to their
    bin (clipped to the public bounds, with a note), missing values to ``missing``.

    Examples
    --------
    >>> s = Schema.from_public({"sex": {"categories": ["F", "M"], "missing": False, "other": False},
    ...                         "age": {"kind": "integer", "edges": [0, 18, 65, 120]}})
    >>> enc = encode(pd.DataFrame({"sex": ["M", "F"], "age": [30, 70]}), s)
    >>> enc.data.columns["sex"].tolist(), enc.data.columns["age"].tolist()
    ([1, 0], [1, 2])
    """
    if not schema.complete:
        todo = [c.name for c in schema.columns if not c.complete]
        raise ValueError(f"schema is incomplete for column(s) {todo}; learn it with DP (fit) or pass public facts")
    missing_cols = [n for n in schema.names if n not in df.columns]
    if missing_cols:
        raise ValueError(f"the data lacks column(s) {missing_cols} of the schema; pass a frame with them")
    codes, notes, encode_notes = {}, [], []
    kept = np.ones(len(df), dtype=bool)
    for spec in schema.columns:  # conformed column by column, as conform_frame does, without building a frame
        series, failed = conform_column(df[spec.name], spec)
        if failed:
            notes.append(parse_note(spec, failed))
        if isinstance(spec, CategoricalColumn):
            codes[spec.name], note = _encode_categorical(series, spec)
        else:
            codes[spec.name], note = _encode_numeric(series, spec)
        if note:
            encode_notes.append(note)
        kept &= codes[spec.name] >= 0
    notes += encode_notes
    if not kept.all():
        notes.append(
            f"{int((~kept).sum())} of {kept.size} rows held a value the schema has no code for (missing where it "
            f"declares missing=False, or not in a category list without other=True) and were left out"
        )
        codes = {name: c[kept] for name, c in codes.items()}
    return Encoded(Dataset(codes, schema.domain()), tuple(notes), kept)


def _encode_categorical(series: pd.Series, spec: CategoricalColumn) -> tuple[np.ndarray, str | None]:
    """Codes of ``series``; ``-1`` for a value the schema has no code for (the row is left out)."""
    # each distinct value is looked up once: factorize (hashing, in C; Arrow's for Arrow strings; a
    # plain bool column is its own 0/1 index), then the few distinct values against the category list
    # (5 to 10 times faster than looking up every row), then one compiled pass over the rows
    if series.dtype == np.bool_:
        found, distinct = series.to_numpy().view(np.uint8), np.array([False, True], dtype=object)
    else:
        found, distinct = pd.factorize(series, use_na_sentinel=True)
    index = pd.Index(list(spec.categories), dtype=object)
    lookup = index.get_indexer(pd.Index(np.asarray(distinct, dtype=object), dtype=object)).astype(np.int64)
    other_code = spec.other_code if spec.other else -1
    codes, unlisted = _category_codes(found, lookup, other_code, spec.missing_code if spec.missing else -1)
    note = None
    if unlisted and spec.other:
        note = f"column {spec.name!r}: values not in the schema's category list were mapped to 'other'"
    return codes, note


@numba.njit(cache=True)
def _category_codes(found, lookup, other_code, missing_code):  # pragma: no cover - compiled
    """Each row's code from its distinct value's index ``found`` (negative: missing) and the
    distinct values' category codes ``lookup`` (negative: not listed, coded ``other_code``).
    Returns the codes and whether any listed value was missing from the categories."""
    codes = np.empty(found.size, dtype=np.int64)
    unlisted = False
    for i in range(found.size):
        f = found[i]
        if f < 0:
            codes[i] = missing_code
        elif lookup[f] >= 0:
            codes[i] = lookup[f]
        else:
            codes[i] = other_code
            unlisted = True
    return codes, unlisted


def _encode_numeric(series: pd.Series, spec: NumericColumn) -> tuple[np.ndarray, str | None]:
    """Bin codes ``0 .. n_bins - 1``, then point codes (a value equal to a point), then missing."""
    x = _values_or_nan(series, spec.kind)
    edges = np.asarray(spec.bin_edges(), dtype=np.float64)
    points = np.asarray(spec.points or (), dtype=np.float64)
    lo, hi = spec.clip_range
    missing_code = spec.missing_code if spec.missing else -1
    table, first = _point_lookup(points)
    codes, present, outside = _numeric_codes(x, edges, points, table, first, float(lo), float(hi), int(missing_code))
    note = None
    if outside:
        note = (
            f"column {spec.name!r}: {outside} of {present} values ({outside / present:.1%}) lay outside the "
            f"schema's bounds [{lo:g}, {hi:g}] and were clipped to them; if that is too many, give public "
            f"bounds for it (schema={{{spec.name!r}: {{'lower': ..., 'upper': ...}}}})"
        )
    return codes, note


def _values_or_nan(series: pd.Series, kind: str) -> np.ndarray:
    """The column as float64 (datetimes in epoch seconds), NaN where a value is missing."""
    isna = series.isna().to_numpy()
    if kind != "datetime" and not isna.any():
        return series.to_numpy(dtype=np.float64)
    x = np.full(len(series), np.nan)
    x[~isna] = numeric_values(series, kind)
    return x


#: Point masses that are integers over a span of at most this many values are found by a lookup table.
POINT_TABLE_SPAN = 1 << 16


def _point_lookup(points: np.ndarray) -> tuple[np.ndarray, float]:
    """A table from ``v - first`` to the point's index (-1 for none) when the points are integers
    over a short span, and ``first``; an empty table otherwise (then a binary search is used)."""
    if points.size and np.all(points == np.floor(points)) and points[-1] - points[0] < POINT_TABLE_SPAN:
        table = np.full(int(points[-1] - points[0]) + 1, -1, dtype=np.int64)
        table[(points - points[0]).astype(np.int64)] = np.arange(points.size)
        return table, float(points[0])
    return np.zeros(0, dtype=np.int64), 0.0


@numba.njit(cache=True)
def _numeric_codes(x, edges, points, table, first, lo, hi, missing_code):  # pragma: no cover - compiled
    """One pass per value: missing -> ``missing_code``; equal to a point -> ``n_bins + its index``;
    else its bin after clipping to ``[lo, hi]`` (``searchsorted(edges, v, 'right') - 1``, clipped
    to the bins). Points are found by ``table`` when it is given (integer points), else by
    :func:`_sorted_position`, as bins are. Returns the codes, how many values
    were present and how many lay outside."""
    n_bins = edges.size - 1
    codes = np.empty(x.size, dtype=np.int64)
    present = 0
    outside = 0
    for i in range(x.size):
        v = x[i]
        if v != v:
            codes[i] = missing_code
            continue
        present += 1
        if table.size:
            d = v - first
            if d >= 0 and d < table.size and v == np.floor(v) and table[int(d)] >= 0:
                codes[i] = n_bins + table[int(d)]
                continue
        elif points.size:
            a = sorted_position(points, v, False)
            if a < points.size and points[a] == v:
                codes[i] = n_bins + a
                continue
        if v < lo or v > hi:
            outside += 1
        c = min(max(v, lo), hi)
        k = sorted_position(edges, c, True) - 1
        codes[i] = min(max(k, 0), n_bins - 1)
    return codes, present, outside


def decode(
    data: Dataset, schema: Schema, rng: np.random.Generator, positions: Mapping[str, np.ndarray] | None = None
) -> pd.DataFrame:
    """Map codes back to a DataFrame with the schema's dtypes.

    A numeric bin decodes to the value at ``positions[name]`` (in ``[0, 1)``, one per
    row, from a refiner such as those of :mod:`dpquilt.refiners`) inside the bin;
    without ``positions``, uniformly inside the bin (:func:`.positions.uniform_positions`).

    Examples
    --------
    >>> s = Schema.from_public({"sex": {"categories": ["F", "M"], "missing": False, "other": False},
    ...                         "age": {"kind": "integer", "edges": [0, 18, 65, 120]}})
    >>> codes = Dataset({"sex": np.array([1, 0]), "age": np.array([1, 2])}, s.domain())
    >>> df = decode(codes, s, np.random.default_rng(0))
    >>> df["sex"].tolist(), bool(df["age"].between(18, 64).iloc[0] and df["age"].between(65, 119).iloc[1])
    (['M', 'F'], True)
    """
    if positions is None:
        numeric = [s for s in schema.columns if isinstance(s, NumericColumn)]
        positions = uniform_positions({s.name: data.columns[s.name] for s in numeric},
                                      {s.name: s.missing_code for s in numeric}, rng)
    out = {}
    for spec in schema.columns:
        codes = np.asarray(data.columns[spec.name], dtype=np.int64)
        if isinstance(spec, CategoricalColumn):
            out[spec.name] = _decode_categorical(codes, spec)
        else:
            out[spec.name] = _decode_numeric(codes, spec, np.asarray(positions[spec.name]))
    return pd.DataFrame(out, columns=list(schema.names))


def _decode_categorical(codes: np.ndarray, spec: CategoricalColumn) -> pd.Series:
    labels = list(spec.categories)
    if spec.other:
        labels.append(spec.other_label)
    if spec.missing:
        labels.append(None)
    values = np.empty(len(labels), dtype=object)
    values[:] = labels
    series = pd.Series(values[codes], dtype=object)
    return _as_dtype(series, spec.dtype)


def _decode_numeric(codes: np.ndarray, spec: NumericColumn, u: np.ndarray) -> pd.Series:
    edges = np.asarray(spec.bin_edges())
    n_bins = edges.size - 1
    is_missing = codes == spec.missing_code if spec.missing else np.zeros(codes.size, dtype=bool)
    in_bin = codes < n_bins
    x = np.full(codes.size, np.nan)
    x[in_bin] = values_from_positions(edges, codes[in_bin], u[in_bin], spec.kind, spec.grain)
    if spec.kind == "datetime" and spec.grain is not None:
        x[in_bin] += spec.grain / 2.0  # noon (UTC) of the day: the same date in any zone within 12 hours
    is_point = ~in_bin & ~is_missing
    x[is_point] = np.asarray(spec.points, dtype=np.float64)[codes[is_point] - n_bins]
    if spec.kind == "datetime":
        return _decode_datetime(pd.Series(pd.to_datetime(x, unit="s")), spec)  # seconds since 1970 in UTC

    series = pd.Series(x)
    if spec.kind == "integer" and not is_missing.any():
        series = series.astype(np.int64)
    return _as_dtype(series, spec.dtype)


#: How a unit floors a wall-clock time (pandas period frequencies).
_UNIT_PERIODS = {"day": "D", "month": "M", "year": "Y"}


def _decode_datetime(utc: pd.Series, spec: NumericColumn) -> pd.Series:
    """UTC instants as the column's values: in its time zone, floored to its unit, as text where it was text."""
    dtype = _dtype_or_none(spec.dtype)
    timezone = getattr(dtype, "tz", None)
    if timezone is not None and spec.unit not in _UNIT_PERIODS:  # instants: UTC shown in the input's zone
        return utc.dt.tz_localize("UTC").dt.tz_convert(timezone).astype(spec.dtype)
    wall = utc.dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None) if timezone is not None else utc
    if spec.unit in _UNIT_PERIODS:
        wall = wall.dt.to_period(_UNIT_PERIODS[spec.unit]).dt.start_time
    if dtype is not None and not pd.api.types.is_datetime64_any_dtype(dtype):  # dates handed over as text
        form = "%Y-%m-%d" if spec.unit in _UNIT_PERIODS else "%Y-%m-%d %H:%M:%S"
        text = wall.dt.strftime(form).astype(object)
        return _as_dtype(text.where(wall.notna(), None), spec.dtype)
    if timezone is not None:  # the input's time zone comes back
        return wall.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward").astype(spec.dtype)
    return _as_dtype(wall, spec.dtype)


def _dtype_or_none(dtype: str | None):
    try:
        return pd.api.types.pandas_dtype(dtype) if dtype is not None else None
    except TypeError:
        return None


def _as_dtype(series: pd.Series, dtype: str | None) -> pd.Series:
    if dtype is None:
        return series
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        if series.isna().any() and pd.api.types.is_integer_dtype(dtype):
            return series.astype("Int64")  # missing codes in a numpy-int column: nullable ints
        return series
