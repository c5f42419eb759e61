"""MarginalSynthesizer.fit_oracle: a fit from an oracle spends the estimator's own budget."""

import numpy as np
import pytest

import dpquilt as dq
from dpquilt.marginals.oracle import LocalOracle
from dpquilt.privacy import SeededNoise
from dpquilt.schema.dataset import Dataset

DOMAIN = {"a": 2, "b": 3}


def codes(n=800, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n)
    return Dataset({"a": a, "b": (a + rng.integers(0, 2, n)) % 3}, DOMAIN)


@pytest.mark.parametrize("method", ["mst", "aim"])
def test_fit_oracle_spends_exactly_the_estimators_budget(method):
    options = {"rounds": 4} if method == "aim" else {}
    syn = dq.MarginalSynthesizer(epsilon=0.7, delta=1e-8, method=method, random_state=0, verbose=False, **options)
    syn.fit_oracle(LocalOracle(codes(), SeededNoise(np.random.default_rng(1))), dq.Schema.from_domain(DOMAIN),
                   notes=("answered by a test oracle",))
    report = syn.privacy_report()
    assert (syn.accountant_.epsilon, syn.accountant_.delta) == (0.7, 1e-8)
    assert syn.accountant_.rho_spent == pytest.approx(syn.accountant_.rho_budget)
    assert "answered by a test oracle" in report.notes and not syn.accountant_.secure  # seeded: not for release
    assert list(syn.sample(10, random_state=0).columns) == ["a", "b"]


def test_fit_oracle_refuses_an_incomplete_schema_and_bad_parameters():
    oracle = LocalOracle(codes(), SeededNoise(np.random.default_rng(1)))
    with pytest.raises(ValueError, match="complete public Schema"):
        dq.MarginalSynthesizer(verbose=False).fit_oracle(oracle, dq.Schema.from_public({"a": {"kind": "categorical"}, "b": {"kind": "integer"}}))
    with pytest.raises(ValueError, match="method"):
        dq.MarginalSynthesizer(method="pgm").fit_oracle(oracle, dq.Schema.from_domain(DOMAIN))
