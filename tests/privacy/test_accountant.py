import json

import pytest

from dpquilt.privacy.accountant import Accountant, BudgetExceededError, Expenditure
from dpquilt.privacy.conversions import epsilon_from_rho, rho_from_epsilon_delta


def entry(rho, delta=0.0, what="q"):
    return Expenditure(what, "discrete Gaussian", 1.0, rho=rho, delta=delta)


def test_composition_adds_rho_and_delta():
    acc = Accountant(1.0, 1e-9)
    acc.spend(entry(0.004))
    acc.spend(entry(0.003, delta=1e-11))
    assert acc.rho_spent == pytest.approx(0.007)
    assert acc.delta_spent_approx == pytest.approx(1e-11)
    assert acc.epsilon_spent() == pytest.approx(epsilon_from_rho(0.007, 1e-9 - 1e-11))
    assert len(acc.ledger) == 2


def test_spending_exactly_the_budget_is_allowed_and_more_is_refused():
    acc = Accountant(1.0, 1e-9)
    total = rho_from_epsilon_delta(1.0, 1e-9)
    acc.spend(entry(total / 2))
    acc.spend(entry(total / 2))
    assert acc.epsilon_spent() == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(BudgetExceededError, match=r"cannot spend rho=1e-06 .* only rho=0 is left"):
        acc.spend(entry(1e-6))
    assert len(acc.ledger) == 2  # the refused expenditure left no trace


def test_refuses_single_overspend():
    acc = Accountant(0.1, 1e-9)
    with pytest.raises(BudgetExceededError, match="raise epsilon or measure less"):
        acc.spend(entry(1.0))
    assert acc.rho_spent == 0.0


def test_approximate_delta_reduces_remaining_rho():
    acc = Accountant(1.0, 1e-9)
    before = acc.remaining_rho()
    acc.spend(entry(0.0, delta=5e-10))
    assert acc.remaining_rho() == pytest.approx(rho_from_epsilon_delta(1.0, 5e-10))
    assert acc.remaining_rho() < before


@pytest.mark.parametrize("eps", [0, -1.0, float("nan")])
def test_bad_epsilon(eps):
    with pytest.raises(ValueError, match=r"^epsilon must be > 0, got .*; pass a positive budget such as epsilon=1.0$"):
        Accountant(eps, 1e-9)


@pytest.mark.parametrize("delta", [0, 1, 1.5, -1e-9])
def test_bad_delta(delta):
    with pytest.raises(ValueError, match=r"^delta must lie in \(0, 1\), got .*; a common choice is delta=1e-9$"):
        Accountant(1.0, delta)


def test_report_lists_every_expenditure_and_randomness():
    acc = Accountant(1.0, 1e-9, secure=False)
    acc.spend(Expenditure("marginal ('a',)", "discrete Gaussian", 12.5, rho=0.0032))
    report = acc.report(notes=("clipped",))
    d = json.loads(report.to_json())
    assert d["randomness"] == "seeded: not for release"
    assert d["expenditures"][0] == {
        "what": "marginal ('a',)",
        "mechanism": "discrete Gaussian",
        "noise_scale": 12.5,
        "rho": 0.0032,
        "delta": 0.0,
        "sensitivity": 1.0,
    }
    assert d["epsilon_spent"] <= d["epsilon_budget"]
    assert "seeded: not for release" in str(report)
    assert Accountant(1.0, 1e-9).report().randomness.startswith("secure")
