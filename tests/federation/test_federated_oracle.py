"""FederatedOracle on an in-process sum of client replies (no Flower): costs, noise, picks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.federation.federated_oracle import SCORE_RESOLUTION, FederatedOracle
from dpquilt.federation.protocol import client_reply
from dpquilt.graphical.model import EstimationOptions, estimate
from dpquilt.graphical.sizes import model_size_mb
from dpquilt.marginals.aim import aim
from dpquilt.marginals.counting import count
from dpquilt.schema.dataset import Dataset
from dpquilt.marginals.mst import mst
from dpquilt.marginals.workload import Workload
from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.conversions import rho_of_gaussian
from dpquilt.privacy.noise import SeededNoise
from tests.federation.test_protocol import NoNoise
from tests.marginals.test_sensitivity import DOMAIN

BOUND = 2**26


def split(k=3, n=600, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(0, 2, n)) % 4
    c = rng.integers(0, 2, n)
    parts = np.array_split(np.arange(n), k)
    return [Dataset({"a": a[p], "b": b[p], "c": c[p]}, DOMAIN) for p in parts]


def in_process_sum(clients, noise=None, log=None):
    def secure_sum(request, length, on_retry=None):
        vecs = [
            client_reply(request, d, noise(i, request.label) if noise else NoNoise(), BOUND)
            for i, d in enumerate(clients)
        ]
        total = np.sum(vecs, axis=0)
        assert total.size == length and total[-1] == len(clients)
        if log is not None:
            log.append(request)
        return total[:-1], len(clients)

    return secure_sum


def seeded(seed):
    return lambda i, label: SeededNoise(np.random.default_rng([seed, i, hash(label) % 2**31]))


def pooled(clients):
    return Dataset({c: np.concatenate([d.columns[c] for d in clients]) for c in DOMAIN}, DOMAIN)


def test_noise_free_measurements_are_the_pooled_counts():
    clients = split()
    acc = Accountant(1.0, 1e-9)
    oracle = FederatedOracle(in_process_sum(clients), DOMAIN, honest_shares=3)
    ms = oracle.measure([("a", "b"), ("c",)], 20.0, acc)
    whole = pooled(clients)
    assert np.array_equal(ms[0].noisy, count(whole, ("a", "b")).ravel())
    assert np.array_equal(ms[1].noisy, count(whole, ("c",)).ravel())


def test_measurement_cost_is_at_most_the_planned_gaussian_and_sigma_is_the_summed_noise():
    clients = split(k=4)
    acc = Accountant(1.0, 1e-9)
    oracle = FederatedOracle(in_process_sum(clients), DOMAIN, honest_shares=2)  # 4 contribute, 2 guaranteed
    (m,) = oracle.measure([("a",)], 10.0, acc)
    (entry,) = acc.ledger
    assert entry.rho <= rho_of_gaussian(10.0) and entry.rho == pytest.approx(rho_of_gaussian(10.0), rel=1e-9)
    assert m.sigma == pytest.approx(entry.noise_scale / math.sqrt(2) * math.sqrt(4))


def test_summed_noise_shares_have_the_measurement_sigma():
    clients = split(k=5)
    oracle = FederatedOracle(in_process_sum(clients, seeded(1)), DOMAIN, honest_shares=5)
    whole = count(pooled(clients), ("a", "b", "c")).ravel()
    draws = []
    for _ in range(150):
        (m,) = oracle.measure([("a", "b", "c")], 6.0, Accountant(1e6, 1e-9))
        draws.append(m.noisy - whole)
    assert np.std(draws) == pytest.approx(m.sigma, rel=0.05)


def test_noise_free_selection_picks_the_largest_summed_local_score():
    clients = split()
    oracle = FederatedOracle(in_process_sum(clients), DOMAIN, honest_shares=3)
    cands = [("a", "b"), ("b", "c"), ("a", "c")]
    est = [np.ones(12), np.ones(8), np.ones(6)]  # uniform model: a-b, which are dependent, score highest
    acc = Accountant(1.0, 1e-9)
    assert oracle.select(cands, est, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 0.1, acc, "pick") == 0
    (entry,) = acc.ledger
    assert entry.rho == pytest.approx(0.1**2 / 8, rel=1e-9)  # the exponential mechanism's zCDP cost


def test_score_weights_are_scaled_to_the_resolution():
    log = []
    oracle = FederatedOracle(in_process_sum(split(), log=log), DOMAIN, honest_shares=3)
    oracle.select([("a",), ("b",)], [np.ones(3), np.ones(4)], [2.0, 8.0], [0.0, 0.0], 1.0, Accountant(100.0, 1e-9), "p")
    assert log[-1].weights == (SCORE_RESOLUTION / 4, SCORE_RESOLUTION)


@given(st.integers(3, 12), st.sampled_from([0.5, 2.0]), st.integers(0, 2))
@settings(max_examples=6, deadline=None)
def test_federated_aim_spends_exactly_its_budget(rounds, epsilon, seed):
    clients = split(seed=seed)
    acc = Accountant(epsilon, 1e-9)
    oracle = FederatedOracle(in_process_sum(clients, seeded(seed)), DOMAIN, honest_shares=3)
    result = aim(
        oracle, acc.remaining_rho(), acc, Workload.all_kway(list(DOMAIN), 2),
        fit_model=lambda ms, warm: estimate(DOMAIN, ms, EstimationOptions(iters=20, noise_level_stop=None), warm_start=warm),
        model_size=lambda cl: model_size_mb(DOMAIN, cl), rounds=rounds,
    )
    assert acc.rho_spent == pytest.approx(acc.rho_budget, rel=1e-9) and acc.epsilon_spent() <= epsilon * (1 + 1e-9)
    assert sum("selection" in e.what for e in acc.ledger) == result.rounds


def test_federated_mst_spends_its_budget_with_one_tree_release():
    clients = split()
    acc = Accountant(1.0, 1e-9)
    result = mst(FederatedOracle(in_process_sum(clients, seeded(0)), DOMAIN, honest_shares=3), acc.remaining_rho(), acc)
    assert acc.rho_spent == pytest.approx(acc.rho_budget, rel=1e-9)
    assert [e.what for e in acc.ledger].count("MST tree selection (noisy local scores of 3 candidates)") == 1
    assert len(result.edges) == 2 and all(len(m.cols) in (1, 2) for m in result.measurements)


class SecureStandIn(NoNoise):
    """No noise, but says it is secure (stands in for OpenDP's sampler)."""

    secure = True


def test_one_seeded_client_makes_the_server_report_not_secure():
    clients = split(k=3)
    noise = lambda i, label: NoNoise() if i == 2 else SecureStandIn()  # noqa: E731 client 2 was started with --seed
    acc = Accountant(1.0, 1e-9, secure=True)
    FederatedOracle(in_process_sum(clients, noise), DOMAIN, honest_shares=3).measure([("a",)], 20.0, acc)
    assert acc.report().randomness == "seeded: not for release"


def test_when_every_client_is_secure_the_report_stays_secure():
    clients = split(k=3)
    acc = Accountant(1.0, 1e-9, secure=True)
    oracle = FederatedOracle(in_process_sum(clients, lambda i, label: SecureStandIn()), DOMAIN, honest_shares=3)
    oracle.measure([("a",)], 20.0, acc)
    oracle.select([("a", "b"), ("b", "c")], [np.ones(12), np.ones(8)], [1.0, 1.0], [0.0, 0.0], 0.1, acc, "pick")
    assert acc.secure and acc.report().randomness.startswith("secure")
