"""What a synthesizer may be handed as its rows, turned into a row engine."""

from __future__ import annotations

import pandas as pd

from .dask_rows import DaskRows, read_parquet_rows
from .engine import InMemoryRows, RowEngine

__all__ = ["as_row_engine", "is_dask_frame"]


def as_row_engine(data: object) -> RowEngine:
    """The rows a synthesizer was handed, as an engine.

    - a pandas DataFrame: :class:`InMemoryRows`;
    - a ``dask.dataframe.DataFrame``: :class:`~dpquilt.rows.dask_rows.DaskRows` (run
      on the current Dask client, if any);
    - a path, directory or glob of Parquet files (``"data/*.parquet"``): read lazily as
      Dask partitions (:func:`~dpquilt.rows.dask_rows.read_parquet_rows`);
    - an engine: itself.

    Examples
    --------
    >>> type(as_row_engine(pd.DataFrame({"a": [1]}))).__name__
    'InMemoryRows'
    >>> as_row_engine([1, 2])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    TypeError: expected a pandas DataFrame, a Dask DataFrame or a path of Parquet files, got list; ...
    """
    if isinstance(data, pd.DataFrame):
        return InMemoryRows(data)
    if isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        return read_parquet_rows(str(data))
    if is_dask_frame(data):
        return DaskRows(data)
    if all(hasattr(data, attr) for attr in ("tally", "meta", "columns")):
        return data  # type: ignore[return-value]
    raise TypeError(
        f"expected a pandas DataFrame, a Dask DataFrame or a path of Parquet files, got {type(data).__name__}; "
        f"wrap your data in pd.DataFrame(...) or pass dask.dataframe.read_parquet(...)"
    )


def is_dask_frame(data: object) -> bool:
    """Whether ``data`` is a ``dask.dataframe.DataFrame`` (told without importing Dask).

    Examples
    --------
    >>> is_dask_frame(pd.DataFrame({"a": [1]}))
    False
    """
    return hasattr(data, "to_delayed") and hasattr(data, "npartitions") and hasattr(data, "columns")
