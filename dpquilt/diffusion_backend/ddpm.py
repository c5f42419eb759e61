"""DDPM refiner: where inside its bin each numeric value lies, learned with DP-SGD.

A conditional DDPM (Ho et al. 2020) over the within-bin positions ``u`` of the
numeric columns, mapped to ``x_0 = 2u - 1``, conditioned on embeddings of every
column's code. Sampling conditions on the *synthetic* record's codes and keeps each
value inside its sampled bin, so the graphical model's marginals are kept exactly.
Training is DP-SGD (:mod:`.dpsgd`) with DPDM's noise multiplicity (Dockhorn et al.,
"Differentially Private Diffusion Models", TMLR 2023, sec. 3.2): each record's loss
averages ``K`` draws of ``(t, eps)`` before its gradient is clipped, which lowers the
gradient's variance at no privacy cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..privacy.accountant import Accountant
from .device import resolve_device
from .dpsgd import DPSGDSettings, plan_dpsgd, torch_generator, train_dpsgd
from .layout import Layout
from .schedule import CosineSchedule, time_features
from .uniform import uniform_positions

__all__ = ["DDPMSettings", "DDPMRefiner"]


@dataclass(frozen=True)
class DDPMSettings:
    """Public settings of the DDPM refiner.

    Parameters
    ----------
    hidden, depth : int
        Width and number of hidden layers of the denoiser.
    embedding_dim : int
        Embedding width per conditioning column.
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
    """

    hidden: int = 256
    depth: int = 2
    embedding_dim: int = 8
    time_dim: int = 32
    diffusion_steps: int = 100
    noise_draws: int = 4
    training: DPSGDSettings = field(default_factory=DPSGDSettings)
    sample_batch: int = 32_768

    def __post_init__(self) -> None:
        for name in ("hidden", "depth", "embedding_dim", "time_dim", "noise_draws", "sample_batch"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and value >= (0 if name == "depth" else 1)):
                raise ValueError(f"DDPMSettings: {name} must be a positive integer, got {value!r}")
        CosineSchedule(self.diffusion_steps)


class DDPMRefiner:
    """A DP-SGD conditional DDPM of within-bin positions.

    Parameters
    ----------
    settings : DDPMSettings, optional

    Attributes
    ----------
    plan_ : DPSGDPlan
        Noise multiplier, sample rate and steps actually used.
    losses_ : list of float
        Per-step training loss (un-noised; for the curator's diagnostics only).

    Examples
    --------
    >>> from dpquilt.privacy import Accountant
    >>> from dpquilt.schema import NumericColumn, Schema
    >>> lay = Layout.of(Schema([NumericColumn("x", lower=0, upper=1, bins=2)]))
    >>> fast = DDPMSettings(hidden=16, diffusion_steps=10, training=DPSGDSettings(batch_size=50, epochs=1))
    >>> ref = DDPMRefiner(fast).fit(lay, np.zeros((200, 1), int), np.full((200, 1), 0.25),
    ...     Accountant(1.0, 1e-6), "cpu", public_rows=200, rng=np.random.default_rng(0))  # doctest: +SKIP
    >>> ref.sample(np.zeros((3, 1), int), np.random.default_rng(0))["x"].shape  # doctest: +SKIP
    (3,)
    """

    name = "ddpm"

    def __init__(self, settings: DDPMSettings | None = None) -> None:
        self.settings = settings

    def fit(
        self,
        layout: Layout,
        codes: np.ndarray,
        targets: np.ndarray,
        accountant: Accountant,
        device="auto",
        *,
        public_rows: float,
        rng: np.random.Generator | None = None,
        progress: bool = False,
    ) -> DDPMRefiner:
        """Train on private ``codes`` ``(n, columns)`` and ``targets`` ``(n, learned)`` (NaN = missing).

        Spends all that is left of ``accountant`` on DP-SGD (the noise multiplier is
        solved for). ``public_rows`` is a released or public record count.
        """
        import torch

        from .denoiser import ConditionalDenoiser, offsets_of

        settings = self.settings or DDPMSettings()
        codes = np.asarray(codes, dtype=np.int64)
        targets = np.asarray(targets, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != len(layout.columns):
            raise ValueError(f"codes must be (rows, {len(layout.columns)}), got {codes.shape}")
        if targets.shape != (codes.shape[0], len(layout.learned)):
            raise ValueError(f"targets must be (rows, {len(layout.learned)}), got {targets.shape}")
        self.layout_ = layout
        self.device_ = resolve_device(device) if isinstance(device, str) else device
        self.schedule_ = CosineSchedule(settings.diffusion_steps)
        self.offsets_ = np.asarray(offsets_of(layout.sizes), dtype=np.int64)
        model = ConditionalDenoiser(
            int(sum(layout.sizes)),
            len(layout.columns),
            len(layout.learned),
            settings.time_dim,
            settings.hidden,
            settings.depth,
            settings.embedding_dim,
            generator=torch_generator(rng, "cpu"),
        )
        model.to(self.device_)
        dev = self.device_
        present = ~np.isnan(targets)
        x0 = torch.as_tensor(np.where(present, 2.0 * np.nan_to_num(targets) - 1.0, 0.0), dtype=torch.float32, device=dev)
        mask = torch.as_tensor(present, dtype=torch.float32, device=dev)
        cond = torch.as_tensor(codes + self.offsets_, device=dev)
        abar = torch.as_tensor(self.schedule_.alpha_bar, dtype=torch.float32, device=dev)
        k, steps, d = settings.noise_draws, settings.diffusion_steps, max(len(layout.learned), 1)

        def record_loss(module, rows, generator):
            idx = torch.as_tensor(rows, device=dev)
            b = idx.numel()
            t = torch.randint(0, steps, (b, k), generator=generator, device=dev)
            eps = torch.randn((b, k, x0.shape[1]), generator=generator, device=dev)
            a = abar[t].unsqueeze(-1)
            x_t = a.sqrt() * x0[idx].unsqueeze(1) + (1.0 - a).sqrt() * eps
            pred = module(x_t, time_features(t, steps, settings.time_dim), cond[idx])
            return ((pred - eps) ** 2 * mask[idx].unsqueeze(1)).sum(dim=(1, 2)) / (k * d)

        self.plan_ = plan_dpsgd(settings.training, public_rows, accountant)
        self.losses_ = train_dpsgd(
            model,
            record_loss,
            codes.shape[0],
            self.plan_,
            settings.training,
            accountant,
            "refiner: DDPM within-bin positions (DP-SGD)",
            rng,
            dev,
            progress,
        )
        self.model_ = model.eval()
        self.settings_ = settings
        return self

    def sample(self, codes: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Positions for the numeric columns of records with ``codes`` (post-processing).

        Learned columns come from the reverse diffusion (Ho et al. 2020, Algorithm 2);
        columns without room inside their bins are drawn uniformly.
        """
        import torch

        layout = self.layout_
        codes = np.asarray(codes, dtype=np.int64)
        by_column = layout.numeric_codes(codes)
        missing = dict(zip(layout.numeric, layout.missing_codes))
        out = uniform_positions({n: by_column[n] for n in layout.numeric if n not in layout.learned}, missing, rng)
        if not layout.learned:
            return {n: out[n] for n in layout.numeric}
        generator = torch_generator(rng, self.device_)
        x = self._reverse_diffusion(codes, generator)
        u = np.clip((x + 1.0) / 2.0, 0.0, np.nextafter(1.0, 0.0))
        for j, name in enumerate(layout.learned):
            col = u[:, j].astype(np.float64)
            if missing[name] is not None:
                col[by_column[name] == missing[name]] = np.nan
            out[name] = col
        return {n: out[n] for n in layout.numeric}

    def _reverse_diffusion(self, codes: np.ndarray, generator) -> np.ndarray:
        import torch

        s = self.settings_
        sched = self.schedule_
        dev = self.device_
        d = len(self.layout_.learned)
        chunks = []
        with torch.no_grad():
            for start in range(0, codes.shape[0], s.sample_batch):
                cond = torch.as_tensor(codes[start : start + s.sample_batch] + self.offsets_, device=dev)
                b = cond.shape[0]
                x = torch.randn((b, 1, d), generator=generator, device=dev)
                for t in reversed(range(s.diffusion_steps)):
                    steps = torch.full((b, 1), t, device=dev)
                    eps = self.model_(x, time_features(steps, s.diffusion_steps, s.time_dim), cond)
                    noise = torch.randn(x.shape, generator=generator, device=dev) if t > 0 else None
                    x = sched.reverse_step(x, eps, t, noise)
                chunks.append(x[:, 0, :].clamp(-1.0, 1.0).cpu().numpy())
        return np.concatenate(chunks, axis=0) if chunks else np.zeros((0, d))

