"""The Gaussian diffusion: noise schedule, forward noising and the reverse sampler.

Denoising diffusion probabilistic models (Ho, Jain and Abbeel, NeurIPS 2020): the
forward process ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` (their eq. 4), a
network trained to predict ``eps`` (eq. 14, the "simple" loss), and ancestral sampling
(Algorithm 2) with the posterior variance ``beta~_t`` (eq. 7). The schedule is the
cosine schedule of Nichol and Dhariwal, "Improved DDPM" (ICML 2021, eq. 17), which
suits the few steps a tabular model needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CosineSchedule", "time_features"]


@dataclass(frozen=True)
class CosineSchedule:
    """``abar_t = f(t) / f(0)``, ``f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2)``.

    Parameters
    ----------
    steps : int
        Diffusion steps ``T``.
    offset : float, default 0.008
        ``s`` of eq. 17; keeps ``beta_t`` away from 0 near ``t = 0``.

    Examples
    --------
    >>> sched = CosineSchedule(100)
    >>> bool(sched.alpha_bar[0] > 0.99 and sched.alpha_bar[-1] < 1e-3)
    True
    """

    steps: int
    offset: float = 0.008

    def __post_init__(self) -> None:
        if not (isinstance(self.steps, (int, np.integer)) and self.steps >= 2):
            raise ValueError(f"CosineSchedule: steps must be an integer >= 2, got {self.steps!r}")

    @property
    def betas(self) -> np.ndarray:
        """``beta_t = 1 - abar_t / abar_{t-1}``, clipped to 0.999 as in the paper."""
        t = np.arange(self.steps + 1, dtype=np.float64) / self.steps
        f = np.cos((t + self.offset) / (1.0 + self.offset) * math.pi / 2.0) ** 2
        return np.clip(1.0 - f[1:] / f[:-1], 0.0, 0.999)

    @property
    def alpha_bar(self) -> np.ndarray:
        """``abar_t = prod_{s <= t} (1 - beta_s)`` for ``t = 0 .. T - 1`` (step ``t`` is the paper's ``t + 1``)."""
        return np.cumprod(1.0 - self.betas)

    @property
    def posterior_variance(self) -> np.ndarray:
        """``beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t)`` (eq. 7); 0 at the last step."""
        abar = self.alpha_bar
        prev = np.concatenate([[1.0], abar[:-1]])
        return self.betas * (1.0 - prev) / (1.0 - abar)


    def reverse_step(self, x_t, eps_hat, t: int, noise):
        """One ancestral step ``x_t -> x_{t-1}`` with the predicted ``x_0`` clipped to ``[-1, 1]``.

        ``x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)`` (eq. 4 solved for
        ``x_0``), clipped as in Ho et al.'s sampler; then the posterior mean
        ``mu~_t = beta_t sqrt(abar_{t-1}) / (1 - abar_t) x0_hat
        + (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t) x_t`` (eq. 7) plus
        ``sqrt(beta~_t) noise``. Works on numpy arrays and torch tensors alike.
        """
        abar = self.alpha_bar
        a_t = float(abar[t])
        a_prev = float(abar[t - 1]) if t > 0 else 1.0
        beta = float(self.betas[t])
        x0 = (x_t - math.sqrt(1.0 - a_t) * eps_hat) / math.sqrt(a_t)
        x0 = x0.clip(-1.0, 1.0)
        mean = (beta * math.sqrt(a_prev) / (1.0 - a_t)) * x0 + ((1.0 - a_prev) * math.sqrt(1.0 - beta) / (1.0 - a_t)) * x_t
        if t == 0:
            return mean
        return mean + math.sqrt(float(self.posterior_variance[t])) * noise


def time_features(t, steps: int, dim: int):
    """Sinusoidal features of the step (Vaswani et al. 2017, sec. 3.5), shape ``t.shape + (dim,)``.

    ``t`` is a tensor of integer steps; the features are fixed, not learned.

    Examples
    --------
    >>> import torch
    >>> time_features(torch.tensor([0, 50]), steps=100, dim=8).shape
    torch.Size([2, 8])
    """
    import torch

    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = (t.to(torch.float32) * (1000.0 / steps)).unsqueeze(-1) * freqs
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
