"""One fit's randomness: the mechanisms' noise and every other job's stream, from one object."""

import numpy as np
import pytest

from dpquilt.privacy import Randomness, SecureNoise, SeededNoise


def test_a_seed_gives_each_job_its_own_repeatable_stream_apart_from_the_noise():
    a, b = Randomness.of(7), Randomness.of(7)
    assert not a.secure and isinstance(a.noise, SeededNoise)
    assert a.noise.rng.random() == np.random.default_rng(7).random()  # the mechanisms draw as they always did
    assert a.generator("weights").random() == b.generator("weights").random()
    draws = {job: a.generator(job).random() for job in ["weights", "sampling", "DP-SGD loss: x"]}
    assert len(set(draws.values())) == 3
    assert np.random.default_rng(7).random() not in draws.values()  # no job replays the noise stream


def test_a_generator_seeds_the_jobs_from_its_own_seed_and_keeps_its_stream_for_the_noise():
    rng = np.random.default_rng(11)
    randomness = Randomness.of(rng)
    assert randomness.noise.rng is rng
    assert randomness.generator("x").random() == Randomness.of(11).generator("x").random()


def test_secure_randomness_draws_fresh_streams_and_secure_noise():
    secure = Randomness.of(None)
    assert secure.secure and isinstance(secure.noise, SecureNoise) and secure.seed is None
    assert secure.generator("weights").random() != secure.generator("weights").random()


def test_a_wrong_random_state_is_refused_with_the_fix():
    with pytest.raises(TypeError, match="random_state=None for a release"):
        Randomness.of("7")
    assert Randomness.of(Randomness.of(3)).seed.entropy == 3
