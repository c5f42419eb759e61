"""DP-SGD in PyTorch: Poisson sampling, per-record clipping in one backward pass, noise, and the device.

The diffusion model (:mod:`dpquilt.diffusion_model`) and the DDPM refiner
(:mod:`dpquilt.refiners.ddpm`) train with it; every run spends through the accountant
(:func:`dpquilt.privacy.subsampled_gaussian.spend_dpsgd`).
"""

from .training import DPSGDPlan, DPSGDSettings, plan_dpsgd, train_dpsgd

__all__ = ["DPSGDPlan", "DPSGDSettings", "plan_dpsgd", "train_dpsgd"]
