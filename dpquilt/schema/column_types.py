"""A column's kind from its declared dtype, and its values conformed to a declared kind.

Only public facts are read here: the column's name and pandas dtype (declared
metadata, like the names), and a schema the user declares. Never the values: one row
must not change a column's kind, its output dtype or whether a fit succeeds. An
``object`` column is categorical whatever its values (mixed types included); a column
whose values do not fit its declared kind is coerced, values that do not parse
becoming missing (counted for the curator only, :func:`conform_column`).
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd

from .specs import CategoricalColumn, ColumnSpec, NumericColumn, Schema, UntypedColumn

__all__ = [
    "validate_frame", "spec_for_series", "can_hold_missing", "conform_column", "conform_frame", "numeric_values",
    "output_dtype", "KIND_DTYPES",
]


def validate_frame(df: object) -> pd.DataFrame:
    """Check that ``df`` is a DataFrame with columns, all named by unique strings.

    A table without rows is accepted: refusing it would tell an empty table from its
    one-row neighbour. Only the names (public) are checked, never the values.

    Examples
    --------
    >>> validate_frame(pd.DataFrame({"a": [1, 2]})).shape
    (2, 1)
    >>> validate_frame(pd.DataFrame({1: [1]}))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: column names must be non-empty strings, got [1]; rename with df.columns = [...]
    """
    if not isinstance(df, pd.DataFrame):
        if hasattr(df, "npartitions"):  # a Dask DataFrame handed to a synthesizer that trains in memory
            raise TypeError(
                "this synthesizer trains on rows in memory and takes a pandas DataFrame, got a Dask DataFrame; "
                "use MarginalSynthesizer for partitioned rows, or pass a pandas frame (e.g. ddf.compute())"
            )
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}; wrap your data in pd.DataFrame(...)")
    if df.shape[1] == 0:
        raise ValueError("the DataFrame has no columns; pass a table with at least one column")
    bad = [c for c in df.columns if not isinstance(c, str) or not c]
    if bad:
        raise ValueError(f"column names must be non-empty strings, got {bad[:5]!r}; rename with df.columns = [...]")
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise ValueError(f"column(s) {dupes} appear more than once; give each column a unique name")
    return df


def can_hold_missing(dtype: object) -> bool:
    """False for numpy integer and bool dtypes, which cannot hold a missing value.

    Examples
    --------
    >>> can_hold_missing(np.dtype("int64")), can_hold_missing(pd.Int64Dtype()), can_hold_missing(np.dtype("float64"))
    (False, True, True)
    """
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return True
    dtype = np.dtype(dtype)
    return not (np.issubdtype(dtype, np.integer) or dtype == np.bool_)


def spec_for_series(series: pd.Series) -> ColumnSpec:
    """An incomplete spec (facts to be learned) for a column, from its dtype alone.

    Raises
    ------
    ValueError
        If the dtype is one dpquilt cannot encode (complex, timedelta, period,
        interval, ...). A function of the dtype only: never of the values.

    Examples
    --------
    >>> spec_for_series(pd.Series([1.5, None], name="x")).kind
    'float'
    >>> spec = spec_for_series(pd.Series(["paris", "rome"], name="city"))  # labels or dates: learned with DP at fit
    >>> type(spec).__name__, spec.numbers, spec.dtype
    ('UntypedColumn', False, 'object')
    """
    name = series.name
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return CategoricalColumn(name, (False, True), missing=can_hold_missing(dtype), other=False, dtype=str(dtype))
    if isinstance(dtype, pd.CategoricalDtype):
        return CategoricalColumn(name, None, dtype="category")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return NumericColumn(name, kind="datetime", dtype=str(dtype), points=None, unit="auto", bins=None)
    if pd.api.types.is_integer_dtype(dtype):
        return NumericColumn(name, kind="integer", missing=can_hold_missing(dtype), dtype=str(dtype), points=None,
                             bins=None)
    if pd.api.types.is_float_dtype(dtype):
        return NumericColumn(name, kind="float", dtype=str(dtype), points=None, bins=None)
    if pd.api.types.is_string_dtype(dtype) or dtype == object:
        return UntypedColumn(name, numbers=False, dtype=str(dtype))  # labels, or dates as text: learned with DP
    raise ValueError(
        f"column {name!r} has dtype {dtype} which dpquilt cannot encode; convert it to a string, number, "
        f"bool or datetime column (e.g. df[{name!r}] = df[{name!r}].astype(str))"
    )


#: Output dtype of each kind when the frame's own dtype cannot hold it (e.g. text read from a CSV).
KIND_DTYPES = {"categorical": "object", "float": "float64", "integer": "Int64", "datetime": "datetime64[ns]"}


def output_dtype(spec: ColumnSpec, dtype: object) -> str:
    """The dtype to decode ``spec`` to: the frame's ``dtype`` when it can hold the kind, else the kind's.

    Examples
    --------
    >>> output_dtype(NumericColumn("n", kind="integer"), np.dtype("int32"))
    'int32'
    >>> output_dtype(NumericColumn("n", kind="integer"), np.dtype("O"))  # text from a CSV
    'Int64'
    """
    if isinstance(spec, CategoricalColumn):
        return str(dtype)
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    fits = pd.api.types.is_datetime64_any_dtype(dtype) if spec.kind == "datetime" else numeric
    if fits and not (spec.kind == "integer" and pd.api.types.is_float_dtype(dtype)):
        return str(dtype)
    return KIND_DTYPES[spec.kind]


def conform_column(series: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, int]:
    """``series`` as values of ``spec``'s kind, and how many present values did not parse.

    Numbers and datetimes are parsed from whatever the column holds (strings included;
    datetimes as ISO 8601, time zones converted to UTC); a value that does not parse
    becomes missing. A categorical column keeps its values, except that unhashable ones
    become their ``str`` and, where every public category is a string, so does every
    value. A function of each value alone: one row never changes another's result.

    Examples
    --------
    >>> s, bad = conform_column(pd.Series(["12", "unknown", None, "7"]), NumericColumn("n", kind="integer"))
    >>> s.tolist()[:2], bad
    ([12.0, nan], 1)
    >>> conform_column(pd.Series([1, 2]), CategoricalColumn("c", ("1", "2")))[0].tolist()
    ['1', '2']
    >>> conform_column(pd.Series(["1", "x"]), CategoricalColumn("c", (0, 1)))[0].tolist()  # numeric codes read as text
    [1, 'x']
    """
    if isinstance(spec, UntypedColumn):
        return series, 0
    if isinstance(spec, CategoricalColumn):
        return _conform_labels(series, spec), 0
    present = series.notna()
    if spec.kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return series, 0
        parsed = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601").dt.tz_localize(None)
    elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series, 0
    else:
        parsed = pd.to_numeric(series.astype(object).where(present, None), errors="coerce")
        parsed = parsed.where(np.isfinite(parsed.astype(np.float64)))
    return parsed, int((present & parsed.isna()).sum())


_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False}

#: pandas' names for columns of objects whose values are all hashable (checked in C, not value by value).
_HASHABLE_KINDS = frozenset({
    "string", "bytes", "integer", "floating", "mixed-integer-float", "decimal", "boolean", "datetime", "datetime64",
    "date", "time", "timedelta", "timedelta64", "period", "empty", "categorical",
})


def conform_frame(df: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Every column of ``schema`` conformed to its kind (:func:`conform_column`), and the curator's notes.

    The frame keeps ``df``'s index (nothing is realigned); the notes count, per column,
    the present values that did not parse and became missing (not DP: for the curator).

    Examples
    --------
    >>> frame, notes = conform_frame(pd.DataFrame({"n": ["3", "x"]}), Schema((NumericColumn("n", kind="integer"),)))
    >>> frame["n"].tolist()[0], notes
    (3.0, ("column 'n': 1 present value(s) did not parse as integer and were treated as missing",))
    """
    columns, notes = {}, []
    for spec in schema.columns:
        columns[spec.name], failed = conform_column(df[spec.name], spec)
        if failed:
            notes.append(parse_note(spec, failed))
    return pd.DataFrame({name: col.array for name, col in columns.items()}, index=df.index), tuple(notes)


def parse_note(spec: ColumnSpec, failed: int) -> str:
    """The curator's note for ``failed`` present values of a column that did not parse as its kind.

    Examples
    --------
    >>> parse_note(NumericColumn("n", kind="integer"), 2)
    "column 'n': 2 present value(s) did not parse as integer and were treated as missing"
    """
    kind = "categorical" if isinstance(spec, CategoricalColumn) else spec.kind
    return f"column {spec.name!r}: {failed} present value(s) did not parse as {kind} and were treated as missing"


def _as_int_if_whole(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _conform_labels(series: pd.Series, spec: CategoricalColumn) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(series.dtype):
        return series
    categories = spec.categories if spec.categories is not None else ()
    if categories and all(isinstance(c, str) for c in categories):
        if not pd.api.types.is_string_dtype(series.dtype):
            values = series.astype(object)
            return values.where(series.isna(), values.map(str))
        return series
    values = series.astype(object)
    present = series.notna()
    if categories and all(isinstance(c, (bool, np.bool_)) for c in categories) and series.dtype == object:
        words = values.map(lambda v: _BOOL_WORDS.get(v.strip().lower(), v) if isinstance(v, str) else v)
        return words.where(present, None)
    numeric = [c for c in categories if isinstance(c, (int, float, np.number)) and not isinstance(c, (bool, np.bool_))]
    if categories and len(numeric) == len(categories) and not pd.api.types.is_numeric_dtype(series.dtype):
        parsed = pd.to_numeric(values.where(present, None), errors="coerce")  # codes read as text: "3" -> 3
        out = values.to_numpy(dtype=object).copy()
        hit = (parsed.notna() & present).to_numpy()
        out[hit] = [_as_int_if_whole(x) for x in parsed.to_numpy()[hit]]
        return pd.Series(out, index=series.index, name=series.name, dtype=object)
    if series.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in _HASHABLE_KINDS:
        return values.map(lambda v: v if isinstance(v, Hashable) else str(v))  # lists, dicts: by their str
    return series


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
