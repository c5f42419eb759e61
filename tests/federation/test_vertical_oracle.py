"""VerticalOracle: who measures what, at which noise and cost, and how MST's tree is chosen."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dpquilt.federation.protocol import apply_mapping
from dpquilt.federation.vertical.oracle import VerticalOracle
from dpquilt.marginals.counting import count
from dpquilt.marginals.mst import mst
from dpquilt.privacy import Accountant, SeededNoise
from dpquilt.privacy.distributed import party_sigma
from dpquilt.schema.dataset import Dataset


class StandIn:
    """The silos' answers with the protocol's noise law, from one joined table (tests only)."""

    def __init__(self, data: Dataset, parties: int, seed: int = 0) -> None:
        self.data, self.parties = data, parties
        self.noise = SeededNoise(np.random.default_rng(seed))
        self.calls: list[tuple[str, int, tuple]] = []

    def _exact(self, cliques, mapping):
        data = apply_mapping(self.data, mapping)
        return np.concatenate([count(data, cl).ravel() for cl in cliques])

    def local(self, silo, cliques, sigma, mapping):
        self.calls.append(("local", silo, tuple(cliques)))
        return self.noise.discrete_gaussian(self._exact(cliques, mapping), sigma)

    def cross(self, cliques, share_sigma, mapping):
        self.calls.append(("cross", 0, tuple(cliques)))
        total = self._exact(cliques, mapping)
        for _ in range(self.parties):
            total = self.noise.discrete_gaussian(total, share_sigma)
        return total

    def _scores(self, pairs, estimates, mapping):
        data = apply_mapping(self.data, mapping)
        return np.array([np.abs(count(data, p).ravel() - np.rint(np.ravel(e))).sum() for p, e in zip(pairs, estimates)],
                        dtype=np.int64)

    def local_scores(self, silo, pairs, estimates, sigma, mapping):
        self.calls.append(("local-scores", silo, tuple(pairs)))
        return self.noise.discrete_gaussian(self._scores(pairs, estimates, mapping), sigma)

    def cross_scores(self, pairs, estimates, share_sigma, mapping):
        self.calls.append(("cross-scores", 0, tuple(pairs)))
        total = self._scores(pairs, estimates, mapping)
        for _ in range(self.parties):
            total = self.noise.discrete_gaussian(total, share_sigma)
        return total


def _table(n: int = 4000, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    c = (a + (rng.random(n) < 0.1)) % 3  # c (silo 2) follows a (silo 1)
    return Dataset({"a": a, "b": rng.integers(0, 4, n), "c": c, "d": rng.integers(0, 2, n)}, {"a": 3, "b": 4, "c": 3, "d": 2})


OWNERS = {"a": 1, "b": 1, "c": 2, "d": 2}


def test_a_clique_inside_one_silo_is_asked_of_that_silo_at_the_central_cost():
    channel = StandIn(_table(), parties=3)
    oracle = VerticalOracle(channel, _table().domain, OWNERS)
    acc = Accountant(10.0, 1e-9, secure=False)
    (m,) = oracle.measure([("c", "d")], 5.0, acc)
    assert channel.calls == [("local", 2, (("c", "d"),))]
    (entry,) = acc.ledger
    assert entry.mechanism == "discrete Gaussian" and math.isclose(entry.rho, 1 / (2 * 25.0))
    assert m.sigma == 5.0 and m.noisy.size == 6


def test_a_clique_across_silos_is_computed_jointly_with_noise_one_party_cannot_remove():
    channel = StandIn(_table(), parties=3)
    oracle = VerticalOracle(channel, _table().domain, OWNERS)
    acc = Accountant(10.0, 1e-9, secure=False)
    (m,) = oracle.measure([("a", "c")], 5.0, acc)
    assert channel.calls == [("cross", 0, (("a", "c"),))]
    (entry,) = acc.ledger
    assert "distributed discrete Gaussian (2 honest shares)" in entry.mechanism
    assert entry.rho <= 1 / (2 * 25.0) + 1e-12  # never more than MST planned
    share = party_sigma(entry.noise_scale, 2)
    assert math.isclose(share**2 * 2, entry.noise_scale**2)  # any one party knows one share: the others' variance is sigma^2
    assert math.isclose(m.sigma, share * math.sqrt(3))  # the released sum holds all three shares


def test_cross_silo_noise_has_the_stated_scale():
    data = _table(n=500)
    channel = StandIn(data, parties=3, seed=1)
    oracle = VerticalOracle(channel, data.domain, OWNERS)
    exact = count(data, ("a", "c")).ravel()
    draws = np.array([oracle.measure([("a", "c")], 4.0, Accountant(100.0, 1e-9, secure=False))[0].noisy - exact
                      for _ in range(300)])
    sigma = oracle.measure([("a", "c")], 4.0, Accountant(100.0, 1e-9, secure=False))[0].sigma
    assert abs(draws.mean()) < 0.1 * sigma
    assert abs(draws.std() / sigma - 1.0) < 0.05


def test_mst_over_silos_finds_the_cross_silo_dependence_and_spends_its_budget():
    data = _table()
    oracle = VerticalOracle(StandIn(data, parties=3), data.domain, OWNERS)
    acc = Accountant(1.0, 1e-9, secure=False)
    result = mst(oracle, acc.rho_budget, acc)
    assert ("a", "c") in result.edges or ("c", "a") in result.edges
    assert 0.95 * acc.rho_budget < acc.rho_spent <= acc.rho_budget * (1 + 1e-9)
    assert len(result.edges) == 3


def test_the_tree_is_chosen_from_one_noisy_release_of_every_pairs_score_at_the_selection_budget():
    data = _table()
    channel = StandIn(data, parties=3)
    oracle = VerticalOracle(channel, data.domain, OWNERS)
    acc = Accountant(10.0, 1e-9, secure=False)
    names = list(data.domain)
    pairs = [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]
    estimates = [np.full(data.domain[x] * data.domain[y], data.n_rows / (data.domain[x] * data.domain[y])) for x, y in pairs]
    edges = oracle.select_tree(pairs, estimates, 0.05, acc)
    assert len(edges) == 3 and ("a", "c") in edges  # the strong cross-silo pair
    kinds = sorted(kind for kind, _, _ in channel.calls)
    assert kinds == ["cross-scores", "local-scores", "local-scores"]  # each silo its own pairs; the rest jointly
    assert math.isclose(acc.rho_spent, 0.05, rel_tol=1e-6)  # sqrt(P) sensitivity, sigma = sqrt(P / (2 rho))
    local = [e.noise_scale for e in acc.ledger if "(silo" in e.what]
    assert len(local) == 2 and all(math.isclose(s, math.sqrt(len(pairs) / 0.1)) for s in local)


def test_aim_selection_over_silos_is_refused_clearly():
    data = _table()
    oracle = VerticalOracle(StandIn(data, parties=3), data.domain, OWNERS)
    with pytest.raises(NotImplementedError, match="method='mst'"):
        oracle.select([("a", "c")], [np.zeros(9)], [1.0], [0.0], 1.0, Accountant(1.0, 1e-9, secure=False), "round")
