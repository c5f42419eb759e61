"""Declared sensitivities hold on neighbouring tables (one row added)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.marginals.counting import count
from dpquilt.schema.dataset import Dataset
from dpquilt.marginals.mst import MST_SCORE_SENSITIVITY, pair_estimates
from dpquilt.marginals.oracle import weighted_l1_scores
from dpquilt.privacy.mechanisms import COUNT_SENSITIVITY

DOMAIN = {"a": 3, "b": 4, "c": 2}


@st.composite
def neighbours(draw):
    n = draw(st.integers(0, 40))
    rows = [tuple(draw(st.integers(0, DOMAIN[c] - 1)) for c in DOMAIN) for _ in range(n)]
    extra = tuple(draw(st.integers(0, DOMAIN[c] - 1)) for c in DOMAIN)
    return rows, rows + [extra]


def as_dataset(rows):
    arr = np.array(rows, dtype=np.int64).reshape(-1, len(DOMAIN))
    return Dataset({c: arr[:, i] for i, c in enumerate(DOMAIN)}, DOMAIN)


@given(neighbours(), st.sampled_from([("a",), ("b", "c"), ("a", "b", "c"), ("c", "a")]))
@settings(max_examples=200, deadline=None)
def test_marginal_changes_by_at_most_its_sensitivity(pair, cols):
    d, d2 = (as_dataset(r) for r in pair)
    diff = count(d2, cols) - count(d, cols)
    assert np.abs(diff).sum() <= COUNT_SENSITIVITY  # L1, hence also L2
    assert np.sqrt((diff**2).sum()) <= COUNT_SENSITIVITY


@given(neighbours(), st.lists(st.floats(0.0, 50.0), min_size=9, max_size=9))
@settings(max_examples=200, deadline=None)
def test_mst_scores_change_by_at_most_their_sensitivity(pair, noisy_marginal_values):
    # The independent estimate is post-processing of released 1-way measurements:
    # it is the same on both neighbours.
    vals = np.array(noisy_marginal_values)
    marginals = {"a": vals[:3], "b": vals[3:7], "c": vals[7:9]}
    d, d2 = (as_dataset(r) for r in pair)
    estimates = pair_estimates(list(DOMAIN), marginals)

    def scores(data):
        pairs = list(estimates)
        return weighted_l1_scores([count(data, p) for p in pairs], list(estimates.values()), [1.0] * 3, [0.0] * 3)

    assert np.max(np.abs(scores(d2) - scores(d))) <= MST_SCORE_SENSITIVITY + 1e-9


def assert_oracle_answers_within_sensitivity(pair, cols) -> None:
    """What the local oracle actually noises (not just ``count``) moves by at most the declared sensitivity."""
    from dpquilt.marginals.oracle import LocalOracle
    from dpquilt.privacy.noise import SeededNoise

    d, d2 = (LocalOracle(as_dataset(r), SeededNoise(np.random.default_rng(0))) for r in pair)
    diff = d2.answer(cols).astype(np.int64) - d.answer(cols).astype(np.int64)
    assert np.sqrt((diff**2).sum()) <= COUNT_SENSITIVITY, f"the answer on {cols} moved by {diff[diff != 0]}"


@given(neighbours(), st.sampled_from([("a",), ("b", "c"), ("a", "b", "c")]))
@settings(max_examples=100, deadline=None)
def test_the_local_oracles_answers_move_by_at_most_the_count_sensitivity(pair, cols):
    assert_oracle_answers_within_sensitivity(pair, cols)


@given(neighbours(), st.lists(st.floats(0.1, 8.0), min_size=3, max_size=3))
@settings(max_examples=150, deadline=None)
def test_weighted_scores_move_by_at_most_the_largest_weight(pair, weights):
    """AIM declares ``max |w_r|`` for its selection (``LocalOracle.select``)."""
    d, d2 = (as_dataset(r) for r in pair)
    cliques = [("a",), ("b", "c"), ("a", "b", "c")]
    estimates = [np.full(int(np.prod([DOMAIN[c] for c in cl])), 1.5) for cl in cliques]

    def scores(data):
        return weighted_l1_scores([count(data, cl) for cl in cliques], estimates, weights, [0.3, 0.0, 1.0])

    assert np.max(np.abs(scores(d2) - scores(d))) <= max(weights) + 1e-9
