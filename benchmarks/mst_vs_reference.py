"""dpquilt's MST against the reference MST (private-pgm's mechanism over mbi 2.0).

For each table of ../shared/data and each epsilon (delta = 1e-9), runs both
mechanisms for several seeds in the same process and prints wall time (fit and
sample), the time ratio, and the 1/2/3-way workload error (mean total variation over
all k-way marginals, as in the AIM paper), each a mean over seeds with its standard
error.

Every run is a fresh Python process (timed from inside, after imports): JAX keeps
every compiled program for the life of a process, and at about 100 memory maps per
program a long sweep in one process ends in "LLVM compilation error: Cannot
allocate memory" (the kernel's limit is 65,530 maps). Fresh processes also keep
either side from profiting from the other's compilation cache.

    python benchmarks/mst_vs_reference.py                      # all tables, eps 0.1 1 10, 3 seeds
    python benchmarks/mst_vs_reference.py --tables titanic --epsilons 1 --seeds 1
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dpquilt as dq  # noqa: E402
from dpquilt.evaluation.workload_error import workload_error_codes  # noqa: E402
from dpquilt.schema.dataset import Dataset  # noqa: E402
from reference_mst import reference_mst  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load(name: str) -> tuple[pd.DataFrame, dict[str, int]]:
    domain = json.loads((DATA / f"{name}-domain.json").read_text())
    return pd.read_csv(DATA / f"{name}.csv", usecols=list(domain))[list(domain)], domain


def errors(real: Dataset, synth: Dataset) -> list[float]:
    return [workload_error_codes(real, synth, k=k) for k in (1, 2, 3)]


def run_ours(df: pd.DataFrame, domain: dict, eps: float, seed: int) -> tuple[float, Dataset]:
    start = time.perf_counter()
    syn = dq.MarginalSynthesizer(
        epsilon=eps, delta=1e-9, schema=dq.Schema.from_domain(domain), random_state=seed, verbose=False
    ).fit(df)
    out = syn.sample(random_state=seed)
    elapsed = time.perf_counter() - start
    return elapsed, Dataset({c: out[c].to_numpy() for c in domain}, domain)


def run_reference(df: pd.DataFrame, domain: dict, eps: float, seed: int) -> tuple[float, Dataset]:
    import mbi

    start = time.perf_counter()
    data = mbi.Dataset({c: df[c].to_numpy() for c in domain}, mbi.Domain.fromdict(domain))
    synth = reference_mst(data, eps, 1e-9, np.random.RandomState(seed))
    elapsed = time.perf_counter() - start
    cols = synth.to_dict()
    return elapsed, Dataset({c: np.asarray(cols[c]) for c in domain}, domain)


def mean_se(values: list[float]) -> str:
    v = np.asarray(values)
    se = v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else 0.0
    return f"{v.mean():.4f}±{se:.4f}"


def run_one(table: str, eps: float, seed: int, method: str) -> dict:
    """Run one (table, epsilon, seed, method) in this process; return seconds and 1/2/3-way errors."""
    df, domain = load(table)
    real = Dataset({c: df[c].to_numpy() for c in domain}, domain)
    elapsed, synth = (run_ours if method == "ours" else run_reference)(df, domain, eps, seed)
    return {"table": table, "eps": eps, "seed": seed, "method": method, "seconds": elapsed, "err": errors(real, synth)}


def run_in_subprocess(*args, script: str = __file__) -> dict:
    """Run ``script --one ARGS`` in a fresh Python process and parse the JSON line it prints."""
    cmd = [sys.executable, script, "--one", *map(str, args)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tables", nargs="+", default=["titanic", "nltcs", "adult", "salary"])
    p.add_argument("--epsilons", nargs="+", type=float, default=[0.1, 1.0, 10.0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--json", type=Path, default=None, help="also write raw results here")
    p.add_argument("--one", nargs=4, metavar=("TABLE", "EPS", "SEED", "METHOD"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        table, eps, seed, method = args.one
        print(json.dumps(run_one(table, float(eps), int(seed), method)))
        return

    print(f"# MST: dpquilt vs reference ({date.today()}, {platform.processor() or platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} cores), delta=1e-9, mean±SE over {args.seeds} seeds")
    print("| table | eps | ours s | ref s | ref/ours | ours 1-way | ref 1-way | ours 2-way | ref 2-way | ours 3-way | ref 3-way |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    raw = []
    for table in args.tables:
        for eps in args.epsilons:
            rows = {"ours": [], "ref": []}
            for seed in range(args.seeds):
                for method in ("ours", "ref"):
                    result = run_in_subprocess(table, eps, seed, method)
                    rows[method].append([result["seconds"], *result["err"]])
                    raw.append(result)
            ours, ref = np.array(rows["ours"]), np.array(rows["ref"])
            cells = [table, f"{eps:g}", f"{ours[:, 0].mean():.1f}", f"{ref[:, 0].mean():.1f}",
                     f"{ref[:, 0].mean() / ours[:, 0].mean():.2f}x"]
            for k in (1, 2, 3):
                cells += [mean_se(list(ours[:, k])), mean_se(list(ref[:, k]))]
            print("| " + " | ".join(cells) + " |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
