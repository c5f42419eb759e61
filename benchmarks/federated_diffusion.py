"""Federated DP diffusion against the central model and federated MST, at equal budget.

On a real mixed table with a public schema (``mixed_tables.py``: ggplot2::diamonds, or
AER::CPSSW8 with ``--table cps``), split over k clients either at random (``iid``) or by a
column (``by-column``: diamonds' ``cut``, CPS's ``region``; clients differ), for each epsilon:

* ``central``: DiffusionSynthesizer trained with DP-SGD on all rows;
* ``fedavg``: DP-FedAvg, the server sees each client's weights, numeric columns scaled
  linearly (``secure_updates=False``);
* ``fedavg secure``: DP-FedAvg with the updates summed under SecAgg+ and the federated
  quantile transform;
* ``fedavg client-level``: client-level DP-FedAvg (one client's whole contribution is the
  unit; the clients' discrete Gaussian shares under SecAgg+), meant for many clients;
* ``fedsgd secure``: record-level DP-FedSGD, the library's default (``algorithm=None``
  resolves to it): each round one full-batch DP gradient step, the noise added once to
  the secure sum of the clients' clipped gradient sums (``--fedsgd-rounds``, default 200);
* ``federated mst``: MST over SecAgg+ secure sums.

DP-FedAvg runs ``--rounds`` rounds (default 25, the library's) with the library's server
step (``--server-lr``; default the square root of the number of clients at record level).
The central model is fitted once per epsilon and seed.

All diffusion runs use the same network and DP-SGD settings (``--settings central``: the
central model's defaults, ``DPSGD_SETTINGS``; ``shared``: ``DDPMSettings()``). Prints the
mean range-scaled 1-D Wasserstein distance, the mean correlation difference and the 2-way
workload error, each method's fit time and, for the federated diffusion runs, the time
per round; the last column is the ratio to the central model's W1 and 2-way error.

    python benchmarks/federated_diffusion.py --clients 3 --splits iid --epsilons 3 --rows 20000
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
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
from dpquilt.diffusion_model.gaussian_diffusion import DDPMSettings  # noqa: E402
from dpquilt.synthesizers.diffusion import DPSGD_SETTINGS  # noqa: E402
from diffusion_quality import fidelity  # noqa: E402
from mixed_tables import MIXED_TABLES  # noqa: E402

#: the column a ``by-column`` split sorts by
SPLIT_COLUMN = {"diamonds": "cut", "cps": "region"}


def split(df: pd.DataFrame, clients: int, how: str, seed: int, column: str) -> list[pd.DataFrame]:
    if how == "iid":
        shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        return [shuffled.iloc[i::clients].reset_index(drop=True) for i in range(clients)]
    order = df.sort_values(column, kind="stable").reset_index(drop=True)  # clients hold different values of it
    return [part.reset_index(drop=True) for part in np.array_split(order, clients)]


def fit(method: str, frames, schema, settings, eps: float, seed: int, rounds: int, server_lr: float | None = None,
        fedsgd_rounds: int = 200, fedsgd_lr: float | None = None):
    start = time.perf_counter()
    if method == "central":
        syn = dq.DiffusionSynthesizer(epsilon=eps, schema=schema, settings=settings, random_state=seed, verbose=False)
        syn.fit(pd.concat(frames, ignore_index=True))
    elif method == "fedsgd secure":
        syn = dq.federation.simulate(
            frames, dq.DiffusionSynthesizer(epsilon=eps, schema=schema, settings=settings, random_state=seed, verbose=False),
            fedavg_rounds=fedsgd_rounds, algorithm="fedsgd",
            fedsgd=dq.federation.FedSGDSettings(learning_rate=fedsgd_lr) if fedsgd_lr else None)
    elif method == "federated mst":
        syn = dq.federation.simulate(frames, dq.MarginalSynthesizer(method="mst", epsilon=eps, schema=schema,
                                                                    random_state=seed, verbose=False))
    else:
        unit = "client" if method == "fedavg client-level" else "record"
        syn = dq.federation.simulate(
            frames, dq.DiffusionSynthesizer(epsilon=eps, schema=schema, settings=settings, random_state=seed, verbose=False),
            fedavg_rounds=rounds, secure_updates=method != "fedavg", privacy_unit=unit,
            server_learning_rate=server_lr, algorithm="fedavg" if unit == "record" else None)
    return syn, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", nargs="+", type=int, default=[3, 10])
    p.add_argument("--table", default="diamonds", choices=sorted(MIXED_TABLES))
    p.add_argument("--splits", nargs="+", default=["iid", "by-column"], choices=["iid", "by-column"])
    p.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 3.0])
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--server-lr", type=float, default=None, help="DP-FedAvg's server step (default: the library's)")
    p.add_argument("--fedsgd-rounds", type=int, default=200, help="DP-FedSGD's rounds (full-batch steps)")
    p.add_argument("--fedsgd-lr", type=float, default=None, help="DP-FedSGD's server learning rate (default: the library's)")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--first-seed", type=int, default=0, help="seeds run from here (split a long run over processes)")
    p.add_argument("--rows", type=int, default=0, help="a seeded sample of N rows (0: all 53,940)")
    p.add_argument("--settings", default="central", choices=["central", "shared"])
    p.add_argument("--methods", nargs="+", default=["central", "fedsgd secure", "federated mst"],
                   choices=["central", "fedavg", "fedavg secure", "fedavg client-level", "fedsgd secure", "federated mst"])
    args = p.parse_args()
    df, facts, ranges = MIXED_TABLES[args.table]()
    if args.rows:
        df = df.sample(n=args.rows, random_state=0).reset_index(drop=True)
    schema = dq.Schema.from_public(facts)
    settings = DPSGD_SETTINGS if args.settings == "central" else DDPMSettings()
    print(f"# Federated diffusion on {args.table} ({len(df):,} rows; {date.today()}, {platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} cores, CPU), {args.rounds} rounds, server step {args.server_lr or 'default'}, settings {args.settings}, delta 1e-9")
    print("| epsilon | clients | split | method | W1 | corr diff | 2-way TV | fit s | s per round | W1 / central, TV / central |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    central_runs: dict = {}
    for eps in args.epsilons:
        for clients in args.clients:
            for how in args.splits:
                central = None
                for method in args.methods:
                    scores, seconds = [], []
                    for seed in range(args.first_seed, args.first_seed + args.seeds):
                        if method == "central" and (eps, seed) in central_runs:  # the same rows and budget
                            score, secs = central_runs[eps, seed]
                        else:
                            frames = split(df, clients, how, seed, SPLIT_COLUMN[args.table])
                            syn, secs = fit(method, frames, schema, settings, eps, seed, args.rounds, args.server_lr, args.fedsgd_rounds, args.fedsgd_lr)
                            score = fidelity(df, syn.sample(len(df), random_state=seed), schema, ranges)
                            if method == "central":
                                central_runs[eps, seed] = score, secs
                        print(f"<!-- seed {seed}, {method}: W1 {score['w1']:.4f}, 2-way TV {score['tv2']:.3f}, "
                              f"{secs:.0f} s -->", flush=True)
                        scores.append(score)
                        seconds.append(secs)
                    mean = {k: float(np.mean([s[k] for s in scores])) for k in ("w1", "corr", "tv2")}
                    central = mean if method == "central" else central
                    rounds = args.fedsgd_rounds if method == "fedsgd secure" else args.rounds
                    per_round = f"{np.mean(seconds) / rounds:.1f}" if method.startswith("fed") and "mst" not in method else ""
                    ratio = "" if central is None or method == "central" else \
                        f"{mean['w1'] / central['w1']:.2f}, {mean['tv2'] / central['tv2']:.2f}"
                    print(f"| {eps:g} | {clients} | {how} | {method} | {mean['w1']:.4f} | {mean['corr']:.3f} | "
                          f"{mean['tv2']:.3f} | {np.mean(seconds):.0f} | {per_round} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
