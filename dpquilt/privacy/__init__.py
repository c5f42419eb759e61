"""The one accountant and the noise primitives (see docs/design.md)."""

from .accountant import Accountant, BudgetExceededError, Expenditure, PrivacyReport
from .conversions import delta_from_rho, epsilon_from_rho, rho_from_epsilon_delta
from .noise import NoiseSource, SecureNoise, SeededNoise, make_noise_source
from .randomness import Randomness

__all__ = [
    "Accountant",
    "BudgetExceededError",
    "Expenditure",
    "PrivacyReport",
    "NoiseSource",
    "Randomness",
    "SecureNoise",
    "SeededNoise",
    "make_noise_source",
    "delta_from_rho",
    "epsilon_from_rho",
    "rho_from_epsilon_delta",
]
