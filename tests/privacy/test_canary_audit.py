"""End-to-end canary audits of MST and AIM (slow; full runs: benchmarks/privacy_audit.py).

Fit and sample many times with and without a canary record whose value in every column
appears in no other record (so it is unique in every marginal); score each release by
the canary's cells; the Clopper-Pearson lower bound on epsilon must not exceed the claim.
At a huge budget the same test must find leakage (it has power).
"""

import numpy as np
import pytest

import dpquilt as dq
from dpquilt.evaluation.audit import canary_audit, canary_table
from tests.conftest import FAST

TRIALS = 60


def fit_sample(method: str, epsilon: float, schema):
    options = {"rounds": 8} if method == "aim" else {}

    def run(table, seed):
        syn = dq.MarginalSynthesizer(epsilon=epsilon, method=method, schema=schema, random_state=seed,
                                     verbose=False, estimation=FAST, **options)
        return syn.fit(table).sample(5000)

    return run


@pytest.fixture(scope="module")
def canary_setup():
    return canary_table(500, 4, 3, np.random.default_rng(0))


def audit(method: str, epsilon: float, canary_setup):
    base, canary, domain = canary_setup
    run = fit_sample(method, epsilon, dq.Schema.from_domain(domain))
    return canary_audit(run, base, canary, epsilon, 1e-9, TRIALS, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["mst", "aim"])
def test_the_canary_is_no_more_visible_than_the_budget_allows(method, canary_setup):
    result = audit(method, 1.0, canary_setup)
    assert result.passed, f"{method}: empirical epsilon >= {result.epsilon_lower_bound:.2f} > claimed 1.0"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["mst", "aim"])
def test_at_a_huge_budget_the_audit_sees_the_canary(method, canary_setup):
    result = audit(method, 50.0, canary_setup)
    assert np.mean(result.scores_with) > np.mean(result.scores_without)
    assert 0.3 < result.epsilon_lower_bound <= 50.0
