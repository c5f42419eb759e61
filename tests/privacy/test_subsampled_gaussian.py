"""DP-SGD accounting: golden values against Opacus's RDP accountant, and composition with zCDP."""

import pytest

opacus = pytest.importorskip("opacus")

from opacus.accountants import RDPAccountant  # noqa: E402

from dpquilt.privacy.accountant import Accountant, BudgetExceededError, Expenditure  # noqa: E402
from dpquilt.privacy.conversions import RDP_ORDERS, epsilon_from_rdp, epsilon_from_rho  # noqa: E402
from dpquilt.privacy.subsampled_gaussian import (  # noqa: E402
    noise_multiplier_for,
    rdp_of_subsampled_gaussian,
    spend_dpsgd,
)


@pytest.mark.parametrize("z,q,steps,delta", [(1.1, 0.01, 1000, 1e-5), (0.8, 0.05, 300, 1e-9), (3.0, 0.002, 5000, 1e-6)])
def test_dpsgd_epsilon_equals_opacus(z, q, steps, delta):
    reference = RDPAccountant()
    for _ in range(steps):
        reference.step(noise_multiplier=z, sample_rate=q)
    acc = Accountant(epsilon=1000.0, delta=delta)
    spend_dpsgd("refiner", z, q, steps, acc)
    assert acc.epsilon_spent() == pytest.approx(reference.get_epsilon(delta=delta), rel=1e-9)


def test_orders_are_opacus_defaults():
    assert list(RDP_ORDERS) == [float(a) for a in RDPAccountant.DEFAULT_ALPHAS]


def test_zcdp_and_dpsgd_compose_as_rdp_curves():
    acc = Accountant(epsilon=5.0, delta=1e-6)
    acc.spend(Expenditure("marginals", "discrete Gaussian", 10.0, rho=0.05))
    spend_dpsgd("refiner", 1.0, 0.01, 500, acc)
    curve = rdp_of_subsampled_gaussian(1.0, 0.01, 500)
    expected = epsilon_from_rdp([0.05 * a + c for a, c in zip(RDP_ORDERS, curve)], 1e-6)
    assert acc.epsilon_spent() == pytest.approx(expected)
    assert acc.epsilon_spent() > max(epsilon_from_rho(0.05, 1e-6), epsilon_from_rdp(curve, 1e-6))


def test_remaining_rho_after_dpsgd_fills_the_budget_exactly():
    acc = Accountant(epsilon=2.0, delta=1e-6)
    spend_dpsgd("refiner", 1.5, 0.01, 400, acc)
    left = acc.remaining_rho()
    assert 0 < left < acc.rho_budget
    acc.spend(Expenditure("marginals", "discrete Gaussian", 1.0, rho=left))
    assert acc.epsilon_spent() == pytest.approx(2.0, rel=1e-6) and acc.epsilon_spent() <= 2.0 * (1 + 1e-9)
    with pytest.raises(BudgetExceededError):
        acc.spend(Expenditure("more", "discrete Gaussian", 1.0, rho=left * 0.01))


def test_dpsgd_that_does_not_fit_is_refused():
    acc = Accountant(epsilon=0.5, delta=1e-6)
    with pytest.raises(BudgetExceededError, match="raise the noise or take fewer steps"):
        spend_dpsgd("refiner", 0.5, 0.1, 1000, acc)
    assert acc.ledger == ()


def test_solved_noise_multiplier_just_fits_its_share():
    acc = Accountant(epsilon=3.0, delta=1e-6)
    reserve = 0.7 * acc.rho_budget  # the marginal path's share, spent later
    z = noise_multiplier_for(acc, sample_rate=0.02, steps=800, reserve_rho=reserve)
    spend_dpsgd("refiner", z, 0.02, 800, acc)
    assert acc.remaining_rho() >= reserve * (1 - 1e-6)
    tighter = Accountant(epsilon=3.0, delta=1e-6)
    spend_dpsgd("refiner", z * 0.99, 0.02, 800, tighter)
    assert tighter.remaining_rho() < reserve


@pytest.mark.parametrize(
    "epsilon,delta,q,steps,reserve_share",
    [(3.0, 1e-6, 0.01, 1000, 0.0), (10.0, 1e-6, 0.25, 160, 0.0), (1.0, 1e-9, 0.02, 800, 0.5), (1.0, 1e-9, 0.02, 800, 0.9)],
)
def test_multiplier_searched_on_a_window_of_orders_equals_the_search_on_all(monkeypatch, epsilon, delta, q, steps, reserve_share):
    import dpquilt.privacy.subsampled_gaussian as module

    reserve = reserve_share * Accountant(epsilon, delta).rho_budget
    windowed = noise_multiplier_for(Accountant(epsilon, delta), q, steps, reserve)
    monkeypatch.setattr(module, "ORDER_WINDOW", len(RDP_ORDERS))
    everywhere = noise_multiplier_for(Accountant(epsilon, delta), q, steps, reserve)
    assert windowed == pytest.approx(everywhere, rel=2e-3)
    acc = Accountant(epsilon, delta)
    spend_dpsgd("refiner", windowed, q, steps, acc)  # fits on every order
    assert acc.remaining_rho() >= reserve * (1 - 1e-6)
