"""Mutation tests: the privacy checks fail when the mechanisms are broken on purpose.

Each test plants one bug (noise drawn at half the scale that was paid for, a query whose
real sensitivity is twice the declared one, a declared sensitivity halved, a charge
skipped) and asserts that the white-box checks of ``test_noise_scales.py`` or the
sensitivity property checks catch it. A check that passes on a broken mechanism proves
nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

import dpquilt.federation.federated_oracle as federated_oracle
import dpquilt.marginals.oracle as local_oracle
from dpquilt.privacy.accountant import Accountant
from tests.marginals.test_sensitivity import DOMAIN, assert_oracle_answers_within_sensitivity
from tests.privacy.test_noise_scales import check_dpsgd_fit, check_federated_oracle, check_marginal_fit


def half_noise_gaussian_counts(counts, sigma, what, accountant, noise):
    """Pays for ``sigma``, draws at ``sigma / 2`` (a factor-2 noise bug)."""
    from dpquilt.privacy.mechanisms import gaussian_counts_expenditure

    accountant.spend(gaussian_counts_expenditure(what, sigma))
    return noise.discrete_gaussian(np.asarray(counts, dtype=np.int64), sigma / 2)


@pytest.mark.parametrize("method", ["mst", "aim"])
def test_measurement_noise_at_half_its_scale_is_caught(monkeypatch, method):
    monkeypatch.setattr(local_oracle, "gaussian_counts", half_noise_gaussian_counts)
    with pytest.raises(AssertionError, match="drawn at scale"):
        check_marginal_fit(monkeypatch, method)


@pytest.mark.parametrize("method", ["mst", "aim"])
def test_client_noise_shares_at_half_their_scale_are_caught(monkeypatch, method):
    real = federated_oracle.party_sigma
    monkeypatch.setattr(federated_oracle, "party_sigma", lambda sigma, t: real(sigma, t) / 2)
    with pytest.raises(AssertionError):
        check_federated_oracle(method)


def test_dpsgd_noise_below_what_the_ledger_paid_for_is_caught(monkeypatch):
    pytest.importorskip("torch")
    import dpquilt.dpsgd.training as dpsgd

    real = dpsgd.spend_dpsgd
    monkeypatch.setattr(dpsgd, "spend_dpsgd", lambda what, z, q, steps, acc: real(what, 2 * z, q, steps, acc))
    with pytest.raises(AssertionError):
        check_dpsgd_fit(monkeypatch, "refiner")


def test_an_answer_of_twice_the_declared_sensitivity_is_caught(monkeypatch):
    real = local_oracle.LocalOracle.answer
    monkeypatch.setattr(local_oracle.LocalOracle, "answer", lambda self, clique: 2 * real(self, clique))
    rows = [(0, 1, 0), (2, 3, 1)]
    with pytest.raises(AssertionError, match="moved by"):
        assert_oracle_answers_within_sensitivity((rows, rows + [(1, 1, 1)]), ("a", "b"))
    assert set(DOMAIN) == {"a", "b", "c"}


def test_a_declared_selection_sensitivity_halved_is_caught(monkeypatch):
    real = local_oracle.exponential_mechanism
    monkeypatch.setattr(local_oracle, "exponential_mechanism",
                        lambda scores, sensitivity, *rest: real(scores, sensitivity / 2, *rest))
    with pytest.raises(AssertionError, match="sensitivity 0.5 declared, 1 verified"):
        check_marginal_fit(monkeypatch, "mst")


def test_a_skipped_charge_is_caught(monkeypatch):
    real = Accountant.spend
    skipped = []

    def spend_all_but_one(self, expenditure):
        if expenditure.what.startswith("marginal") and not skipped:
            skipped.append(expenditure)
            return
        real(self, expenditure)

    monkeypatch.setattr(Accountant, "spend", spend_all_but_one)
    with pytest.raises(AssertionError, match="draws but"):
        check_marginal_fit(monkeypatch, "mst")
    assert skipped


def test_a_skipped_dpsgd_charge_is_caught(monkeypatch):
    pytest.importorskip("torch")
    import dpquilt.dpsgd.training as dpsgd

    monkeypatch.setattr(dpsgd, "spend_dpsgd", lambda *args: None)
    with pytest.raises(AssertionError, match="0 DP-SGD ledger entries"):
        check_dpsgd_fit(monkeypatch, "standalone")
