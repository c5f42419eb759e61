"""Wall time of the DDPM refiner end to end, per PyTorch device, on ggplot2::diamonds.

For each device: MST fitted with ``refiner="uniform"`` (the marginal path alone) and with
``refiner="ddpm"`` (same budget, 15% of it to DP-SGD), then 53,940 rows sampled. The
difference of the two fit times is the refiner's cost; JAX (Private-PGM) runs on its own
default platform in both, so only the refiner moves between devices. Each device is
warmed up first (a fit on 2,000 rows: CUDA context, kernels), outside the timings.

    python benchmarks/refiner_device_time.py --devices cuda cpu
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


def timed(refiner: str, device: str, df, schema, ranges, epsilon: float, seed: int) -> tuple[float, float, float]:
    syn = dq.MarginalSynthesizer(epsilon=epsilon, schema=schema, refiner=refiner, device=device, random_state=seed, verbose=False)
    out, fit, sample = fit_and_sample_timed(syn, df)
    return fit, sample, dq.evaluation.mean_wasserstein(df, out, ranges)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", nargs="+", default=["auto"])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    df, schema, ranges = diamonds()
    print(f"# diamonds ({len(df):,} rows), MST eps={args.epsilon}, seed {args.seed} (not for release)")
    print("| torch device | refiner | fit s | sample s | W1 |")
    print("|---|---|---|---|---|")
    for device in args.devices:
        timed("ddpm", device, df.sample(2000, random_state=0), schema, ranges, args.epsilon, args.seed)
        for refiner in ("uniform", "ddpm"):
            fit, sample, w1 = timed(refiner, device, df, schema, ranges, args.epsilon, args.seed)
            print(f"| {device} | {refiner} | {fit:.1f} | {sample:.1f} | {w1:.4f} |", flush=True)


if __name__ == "__main__":
    main()
