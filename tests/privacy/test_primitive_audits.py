"""Primitive audits: the noise mechanisms, run many times on neighbouring inputs, leak no more than claimed.

Each audit also runs a deliberately broken mechanism (too little noise for its claim)
and checks that the same test catches it, so a passing audit is not a test without power.
"""

import numpy as np
import pytest

from dpquilt.evaluation.audit import epsilon_lower_bound
from dpquilt.privacy.conversions import epsilon_from_rho, rho_of_gaussian
from dpquilt.privacy.mechanisms import exponential_mechanism
from dpquilt.privacy.noise import SecureNoise, SeededNoise

DELTA = 1e-6


def counts_audit(source, sigma: float, trials: int) -> float:
    """A count of 0 (D) against 1 (D'), released with discrete Gaussian noise of ``sigma``."""
    without = source.discrete_gaussian(np.zeros(trials, dtype=np.int64), sigma)
    with_ = source.discrete_gaussian(np.ones(trials, dtype=np.int64), sigma)
    return epsilon_lower_bound(without, with_, DELTA)


@pytest.mark.parametrize("secure", [False, True], ids=["seeded", "opendp"])
def test_discrete_gaussian_counts_leak_no_more_than_their_zcdp_claim(secure):
    sigma = 3.0
    claim = epsilon_from_rho(rho_of_gaussian(sigma, 1.0), DELTA)
    source = SecureNoise() if secure else SeededNoise(np.random.default_rng(0))
    bound = counts_audit(source, sigma, 100_000 if secure else 200_000)
    assert 0.3 < bound <= claim


def test_the_counts_audit_catches_too_little_noise():
    claim = epsilon_from_rho(rho_of_gaussian(3.0, 1.0), DELTA)
    assert counts_audit(SeededNoise(np.random.default_rng(1)), 1.0, 200_000) > claim  # sigma 1 claimed as 3


class _NoLedger:
    def spend(self, expenditure):  # the audit runs the mechanism 50,000 times; nothing to keep
        return None


def selection_audit(true_epsilon: float, trials: int, seed: int) -> float:
    """50 candidates; D' raises candidate 0's score by 1 and lowers the others' by 1 (sensitivity 1)."""
    noise = SeededNoise(np.random.default_rng(seed))
    d, d_prime = np.zeros(50), np.r_[1.0, -np.ones(49)]
    pick = lambda scores: exponential_mechanism(scores, 1.0, true_epsilon, "audit", _NoLedger(), noise) == 0  # noqa: E731
    return epsilon_lower_bound([pick(d) for _ in range(trials)], [pick(d_prime) for _ in range(trials)], DELTA)


def test_exponential_mechanism_leaks_no_more_than_epsilon_and_the_audit_is_tight():
    bound = selection_audit(1.0, 50_000, seed=2)
    assert 0.7 < bound <= 1.0


def test_the_selection_audit_catches_a_wrong_scale():
    assert selection_audit(2.0, 50_000, seed=3) > 1.0  # epsilon 2's noise, claimed as epsilon 1
