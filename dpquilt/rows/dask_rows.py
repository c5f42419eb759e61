"""Rows split over Dask partitions: each tally runs on the workers and the parts are summed in a tree.

A table of hundreds of millions of rows stays where it is (partitioned Parquet, read
lazily): each worker reads one partition at a time, runs the tally's job on it and
returns counts; the counts are added pairwise in a tree (``split_every`` at a time)
and only the sum reaches this process, where the mechanisms add noise. Needs
``pip install 'dpquilt[scale]'`` (``dask[distributed]``). Lost workers are retried by
Dask's scheduler; a partition whose columns or types differ from the table's fails the
tally with a message naming it, before anything is released.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np  # noqa: F401  (the examples use it)
import pandas as pd

from .engine import Tally, TallyJob, add_tallies, normalised

__all__ = ["DaskRows", "PartitionSchemaError", "dask_client", "parquet_files", "read_parquet_rows"]

log = logging.getLogger(__name__)


class PartitionSchemaError(ValueError):
    """A partition or file of the table has columns or types other than the table's."""


class DaskRows:
    """Rows in a ``dask.dataframe.DataFrame``: tallies run per partition on the workers.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
        The private table (lazy: nothing is read until a tally).
    client : distributed.Client, optional
        Where to run. Default: the current Dask client if there is one, else Dask's
        local threads.
    split_every : int, default 8
        How many partial tallies are added in one task of the reduction tree.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> rows = DaskRows(dd.from_pandas(pd.DataFrame({"a": [0, 1, 1, 2]}), npartitions=2))
    >>> rows.tally(lambda part: np.bincount(part["a"], minlength=3), ["a"]).tolist(), rows.n_partitions
    ([1, 2, 1], 2)
    """

    def __init__(self, frame: Any, client: Any = None, split_every: int = 8) -> None:
        if split_every < 2:
            raise ValueError(f"split_every={split_every} must be at least 2")
        self.frame, self.client, self.split_every = frame, client, split_every

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.frame.columns)

    @property
    def dtypes(self) -> pd.Series:
        return self.frame.dtypes  # the frame's declared types (metadata), not read from rows

    @property
    def n_partitions(self) -> int:
        return int(self.frame.npartitions)

    def meta(self) -> pd.DataFrame:
        """An empty frame with the table's columns and types (public metadata)."""
        return self.frame._meta

    def tally(self, job: TallyJob, columns: Sequence[str] | None = None) -> Tally:
        import dask

        frame = self.frame if columns is None else self.frame[list(columns)]
        expected = {str(name): dtype for name, dtype in frame.dtypes.items()}
        parts = frame.to_delayed()
        # pure=False: every tally is computed afresh (an identical earlier graph's result is never reused)
        layer = [dask.delayed(_checked_tally, pure=False)(job, part, i, expected) for i, part in enumerate(parts)]
        while len(layer) > 1:
            layer = [dask.delayed(_sum_tallies, pure=False)(layer[k : k + self.split_every])
                     for k in range(0, len(layer), self.split_every)]
        start = time.perf_counter()
        if self.client is not None:
            total = self.client.compute(layer[0]).result()
        else:
            total = dask.compute(layer[0])[0]
        log.info("tallied %d partitions (%s) in %.1f s", len(parts), _job_name(job), time.perf_counter() - start)
        return normalised(total)


def _job_name(job: TallyJob) -> str:
    inner = getattr(job, "job", job)  # a column job names the tally it runs
    inner = getattr(inner, "func", inner)  # functools.partial
    return getattr(inner, "__name__", type(inner).__name__)


def _checked_tally(job: TallyJob, part: pd.DataFrame, index: int, expected: Mapping[str, Any]) -> Tally:
    got = {str(name): dtype for name, dtype in part.dtypes.items()}
    if list(got) != list(expected) or any(got[c] != expected[c] for c in expected):
        differ = {c: (str(got.get(c, "absent")), str(t)) for c, t in expected.items() if got.get(c) != t}
        extra = sorted(set(got) - set(expected))
        raise PartitionSchemaError(
            f"partition {index} does not have the table's columns and types (got, expected): {differ}"
            + (f"; extra columns {extra}" if extra else "")
            + "; every file or partition must hold the same columns with the same types"
        )
    return job(part)


def _sum_tallies(tallies: list[Tally]) -> Tally:
    total = tallies[0]
    for other in tallies[1:]:
        total = add_tallies(total, other)
    return total


def parquet_files(path: str | Path) -> list[str]:
    """The Parquet files a path names: a file, a directory of ``*.parquet`` files, or a glob.

    Examples
    --------
    >>> parquet_files("no/such/*.parquet")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FileNotFoundError: no Parquet file matches 'no/such/*.parquet'
    """
    text = str(path)
    if Path(text).is_dir():
        files = sorted(glob.glob(str(Path(text) / "**" / "*.parquet"), recursive=True))
    else:
        files = sorted(glob.glob(text))
    if not files:
        raise FileNotFoundError(f"no Parquet file matches {text!r}; pass a file, a directory or a glob such as 'data/*.parquet'")
    return files


def read_parquet_rows(path: str | Path, client: Any = None) -> DaskRows:
    """Partitioned Parquet files as :class:`DaskRows`, read lazily.

    Every file's schema (column names and types: metadata, no rows) must equal the
    first file's; a file that differs is named in the error.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for k in range(3):
    ...     pd.DataFrame({"a": [k, k + 1]}).to_parquet(folder / f"part-{k}.parquet")
    >>> rows = read_parquet_rows(folder / "*.parquet")
    >>> rows.columns, rows.tally(lambda part: np.array([len(part)]), ["a"]).tolist()
    (('a',), [6])
    """
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    files = parquet_files(path)
    first = pq.read_schema(files[0]).remove_metadata()
    for name in files[1:]:
        schema = pq.read_schema(name).remove_metadata()
        if not schema.equals(first):
            raise PartitionSchemaError(
                f"file {name!r} has columns {_describe(schema)}, but {files[0]!r} has {_describe(first)}; "
                f"every file of the table must hold the same columns with the same types"
            )
    return DaskRows(dd.read_parquet(files), client=client)


def _describe(schema: Any) -> str:
    return "[" + ", ".join(f"{field.name}: {field.type}" for field in schema) + "]"


#: Parquet expands in memory: a table whose files take more than this share of the memory
#: (times :data:`PARQUET_EXPANSION`) is fitted on a local cluster of worker processes.
MEMORY_SHARE = 0.5
#: How many times larger than its Parquet files a table is as a pandas frame (compressed columns,
#: object strings); a rough public rule, used only to choose where to run.
PARQUET_EXPANSION = 5.0


@contextlib.contextmanager
def dask_client(scheduler: str | None, files: Sequence[str], memory_bytes: int | None = None) -> Iterator[Any]:
    """Where a partitioned table is fitted: the scheduler at ``scheduler``, else a local cluster
    when the files would not fit in memory, else (``None``) Dask's local threads.

    The choice reads file sizes on disk, never rows, and changes only where the work
    runs: the release is the same. The client (and a local cluster) is closed on exit.

    Examples
    --------
    >>> import tempfile
    >>> file = Path(tempfile.mkdtemp()) / "t.parquet"
    >>> pd.DataFrame({"a": [1, 2]}).to_parquet(file)
    >>> with dask_client(None, [str(file)]) as client:
    ...     client is None  # a small table: local threads
    True
    """
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            yield client
        return
    memory = memory_bytes if memory_bytes is not None else _physical_memory()
    on_disk = sum(os.path.getsize(f) for f in files)
    if on_disk * PARQUET_EXPANSION <= MEMORY_SHARE * memory:
        yield None
        return
    from distributed import Client, LocalCluster

    workers = max(1, min(os.cpu_count() or 1, 8))
    limit = int(MEMORY_SHARE * memory / workers)
    with LocalCluster(n_workers=workers, threads_per_worker=1, memory_limit=limit, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30
