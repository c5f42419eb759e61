"""Gaussian diffusion on table features: the network, its loss, its sampler, its training.

Shared by the DDPM refiner (features = within-bin positions, conditioned on codes) and
the standalone :class:`~dpquilt.synthesizers.diffusion.DiffusionSynthesizer`
(features = scaled numeric values and one-hot codes, unconditioned). The loss is the
"simple" objective of Ho et al. (2020, eq. 14) averaged over ``K`` draws of
``(t, eps)`` per record (noise multiplicity, Dockhorn et al. 2023, sec. 3.2) and over
the present features; sampling is their Algorithm 2 with the cosine schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..dpsgd.training import DPSGDPlan, DPSGDSettings, plan_dpsgd, torch_generator, train_dpsgd, train_nonprivate
from ..privacy.accountant import Accountant
from ..privacy.randomness import Randomness
from .schedule import CosineSchedule, time_features

__all__ = ["DDPMSettings", "FEW_STEPS", "GaussianDiffusion"]

log = logging.getLogger(__name__)

#: Below this many DP-SGD steps a warning says the model will learn little: on
#: modeldata::credit_data (4,454 rows) the defaults give 44 steps and the standalone
#: model's categorical columns came out near uniform; on diamonds (53,940 rows, 527
#: steps) it learned (README, "Compare methods on your table").
FEW_STEPS = 200


@dataclass(frozen=True)
class DDPMSettings:
    """Public settings of a diffusion model and its training.

    Parameters
    ----------
    hidden, depth : int
        Width and number of hidden layers of the denoiser (small models suit DP-SGD:
        the noise's norm grows with the square root of the parameter count).
    time_dim : int
        Width of the step features.
    diffusion_steps : int
        ``T``.
    noise_draws : int
        ``K``: ``(t, eps)`` draws per record per step (noise multiplicity).
    training : DPSGDSettings
        Batch size, epochs, learning rate, clipping norm.
    sample_batch : int
        Records denoised at once when sampling.

    Examples
    --------
    >>> s = DDPMSettings(hidden=32, training=DPSGDSettings(epochs=5))
    >>> s.hidden, s.depth, s.training.epochs
    (32, 2, 5)
    """

    hidden: int = 64
    depth: int = 2
    time_dim: int = 32
    diffusion_steps: int = 100
    noise_draws: int = 8
    training: DPSGDSettings = field(default_factory=DPSGDSettings)
    sample_batch: int = 32_768

    def __post_init__(self) -> None:
        for name in ("hidden", "depth", "time_dim", "noise_draws", "sample_batch"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and value >= (0 if name == "depth" else 1)):
                raise ValueError(f"DDPMSettings: {name} must be a positive integer, got {value!r}")
        CosineSchedule(self.diffusion_steps)


class GaussianDiffusion:
    """A noise-prediction network over ``n_targets`` features in ``[-1, 1]``, optionally conditioned on codes.

    Parameters
    ----------
    sizes : sequence of int
        Codes per conditioning column (empty: unconditional).
    n_targets : int
        Features diffused.
    settings : DDPMSettings
    device : torch.device
    init : Generator
        The initial weights' randomness (for a release, a generator seeded from the OS's
        secure source: :meth:`~dpquilt.privacy.randomness.Randomness.generator`).

    Examples
    --------
    One feature near -0.5 for code 0 and +0.5 for code 1, learned with DP-SGD at
    epsilon=10 (seeded: not for release):

    >>> from dpquilt.dpsgd.training import DPSGDSettings, torch_generator
    >>> from dpquilt.privacy import Accountant, Randomness
    >>> randomness = Randomness.of(0)
    >>> rng = randomness.generator("example data")
    >>> codes = rng.integers(0, 2, (400, 1))
    >>> x0 = (codes - 0.5) + 0.1 * rng.standard_normal((400, 1))
    >>> training = DPSGDSettings(batch_size=100, epochs=20, learning_rate=0.02)
    >>> settings = DDPMSettings(hidden=32, diffusion_steps=20, training=training)
    >>> diffusion = GaussianDiffusion([2], 1, settings, "cpu", randomness.generator("initial weights"))
    >>> plan, losses = diffusion.fit_private(x0, np.ones_like(x0, dtype=bool), codes, Accountant(10.0, 1e-6), 400, "example",
    ...                                      randomness)
    >>> x = diffusion.sample(np.repeat([[0], [1]], 200, axis=0), torch_generator(rng, "cpu"))
    >>> x.shape, bool(x[:200].mean() < -0.3), bool(x[200:].mean() > 0.3)
    ((400, 1), True, True)
    """

    def __init__(self, sizes: Sequence[int], n_targets: int, settings: DDPMSettings, device, init: np.random.Generator) -> None:
        from .denoiser import ConditionalDenoiser, offsets_of

        self.settings = settings
        self.device = device
        self.n_targets = n_targets
        self.schedule = CosineSchedule(settings.diffusion_steps)
        self.offsets = np.asarray(offsets_of(sizes), dtype=np.int64)
        self.model = ConditionalDenoiser(
            int(sum(sizes)),
            len(sizes),
            n_targets,
            settings.time_dim,
            settings.hidden,
            settings.depth,
            generator=torch_generator(init, "cpu"),
        ).to(device)

    def record_loss(self, x0: np.ndarray, present: np.ndarray, codes: np.ndarray):
        """``loss(module, rows, generator) -> (B,)``: each sampled record's denoising loss on ``x0``
        (``present`` masks missing features), ``codes`` conditioning; for :func:`.dpsgd.train_dpsgd`."""
        import torch

        dev, s = self.device, self.settings
        x0_t = torch.as_tensor(np.where(present, x0, 0.0), dtype=torch.float32, device=dev)
        mask = torch.as_tensor(present, dtype=torch.float32, device=dev)
        cond = torch.as_tensor(codes + self.offsets, device=dev)
        abar = torch.as_tensor(self.schedule.alpha_bar, dtype=torch.float32, device=dev)
        k, steps, d = s.noise_draws, s.diffusion_steps, max(self.n_targets, 1)

        def record_loss(module, rows, generator):
            idx = torch.as_tensor(rows, device=dev)
            b = idx.numel()
            t = torch.randint(0, steps, (b, k), generator=generator, device=dev)
            eps = torch.randn((b, k, d), generator=generator, device=dev)
            a = abar[t].unsqueeze(-1)
            x_t = a.sqrt() * x0_t[idx].unsqueeze(1) + (1.0 - a).sqrt() * eps
            pred = module(x_t, time_features(t, steps, s.time_dim), cond[idx])
            return ((pred - eps) ** 2 * mask[idx].unsqueeze(1)).sum(dim=(1, 2)) / (k * d)

        return record_loss

    def fit_private(
        self,
        x0: np.ndarray,
        present: np.ndarray,
        codes: np.ndarray,
        accountant: Accountant,
        public_rows: float,
        what: str,
        randomness: Randomness,
        progress: bool = False,
    ) -> tuple[DPSGDPlan, list[float]]:
        """DP-SGD on private features ``x0`` ``(n, n_targets)`` (``present`` masks missing ones) and ``codes``.

        Spends all that is left of ``accountant``; returns the plan and the per-step losses.
        """
        plan = plan_dpsgd(self.settings.training, public_rows, accountant)
        if plan.steps < FEW_STEPS:
            t = self.settings.training
            log.warning(
                "%s: only %d DP-SGD steps (batch %d, %g epochs over about %d rows); the model will learn little. "
                "Raise settings.training.epochs or lower batch_size (the budget is spread over more, noisier steps), "
                "or use the marginal path", what, plan.steps, t.batch_size, t.epochs, int(public_rows),
            )
        loss = self.record_loss(x0, present, codes)
        losses = train_dpsgd(
            self.model, loss, x0.shape[0], plan, self.settings.training, accountant, what, randomness, self.device, progress
        )
        self.model.eval()
        return plan, losses

    def fit_public(
        self, x0: np.ndarray, present: np.ndarray, codes: np.ndarray, rng: np.random.Generator, progress: bool = False
    ) -> list[float]:
        """Plain training on features that are already public (post-processing of a DP release)."""
        loss = self.record_loss(x0, present, codes)
        losses = train_nonprivate(self.model, loss, x0.shape[0], self.settings.training, rng, self.device, progress)
        self.model.eval()
        return losses

    def sample(self, codes: np.ndarray, generator, progress: bool = False) -> np.ndarray:
        """Features in ``[-1, 1]`` for records with ``codes`` ``(n, columns)`` (Ho et al. 2020, Algorithm 2)."""
        import torch
        from tqdm.auto import tqdm

        s, dev, d = self.settings, self.device, self.n_targets
        chunks = []
        bar = tqdm(total=codes.shape[0], desc="sampling (reverse diffusion)", unit="row", disable=not progress, leave=False)
        with torch.no_grad(), bar:
            for start in range(0, codes.shape[0], s.sample_batch):
                cond = torch.as_tensor(codes[start : start + s.sample_batch] + self.offsets, device=dev)
                b = cond.shape[0]
                x = torch.randn((b, 1, d), generator=generator, device=dev)
                for t in reversed(range(s.diffusion_steps)):
                    steps = torch.full((b, 1), t, device=dev)
                    eps = self.model(x, time_features(steps, s.diffusion_steps, s.time_dim), cond)
                    noise = torch.randn(x.shape, generator=generator, device=dev) if t > 0 else None
                    x = self.schedule.reverse_step(x, eps, t, noise)
                chunks.append(x[:, 0, :].clamp(-1.0, 1.0).cpu().numpy().astype(np.float64))
                bar.update(b)
        return np.concatenate(chunks, axis=0) if chunks else np.zeros((0, d))
