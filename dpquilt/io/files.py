"""Tables in files (CSV or Parquet), as the CLI and notebooks read and write them, and where a file's privacy report goes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["load", "report_path_for", "save"]


def load(path: str | Path, text: bool = False) -> pd.DataFrame:
    """Read a ``.csv`` or ``.parquet`` file into a DataFrame.

    With ``text=True`` a CSV file's columns are read as strings (empty cells and
    ``NA`` as missing) rather than typed by pandas' inference, which looks at the
    values: one ``NA`` turns integers into floats, one stray word turns numbers into
    labels, so one row would decide a column's type. The command line reads CSV this
    way and learns the kinds with DP or takes them from ``--schema``. Parquet files
    declare their types, which are public metadata.

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
        return pd.read_csv(path, dtype=str) if text else pd.read_csv(path)
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
    >>> load(path)["a"].tolist(), load(path, text=True)["a"].tolist()
    ([1, 2], ['1', '2'])
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix in (".parquet", ".pq"):
        df.to_parquet(path, index=False)
    else:
        raise ValueError(f"cannot write {str(path)!r}: use a .csv or .parquet file")


def report_path_for(out: Path) -> Path:
    """Where the privacy report of an output file goes: ``<stem>.privacy.json`` beside it.

    Examples
    --------
    >>> report_path_for(Path("out/synth.csv")).as_posix()
    'out/synth.privacy.json'
    """
    return out.with_name(out.stem + ".privacy.json")
