"""Fit on a large table: 10 M rows x 20 columns, peak memory and time.

Generates a seeded table whose columns form a noisy Markov chain (each column
copies a function of the previous one with probability 0.7, else draws uniformly;
domain sizes 2 to 50), integer-coded and declared public with
``Schema.from_domain``, and fits dpquilt's MST (and AIM with ``--aim``) on it in
a fresh process each. Prints wall time of each phase and the peak resident memory
of the process (``ru_maxrss``), next to the size of the input frame and of the
codes dpquilt keeps (smallest unsigned dtype).

    python benchmarks/scale_fit.py                    # 10 M x 20, MST
    python benchmarks/scale_fit.py --rows 1000000 --aim
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))

SIZES = [2, 3, 5, 8, 10, 16, 24, 32, 50, 7, 4, 12, 2, 20, 6, 9, 40, 3, 15, 11]


def make_table(rows: int, cols: int, seed: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """A seeded chain-structured table of small integer codes (uint8 columns)."""
    rng = np.random.default_rng(seed)
    domain = {f"c{j}": SIZES[j % len(SIZES)] for j in range(cols)}
    data, previous = {}, None
    for name, size in domain.items():
        fresh = rng.integers(0, size, rows, dtype=np.uint8)
        if previous is None:
            col = fresh
        else:
            copy = rng.random(rows, dtype=np.float32) < 0.7
            col = np.where(copy, (previous.astype(np.uint16) * 7 + 3) % size, fresh).astype(np.uint8)
        data[name] = previous = col
    return pd.DataFrame(data), domain


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(method: str, rows: int, cols: int, seed: int) -> dict:
    import dpquilt as dq

    t0 = time.perf_counter()
    df, domain = make_table(rows, cols, seed)
    t1 = time.perf_counter()
    after_data = peak_mb()
    syn = dq.MarginalSynthesizer(
        epsilon=1.0, delta=1e-9, method=method, schema=dq.Schema.from_domain(domain), random_state=seed, verbose=False
    ).fit(df)
    t2 = time.perf_counter()
    out = syn.sample(1_000_000, random_state=seed)
    t3 = time.perf_counter()
    return {
        "method": method, "rows": rows, "cols": cols,
        "frame_mb": df.memory_usage(deep=True).sum() / 2**20,
        "generate_s": t1 - t0, "fit_s": t2 - t1, "sample_1M_s": t3 - t2,
        "peak_after_data_mb": after_data, "peak_mb": peak_mb(), "rounds": getattr(syn, "rounds_", None),
        "sampled_rows": len(out),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--cols", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--aim", action="store_true", help="also fit AIM (paper defaults)")
    p.add_argument("--one", metavar="METHOD", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.rows, args.cols, args.seed)))
        return
    print(f"# fit at scale ({date.today()}, {platform.processor() or platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} cores): {args.rows:,} rows x {args.cols} columns, epsilon=1")
    print("| method | input frame MB | generate s | fit s | sample 1M s | peak RSS MB (data only) | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for method in ["mst"] + (["aim"] if args.aim else []):
        cmd = [sys.executable, __file__, "--rows", str(args.rows), "--cols", str(args.cols),
               "--seed", str(args.seed), "--one", method]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        print(f"| {method} | {r['frame_mb']:.0f} | {r['generate_s']:.1f} | {r['fit_s']:.1f} | {r['sample_1M_s']:.1f} | "
              f"{r['peak_after_data_mb']:.0f} | {r['peak_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
