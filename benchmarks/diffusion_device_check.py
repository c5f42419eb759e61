"""Every diffusion variant fitted and sampled on one device: standalone DP-SGD, two-stage, MST + refiner.

On 10,000 rows of ggplot2::diamonds at epsilon 3 (seeded: not for release); prints fit and
sample time, range-scaled W1, correlation difference and the epsilon spent. The first
variant's time includes the device's start-up (CUDA context).

    python benchmarks/diffusion_device_check.py --device cuda
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dpquilt as dq  # noqa: E402
from mixed_tables import diamonds, fit_and_sample_timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    df, schema, ranges = diamonds()
    df = df.sample(args.rows, random_state=0).reset_index(drop=True)
    common = {"epsilon": 3.0, "schema": schema, "device": args.device, "random_state": 0, "verbose": False}
    variants = {
        "dp-sgd diffusion": lambda: dq.DiffusionSynthesizer(**common),
        "two-stage": lambda: dq.DiffusionSynthesizer(two_stage=True, **common),
        "mst + ddpm refiner": lambda: dq.MarginalSynthesizer(refiner="ddpm", **common),
    }
    print(f"# diamonds, {args.rows:,} rows, epsilon 3, device {args.device}")
    print("| variant | fit s | sample s | W1 | corr diff | epsilon spent |")
    print("|---|---|---|---|---|---|")
    for name, make in variants.items():
        syn = make()
        out, fit, sample = fit_and_sample_timed(syn, df)
        w1 = dq.evaluation.mean_wasserstein(df, out, ranges)
        corr = dq.evaluation.correlation_difference(df, out, list(ranges))
        print(f"| {name} | {fit:.1f} | {sample:.1f} | {w1:.4f} | {corr:.3f} | {syn.privacy_report().epsilon_spent:.3f} |", flush=True)


if __name__ == "__main__":
    main()
