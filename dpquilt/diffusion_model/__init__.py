"""Gaussian diffusion on table rows: the network, its noise schedule, its training and sampling,
and the map from rows to vectors and back.

The standalone :class:`~dpquilt.synthesizers.diffusion.DiffusionSynthesizer` trains one on
all columns; the DDPM refiner (:mod:`dpquilt.refiners.ddpm`) trains one on numeric
positions inside their bins.
"""

from .gaussian_diffusion import DDPMSettings, GaussianDiffusion

__all__ = ["DDPMSettings", "GaussianDiffusion"]
