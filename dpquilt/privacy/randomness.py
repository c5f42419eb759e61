"""One fit's randomness, from one place: secure for a release, or seeded for experiments.

A fit draws randomness for several jobs: the mechanisms' noise, DP-SGD's Poisson samples and
noise, a network's initial weights, the diffusion times of its loss, the records sampled
from a first stage. :class:`Randomness` holds all of it. It is made once per fit from the
estimator's ``random_state`` and passed explicitly to every part that draws.

* ``random_state=None``: the mechanisms use OpenDP's secure samplers (:class:`SecureNoise`),
  and every other stream is seeded with 128 bits from the operating system's secure source.
  DP-SGD adds its own secure-mode noise (:func:`dpquilt.dpsgd.clipping.secure_noise_generator`)
  when :attr:`Randomness.secure` is set.
* an int or a ``numpy.random.Generator``: the mechanisms draw from that generator
  (:class:`SeededNoise`), and each other job gets its own stream, derived from the seed and
  the job's name (``numpy.random.SeedSequence`` spawn keys). A seeded fit repeats exactly.
  Its noise is not for release.

An estimator's ``random_state`` may also be a :class:`Randomness` itself (it passes through
:meth:`Randomness.of`): the white-box privacy tests hand a fit a recording noise source so.
"""

from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass

import numpy as np

from .noise import NoiseSource, RandomState, make_noise_source

__all__ = ["Randomness"]


@dataclass(frozen=True)
class Randomness:
    """The noise source and the derived generators of one fit.

    Attributes
    ----------
    noise : NoiseSource
        The mechanisms' noise.
    seed : numpy.random.SeedSequence or None
        The root of the derived streams; ``None`` when secure.

    Examples
    --------
    >>> seeded = Randomness.of(7)
    >>> seeded.secure, seeded.generator("weights").random() == Randomness.of(7).generator("weights").random()
    (False, True)
    >>> seeded.generator("weights").random() == seeded.generator("sampling").random()  # one stream per job
    False
    >>> Randomness.of(None).secure
    True
    """

    noise: NoiseSource
    seed: np.random.SeedSequence | None = None

    @classmethod
    def of(cls, random_state: RandomState | Randomness) -> Randomness:
        """Secure for ``None``; seeded from an int or a Generator (a Randomness passes through).

        Raises
        ------
        TypeError
            For anything else, naming what to pass (:func:`~dpquilt.privacy.noise.make_noise_source`).
        """
        if isinstance(random_state, Randomness):
            return random_state
        noise = make_noise_source(random_state)  # refuses anything but None, an int or a Generator
        if random_state is None:
            return cls(noise, None)
        if isinstance(random_state, np.random.Generator):  # the jobs' streams from the generator's own seed
            return cls(noise, random_state.bit_generator.seed_seq)
        return cls(noise, np.random.SeedSequence(int(random_state)))

    @property
    def secure(self) -> bool:
        """Whether this is a fit for release (no seed)."""
        return self.seed is None

    def generator(self, job: str) -> np.random.Generator:
        """A generator for ``job``: derived from the seed and the job's name (the same name gives
        the same stream, so name each job once per fit), or, when secure, seeded with 128 bits
        from the operating system."""
        if self.seed is None:
            return np.random.default_rng(secrets.randbits(128))
        key = zlib.crc32(job.encode())
        return np.random.default_rng(np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, key)))
