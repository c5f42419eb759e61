import math

import pytest

from dpquilt.privacy.conversions import (
    delta_from_rho,
    epsilon_from_rho,
    epsilon_of_exponential_mechanism,
    rho_from_epsilon_delta,
    rho_of_exponential_mechanism,
    rho_of_gaussian,
)

# Golden values: Canonne, Kamath, Steinke (2020) Corollary 13, as computed by the
# reference implementation in ryan112358/private-pgm mechanisms/cdp2adp.py.
GOLDEN_RHO = {
    (0.1, 1e-9): 0.00017713844718502086,
    (1.0, 1e-9): 0.014973057673588523,
    (10.0, 1e-9): 1.0907857043970155,
}


@pytest.mark.parametrize("eps_delta,rho", GOLDEN_RHO.items())
def test_rho_from_epsilon_delta_matches_golden_values(eps_delta, rho):
    assert rho_from_epsilon_delta(*eps_delta) == pytest.approx(rho, rel=1e-9)


def test_delta_from_rho_golden():
    assert delta_from_rho(0.5, 4.0) == pytest.approx(0.00019579541695772157, rel=1e-9)


@pytest.mark.parametrize("eps,delta", [(0.1, 1e-9), (1.0, 1e-6), (10.0, 1e-9)])
def test_round_trip(eps, delta):
    rho = rho_from_epsilon_delta(eps, delta)
    assert epsilon_from_rho(rho, delta) == pytest.approx(eps, rel=1e-6)
    assert delta_from_rho(rho, eps) <= delta * (1 + 1e-6)


@pytest.mark.parametrize("rho,delta", [(0.001, 1e-9), (0.1, 1e-5), (2.0, 1e-9)])
def test_never_worse_than_bun_steinke(rho, delta):
    classic = rho + 2 * math.sqrt(rho * math.log(1 / delta))
    assert epsilon_from_rho(rho, delta) <= classic


def test_gaussian_and_exponential_costs():
    assert rho_of_gaussian(10.0) == pytest.approx(1 / 200)
    assert rho_of_gaussian(10.0, l2_sensitivity=2.0) == pytest.approx(4 / 200)
    assert epsilon_of_exponential_mechanism(scale=2.0, sensitivity=1.0) == 1.0
    assert rho_of_exponential_mechanism(1.0) == 0.125


@pytest.mark.parametrize("eps", [0.0, -1.0])
def test_rejects_non_positive_epsilon(eps):
    with pytest.raises(ValueError, match=r"epsilon must be > 0, got"):
        rho_from_epsilon_delta(eps, 1e-9)


@pytest.mark.parametrize("delta", [0.0, 1.0, -0.1, 2.0])
def test_rejects_delta_outside_unit_interval(delta):
    with pytest.raises(ValueError, match=r"delta must lie in \(0, 1\)"):
        rho_from_epsilon_delta(1.0, delta)
