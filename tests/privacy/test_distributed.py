"""The distributed discrete Gaussian's cost (Kairouz, Liu and Steinke 2021, Theorem 2)."""

import math

import numpy as np
import pytest

from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.conversions import rho_of_gaussian
from dpquilt.privacy.distributed import (
    party_sigma,
    rho_of_distributed_discrete_gaussian,
    sigma_for_distributed_rho,
    tau_of_sum,
)
from dpquilt.privacy.mechanisms import spend_distributed_gaussian
from dpquilt.privacy.noise import SeededNoise


def test_one_party_is_the_discrete_gaussian():
    assert rho_of_distributed_discrete_gaussian(3.0, 1, 1.0, 1.0, 50) == pytest.approx(rho_of_gaussian(3.0))


@pytest.mark.parametrize("parties", [2, 5, 10])
def test_many_parties_cost_at_least_the_central_gaussian_of_the_summed_variance(parties):
    for sigma in (0.6, 1.0, 3.0, 30.0):
        share = party_sigma(sigma, parties)
        if share < 0.5:
            continue
        rho = rho_of_distributed_discrete_gaussian(share, parties, 1.0, 1.0, 100)
        central = rho_of_gaussian(sigma)
        assert rho >= central
        # the excess is tau: negligible once each share has scale >= 2
        if share >= 2:
            assert rho <= central * (1 + 1e-12)


def test_tau_by_hand():
    s = 0.8
    expected = 10 * (math.exp(-2 * math.pi**2 * s**2 * 1 / 2) + math.exp(-2 * math.pi**2 * s**2 * 2 / 3))
    assert tau_of_sum(s, 3) == pytest.approx(expected)


def test_small_shares_are_refused():
    with pytest.raises(ValueError, match="must be >= 0.5"):
        rho_of_distributed_discrete_gaussian(0.3, 4, 1.0, 1.0, 10)


@pytest.mark.parametrize("rho,parties", [(0.5, 3), (1e-3, 10), (2.0, 2)])
def test_solved_sigma_spends_at_most_rho_and_barely_less(rho, parties):
    sigma = sigma_for_distributed_rho(rho, parties, 1.0, 1.0, 1000)
    cost = rho_of_distributed_discrete_gaussian(sigma / math.sqrt(parties), parties, 1.0, 1.0, 1000)
    assert cost <= rho
    assert cost >= rho * (1 - 1e-3)


def test_spend_records_the_distributed_cost():
    acc = Accountant(1.0, 1e-9)
    spend_distributed_gaussian("marginal ('a',)", 10.0, 4, acc)
    (entry,) = acc.ledger
    assert entry.noise_scale == 10.0 and "4 honest shares" in entry.mechanism
    assert entry.rho == pytest.approx(1 / 200)


def test_sum_of_shares_has_the_total_variance():
    """Each of t parties adds N_Z(0, sigma^2/t): the sum's variance is sigma^2."""
    noise = SeededNoise(np.random.default_rng(0))
    sigma, t = 6.0, 4
    share = party_sigma(sigma, t)
    total = sum(noise.discrete_gaussian(np.zeros(200_000, dtype=np.int64), share) for _ in range(t))
    assert total.var() == pytest.approx(sigma**2, rel=0.02)
