"""Positions inside bins: the refiner's target, and its inverse."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.schema.positions import positions_in_bins, values_from_positions
from dpquilt.schema import NumericColumn


@given(st.lists(st.floats(-50, 150, allow_nan=False), min_size=1, max_size=50), st.integers(1, 12))
@settings(max_examples=100, deadline=None)
def test_float_values_round_trip_inside_their_bins(values, bins):
    edges = np.array(NumericColumn("x", lower=0.0, upper=100.0, bins=bins).bin_edges())
    b, u = positions_in_bins(np.array(values), edges)
    assert np.all((u >= 0) & (u < 1))
    back = values_from_positions(edges, b, u)
    np.testing.assert_allclose(back, np.clip(values, 0.0, 100.0), atol=1e-9)


@given(st.lists(st.integers(0, 90), min_size=1, max_size=50), st.integers(1, 12))
@settings(max_examples=100, deadline=None)
def test_integer_values_round_trip_exactly(values, bins):
    edges = np.array(NumericColumn("x", kind="integer", lower=0, upper=90, bins=bins).bin_edges())
    b, u = positions_in_bins(np.array(values, dtype=float), edges, "integer")
    assert np.array_equal(values_from_positions(edges, b, u, "integer"), values)


def test_any_position_stays_in_its_bin():
    edges = np.array([0.0, 1.0, 5.0, 9.0])
    bins = np.repeat(np.arange(3), 1000)
    u = np.random.default_rng(0).random(bins.size)
    for kind in ("float", "integer"):
        v = values_from_positions(edges, bins, u, kind)
        assert np.array_equal(positions_in_bins(v, edges, kind)[0], bins)


def test_positions_next_to_one_stay_below_the_right_edge():
    edges = np.array([-96.69447289429418, -91.80529521276107, 0.0])  # lo + u (hi - lo) rounds up to hi here
    u = np.full(2, np.nextafter(1.0, 0.0))
    values = values_from_positions(edges, np.array([0, 1]), u)
    b, _ = positions_in_bins(values, edges)
    assert b.tolist() == [0, 1] and values[0] < edges[1]
