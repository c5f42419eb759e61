"""Per-column distances and the evaluation schema they are measured on.

Numeric columns: 1-D Wasserstein distance divided by the column's range
(:func:`.fidelity.wasserstein_distances`). Categorical columns: total variation
distance of the category frequencies, ``1 - TVComplement`` of SDMetrics.

Evaluation reads the real data without noise: it is for the data curator and for
benchmarks, never for release. :func:`evaluation_schema` therefore may take ranges and
categories from the real table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import CategoricalColumn, NumericColumn, Schema
from .fidelity import wasserstein_distances

__all__ = ["as_labels", "as_numbers", "column_distances", "evaluation_schema", "numeric_columns"]


def evaluation_schema(real: pd.DataFrame, schema: Schema | None = None, bins: int = 16) -> Schema:
    """A complete schema to measure synthetic tables against ``real`` on (not private).

    Columns that ``schema`` describes completely keep their public facts; the others get
    the real table's categories (object, category and boolean columns) or its range and
    ``bins`` equal-width bins (numeric and datetime columns).

    Examples
    --------
    >>> s = evaluation_schema(pd.DataFrame({"x": [1.0, 3.0], "c": ["a", "b"]}))
    >>> s["x"].lower, s["x"].upper, s["c"].categories
    (1.0, 3.0, ('a', 'b'))
    """
    specs = []
    for name in real.columns:
        if schema is not None and name in schema and schema[name].complete:
            specs.append(schema[name])
            continue
        col = real[name]
        if pd.api.types.is_bool_dtype(col) or not (
            pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col)
        ):
            specs.append(CategoricalColumn(name, categories=tuple(sorted(col.dropna().unique().tolist(), key=str))))
            continue
        kind = "datetime" if pd.api.types.is_datetime64_any_dtype(col) else (
            "integer" if pd.api.types.is_integer_dtype(col) else "float"
        )
        values = col.dropna()
        lo, hi = (values.min(), values.max()) if len(values) else (0.0, 1.0)
        if kind == "datetime":
            lo, hi = pd.Timestamp(lo).timestamp(), pd.Timestamp(hi).timestamp()
        lo, hi = float(lo), float(hi)
        specs.append(NumericColumn(name, kind=kind, lower=lo, upper=hi if hi > lo else lo + 1.0, bins=bins))
    return Schema(tuple(specs))


def numeric_columns(schema: Schema) -> list[str]:
    """Names of the schema's numeric (and datetime) columns.

    Examples
    --------
    >>> numeric_columns(evaluation_schema(pd.DataFrame({"x": [1.0], "c": ["a"]})))
    ['x']
    """
    return [name for name in schema.names if isinstance(schema[name], NumericColumn)]


def column_distances(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """One distance per column: range-scaled Wasserstein (numeric) or total variation (categorical).

    Parameters
    ----------
    real, synthetic : DataFrame
    schema : Schema
        Complete (for example from :func:`evaluation_schema`); numeric ranges scale
        the Wasserstein distances.

    Returns
    -------
    DataFrame
        Columns ``column``, ``kind`` (``"wasserstein"`` or ``"tv"``), ``distance`` in [0, 1].

    Examples
    --------
    >>> real = pd.DataFrame({"x": [0.0, 1.0], "c": ["a", "b"]})
    >>> synth = pd.DataFrame({"x": [0.0, 1.0], "c": ["a", "a"]})
    >>> column_distances(real, synth, evaluation_schema(real)).distance.tolist()
    [0.0, 0.5]
    """
    from sdmetrics.single_column import TVComplement

    missing = [c for c in schema.names if c not in synthetic.columns]
    if missing:
        raise ValueError(f"the synthetic table lacks columns {missing}; sample from a synthesizer fitted on this table")
    numeric = numeric_columns(schema)
    ranges = {c: schema[c].clip_range for c in numeric}
    w1 = wasserstein_distances(real, synthetic, ranges)
    rows = []
    for name in schema.names:
        if name in w1:
            rows.append((name, "wasserstein", w1[name]))
        else:
            r, s = as_labels(real[name]), as_labels(synthetic[name])
            rows.append((name, "tv", float(1.0 - TVComplement.compute(r, s))))
    return pd.DataFrame(rows, columns=["column", "kind", "distance"])


def as_labels(series: pd.Series) -> pd.Series:
    """Labels as strings, missing as its own label (so missingness counts in the TV).

    Examples
    --------
    >>> as_labels(pd.Series([1, None, "a"])).tolist()
    ['1', '<missing>', 'a']
    """
    return series.astype(object).where(series.notna(), "<missing>").astype(str)


def as_numbers(series: pd.Series) -> np.ndarray:
    """Values as float64: datetimes as seconds since 1970, anything not a number as NaN.

    Examples
    --------
    >>> as_numbers(pd.Series([1, None, "x"])).tolist()
    [1.0, nan, nan]
    >>> as_numbers(pd.Series(pd.to_datetime(["1970-01-02"]))).tolist()
    [86400.0]
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        return (series - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=np.float64)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
