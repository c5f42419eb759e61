"""DP-SGD against non-private training throughput of the diffusion backends.

Trains the DDPM refiner's network (conditioned on all 10 columns' codes of
ggplot2::diamonds, 7 within-bin targets) and the standalone DiffusionSynthesizer's
network (unconditional, all columns as features) for a fixed number of steps, three ways:

* ``non-private``   plain Adam (``train_nonprivate``);
* ``dp-sgd``        our path (``train_dpsgd``): one-pass clipping (ghost norms and
  book-keeping, :mod:`dpquilt.dpsgd.clipping`), Poisson sampling, noise;
* ``opacus ghost``  Opacus's ghost clipping (two backward passes; ``--opacus``);
* ``opacus hooks``  Opacus's per-sample-gradient hooks (``--opacus``).

The two Opacus modes are references: same network, loss, sampling and noise.

and prints records per second (each record with ``K`` noise draws) and the ratio to
non-private, measured in the same run on the same device. Target (issue 5): DP-SGD at
least half the non-private throughput on GPU; on CPU, reported.

    python benchmarks/diffusion_throughput.py --device auto --steps 30 --batch 4096 --opacus
"""

from __future__ import annotations

import argparse
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

import torch  # noqa: E402

import dpquilt as dq  # noqa: E402
from dpquilt.privacy.randomness import Randomness  # noqa: E402
from dpquilt.dpsgd.device import resolve_device  # noqa: E402
from dpquilt.dpsgd.training import DPSGDPlan, DPSGDSettings, train_dpsgd, train_nonprivate  # noqa: E402
from dpquilt.diffusion_model.feature_map import FeatureMap  # noqa: E402
from dpquilt.diffusion_model.gaussian_diffusion import DDPMSettings, GaussianDiffusion  # noqa: E402
from dpquilt.refiners.layout import Layout  # noqa: E402
from dpquilt.schema.codec import encode  # noqa: E402
from dpquilt.privacy import Accountant  # noqa: E402
from dpquilt.schema.learning import merge_specs  # noqa: E402
from mixed_tables import diamonds  # noqa: E402


def problems():
    df, schema_dict, _ = diamonds()
    schema = merge_specs(df, dq.Schema.from_public(schema_dict))
    layout = Layout.of(schema)
    codes = layout.codes_of(encode(df, schema).data)
    targets = layout.targets_of(df, schema)
    fm = FeatureMap(schema)
    x, present = fm.features(df)
    return {
        "refiner": (layout.sizes, 2.0 * np.nan_to_num(targets) - 1.0, ~np.isnan(targets), codes),
        "standalone": ((), x, present, np.zeros((len(df), 0), dtype=np.int64)),
    }


def time_mode(mode, sizes, x0, present, codes, settings, steps, batch, device) -> float:
    rng = np.random.default_rng(0)
    model = GaussianDiffusion(sizes, x0.shape[1], settings, device, rng)
    loss = model.record_loss(x0, present, codes)
    n = x0.shape[0]
    q = batch / n
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if mode == "non-private":
        train = DPSGDSettings(batch_size=batch, epochs=q * steps)
        run = lambda: train_nonprivate(model.model, loss, n, train, rng, device)  # noqa: E731
    else:
        plan = DPSGDPlan(noise_multiplier=1.0, sample_rate=q, steps=steps, max_grad_norm=1.0, expected_batch_size=batch)
        if mode == "dp-sgd":
            run = lambda: train_dpsgd(model.model, loss, n, plan, DPSGDSettings(), Accountant(1e6, 1e-5), "bench", Randomness.of(0), device)  # noqa: E731
        elif mode == "opacus ghost":
            run = lambda: opacus_ghost(model.model, loss, n, plan, rng, device)  # noqa: E731
        else:
            run = lambda: opacus_hooks(model.model, loss, n, plan, rng, device)  # noqa: E731
    run()  # warm-up (kernels, allocator); timed run below
    sync()
    start = time.perf_counter()
    run()
    sync()
    return steps * batch / (time.perf_counter() - start)


def opacus_ghost(model, loss, n, plan, rng, device):
    """Opacus's ghost clipping: norms in a first backward pass, the clipped sum in a second."""
    from opacus.grad_sample import GradSampleModuleFastGradientClipping
    from opacus.optimizers import DPOptimizerFastGradientClipping
    from opacus.utils.fast_gradient_clipping_utils import DPTensorFastGradientClipping

    module = GradSampleModuleFastGradientClipping(model, batch_first=True, loss_reduction="mean", max_grad_norm=plan.max_grad_norm, use_ghost_clipping=True)
    optimizer = DPOptimizerFastGradientClipping(
        torch.optim.Adam(module.parameters(), lr=1e-3), noise_multiplier=plan.noise_multiplier,
        max_grad_norm=plan.max_grad_norm, expected_batch_size=int(plan.expected_batch_size), loss_reduction="mean",
    )
    generator = torch.Generator(device=device).manual_seed(0)
    for _ in range(plan.steps):
        rows = np.flatnonzero(rng.random(n) < plan.sample_rate)
        optimizer.zero_grad()
        DPTensorFastGradientClipping(module, optimizer, loss(module, rows, generator), "mean").backward()
        optimizer.step()
    module.to_standard_module()


def opacus_hooks(model, loss, n, plan, rng, device):
    """Opacus's classic path: per-sample gradients materialised by hooks, then clipped."""
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    module = GradSampleModule(model, loss_reduction="mean")
    optimizer = DPOptimizer(
        torch.optim.Adam(module.parameters(), lr=1e-3), noise_multiplier=plan.noise_multiplier,
        max_grad_norm=plan.max_grad_norm, expected_batch_size=int(plan.expected_batch_size),
    )
    generator = torch.Generator(device=device).manual_seed(0)
    for _ in range(plan.steps):
        rows = np.flatnonzero(rng.random(n) < plan.sample_rate)
        optimizer.zero_grad()
        loss(module, rows, generator).mean().backward()
        optimizer.step()
    module._close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--opacus", action="store_true", help="also time Opacus's ghost clipping and per-sample hooks")
    parser.add_argument("--threads", type=int, default=0, help="PyTorch CPU threads (0: its default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
    settings = DDPMSettings(hidden=args.hidden, noise_draws=args.draws)
    print(f"# diffusion training throughput on {name}; torch {torch.__version__}; batch {args.batch}, K={args.draws}, hidden {args.hidden}, {args.steps} steps")
    print("| network | mode | records/s | ratio to non-private |")
    print("|---|---|---|---|")
    modes = ["non-private", "dp-sgd"] + (["opacus ghost", "opacus hooks"] if args.opacus else [])
    for net, (sizes, x0, present, codes) in problems().items():
        base = None
        for mode in modes:
            rate = time_mode(mode, sizes, x0, present, codes, settings, args.steps, args.batch, device)
            base = base or rate
            print(f"| {net} | {mode} | {rate:,.0f} | {rate / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
