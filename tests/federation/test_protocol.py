"""The client's side of a round, without Flower: answers, noise shares, sensitivity, refusals."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.federation.protocol import (
    MalformedRequestError,
    Request,
    client_reply,
    reply_length,
    score_sensitivity,
)
from dpquilt.marginals.counting import count
from dpquilt.privacy.noise import SeededNoise
from tests.marginals.test_sensitivity import DOMAIN, as_dataset, neighbours


class NoNoise:
    secure = False

    def discrete_gaussian(self, values, sigma):
        return np.asarray(values, dtype=np.int64)


def data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    return as_dataset(np.column_stack([rng.integers(0, k, n) for k in DOMAIN.values()]))


def test_measure_reply_is_the_counts_then_the_seeded_flag_then_a_one():
    d = data()
    req = Request("measure", (("a",), ("b", "c")), 3.0, "r1")
    v = client_reply(req, d, NoNoise(), bound=2**20)  # NoNoise is not secure: flag 1
    expected = np.concatenate([count(d, ("a",)).ravel(), count(d, ("b", "c")).ravel(), [1, 1]])
    assert np.array_equal(v, expected)
    assert v.size == reply_length(req, DOMAIN)


def test_noise_share_has_the_requested_scale():
    d = data()
    req = Request("measure", (("a", "b", "c"),), 5.0, "r1")
    draws = np.array([client_reply(req, d, SeededNoise(np.random.default_rng(i)), 2**20)[:-2] for i in range(400)])
    noise = draws - count(d, ("a", "b", "c")).ravel()
    assert noise.std() == pytest.approx(5.0, rel=0.03)
    assert abs(noise.mean()) < 0.1


def test_mapping_merges_codes_before_counting():
    d = data()
    req = Request("measure", (("b",),), 1.0, "r1", mapping={"b": np.array([0, 1, 2, 2])})
    v = client_reply(req, d, NoNoise(), 2**20)
    raw = count(d, ("b",))
    assert v[:-2].tolist() == [raw[0], raw[1], raw[2] + raw[3]]
    assert reply_length(req, DOMAIN) == 5


def test_local_scores_are_l1_distances_to_the_scaled_model():
    d = data()
    est = np.arange(1.0, 13.0).reshape(3, 4)
    req = Request("scores", (("a", "b"), ("a",)), 1.0, "s", estimates=(est, est.sum(1)), weights=(2.0, 1.0))
    v = client_reply(req, d, NoNoise(), 2**20)
    n = d.n_rows
    want_ab = 2.0 * np.abs(count(d, ("a", "b")) - n * est / est.sum()).sum()
    want_a = np.abs(count(d, ("a",)) - n * est.sum(1) / est.sum()).sum()
    assert v.tolist() == [round(want_ab), round(want_a), 1, 1]  # then the seeded flag (NoNoise) and the check


@given(neighbours(), st.lists(st.floats(0.01, 10.0), min_size=12, max_size=12), st.sampled_from([1.0, 2.5, 4.0]))
@settings(max_examples=150, deadline=None)
def test_local_scores_move_by_at_most_the_declared_sensitivity(pair, est, w):
    """One row added at one client moves each summed score by at most 2|w| + 1."""
    d, d2 = (as_dataset(r) for r in pair)
    est = np.array(est).reshape(3, 4)
    req = Request("scores", (("a", "b"), ("c",)), 1.0, "s", estimates=(est, np.array([1.0, 3.0])), weights=(w, 1.0))
    a, b = client_reply(req, d, NoNoise(), 2**30), client_reply(req, d2, NoNoise(), 2**30)
    per_score = np.array([2 * w + 1, 3.0])
    assert np.all(np.abs(b[:-2] - a[:-2]) <= per_score + 1e-9)
    l2, l1 = score_sensitivity([w, 1.0])
    assert np.linalg.norm(b[:-2] - a[:-2]) <= l2 + 1e-9 and np.abs(b[:-2] - a[:-2]).sum() <= l1 + 1e-9


def test_entries_outside_the_secure_range_are_refused_not_clipped():
    d = data(n=300)
    req = Request("measure", (("c",),), 1.0, "big")
    with pytest.raises(ValueError, match="does not fit the secure sum's range") as info:
        client_reply(req, d, NoNoise(), bound=64)
    counts = {int(v) for v in count(d, ("c",)).ravel()}
    numbers = {int(x) for x in re.findall(r"\d+", str(info.value))} - {64}
    assert not numbers & counts, f"the refusal reveals a count of the client's rows: {info.value}"


def test_unknown_columns_and_bad_shapes_are_malformed():
    d = data()
    with pytest.raises(MalformedRequestError, match=r"column\(s\) \['zz'\]"):
        client_reply(Request("measure", (("zz",),), 1.0, "x"), d, NoNoise(), 2**20)
    with pytest.raises(MalformedRequestError, match="one estimate and one weight per clique"):
        Request("scores", (("a",),), 1.0, "x")
    with pytest.raises(MalformedRequestError, match="kind"):
        Request("sum", (("a",),), 1.0, "x")


def test_wire_round_trip():
    req = Request("scores", (("a", "b"),), 2.5, "s#3", mapping={"b": np.array([0, 0, 1, 2])},
                  estimates=(np.ones(9),), weights=(1.5,))
    config, arrays = req.to_wire()
    back = Request.from_wire(config, arrays)
    assert back.kind == req.kind and back.cliques == req.cliques and back.label == req.label
    assert back.party_sigma == 2.5 and back.weights == (1.5,)
    assert np.array_equal(back.mapping["b"], req.mapping["b"]) and np.array_equal(back.estimates[0], np.ones(9))
    with pytest.raises(MalformedRequestError, match="no dpquilt request"):
        Request.from_wire({}, [])


def test_estimates_travel_packed_in_one_array_and_unpack_exactly():
    est = (np.arange(6.0).reshape(2, 3), np.arange(4.0) / 7, np.ones(5))
    req = Request("scores", (("a", "b"), ("c",), ("d",)), 1.0, "s#1", estimates=est, weights=(1.0, 1.0, 1.0))
    config, arrays = req.to_wire()
    assert len(arrays) == 1 and arrays[0].shape == (15,)
    back = Request.from_wire(config, arrays)
    for sent, got in zip(est, back.estimates):
        assert np.allclose(got, np.ravel(sent).astype(np.float32))
    with pytest.raises(MalformedRequestError, match="14 estimate cells, its header declares 15"):
        Request.from_wire(config, [arrays[0][:-1]])
    with pytest.raises(MalformedRequestError, match="arrays do not match its header"):
        Request.from_wire(config, [])


def test_contained_cliques_travel_without_their_estimates_and_score_the_same():
    d = data()
    rng = np.random.default_rng(1)
    est_abc = rng.random((3, 4, 2))
    cliques = (("a",), ("a", "b", "c"), ("b", "c"), ("c", "a"))
    from dpquilt.marginals.tables import marginalise

    est = tuple(marginalise(est_abc, ("a", "b", "c"), cl) for cl in cliques)
    req = Request("scores", cliques, 1.0, "s", estimates=est, weights=(1.0, 2.0, 1.0, 3.0))
    config, arrays = req.to_wire()
    assert len(arrays) == 1 and arrays[0].dtype == np.float32  # only the 3-way estimate is sent
    direct = client_reply(Request("scores", cliques, 1.0, "s", estimates=tuple(e.astype(np.float32) for e in est),
                                  weights=req.weights), d, NoNoise(), 2**20)
    assert np.array_equal(client_reply(Request.from_wire(config, arrays), d, NoNoise(), 2**20), direct)
