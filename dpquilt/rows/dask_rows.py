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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np  # noqa: F401  (the examples use it)
import pandas as pd

from .engine import Tally, TallyJob, add_tallies, normalised

__all__ = ["DaskRows", "KeptParts", "ParquetPieces", "PartitionSchemaError", "WORKER_ENVIRONMENT", "dask_client", "local_cluster", "parquet_files", "read_parquet_piece", "read_parquet_rows"]

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
    source : ParquetPieces, optional
        Where ``frame``'s partitions come from, when they are Parquet pieces
        (:func:`read_parquet_rows`): each tally then reads its piece in the task that
        tallies it.
    progress : bool, default False
        Show a progress bar over the partitions of each pass (with a ``distributed``
        client). A fit sets it from the synthesizer's ``verbose``.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> rows = DaskRows(dd.from_pandas(pd.DataFrame({"a": [0, 1, 1, 2]}), npartitions=2))
    >>> rows.tally(lambda part: np.bincount(part["a"], minlength=3), ["a"]).tolist(), rows.n_partitions
    ([1, 2, 1], 2)
    """

    def __init__(self, frame: Any, client: Any = None, split_every: int = 8, source: ParquetPieces | None = None,
                 progress: bool = False) -> None:
        if split_every < 2:
            raise ValueError(f"split_every={split_every} must be at least 2")
        self.frame, self.client, self.split_every, self.source = frame, client, split_every, source
        self.progress = progress

    def with_progress(self, progress: bool) -> DaskRows:
        """The same rows, showing (or not) a progress bar over the partitions of each pass
        (with a ``distributed`` client; Dask's local threads show none)."""
        return DaskRows(self.frame, self.client, self.split_every, self.source, progress)

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
        return _reduced(self._part_tasks(job, columns), job, self.split_every, self.client, self.progress)

    def _part_tasks(self, job: Callable[[pd.DataFrame], Any], columns: Sequence[str] | None) -> list[Any]:
        """One task per partition running ``job`` on it (``pure=False``: computed afresh every time).

        Parquet pieces are read inside the task that runs the job: a read partition handed
        from one task to the next cost as much again as reading it (a pass that only counts
        rows, 4 parts of 2 M rows on 2 workers: 1.5-1.7 s, against 0.7-0.8 s in one task).
        """
        import dask

        frame = self.frame if columns is None else self.frame[list(columns)]
        expected = {str(name): dtype for name, dtype in frame.dtypes.items()}
        if self.source is not None:
            wanted = None if columns is None else list(columns)
            return [dask.delayed(_read_checked_tally, pure=False)(job, self.source, k, wanted, expected)
                    for k in range(len(self.source.pieces))]
        return [dask.delayed(_checked_tally, pure=False)(job, part, i, expected)
                for i, part in enumerate(frame.to_delayed())]

    def keep(self, prepare: Callable[[pd.DataFrame], Any], columns: Sequence[str] | None = None) -> KeptParts | None:
        """Each partition prepared once (e.g. encoded) and kept on the workers for later passes.

        Needs a ``distributed`` client (this engine's, else the current one): its workers
        hold the prepared parts, and Dask's memory manager spills them to the workers'
        local disks when they pass its memory target, so this process never holds them.
        Without a client (Dask's local threads) nothing is kept and ``None`` comes back:
        every pass then reads the rows again.

        Examples
        --------
        >>> import dask.dataframe as dd
        >>> DaskRows(dd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=1)).keep(len) is None  # no client
        True
        """
        client = self.client if self.client is not None else _current_client()
        if client is None:
            return None
        return KeptParts(client.compute(self._part_tasks(prepare, columns)), client, self.split_every, self.progress)


class KeptParts:
    """Prepared partitions held by the Dask workers (futures): passes over them skip reading the rows.

    Made by :meth:`DaskRows.keep`. Call :meth:`release` when done (dropping the object
    also lets Dask free them).
    """

    def __init__(self, parts: list[Any], client: Any, split_every: int = 8, progress: bool = False) -> None:
        self.parts, self.client, self.split_every, self.progress = parts, client, split_every, progress

    @property
    def n_partitions(self) -> int:
        return len(self.parts)

    def tally(self, job: Callable[[Any], Tally]) -> Tally:
        """The sum of ``job`` over the kept parts."""
        import dask

        if not self.parts:
            raise RuntimeError("these kept parts were released; keep the rows again")
        layer = [dask.delayed(job, pure=False)(part) for part in self.parts]
        return _reduced(layer, job, self.split_every, self.client, self.progress)

    def release(self) -> None:
        """Free the parts on the workers."""
        if self.parts:
            self.client.cancel(self.parts)
        self.parts = []


def _current_client() -> Any:
    """The current ``distributed`` client, or ``None`` (no client, or distributed not installed)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _reduced(layer: list[Any], job: Any, split_every: int, client: Any, progress: bool = False) -> Tally:
    """The tallies of ``layer`` (delayed, one per part) added in a tree of ``split_every`` at a time;
    with ``progress`` and a ``distributed`` client, a bar counts the partitions done."""
    import dask

    parts = len(layer)
    start = time.perf_counter()
    client = client if client is not None or not progress else _current_client()
    if client is not None and progress:
        total = _reduced_with_bar(layer, job, split_every, client)
    else:
        while len(layer) > 1:
            layer = _tree_level(layer, split_every)
        total = client.compute(layer[0]).result() if client is not None else dask.compute(layer[0])[0]
    log.info("tallied %d partitions (%s) in %.1f s", parts, _job_name(job), time.perf_counter() - start)
    return normalised(total)


def _tree_level(layer: list[Any], split_every: int) -> list[Any]:
    import dask

    return [dask.delayed(_sum_tallies, pure=False)(layer[k : k + split_every]) for k in range(0, len(layer), split_every)]


def _reduced_with_bar(layer: list[Any], job: Any, split_every: int, client: Any) -> Tally:
    """:func:`_reduced` on a client, with a progress bar over the partitions' tasks."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    leaves = client.compute(layer)
    tree = list(leaves)
    while len(tree) > 1:
        tree = _tree_level(tree, split_every)
    root = client.compute(tree[0]) if len(leaves) > 1 else leaves[0]
    with tqdm(total=len(leaves), desc=f"pass over the rows ({_job_name(job)})", unit="partition", leave=False) as bar:
        for _ in as_completed(leaves):
            bar.update()
    return root.result()


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


def _read_checked_tally(job: TallyJob, source: ParquetPieces, k: int, columns: list[str] | None,
                        expected: Mapping[str, Any]) -> Tally:
    return _checked_tally(job, source.read(k, columns), k, expected)


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


def read_parquet_rows(path: str | Path, client: Any = None, part_rows: int | None = None) -> DaskRows:
    """Partitioned Parquet files as :class:`DaskRows`, read lazily.

    Every file's schema (column names and types: metadata, no rows) must equal the
    first file's; a file that differs is named in the error. Each partition is a run
    of whole row groups of one file, of at most ``part_rows`` rows (one row group
    when a group is larger), read by :func:`read_parquet_piece`.

    Parameters
    ----------
    path : str or Path
        A file, a directory of ``*.parquet`` files, or a glob.
    client : distributed.Client, optional
        Where to run (see :class:`DaskRows`).
    part_rows : int, optional
        Rows per partition at most (default :data:`PART_ROWS`). Only where the work is
        split changes with it, never a count.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for k in range(3):
    ...     pd.DataFrame({"a": [k, k + 1]}).to_parquet(folder / f"part-{k}.parquet")
    >>> rows = read_parquet_rows(folder / "*.parquet")
    >>> rows.columns, rows.tally(lambda part: np.array([len(part)]), ["a"]).tolist(), rows.n_partitions
    (('a',), [6], 3)
    """
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    limit = PART_ROWS if part_rows is None else int(part_rows)
    if limit < 1:
        raise ValueError(f"part_rows={part_rows} must be at least 1")
    files = parquet_files(path)
    first = pq.read_schema(files[0]).remove_metadata()
    pieces: list[tuple[str, tuple[int, ...]]] = []
    for name in files:
        metadata = pq.read_metadata(name)
        schema = metadata.schema.to_arrow_schema().remove_metadata()
        if not schema.equals(first):
            raise PartitionSchemaError(
                f"file {name!r} has columns {_describe(schema)}, but {files[0]!r} has {_describe(first)}; "
                f"every file of the table must hold the same columns with the same types"
            )
        pieces += [(name, groups) for groups in _row_group_runs(metadata, limit)]
    from dask.dataframe.utils import pyarrow_strings_enabled

    import dask

    arrow_strings = bool(pyarrow_strings_enabled())  # decided here, on the client, for every partition alike
    # the reader gives the strings their final type; Dask's own conversion layer on top would copy every
    # partition again (a pass that only counts rows: 0.6 s without it, 1.9-2.3 s with it, 4 parts of 2 M rows)
    with dask.config.set({"dataframe.convert-string": False}):
        frame = dd.from_map(read_parquet_piece, pieces, meta=_empty_partition(files[0], arrow_strings),
                            label="read-parquet-rows", enforce_metadata=False, arrow_strings=arrow_strings)
    return DaskRows(frame, client=client, source=ParquetPieces(tuple(pieces), arrow_strings))


#: Rows per partition at most when reading Parquet (whole row groups; a larger group is one partition).
PART_ROWS = 4_000_000


def _row_group_runs(metadata: Any, limit: int) -> list[tuple[int, ...]]:
    """Consecutive row groups of one file, at most ``limit`` rows a run (a file with no groups: one empty run)."""
    runs: list[tuple[int, ...]] = []
    run: list[int] = []
    rows = 0
    for group in range(metadata.num_row_groups):
        size = metadata.row_group(group).num_rows
        if run and rows + size > limit:
            runs.append(tuple(run))
            run, rows = [], 0
        run.append(group)
        rows += size
    runs.append(tuple(run))
    return runs


@dataclass(frozen=True)
class ParquetPieces:
    """The partitions of Parquet files: each a run of row groups of one file, read by
    :func:`read_parquet_piece` (``arrow_strings`` as Dask's setting was when they were listed)."""

    pieces: tuple[tuple[str, tuple[int, ...]], ...]
    arrow_strings: bool

    def read(self, k: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return read_parquet_piece(self.pieces[k], columns, self.arrow_strings)


def read_parquet_piece(piece: tuple[str, Sequence[int]], columns: Sequence[str] | None = None,
                       arrow_strings: bool = True) -> pd.DataFrame:
    """One partition (row groups of one Parquet file) read into pandas with pyarrow.

    Text columns become pyarrow-backed pandas strings when ``arrow_strings`` (as Dask's
    own reader gives them unless its ``dataframe.convert-string`` option is off), else
    Python objects; only ``columns`` are read (Dask's column projection passes them). Reading with pyarrow
    directly took 0.17 s for a 2 M-row, 20-column file against 0.45 s through
    ``dask.dataframe.read_parquet`` (``benchmarks/dask_scale.py``'s files).

    Examples
    --------
    >>> import tempfile
    >>> file = Path(tempfile.mkdtemp()) / "t.parquet"
    >>> pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(file)
    >>> part = read_parquet_piece((str(file), (0,)), columns=["b"])
    >>> list(part.columns), str(part["b"].dtype)
    (['b'], 'string')
    """
    import pyarrow.parquet as pq

    file, groups = piece
    table = pq.ParquetFile(file).read_row_groups(list(groups), columns=None if columns is None else list(columns))
    return _to_pandas(table, arrow_strings)


def _empty_partition(file: str, arrow_strings: bool) -> pd.DataFrame:
    """The partitions' columns and types, with no rows (from the file's schema: metadata only)."""
    import pyarrow.parquet as pq

    return _to_pandas(pq.read_schema(file).empty_table(), arrow_strings)


def _to_pandas(table: Any, arrow_strings: bool) -> pd.DataFrame:
    import pyarrow as pa

    if not arrow_strings:
        return table.to_pandas()
    strings = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}
    return table.to_pandas(types_mapper=strings.get)


def _describe(schema: Any) -> str:
    return "[" + ", ".join(f"{field.name}: {field.type}" for field in schema) + "]"


#: Parquet expands in memory: a table whose files take more than this share of the memory
#: (times :data:`PARQUET_EXPANSION`) is fitted on a local cluster of worker processes.
MEMORY_SHARE = 0.5
#: How many times larger than its Parquet files a table is as a pandas frame (compressed columns,
#: object strings); a rough public rule, used only to choose where to run.
PARQUET_EXPANSION = 5.0

#: glibc settings for the worker processes dpquilt starts (set before they spawn). Dask starts
#: workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also pins glibc's threshold for memory
#: maps at 128 KiB: every temporary array of a part's column (16 MB for 2 M float64 values)
#: is then a fresh map whose pages fault in one by one. Maps from 32 MiB up keep the early
#: trimming and serve those temporaries from the heap (encoding a 2 M-row part of
#: ``benchmarks/dask_scale.py``'s table: 0.25 s in a plain process, 0.50 s under Dask's
#: setting, 0.25 s with this one).
WORKER_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": 32 * 2**20}


@contextlib.contextmanager
def local_cluster(**kwargs: Any) -> Iterator[Any]:
    """A ``distributed.LocalCluster(**kwargs)`` whose workers start with
    :data:`WORKER_ENVIRONMENT` beside Dask's own settings (closed on exit).

    Examples
    --------
    >>> with local_cluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
    ...     len(cluster.workers)
    1
    """
    import dask
    from distributed import LocalCluster

    settings = {f"distributed.nanny.pre-spawn-environ.{name}": value for name, value in WORKER_ENVIRONMENT.items()}
    with dask.config.set(settings), LocalCluster(**kwargs) as cluster:
        yield cluster


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
    from distributed import Client

    workers = max(1, min(os.cpu_count() or 1, 8))
    limit = int(MEMORY_SHARE * memory / workers)
    with local_cluster(n_workers=workers, threads_per_worker=1, memory_limit=limit, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30
