"""The estimators users fit and sample: the marginal path and the diffusion path, on one base."""

from .base import NotFittedError
from .diffusion import DiffusionSynthesizer
from .marginal import MarginalSynthesizer

__all__ = ["DiffusionSynthesizer", "MarginalSynthesizer", "NotFittedError"]
