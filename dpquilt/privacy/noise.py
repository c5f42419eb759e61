"""Sources of randomness for the mechanisms: secure (OpenDP) or seeded (numpy).

A :class:`NoiseSource` draws the two kinds of noise the marginal path needs:
integer discrete Gaussian noise on counts and Gumbel noise for report-noisy-max
selection. :class:`SecureNoise` delegates to OpenDP's vetted samplers, which draw
from the operating system's cryptographically secure generator and are exact (no
floating-point sampling attacks). :class:`SeededNoise` reproduces the same
distributions from a ``numpy.random.Generator`` for tests and reproducible research;
its output is *not for release*.

Costs are never computed here: see :mod:`dpquilt.privacy.mechanisms`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["NoiseSource", "SecureNoise", "SeededNoise", "make_noise_source"]

RandomState = int | np.random.Generator | None


@runtime_checkable
class NoiseSource(Protocol):
    """Where mechanisms get their randomness.

    Examples
    --------
    >>> isinstance(SeededNoise(np.random.default_rng(0)), NoiseSource), isinstance(SecureNoise(), NoiseSource)
    (True, True)
    """

    @property
    def secure(self) -> bool:
        """True when draws come from a cryptographically secure source."""

    def discrete_gaussian(self, values: np.ndarray, sigma: float) -> np.ndarray:
        """Return ``values + Z`` with ``Z`` i.i.d. discrete Gaussian N_Z(0, sigma^2)."""

    def gumbel_argmax(self, scores: np.ndarray, scale: float) -> int:
        """Return ``argmax_i scores_i + Gumbel(0, scale)`` (report noisy max)."""


@dataclass(frozen=True)
class SecureNoise:
    """OpenDP samplers: exact discrete Gaussian [CKS20] and Gumbel noisy max.

    Both draw from OpenDP's cryptographically secure generator and refuse seeds.

    Examples
    --------
    >>> noisy = SecureNoise().discrete_gaussian(np.array([100, 200]), sigma=2.0)
    >>> noisy.dtype, noisy.shape
    (dtype('int64'), (2,))
    """

    @property
    def secure(self) -> bool:
        return True

    def discrete_gaussian(self, values: np.ndarray, sigma: float) -> np.ndarray:
        """``values + Z``, ``Z`` i.i.d. N_Z(0, sigma^2) from OpenDP's exact sampler."""
        dp = _opendp()
        meas = dp.m.make_gaussian(
            dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T="i64"), scale=float(sigma)
        )
        flat = np.asarray(values, dtype=np.int64).ravel()
        noisy = np.asarray(meas(flat.tolist()), dtype=np.int64)
        return noisy.reshape(np.shape(values))

    def gumbel_argmax(self, scores: np.ndarray, scale: float) -> int:
        """``argmax_i scores_i + Gumbel(0, scale)`` by OpenDP's noisy max."""
        dp = _opendp()
        meas = dp.m.make_noisy_max(
            dp.vector_domain(dp.atom_domain(T=float, nan=False)),
            dp.linf_distance(T=float),
            dp.zero_concentrated_divergence(),  # Gumbel noise; under max_divergence OpenDP uses exponential noise
            scale=float(scale),
        )
        return int(meas(np.asarray(scores, dtype=np.float64).tolist()))


@dataclass(frozen=True)
class SeededNoise:
    """Reproducible noise from a ``numpy.random.Generator``: not for release.

    The discrete Gaussian is sampled by Algorithm 3 of [CKS20] (rejection from a
    discrete Laplace with ``t = floor(sigma) + 1``), vectorised; acceptance tests
    use floating point, which is fine for research but not for release.

    Examples
    --------
    >>> a = SeededNoise(np.random.default_rng(0)).discrete_gaussian(np.zeros(3, dtype=int), sigma=5.0)
    >>> b = SeededNoise(np.random.default_rng(0)).discrete_gaussian(np.zeros(3, dtype=int), sigma=5.0)
    >>> bool((a == b).all()), SeededNoise(np.random.default_rng(0)).secure
    (True, False)
    """

    rng: np.random.Generator

    @property
    def secure(self) -> bool:
        return False

    def discrete_gaussian(self, values: np.ndarray, sigma: float) -> np.ndarray:
        """``values + Z``, ``Z`` i.i.d. N_Z(0, sigma^2) (seeded; not for release)."""
        values = np.asarray(values, dtype=np.int64)
        return values + self._discrete_gaussian_noise(values.size, float(sigma)).reshape(values.shape)

    def _discrete_gaussian_noise(self, size: int, sigma: float) -> np.ndarray:
        t = math.floor(sigma) + 1
        p = -math.expm1(-1.0 / t)  # success probability of the geometric, 1 - e^{-1/t}
        out = np.empty(size, dtype=np.int64)
        filled = 0
        while filled < size:
            need = size - filled
            draw = max(16, int(need * 1.5) + 16)
            y = self.rng.geometric(p, draw) - self.rng.geometric(p, draw)
            accept_prob = np.exp(-((np.abs(y) - sigma**2 / t) ** 2) / (2.0 * sigma**2))
            kept = y[self.rng.random(draw) < accept_prob][:need]
            out[filled : filled + kept.size] = kept
            filled += kept.size
        return out

    def gumbel_argmax(self, scores: np.ndarray, scale: float) -> int:
        """``argmax_i scores_i + Gumbel(0, scale)`` (seeded; not for release)."""
        scores = np.asarray(scores, dtype=np.float64)
        return int(np.argmax(scores + self.rng.gumbel(0.0, scale, scores.shape)))


def make_noise_source(random_state: RandomState) -> NoiseSource:
    """Secure noise for ``None``; seeded (not for release) noise for a seed or Generator.

    Examples
    --------
    >>> make_noise_source(None).secure
    True
    >>> make_noise_source(7).secure
    False
    """
    if random_state is None:
        return SecureNoise()
    if isinstance(random_state, np.random.Generator):
        return SeededNoise(random_state)
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return SeededNoise(np.random.default_rng(int(random_state)))
    raise TypeError(
        f"random_state must be None (secure noise), an int seed or a numpy.random.Generator, "
        f"got {type(random_state).__name__}; pass random_state=None for a release"
    )


def _opendp():
    """Import OpenDP with its 'contrib' features (needed for these samplers)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp
