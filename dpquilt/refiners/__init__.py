"""Refiners: backends that place numeric values inside their bins (see docs/design.md).

A backend is fitted on private codes and within-bin positions (spending budget through
the accountant if it reads them) and then samples positions for synthetic records:

* ``"histogram"`` (:class:`HistogramRefiner`): a fine noisy histogram of each numeric
  column decides where in the bin (the marginal path's default);
* ``"uniform"`` (:class:`UniformBackend`): uniform in the bin; spends nothing.
* ``"ddpm"`` (:class:`DDPMRefiner`): a conditional DDPM trained with DP-SGD.

PyTorch and Opacus are needed only for ``"ddpm"`` (``pip install 'dpquilt[diffusion]'``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..diffusion_model.gaussian_diffusion import DDPMSettings
from ..dpsgd.training import DPSGDSettings
from .histogram import HistogramRefiner
from .layout import Layout
from .uniform import UniformBackend, uniform_positions

__all__ = [
    "Backend", "BACKENDS", "DDPMSettings", "DPSGDSettings", "HistogramRefiner", "Layout", "UniformBackend",
    "make_backend", "uniform_positions",
]

BACKENDS = ("histogram", "uniform", "ddpm")


class Backend(Protocol):
    """Learns where values lie inside their bins; samples positions for given codes.

    Any object with this ``name``, ``fit`` and ``sample`` can be passed as a
    synthesizer's ``refiner=``; ``fit`` must spend every read of private data through
    the accountant it is given. A fitted backend may hold ``notes_``, lines of public
    facts for the privacy report (the DDPM refiner names its noise source there).

    Examples
    --------
    >>> class Midpoint:  # every value at the middle of its bin; reads no private data
    ...     name = "midpoint"
    ...     def fit(self, layout, codes=None, targets=None, accountant=None, device="auto", **options):
    ...         self.layout_ = layout
    ...         return self
    ...     def sample(self, data, rng):
    ...         u = UniformBackend().fit(self.layout_).sample(data, rng)
    ...         return {c: np.where(np.isnan(v), np.nan, 0.5) for c, v in u.items()}
    >>> make_backend(Midpoint()).name
    'midpoint'
    """

    name: str

    def fit(self, layout: Layout, codes: np.ndarray, targets: np.ndarray, accountant, device="auto", **options) -> Backend:
        """Fit on private ``codes`` ``(n, columns)`` and ``targets`` ``(n, learned)``; spend via ``accountant``."""

    def sample(self, data, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Position in ``[0, 1)`` of every numeric column's value for records with codes ``data``
        (a :class:`~dpquilt.schema.dataset.Dataset`; NaN where the code is missing)."""


def make_backend(backend, settings=None) -> Backend:
    """A backend from its name (``"histogram"``, ``"uniform"`` or ``"ddpm"``) or a backend object, passed through.

    Examples
    --------
    >>> make_backend("uniform").name
    'uniform'
    """
    if not isinstance(backend, str):
        if not (hasattr(backend, "fit") and hasattr(backend, "sample")):
            raise TypeError(f"refiner must be one of {list(BACKENDS)} or an object with fit() and sample(), got {backend!r}")
        return backend
    if backend == "uniform":
        return UniformBackend()
    if backend == "histogram":
        return HistogramRefiner()
    if backend == "ddpm":
        from .ddpm import DDPMRefiner

        return DDPMRefiner(settings)
    raise ValueError(f"refiner={backend!r} is not available; choose one of {list(BACKENDS)}")
