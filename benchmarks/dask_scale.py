"""MST on a table larger than memory: partitioned Parquet tallied on a Dask LocalCluster.

    python benchmarks/dask_scale.py                      # 200 M rows x 20 columns (about 3 GiB on disk)
    python benchmarks/dask_scale.py --rows 20000000      # scaled down

Writes a seeded raw table (labels, integers, whole-unit amounts, rates, zero-inflated
amounts, flags) as Parquet files of ``--rows-per-file`` rows, checking the disk first; fits MST at
epsilon 1 with every schema fact learned, on a LocalCluster of ``--workers`` single-thread
worker processes whose memory limit each is below the table's size in memory (so it must
run out of core); then prints:

- the rows per second per core of a counting pass (20 one-way and 19 two-way marginals),
  first with Parquet decoding and encoding included (the pass that encodes the parts and
  keeps their codes on the workers), then on the kept codes (every later pass of a fit),
  against the in-memory counting path on the first ``--memory-rows`` rows (codes already
  in memory, one core), measured in the same run (target: at least 50%); and the first
  pass against the in-memory path that also reads those rows from the files and encodes
  them (one core);
- peak memory of each worker and of this process, fit time, and the time to sample as
  many rows to partitioned Parquet on the workers.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

import dpquilt as dq
from dpquilt.marginals.code_counts import PartitionCounts
from dpquilt.marginals.counting import count
from dpquilt.rows.dask_rows import local_cluster, read_parquet_piece, read_parquet_rows
from dpquilt.schema.codec import encode

REGIONS = np.array(["north", "south", "east", "west", "centre", "islands", "coast", "mountain"], dtype=object)
PRODUCTS = np.array([f"product-{k}" for k in range(12)], dtype=object)
CHANNELS = np.array(["branch", "web", "app", "phone"], dtype=object)
STATUS = np.array(["active", "dormant", "closed"], dtype=object)


def chunk(rows: int, seed: np.random.SeedSequence) -> pd.DataFrame:
    """``rows`` seeded rows of the 20-column raw table (correlated through a latent score)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=rows)
    g = np.clip((z * 2 + 4 + rng.normal(size=rows)).astype(int), 0, 7)
    age = np.clip(np.round(45 + 12 * z + rng.normal(0, 8, rows)), 18, 95).astype(np.int64)
    income = np.round(np.exp(10.4 + 0.5 * z + rng.normal(0, 0.4, rows)))
    claims = np.where(rng.random(rows) < 0.7, 0.0, np.round(np.exp(6 + rng.normal(0, 1, rows))))
    return pd.DataFrame({
        "region": REGIONS[g],
        "product": PRODUCTS[rng.integers(0, 12, rows)],
        "channel": CHANNELS[np.clip((z + 1.5 + rng.normal(0, 0.7, rows)).astype(int), 0, 3)],
        "status": STATUS[rng.choice(3, rows, p=[0.7, 0.2, 0.1])],
        "age": age,
        "tenure": np.clip(age - 18 - rng.integers(0, 30, rows), 0, None),
        "household": rng.integers(1, 9, rows),
        "visits": rng.poisson(np.exp(1 + 0.3 * z)),
        "year": rng.integers(1990, 2025, rows),
        "credit": np.clip(np.round(650 + 80 * z + rng.normal(0, 40, rows)), 300, 850).astype(np.int64),
        "income": income,
        "balance": np.round(income * rng.uniform(0, 0.8, rows)),
        "spend": np.round(np.exp(7 + 0.3 * z + rng.normal(0, 0.6, rows))),
        "rate": np.round(rng.uniform(0, 30, rows), 2),
        "claims": claims,
        "overdraft": np.where(z > -1.0, 0.0, np.round(rng.exponential(300, rows))),
        "member": rng.random(rows) < 0.3 + 0.1 * (z > 0),
        "online": rng.random(rows) < 0.5,
        "insured": claims > 0,
        "urban": rng.random(rows) < 0.6,
    })


def write_table(folder: Path, rows: int, rows_per_file: int, seed: int) -> list[Path]:
    sizes = [min(rows_per_file, rows - start) for start in range(0, rows, rows_per_file)]
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    files = []
    for k, (size, s) in enumerate(zip(sizes, seeds)):
        file = folder / f"part-{k:04d}.parquet"
        if not file.exists():
            chunk(size, s).to_parquet(file, index=False)
        files.append(file)
    return files


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000_000)
    p.add_argument("--rows-per-file", type=int, default=2_000_000)
    p.add_argument("--memory-rows", type=int, default=20_000_000, help="rows of the in-memory comparison")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-memory", default="4GiB", help="memory limit of each worker")
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "dpquilt_scale")
    p.add_argument("--keep", action="store_true", help="keep the table and the sample on disk")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    from distributed import Client

    table, sample_dir = args.dir / f"table_{args.rows}", args.dir / "sample"
    table.mkdir(parents=True, exist_ok=True)
    need = args.rows * 20 * 2 * 2  # about 2 bytes a cell on disk, for the table and its sample
    free = shutil.disk_usage(args.dir).free
    if need > free:
        raise SystemExit(f"about {need / 2**30:.0f} GiB needed on {args.dir}, {free / 2**30:.0f} GiB free; "
                         f"scale down with --rows")
    start = time.perf_counter()
    files = write_table(table, args.rows, args.rows_per_file, args.seed)
    print(f"table: {args.rows:,} rows x 20 columns in {len(files)} files, "
          f"{sum(f.stat().st_size for f in files) / 2**30:.2f} GiB on disk ({time.perf_counter() - start:.0f} s to write)")
    in_memory_bytes = int(chunk(100_000, np.random.SeedSequence(1)).memory_usage(deep=True).sum() * args.rows / 100_000)
    print(f"as one pandas frame it would take about {in_memory_bytes / 2**30:.1f} GiB; "
          f"workers: {args.workers} x {args.worker_memory}")

    with local_cluster(n_workers=args.workers, threads_per_worker=1, memory_limit=args.worker_memory,
                       dashboard_address=None) as cluster, Client(cluster) as client:
        rows = read_parquet_rows(table / "*.parquet", client)
        start = time.perf_counter()
        syn = dq.MarginalSynthesizer(epsilon=1.0, method="mst", random_state=args.seed, verbose=False).fit(rows)
        fit_s = time.perf_counter() - start
        print(f"MST fit on {rows.n_partitions} partitions: {fit_s:.1f} s, {len(syn.accountant_.ledger)} ledger entries")

        names = list(syn.schema_.names)
        cliques = [(c,) for c in names] + list(zip(names[:-1], names[1:]))
        counter = PartitionCounts(rows, syn.schema_)
        start = time.perf_counter()
        counted = counter.count_many(cliques)  # reads the files, encodes, keeps the codes on the workers
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        counter.count_many(cliques)
        kept_s = time.perf_counter() - start
        counter.release()
        read_rate, kept_rate = (args.rows / t / args.workers for t in (read_s, kept_s))
        print(f"counting pass ({len(cliques)} marginals) reading Parquet and encoding: {read_s:.1f} s, "
              f"{read_rate / 1e6:.2f} M rows/s per core; on the codes kept by the workers: {kept_s:.1f} s, "
              f"{kept_rate / 1e6:.2f} M rows/s per core")

        shutil.rmtree(sample_dir, ignore_errors=True)
        start = time.perf_counter()
        written = syn.sample_to_parquet(sample_dir, args.rows, random_state=args.seed)
        sample_s = time.perf_counter() - start
        print(f"sampled {args.rows:,} rows to {len(written)} Parquet files on the workers: {sample_s:.1f} s")
        worker_peaks = client.run(peak_rss_bytes)
        print("peak memory per worker: " + ", ".join(f"{v / 2**30:.2f} GiB" for v in worker_peaks.values()))
    print(f"peak memory of this process (before the in-memory comparison): {peak_rss_bytes() / 2**30:.2f} GiB")

    # the same rows' first memory_rows in memory, one core: read from the files and encoded (as a fit in
    # memory would start), then the counting path alone on the codes
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    start = time.perf_counter()
    head = pd.concat([read_parquet_piece((str(f), tuple(range(pq.read_metadata(f).num_row_groups))))
                      for f in files[: -(-args.memory_rows // args.rows_per_file)]], ignore_index=True)
    data = encode(head.iloc[: args.memory_rows], syn.schema_).data
    for clique in cliques:
        count(data, clique)
    decoded_s = time.perf_counter() - start
    decoded_rate = data.n_rows / decoded_s
    del head
    print(f"in-memory path from the files on {data.n_rows:,} rows (one core: pyarrow read, encode, count): "
          f"{decoded_s:.1f} s, {decoded_rate / 1e6:.2f} M rows/s; the Dask pass reading Parquet and encoding runs "
          f"at {read_rate / decoded_rate:.2f} of it per core")
    start = time.perf_counter()
    for clique in cliques:
        count(data, clique)
    memory_s = time.perf_counter() - start
    memory_rate = data.n_rows / memory_s
    print(f"in-memory counting path on {data.n_rows:,} rows (one core): {memory_s:.1f} s, "
          f"{memory_rate / 1e6:.2f} M rows/s")
    print(f"per-core throughput of the Dask pass / in-memory counting: {read_rate / memory_rate:.2f} reading Parquet "
          f"and encoding (target >= 0.5), {kept_rate / memory_rate:.2f} on kept codes")
    assert sum(int(m.sum()) for m in counted[: len(names)]) == len(names) * sum(int(m.sum()) for m in counted[:1])
    if not args.keep:
        shutil.rmtree(sample_dir, ignore_errors=True)
        shutil.rmtree(table, ignore_errors=True)


if __name__ == "__main__":
    main()
