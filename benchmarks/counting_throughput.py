"""Rows per second of dpquilt's marginal counting, against pandas groupby in the same run.

    python benchmarks/counting_throughput.py --rows 20000000

Prints, for 1-, 2- and 3-way marginals over random codes, the best of 5 runs of
``dpquilt.marginals.count`` and of ``DataFrame.groupby(cols).size()`` (the way most
tabular libraries count), in million rows per second on one core.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from dpquilt.marginals.counting import count
from dpquilt.schema.dataset import Dataset


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=20_000_000)
    args = p.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rng = np.random.default_rng(0)
    domain = {"a": 50, "b": 40, "c": 30}
    data = Dataset({c: rng.integers(0, k, args.rows) for c, k in domain.items()}, domain)
    frame = pd.DataFrame(data.columns)
    print(f"# counting {args.rows:,} rows on one core; M rows/s, best of 5")
    print("| marginal | dpquilt | pandas groupby | ratio |")
    print("|---|---|---|---|")
    for cols in (("a",), ("a", "b"), ("a", "b", "c")):
        ours = args.rows / best_of(lambda: count(data, cols)) / 1e6
        ref = args.rows / best_of(lambda: frame.groupby(list(cols)).size(), repeats=2) / 1e6
        print(f"| {'x'.join(cols)} | {ours:.0f} | {ref:.0f} | {ours / ref:.1f}x |")


if __name__ == "__main__":
    main()
