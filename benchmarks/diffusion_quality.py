"""Marginal path, DDPM refiner and standalone DP diffusion: fidelity at equal budget.

On ggplot2::diamonds (7 continuous columns, 3 categorical), for each epsilon and seed:

* ``uniform``       MarginalSynthesizer, all the budget on marginals, uniform in bins;
* ``ddpm``          the same with ``refiner="ddpm"`` (15% of the budget to DP-SGD);
* ``ddpm-model/uniform``  the ddpm run's graphical model decoded uniformly: same bins,
  so the difference to ``ddpm`` is the refiner alone (the script checks that the
  bins of the two are identical, record by record);
* ``diffusion dp-sgd``     DiffusionSynthesizer trained with DP-SGD on the rows;
* ``diffusion two-stage``  DiffusionSynthesizer trained on the MST release (TDPDM).

Columns: mean range-scaled 1-D Wasserstein distance over the numeric columns, mean
|correlation difference| over numeric pairs, 2- and 3-way workload error (on the
schema's bins), and the fit's wall time.

    python benchmarks/diffusion_quality.py --epsilons 1 3 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dpquilt as dq  # noqa: E402
from dpquilt.refiners import UniformBackend  # noqa: E402
from dpquilt.schema.codec import encode  # noqa: E402
from mixed_tables import diamonds  # noqa: E402


def fidelity(real, synth, schema, ranges) -> dict:
    return {
        "w1": dq.evaluation.mean_wasserstein(real, synth, ranges),
        "corr": dq.evaluation.correlation_difference(real, synth, list(ranges)),
        "tv2": dq.evaluation.workload_error(real, synth, schema, k=2),
        "tv3": dq.evaluation.workload_error(real, synth, schema, k=3),
    }


def same_bins(a, b, schema) -> bool:
    ea, eb = encode(a, schema).data, encode(b, schema).data
    return all(np.array_equal(ea.columns[c], eb.columns[c]) for c in schema.names)


MARGINAL_VARIANTS = ("uniform", "ddpm")
DIFFUSION_VARIANTS = ("diffusion dp-sgd", "diffusion two-stage")


def run(eps: float, seed: int, method: str, settings, variants, share: float = 0.3) -> list[dict]:
    df, schema, ranges = diamonds()
    rows = []
    if set(variants) & set(MARGINAL_VARIANTS):
        rows += run_marginal(df, schema, ranges, eps, seed, method, settings, share)
    for variant, two_stage in (("diffusion dp-sgd", False), ("diffusion two-stage", True)):
        if variant not in variants:
            continue
        start = time.perf_counter()
        first = {"first_stage": {"method": method}} if two_stage else {}
        diff = dq.DiffusionSynthesizer(
            epsilon=eps, schema=schema, two_stage=two_stage, random_state=seed, verbose=False, **first
        ).fit(df)
        seconds = time.perf_counter() - start
        out = diff.sample(len(df), random_state=seed + 100)
        rows.append({"variant": variant, "fit_s": seconds, **fidelity(df, out, diff.schema_, ranges)})
    for row in rows:
        row.update(eps=eps, seed=seed, method=method)
    return rows


def run_marginal(df, schema, ranges, eps, seed, method, settings, share) -> list[dict]:
    rows = []
    start = time.perf_counter()
    base = dq.MarginalSynthesizer(epsilon=eps, method=method, schema=schema, random_state=seed, verbose=False).fit(df)
    seconds = time.perf_counter() - start
    out = base.sample(len(df), random_state=seed + 100)
    rows.append({"variant": "uniform", "fit_s": seconds, **fidelity(df, out, base.schema_, ranges)})
    start = time.perf_counter()
    syn = dq.MarginalSynthesizer(
        epsilon=eps, method=method, schema=schema, refiner="ddpm", refiner_share=share, refiner_settings=settings,
        random_state=seed, verbose=False,
    ).fit(df)
    seconds = time.perf_counter() - start
    refined = syn.sample(len(df), random_state=seed + 100)
    ddpm = syn.refiner_
    syn.refiner_ = UniformBackend().fit(ddpm.layout_, None, None, None)
    plain = syn.sample(len(df), random_state=seed + 100)
    syn.refiner_ = ddpm
    kept = same_bins(refined, plain, syn.schema_)
    rows.append({"variant": "ddpm", "fit_s": seconds, "bins_kept": kept, "z": ddpm.plan_.noise_multiplier,
                 "steps": ddpm.plan_.steps, **fidelity(df, refined, syn.schema_, ranges)})
    rows.append({"variant": "ddpm-model/uniform", **fidelity(df, plain, syn.schema_, ranges)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--method", default="mst", choices=["mst", "aim"])
    parser.add_argument("--variants", nargs="+", default=list(MARGINAL_VARIANTS + DIFFUSION_VARIANTS),
                        choices=list(MARGINAL_VARIANTS + DIFFUSION_VARIANTS))
    parser.add_argument("--refiner-share", type=float, default=0.15)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--threads", type=int, default=0, help="PyTorch CPU threads (0: its default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    print(f"# diffusion quality on ggplot2::diamonds, {args.method}, refiner_share {args.refiner_share}, "
          f"{platform.processor() or platform.machine()}")
    results = []
    for eps in args.epsilons:
        for seed in range(args.seeds):
            for row in run(eps, seed, args.method, None, args.variants, args.refiner_share):
                results.append(row)
                print(json.dumps(row), flush=True)
    print()
    print("| eps | variant | mean W1 (range-scaled) | corr. diff | 2-way TV | 3-way TV | fit s | bins kept |")
    print("|---|---|---|---|---|---|---|---|")
    for eps in args.epsilons:
        for variant in ("uniform", "ddpm-model/uniform", "ddpm", "diffusion dp-sgd", "diffusion two-stage"):
            sel = [r for r in results if r["eps"] == eps and r["variant"] == variant]
            if not sel:
                continue

            def ms(key):
                v = np.array([r[key] for r in sel])
                return f"{v.mean():.4f} ± {v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else 0:.4f}"

            kept = "yes" if all(r.get("bins_kept", True) for r in sel) else "NO"
            fit_s = np.mean([r["fit_s"] for r in sel]) if "fit_s" in sel[0] else float("nan")
            print(f"| {eps:g} | {variant} | {ms('w1')} | {ms('corr')} | {ms('tv2')} | {ms('tv3')} | {fit_s:.0f} | "
                  f"{kept if variant == 'ddpm' else ''} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
