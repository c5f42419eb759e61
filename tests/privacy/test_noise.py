"""The noise has the distribution it claims."""

import math

import numpy as np
import pytest

from dpquilt.privacy.noise import SecureNoise, SeededNoise, make_noise_source


def discrete_gaussian_variance(sigma: float) -> float:
    z = np.arange(-int(40 * sigma) - 50, int(40 * sigma) + 51, dtype=float)
    w = np.exp(-(z**2) / (2 * sigma**2))
    return float((w * z**2).sum() / w.sum())


@pytest.mark.parametrize("sigma", [0.7, 3.0, 25.0])
def test_seeded_discrete_gaussian_variance(sigma):
    n = 200_000
    draws = SeededNoise(np.random.default_rng(7)).discrete_gaussian(np.zeros(n, dtype=np.int64), sigma)
    assert draws.dtype == np.int64
    var = discrete_gaussian_variance(sigma)
    # the sample variance has standard error about var * sqrt(2/n)
    assert abs(draws.var() - var) < 5 * var * math.sqrt(2 / n)
    assert abs(draws.mean()) < 5 * math.sqrt(var / n)


def test_seeded_discrete_gaussian_pmf():
    sigma = 1.5
    draws = SeededNoise(np.random.default_rng(3)).discrete_gaussian(np.zeros(100_000, dtype=np.int64), sigma)
    z = np.arange(-4, 5)
    w = np.exp(-(np.arange(-60, 61) ** 2) / (2 * sigma**2))
    pmf = np.exp(-(z**2) / (2 * sigma**2)) / w.sum()
    freq = np.array([(draws == k).mean() for k in z])
    assert np.all(np.abs(freq - pmf) < 5 * np.sqrt(pmf * (1 - pmf) / draws.size))


def test_secure_discrete_gaussian_variance_and_offset():
    sigma, n = 4.0, 20_000
    values = np.full(n, 1000, dtype=np.int64)
    draws = SecureNoise().discrete_gaussian(values, sigma) - 1000
    var = discrete_gaussian_variance(sigma)
    assert abs(draws.var() - var) < 6 * var * math.sqrt(2 / n)
    assert abs(draws.mean()) < 6 * math.sqrt(var / n)


@pytest.mark.parametrize("source", [SeededNoise(np.random.default_rng(11)), SecureNoise()], ids=["seeded", "secure"])
def test_gumbel_argmax_is_the_exponential_mechanism(source):
    scores = np.array([0.0, 1.0, 2.0])
    scale = 1.0
    n = 6000
    picks = np.bincount([source.gumbel_argmax(scores, scale) for _ in range(n)], minlength=3) / n
    expected = np.exp(scores / scale) / np.exp(scores / scale).sum()
    assert np.all(np.abs(picks - expected) < 5 * np.sqrt(expected * (1 - expected) / n))


def test_make_noise_source():
    assert make_noise_source(None).secure
    assert not make_noise_source(0).secure
    assert not make_noise_source(np.random.default_rng(0)).secure
    with pytest.raises(TypeError, match="random_state must be None"):
        make_noise_source("seed")
    with pytest.raises(TypeError, match="random_state must be None"):
        make_noise_source(True)


def test_seeded_noise_is_reproducible():
    a = SeededNoise(np.random.default_rng(5)).discrete_gaussian(np.zeros(50, dtype=np.int64), 3.0)
    b = SeededNoise(np.random.default_rng(5)).discrete_gaussian(np.zeros(50, dtype=np.int64), 3.0)
    assert np.array_equal(a, b)
