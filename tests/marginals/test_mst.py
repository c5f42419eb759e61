"""MST (McKenna, Miklau and Sheldon 2021, Algorithm 1): a third of the budget each on 1-way
marginals, tree selection and the tree's pairs, all through the oracle."""

import numpy as np
import pytest

from dpquilt.marginals.mst import MST_SCORE_SENSITIVITY, mst, pair_sigma
from dpquilt.marginals.oracle import LocalOracle
from dpquilt.privacy import Accountant, SeededNoise
from dpquilt.schema.dataset import Dataset


def chain(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    b = (a + (rng.random(n) < 0.1)) % 3
    c = (b + (rng.random(n) < 0.1)) % 3
    d = rng.integers(0, 4, n)
    return Dataset({"a": a, "b": b, "c": c, "d": d}, {"a": 3, "b": 3, "c": 3, "d": 4})


def test_the_budget_is_split_in_thirds_and_spent_exactly():
    acc = Accountant(1.0, 1e-9, secure=False)
    result = mst(LocalOracle(chain(), SeededNoise(np.random.default_rng(0))), acc.rho_budget, acc)
    ledger = acc.ledger
    one_way = [e for e in ledger if e.what.startswith("marginal (") and e.what.endswith(",)")]
    pairs = [e for e in ledger if e.what.startswith("marginal (") and not e.what.endswith(",)")]
    picks = [e for e in ledger if e.mechanism == "exponential mechanism"]
    assert [e.what for e in one_way] == [f"marginal ({c!r},)" for c in "abcd"] and len(pairs) == 3
    assert len(picks) == 3 and all(e.sensitivity == MST_SCORE_SENSITIVITY for e in picks)  # r - 1 edges of 4 columns
    assert sum(e.rho for e in picks) == pytest.approx(acc.rho_budget / 3)
    assert sum(e.rho for e in one_way) == pytest.approx(acc.rho_budget / 3)
    assert sum(e.rho for e in pairs) == pytest.approx(acc.rho_budget / 3)
    assert acc.rho_spent == pytest.approx(acc.rho_budget)
    assert len(result.edges) == 3 and len(result.measurements) == 4 + 3


def test_the_tree_finds_the_chain_of_strong_pairs():
    acc = Accountant(5.0, 1e-9, secure=False)
    result = mst(LocalOracle(chain(), SeededNoise(np.random.default_rng(1))), acc.rho_budget, acc)
    edges = {frozenset(e) for e in result.edges}
    assert frozenset(("a", "b")) in edges and frozenset(("b", "c")) in edges


def test_pair_sigma_is_the_noise_of_a_third_of_the_budget_over_the_pairs():
    rho = 0.3
    assert pair_sigma(rho, 4) == pytest.approx(np.sqrt(3 / (2 * rho / 3)))
