"""Each mechanism's noise scale and cost, against its formula and OpenDP's privacy maps."""

import numpy as np
import pytest

from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.mechanisms import (
    discrete_gaussian_tail,
    exponential_mechanism,
    gaussian_counts,
    quantile_scores,
    sigma_for_rho,
    threshold_for_delta,
    thresholded_counts,
)
from dpquilt.privacy.noise import SeededNoise


@pytest.fixture()
def noise():
    return SeededNoise(np.random.default_rng(0))


def opendp():
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def test_gaussian_counts_cost_matches_opendp_privacy_map(noise):
    acc = Accountant(1.0, 1e-9)
    sigma = 7.5
    gaussian_counts(np.array([3, 4, 5]), sigma, "m", acc, noise)
    (e,) = acc.ledger
    dp = opendp()
    meas = dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T="i64"), scale=sigma)
    assert e.rho == pytest.approx(meas.map(1), rel=1e-12)
    assert e.noise_scale == sigma and e.mechanism == "discrete Gaussian" and e.delta == 0


def test_sigma_for_rho_inverts_the_cost():
    assert 1 / (2 * sigma_for_rho(0.02) ** 2) == pytest.approx(0.02)


def test_exponential_mechanism_scale_and_cost_match_opendp(noise):
    acc = Accountant(1.0, 1e-9)
    epsilon, sensitivity = 0.3, 2.0
    exponential_mechanism(np.arange(5.0), sensitivity, epsilon, "pick", acc, noise)
    (e,) = acc.ledger
    assert e.noise_scale == pytest.approx(2 * sensitivity / epsilon)
    assert e.rho == pytest.approx(epsilon**2 / 8)
    dp = opendp()
    meas = dp.m.make_noisy_max(
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.linf_distance(T=float),
        dp.zero_concentrated_divergence(),
        scale=e.noise_scale,
    )
    assert meas.map(sensitivity) == pytest.approx(e.rho, rel=1e-9)


def test_quantile_scores_have_sensitivity_one():
    rng = np.random.default_rng(1)
    x = np.sort(rng.normal(size=300))
    cand = np.linspace(-3, 3, 61)
    for alpha in (0.01, 0.5, 0.99):
        base = quantile_scores(x, cand, alpha)
        for extra in (-10.0, 0.0, 10.0):
            neighbour = np.sort(np.append(x, extra))
            assert np.max(np.abs(quantile_scores(neighbour, cand, alpha) - base)) <= 1.0


def test_threshold_bounds_delta():
    for sigma in (0.8, 5.0, 40.0):
        for delta in (1e-6, 1e-10):
            t = threshold_for_delta(sigma, delta)
            assert discrete_gaussian_tail(sigma, t - 1) <= delta
            assert discrete_gaussian_tail(sigma, t - 2) > delta  # the smallest such threshold


def test_thresholded_counts_cost_and_no_invented_keys(noise):
    acc = Accountant(10.0, 1e-6)
    counts = {"a": 10_000, "b": 1}
    released = thresholded_counts(counts, 5.0, 1e-8, "cats", acc, noise)
    assert set(released) <= set(counts)
    assert "a" in released and "b" not in released
    (e,) = acc.ledger
    assert e.delta == 1e-8 and e.rho == pytest.approx(1 / 50)
    assert f"T={threshold_for_delta(5.0, 1e-8)}" in e.mechanism
