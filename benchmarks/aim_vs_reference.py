"""dpquilt's AIM against the reference AIM (private-pgm's mechanism over mbi 2.0).

Both run at settings chosen so that the reference finishes (``--rounds-per-column 2``,
i.e. rounds = 2 x columns, JAX caches cleared after each reference round), with the
AIM paper's workload (every 3-way marginal with at most 10,000 cells) and model cap
(80 MB). Ours also runs at the paper's defaults (16 x columns rounds) with
``--defaults``. Every run is a fresh process, timed from inside after imports.
Prints wall time, the ratio, and the 1/2/3-way workload error (mean±SE over seeds),
and the 3-way error of dpquilt's MST on the same seeds for comparison.

    python benchmarks/aim_vs_reference.py --tables titanic --epsilons 1 --seeds 1

One run: ``--one TABLE EPSILON SEED METHOD ROUNDS`` prints one JSON line, METHOD one of
``ours``, ``mst``, ``ref`` (the reference), or ``refdense`` / ``refjt``: the reference
with its candidates' model marginals computed from a dense joint (small domains such as
nltcs) or from dpquilt's junction tree, for measuring the reference's error where its
own time is out of reach (see ``reference_aim.py``; their times are not the reference's).
"""

from __future__ import annotations

import argparse
import itertools
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
from dpquilt.marginals.workload import DEFAULT_MAX_CELLS  # noqa: E402
from mst_vs_reference import errors, load, mean_se, run_in_subprocess  # noqa: E402


#: ``--one`` methods that run the reference, by how it computes candidates' model marginals
REFERENCE_PROJECTIONS = {"ref": "compiled", "refdense": "dense", "refjt": "junction"}


def workload_cliques(domain: dict) -> list[tuple[str, ...]]:
    return [c for c in itertools.combinations(domain, 3) if np.prod([domain[a] for a in c]) <= DEFAULT_MAX_CELLS]


def run_one(table: str, eps: float, seed: int, method: str, rounds: int | None) -> dict:
    df, domain = load(table)
    real = Dataset({c: df[c].to_numpy() for c in domain}, domain)
    start = time.perf_counter()
    if method in ("ours", "mst"):
        options = {"method": "aim", "workload": workload_cliques(domain), "rounds": rounds}
        syn = dq.MarginalSynthesizer(
            epsilon=eps, delta=1e-9, schema=dq.Schema.from_domain(domain), random_state=seed, verbose=False,
            **(options if method == "ours" else {"method": "mst"}),
        ).fit(df)
        out = syn.sample(random_state=seed)
        used_rounds = getattr(syn, "rounds_", 0)
        synth = Dataset({c: out[c].to_numpy() for c in domain}, domain)
    else:
        import mbi
        from reference_aim import reference_aim

        data = mbi.Dataset({c: df[c].to_numpy() for c in domain}, mbi.Domain.fromdict(domain))
        wl = [(c, 1.0) for c in workload_cliques(domain)]
        out, used_rounds = reference_aim(data, wl, eps, 1e-9, np.random.RandomState(seed), rounds=rounds,
                                         clear_caches=True, log=sys.stderr, 
                                         projection=REFERENCE_PROJECTIONS[method])
        cols = out.to_dict()
        synth = Dataset({c: np.asarray(cols[c]) for c in domain}, domain)
    elapsed = time.perf_counter() - start
    return {"table": table, "eps": eps, "seed": seed, "method": method, "rounds": used_rounds,
            "seconds": elapsed, "err": errors(real, synth)}


def in_subprocess(*args) -> dict:
    return run_in_subprocess(*args, script=__file__)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tables", nargs="+", default=["titanic", "nltcs", "adult", "salary"])
    p.add_argument("--epsilons", nargs="+", type=float, default=[0.1, 1.0, 10.0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rounds-per-column", type=int, default=2)
    p.add_argument("--defaults", action="store_true", help="also run ours at 16 x columns rounds")
    p.add_argument("--skip-reference", action="store_true", help="run only dpquilt (reference columns empty)")
    p.add_argument("--reference-projection", choices=list(REFERENCE_PROJECTIONS.values()), default="compiled",
                   help="how the reference computes candidates' model marginals: compiled (the reference itself), "
                        "or dense/junction to measure its error fast (its time and the ratio are then not shown)")
    p.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        table, eps, seed, method, rounds = args.one
        print(json.dumps(run_one(table, float(eps), int(seed), method, None if rounds == "None" else int(rounds))))
        return
    ref_method = {v: k for k, v in REFERENCE_PROJECTIONS.items()}[args.reference_projection]
    print(f"# AIM: dpquilt vs reference ({date.today()}, {platform.machine()}, {len(os.sched_getaffinity(0))} cores), "
          f"delta=1e-9, rounds={args.rounds_per_column} x columns, mean±SE over {args.seeds} seeds"
          + ("" if ref_method == "ref" else f"; reference projections: {args.reference_projection} (its errors only)"))
    print("| table | eps | rounds ours/ref | ours s | ref s | ref/ours | ours 1-way | ref 1-way | ours 2-way | ref 2-way "
          "| ours 3-way | ref 3-way | ours MST 3-way |" + (" ours@defaults s | ours@defaults 3-way |" if args.defaults else ""))
    print("|---" * (13 + 2 * args.defaults) + "|")
    for table in args.tables:
        _, domain = load(table)
        rounds = args.rounds_per_column * len(domain)
        for eps in args.epsilons:
            rows = {"ours": [], "ref": [], "mst": [], "default": []}
            for seed in range(args.seeds):
                for method in ("ours", "mst") if args.skip_reference else ("ours", ref_method, "mst"):
                    r = in_subprocess(table, eps, seed, method, rounds)
                    rows["ref" if method == ref_method else method].append([r["seconds"], *r["err"], r["rounds"]])
                if args.defaults:
                    r = in_subprocess(table, eps, seed, "ours", None)
                    rows["default"].append([r["seconds"], *r["err"], r["rounds"]])
            ours = np.array(rows["ours"])
            ref = np.array(rows["ref"]) if rows["ref"] else np.full_like(ours, np.nan)
            ref_time = ref[:, 0].mean() if ref_method == "ref" else np.nan
            cells = [table, f"{eps:g}", f"{ours[:, 4].mean():.0f}/{ref[:, 4].mean():.0f}",
                     f"{ours[:, 0].mean():.1f}", f"{ref_time:.1f}" if ref_method == "ref" else "-",
                     f"{ref_time / ours[:, 0].mean():.1f}x" if ref_method == "ref" else "-"]
            for k in (1, 2, 3):
                cells += [mean_se(list(ours[:, k])), mean_se(list(ref[:, k]))]
            cells.append(mean_se([r[3] for r in rows["mst"]]))
            if args.defaults:
                d = np.array(rows["default"])
                cells += [f"{d[:, 0].mean():.1f}", mean_se(list(d[:, 3]))]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
