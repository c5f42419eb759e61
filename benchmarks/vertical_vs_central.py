"""Cross-silo MST against central MST on the joined table, and one cross-silo marginal's cost.

The table's columns are dealt to k silos in turn (column i to silo i mod k), each silo
keyed by a shuffled identifier in its own row order; ``dq.federation.vertical.simulate``
fits MST with every party in its own process (MPyC secret sharing on loopback), and
central MST fits the joined table with the same public schema, budget and seed. Prints
the 1/2/3-way workload error of both (mean ± SE over seeds), the ratio of the 3-way
errors, and the fits' wall times. Then the wall time and bytes (all parties' sends) of
one cross-silo 2-way marginal of the first two silos' first columns, on every row.

    python benchmarks/vertical_vs_central.py --table adult --silos 2 3 --epsilons 1 10 --seeds 3
    python benchmarks/vertical_vs_central.py --raw cps_mixtape --silos 2 3 --epsilons 1 10 --seeds 3

``--raw NAME`` takes a real mixed table of ``raw_tables.py`` as users hand it over (no
public schema: each silo learns its columns' facts with DP, the central fit learns them
all, both from the default ``schema_share``), scored by 1/2/3-way total variation on the
evaluation binning no synthesizer chose (``EvaluationBinning.of`` the real table).
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
from dpquilt.federation.vertical.party import SiloRequest  # noqa: E402
from dpquilt.federation.vertical.simulation import run_requests, simulate  # noqa: E402
from dpquilt.schema.dataset import Dataset  # noqa: E402
from dpquilt.evaluation.binning import EvaluationBinning, binned_tv  # noqa: E402
from mst_vs_reference import errors, load, mean_se  # noqa: E402
from raw_tables import load_table  # noqa: E402


def split(df: pd.DataFrame, silos: int, seed: int) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """Columns dealt in turn; each silo keyed by a shuffled id, rows in its own order."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(len(df)) + 1_000_000
    out = {}
    for s in range(silos):
        cols = list(df.columns[s::silos])
        part = df[cols].copy()
        part.insert(0, "person", ids)
        out[f"silo{s + 1}"] = part.sample(frac=1.0, random_state=seed + s).reset_index(drop=True)
    return out, ids


def codes(frame: pd.DataFrame, domain: dict) -> Dataset:
    return Dataset({c: frame[c].to_numpy() for c in domain}, domain)


def run(df: pd.DataFrame, domain: dict, silos: int, eps: float, seed: int, silofuse: bool = False) -> tuple[list[float], float]:
    schema = dq.Schema.from_domain(domain)
    if silofuse:
        syn, seconds = run_silofuse(df, silos, eps, seed, schema)
        out = syn.sample(len(df), random_state=seed)
        return errors(codes(df, domain), codes(out[list(domain)], domain)), seconds
    start = time.perf_counter()
    if silos == 0:
        syn = dq.MarginalSynthesizer(epsilon=eps, delta=1e-9, method="mst", schema=schema, random_state=seed,
                                     verbose=False).fit(df)
    else:
        parts, ids = split(df, silos, seed)
        syn = simulate(parts, "person", ids, schema, epsilon=eps, delta=1e-9, random_state=seed)
    seconds = time.perf_counter() - start
    out = syn.sample(len(df), random_state=seed)
    return errors(codes(df, domain), codes(out[list(domain)], domain)), seconds


def run_silofuse(df: pd.DataFrame, silos: int, eps: float, seed: int, schema=None):
    """The SiloFuse-style baseline on the same split: the fitted synthesizer and its fit time."""
    from dpquilt.federation.vertical.silofuse import SiloFuseSynthesizer

    groups = [list(df.columns[s::silos]) for s in range(silos)]
    start = time.perf_counter()
    syn = SiloFuseSynthesizer(groups, epsilon=eps, delta=1e-9, schema=schema, random_state=seed).fit(df)
    return syn, time.perf_counter() - start


def run_raw(df: pd.DataFrame, binning: EvaluationBinning, silos: int, eps: float, seed: int,
            silofuse: bool = False) -> tuple[list[float], float]:
    start = time.perf_counter()
    if silofuse:
        syn, _ = run_silofuse(df, silos, eps, seed)
    elif silos == 0:
        syn = dq.MarginalSynthesizer(epsilon=eps, delta=1e-9, method="mst", random_state=seed, verbose=False).fit(df)
    else:
        parts, ids = split(df, silos, seed)
        syn = simulate(parts, "person", ids, None, epsilon=eps, delta=1e-9, random_state=seed)
    seconds = time.perf_counter() - start
    out = syn.sample(len(df), random_state=seed)[list(df.columns)]
    return [binned_tv(df, out, k, binning, max_marginals=300) for k in (1, 2, 3)], seconds


def one_marginal(df: pd.DataFrame, domain: dict) -> tuple[str, float, int]:
    parts, ids = split(df, 2, 0)
    a, b = parts["silo1"].columns[1], parts["silo2"].columns[1]
    run = run_requests(parts, "person", ids, dq.Schema.from_domain(domain), [SiloRequest("cross", ((a, b),), 5.0)],
                       random_state=0)
    return f"{a} ({domain[a]}) x {b} ({domain[b]})", run.seconds[0], sum(run.bytes_sent)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", default="adult")
    p.add_argument("--silos", nargs="+", type=int, default=[2, 3])
    p.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 10.0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rows", type=int, default=0, help="first N rows only (0: all)")
    p.add_argument("--raw", default=None, help="a raw mixed table of raw_tables.py instead of a coded one")
    p.add_argument("--silofuse-seeds", type=int, default=0, help="also fit the SiloFuse-style baseline (DP-SGD on CPU: slow)")
    args = p.parse_args()
    if args.raw:
        df = load_table(args.raw)
        binning = EvaluationBinning.of(df)
        fit = lambda silos, eps, seed, sf=False: run_raw(df, binning, silos, eps, seed, sf)  # noqa: E731
        name, what = args.raw, "TV on the evaluation binning"
    else:
        df, domain = load(args.table)
        if args.rows:
            df = df.iloc[: args.rows].reset_index(drop=True)
        fit = lambda silos, eps, seed, sf=False: run(df, domain, silos, eps, seed, sf)  # noqa: E731
        name, what = args.table, "workload error"
    print(f"# Cross-silo vs central MST on {name} ({len(df):,} x {df.shape[1]}; {date.today()}, "
          f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores), delta=1e-9, seeds 0-{args.seeds - 1}, {what}")
    print("| epsilon | silos | 1-way | 2-way | 3-way | 3-way / central | fit s |")
    print("|---|---|---|---|---|---|---|")
    for eps in args.epsilons:
        central3 = None
        for silos in [0, *args.silos]:
            runs = [fit(silos, eps, seed) for seed in range(args.seeds)]
            errs = np.array([r[0] for r in runs])
            three = float(errs[:, 2].mean())
            central3 = three if silos == 0 else central3
            label = "central" if silos == 0 else str(silos)
            ratio = "" if silos == 0 else f"{three / central3:.3f}"
            cells = " | ".join(mean_se(list(errs[:, k])) for k in range(3))
            print(f"| {eps:g} | {label} | {cells} | {ratio} | {np.mean([r[1] for r in runs]):.1f} |", flush=True)
            if silos and args.silofuse_seeds:
                runs = [fit(silos, eps, seed, True) for seed in range(args.silofuse_seeds)]
                errs = np.array([r[0] for r in runs])
                cells = " | ".join(mean_se(list(errs[:, k])) for k in range(3))
                print(f"| {eps:g} | {silos}, SiloFuse-style | {cells} | {errs[:, 2].mean() / central3:.3f} | "
                      f"{np.mean([r[1] for r in runs]):.1f} |", flush=True)
    if args.raw:
        return
    what, seconds, sent = one_marginal(df, domain)
    print(f"\nOne cross-silo 2-way marginal, {what}, {len(df):,} rows, 3 parties: {seconds:.2f} s, "
          f"{sent / 1e6:.1f} MB sent in all")


if __name__ == "__main__":
    main()
