"""Load a table from a file (CSV or Parquet), as the CLI and notebooks do."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["load", "save"]


def load(path: str | Path) -> pd.DataFrame:
    """Read a ``.csv`` or ``.parquet`` file into a DataFrame.

    Examples
    --------
    >>> load("missing.csv")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FileNotFoundError: no such file: 'missing.csv'
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise ValueError(f"cannot read {str(path)!r}: use a .csv or .parquet file")


def save(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` to ``.csv`` or ``.parquet``, chosen by the suffix.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "table.csv"
    >>> save(pd.DataFrame({"a": [1, 2]}), path)
    >>> load(path)["a"].tolist()
    [1, 2]
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix in (".parquet", ".pq"):
        df.to_parquet(path, index=False)
    else:
        raise ValueError(f"cannot write {str(path)!r}: use a .csv or .parquet file")
