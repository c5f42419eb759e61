"""Federated AIM/MST over k clients against the central fit on the pooled rows.

Same table, budget, rounds and seeds; the federated run splits the shuffled rows into k
equal shards and fits with ``dq.federation.simulate`` (Flower simulation engine, SecAgg+,
discrete Gaussian noise shares). Prints the 1/2/3-way workload error of both (mean±SE
over seeds), the fit's wall time, and the wall time per secure sum after start-up (the
first sum, which waits for Ray and the clients, is excluded; an AIM round is two sums:
scores, then the measurement). Every run is a fresh process.

    python benchmarks/federated_vs_central.py --table adult --clients 2 5 10 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dpquilt as dq  # noqa: E402
from dpquilt.schema.dataset import Dataset  # noqa: E402
from mst_vs_reference import errors, load, mean_se, run_in_subprocess  # noqa: E402


def run_one(table: str, eps: float, seed: int, clients: int, method: str, rounds: int) -> dict:
    df, domain = load(table)
    schema = dq.Schema.from_domain(domain)
    options = {"rounds": rounds} if method == "aim" else {}
    start = time.perf_counter()
    if clients == 0:
        syn = dq.MarginalSynthesizer(
            epsilon=eps, delta=1e-9, method=method, schema=schema, random_state=seed, verbose=False, **options
        ).fit(df)
        sums, stages = [], []
    else:
        shuffled = df.sample(frac=1.0, random_state=seed)
        shards = [shuffled.iloc[i::clients].reset_index(drop=True) for i in range(clients)]
        syn = dq.federation.simulate(
            shards, method=method, epsilon=eps, delta=1e-9, schema=schema, random_state=seed, verbose=False, **options
        )
        sums = syn.secure_sum_seconds_
        stages = syn.secure_sum_stage_seconds_
    elapsed = time.perf_counter() - start
    out = syn.sample(random_state=seed)
    real = Dataset({c: df[c].to_numpy() for c in domain}, domain)
    synth = Dataset({c: out[c].to_numpy() for c in domain}, domain)
    return {"clients": clients, "seed": seed, "seconds": elapsed, "err": errors(real, synth), "sums": sums, "stages": stages,
            "rounds": getattr(syn, "rounds_", 0)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", default="adult")
    p.add_argument("--method", default="aim", choices=["aim", "mst"])
    p.add_argument("--epsilon", type=float, default=1.0)
    p.add_argument("--clients", nargs="+", type=int, default=[2, 5, 10])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rounds-per-column", type=int, default=2)
    p.add_argument("--one", nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        table, eps, seed, clients, method, rounds = args.one
        print(json.dumps(run_one(table, float(eps), int(seed), int(clients), method, int(rounds))))
        return
    _, domain = load(args.table)
    rounds = args.rounds_per_column * len(domain)
    print(f"# Federated vs central {args.method.upper()} on {args.table} ({date.today()}, {platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} cores, CPU), eps={args.epsilon:g}, delta=1e-9, "
          f"rounds={rounds}, mean±SE over {args.seeds} seeds")
    print("| clients | 1-way | 2-way | 3-way | fit s | secure sums | s per sum after the first | AIM rounds |")
    print("|---|---|---|---|---|---|---|---|")
    for k in [0, *args.clients]:
        rows = [run_in_subprocess(args.table, args.epsilon, s, k, args.method, rounds, script=__file__)
                for s in range(args.seeds)]
        errs = np.array([r["err"] for r in rows])
        later = [t for r in rows for t in r["sums"][1:]]
        cells = ["central" if k == 0 else str(k), *(mean_se(list(errs[:, i])) for i in range(3)),
                 f"{np.mean([r['seconds'] for r in rows]):.1f}",
                 f"{np.mean([len(r['sums']) for r in rows]):.0f}" if k else "-",
                 f"{np.median(later):.2f} (median), {np.percentile(later, 90):.2f} (p90)" if later else "-",
                 f"{np.mean([r['rounds'] for r in rows]):.0f}" if args.method == "aim" else "-"]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
