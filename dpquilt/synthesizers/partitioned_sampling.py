"""Sampling more rows than one process holds: partitioned Parquet written in parallel.

Sampling is post-processing of the fitted model, so it may run anywhere. Each
partition draws its rows with its own generator, derived from one seed
(``numpy.random.SeedSequence.spawn``), so the files do not depend on where or in which
order the partitions ran; with Dask installed the partitions are tasks on the current
``distributed.Client`` (or local threads), each holding only its own rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["partition_sizes", "sample_to_parquet"]


def partition_sizes(n_samples: int, partitions: int) -> list[int]:
    """``n_samples`` rows spread as evenly as possible over ``partitions`` files.

    Examples
    --------
    >>> partition_sizes(10, 3)
    [4, 3, 3]
    """
    if not (isinstance(n_samples, (int, np.integer)) and not isinstance(n_samples, bool) and n_samples >= 0):
        raise ValueError(f"n_samples must be a non-negative integer, got {n_samples!r}")
    if not (isinstance(partitions, (int, np.integer)) and partitions >= 1):
        raise ValueError(f"partitions must be a positive integer, got {partitions!r}")
    base, extra = divmod(int(n_samples), int(partitions))
    return [base + (k < extra) for k in range(int(partitions))]


def sample_to_parquet(
    synthesizer: Any,
    path: str | Path,
    n_samples: int,
    partitions: int | None = None,
    random_state: int | np.random.Generator | None = None,
    rows_per_partition: int = 1_000_000,
) -> list[Path]:
    """Write ``n_samples`` synthetic rows of a fitted ``synthesizer`` as ``path/part-NNNNN.parquet``.

    Parameters
    ----------
    synthesizer : fitted synthesizer
        Anything with ``sample(n, random_state=Generator)``.
    path : str or Path
        A directory, created if absent; it must not hold ``part-*.parquet`` files already.
    n_samples : int
        Rows in all.
    partitions : int, optional
        Files (and tasks). Default: enough for at most ``rows_per_partition`` rows each.
    random_state : None, int or Generator
        One seed for all partitions (each gets its own spawned generator).
    rows_per_partition : int, default 1,000,000
        Sizes the default number of partitions.

    Returns
    -------
    list of Path
        The files written, in partition order.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from dpquilt import MarginalSynthesizer
    >>> df = pd.DataFrame({"a": ["x", "y"] * 200})
    >>> syn = MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False,
    ...                           schema={"a": {"categories": ["x", "y"]}}).fit(df)
    >>> files = sample_to_parquet(syn, tempfile.mkdtemp(), 1000, partitions=3, random_state=0)
    >>> [f.name for f in files], sum(len(pd.read_parquet(f)) for f in files)
    (['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet'], 1000)
    """
    if partitions is None:
        partitions = max(1, -(-int(n_samples) // int(rows_per_partition)))
    sizes = partition_sizes(n_samples, partitions)
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.glob("part-*.parquet")):
        raise FileExistsError(f"{str(folder)!r} already holds part-*.parquet files; pass an empty or new directory")
    if isinstance(random_state, np.random.Generator):
        seeds = np.random.SeedSequence(random_state.integers(0, 2**63, size=4).tolist()).spawn(len(sizes))
    else:
        seeds = np.random.SeedSequence(random_state).spawn(len(sizes))
    files = [folder / f"part-{k:05d}.parquet" for k in range(len(sizes))]
    try:
        import dask
    except ImportError:  # no Dask: the partitions one after another in this process
        for size, seed, file in zip(sizes, seeds, files):
            _write_partition(synthesizer, size, seed, file)
        return files
    shared = dask.delayed(synthesizer, pure=True)  # one copy of the model in the graph, not one per task
    tasks = [dask.delayed(_write_partition, pure=True)(shared, size, seed, str(file))
             for size, seed, file in zip(sizes, seeds, files)]
    dask.compute(*tasks)
    return files


def _write_partition(synthesizer: Any, size: int, seed: np.random.SeedSequence, file: str | Path) -> str:
    rows = synthesizer.sample(size, random_state=np.random.default_rng(seed))
    rows.to_parquet(file, index=False)
    return str(file)
