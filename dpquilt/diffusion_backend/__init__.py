"""Refiners that decode binned numeric columns to values (see DESIGN.md, "diffusion_backend").

Only :class:`UniformInBin` exists so far; the DP-SGD diffusion refiner comes later.
"""

from typing import Protocol

import numpy as np

from ..schema import NumericColumn
from .uniform import UniformInBin


class Refiner(Protocol):
    """Chooses a value inside each sampled bin of a numeric column."""

    def values_in_bins(
        self, spec: NumericColumn, edges: np.ndarray, bins: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray: ...


__all__ = ["Refiner", "UniformInBin"]
