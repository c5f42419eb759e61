"""The white-box audit of MST's measurement step: the canary's noisy cell, many trials, one that can fail.

The canary holds a code no other record has, so its cell in the first 1-way marginal
counts 0 without it and 1 with it; MST's real measurement code releases that cell with
discrete Gaussian noise. :func:`~dpquilt.evaluation.audit.measurement_audit` bounds the
released ``mu = 1 / sigma`` from below and compares it with ``sqrt(2 rho)`` from the
ledger. The slow tests run in CI's slow run (``-m slow``); the fast ones check, by
simulation at the same sizes, that a factor-2 noise bug is caught with probability at
least 0.99 and that a correct mechanism fails at most as often as ``alpha`` allows.
"""

from __future__ import annotations

import numpy as np
import pytest

import dpquilt.marginals.oracle as local_oracle
from dpquilt.evaluation.audit import canary_table, gaussian_mu_lower_bound, measurement_audit
from dpquilt.schema.codec import encode
from dpquilt.marginals.mst import mst
from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.noise import SeededNoise
from dpquilt.privacy.recording import RecordingNoise
from dpquilt.schema import Schema
from tests.privacy.test_mutations import half_noise_gaussian_counts

EPSILON = 20.0  # sigma of the 1-way measurements about 1.3: the canary's shift of 1 is visible
TRIALS = 500
ALPHA = 1e-3


@pytest.fixture(scope="module")
def canary_release():
    base, canary, domain = canary_table(300, 4, 3, np.random.default_rng(0))
    schema = Schema.from_domain(domain)
    tables = {False: encode(base, schema).data,
              True: encode(base._append(canary, ignore_index=True), schema).data}
    first = schema.names[0]

    def release(with_canary: bool, seed: int) -> tuple[float, float]:
        noise = RecordingNoise(SeededNoise(np.random.default_rng(seed)))
        acc = Accountant(EPSILON, 1e-9, secure=False)
        mst(local_oracle.LocalOracle(tables[with_canary], noise), acc.rho_budget, acc)
        entry = acc.ledger[0]
        assert entry.what == f"marginal ({first!r},)"
        return float(noise.draws[0].answer[int(canary[first])]), entry.rho

    return release


@pytest.mark.slow
def test_the_measurement_step_releases_no_less_noise_than_it_pays_for(canary_release):
    result = measurement_audit(canary_release, TRIALS, ALPHA)
    assert result.passed, f"released mu >= {result.mu_lower_bound:.3f} > paid-for mu {result.mu_claimed:.3f}"
    assert result.mu_lower_bound > 0.5 * result.mu_claimed  # the audit sees the canary: it has power


@pytest.mark.slow
def test_the_measurement_audit_catches_noise_at_half_its_scale(canary_release, monkeypatch):
    monkeypatch.setattr(local_oracle, "gaussian_counts", half_noise_gaussian_counts)
    result = measurement_audit(canary_release, TRIALS, ALPHA)
    assert not result.passed


def simulated_audits(sigma_paid: float, sigma_drawn: float, runs: int, rng: np.random.Generator) -> np.ndarray:
    """Whether each of ``runs`` audits of a Gaussian count passes (the audit's own statistics)."""
    passed = []
    for _ in range(runs):
        without = rng.normal(0.0, sigma_drawn, TRIALS)
        with_ = 1.0 + rng.normal(0.0, sigma_drawn, TRIALS)
        passed.append(gaussian_mu_lower_bound(without, with_, ALPHA) <= 1.0 / sigma_paid)
    return np.array(passed)


def test_at_the_audits_sizes_a_factor_2_noise_bug_is_caught_at_least_99_percent_of_the_time(canary_release):
    _, rho = canary_release(False, 0)
    sigma = 1.0 / np.sqrt(2 * rho)
    assert 1.0 < sigma < 3.0
    caught = ~simulated_audits(sigma, sigma / 2, 1000, np.random.default_rng(1))
    assert caught.mean() >= 0.995  # 1000 runs: the probability is >= 0.99 with room for sampling error


def test_a_correct_mechanism_passes_the_audit(canary_release):
    _, rho = canary_release(False, 0)
    sigma = 1.0 / np.sqrt(2 * rho)
    assert simulated_audits(sigma, sigma, 1000, np.random.default_rng(2)).mean() >= 0.995
