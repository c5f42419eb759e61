"""Tell a column's kind from its pandas dtype, and reject what dpquilt cannot encode.

Only the dtype and the Python types of the values are looked at (not their values'
magnitudes or frequencies), and the result decides only *how* a column is encoded.
Columns of Python objects are checked for mixed types so that the user gets a clear
error instead of a silent cast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .schema import CategoricalColumn, ColumnSpec, NumericColumn

__all__ = ["validate_frame", "spec_for_series", "can_hold_missing"]


def validate_frame(df: object) -> pd.DataFrame:
    """Check that ``df`` is a non-empty DataFrame with unique string column names.

    Examples
    --------
    >>> validate_frame(pd.DataFrame({"a": [1, 2]})).shape
    (2, 1)
    >>> validate_frame(pd.DataFrame({1: [1]}))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: column names must be non-empty strings, got [1]; rename with df.columns = [...]
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}; wrap your data in pd.DataFrame(...)")
    if df.shape[1] == 0:
        raise ValueError("the DataFrame has no columns; pass a table with at least one column")
    if df.shape[0] == 0:
        raise ValueError("the DataFrame has no rows; pass a table with at least one row")
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
    """An incomplete spec (facts to be learned) for a column, from its dtype.

    Raises
    ------
    ValueError
        If the column is entirely missing, mixes Python types, or has a dtype
        dpquilt cannot encode (complex, timedelta, period, interval, ...).
    
    Examples
    --------
    >>> spec_for_series(pd.Series([1.5, None], name="x")).kind
    'float'
    >>> spec_for_series(pd.Series(["paris", "rome"], name="city")).categories is None  # learned with DP at fit
    True
    """
    name = series.name
    dtype = series.dtype
    if series.isna().all():
        raise ValueError(
            f"column {name!r} is entirely missing; drop it or describe it with a public schema "
            f"(dq.Schema.from_public({{{name!r}: {{...}}}}))"
        )
    if pd.api.types.is_bool_dtype(dtype):
        return CategoricalColumn(name, (False, True), missing=can_hold_missing(dtype), other=False, dtype=str(dtype))
    if isinstance(dtype, pd.CategoricalDtype):
        return CategoricalColumn(name, None, dtype="category")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return NumericColumn(name, kind="datetime", dtype=str(dtype))
    if pd.api.types.is_integer_dtype(dtype):
        return NumericColumn(name, kind="integer", missing=can_hold_missing(dtype), dtype=str(dtype))
    if pd.api.types.is_float_dtype(dtype):
        return NumericColumn(name, kind="float", dtype=str(dtype))
    if pd.api.types.is_string_dtype(dtype) or dtype == object:
        return _spec_for_objects(series)
    raise ValueError(
        f"column {name!r} has dtype {dtype} which dpquilt cannot encode; convert it to a string, number, "
        f"bool or datetime column (e.g. df[{name!r}] = df[{name!r}].astype(str))"
    )


def _spec_for_objects(series: pd.Series) -> ColumnSpec:
    name = series.name
    values = series.dropna()
    types = {type(v) for v in values}
    str_like = {t for t in types if issubclass(t, str)}
    if types == str_like:
        return CategoricalColumn(name, None, dtype=str(series.dtype))
    if all(issubclass(t, (bool, np.bool_)) for t in types):
        return CategoricalColumn(name, (False, True), other=False, dtype="object")
    names = sorted(t.__name__ for t in types)
    if len(types) > 1:
        raise ValueError(
            f"column {name!r} mixes types {names}; cast it to one type, e.g. df[{name!r}] = df[{name!r}].astype(str)"
        )
    raise ValueError(
        f"column {name!r} holds values of type {names[0]} which dpquilt cannot encode; convert it to "
        f"strings, numbers, bools or datetimes"
    )
