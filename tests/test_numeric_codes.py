"""The compiled numeric encoder gives the codes of the plain numpy rule, value for value."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.schema import NumericColumn, Schema
from dpquilt.schema.codec import encode


def reference_codes(x: np.ndarray, spec: NumericColumn) -> np.ndarray:
    """searchsorted for points and bins, as the encoder was written before it was compiled."""
    edges = np.asarray(spec.bin_edges())
    n_bins = edges.size - 1
    points = np.asarray(spec.points, dtype=np.float64)
    lo, hi = spec.clip_range
    codes = np.full(x.size, spec.missing_code if spec.missing else -1, dtype=np.int64)
    present = ~np.isnan(x)
    v = x[present]
    at = np.clip(np.searchsorted(points, v), 0, max(points.size - 1, 0))
    is_point = (v == points[at]) if points.size else np.zeros(v.size, dtype=bool)
    binned = np.clip(np.searchsorted(edges, np.clip(v, lo, hi), side="right") - 1, 0, n_bins - 1)
    codes[present] = np.where(is_point, n_bins + at, binned)
    return codes


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    bins=st.integers(1, 300),  # past LINEAR_SEARCH_MAX too: both searches
    equal_mass=st.booleans(),
    integer_points=st.booleans(),
    n_points=st.integers(0, 300),
)
def test_compiled_codes_equal_the_numpy_rule(seed, bins, equal_mass, integer_points, n_points):
    rng = np.random.default_rng(seed)
    lo, hi = sorted(rng.uniform(-50, 50, 2))
    hi = max(hi, lo + 1.0)
    if equal_mass:  # uneven edges, as learned for ranges over decades
        edges = tuple(np.unique(np.concatenate([[lo, hi], rng.uniform(lo, hi, bins - 1)])).tolist())
        spec = NumericColumn("x", lower=lo, upper=hi, edges=edges, points=(), missing=True)
    else:
        spec = NumericColumn("x", lower=lo, upper=hi, bins=bins, points=(), missing=True)
    candidates = np.round(rng.uniform(lo - 20, hi + 20, n_points)) if integer_points else rng.uniform(lo - 20, hi + 20, n_points)
    points = tuple(sorted(set(candidates.tolist())))
    spec = NumericColumn("x", lower=spec.lower, upper=spec.upper, bins=spec.bins, edges=spec.edges, points=points,
                         missing=True)
    edges = np.asarray(spec.bin_edges())
    x = np.concatenate([
        rng.uniform(lo - 30, hi + 30, 400), np.round(rng.uniform(lo - 30, hi + 30, 200)),  # integers hit points
        edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf),  # on and beside every edge
        np.asarray(points), [np.nan, np.inf, -np.inf, lo, hi],
    ])
    got = encode(pd.DataFrame({"x": x}), Schema((spec,))).data.columns["x"]
    np.testing.assert_array_equal(np.asarray(got, dtype=np.int64), reference_codes(x, spec))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**31), size=st.integers(1, 300), duplicates=st.booleans())
def test_compiled_search_equals_numpy_searchsorted(seed, size, duplicates):
    from dpquilt.schema.sorted_search import search_right

    rng = np.random.default_rng(seed)
    values = np.sort(np.round(rng.normal(0, 10, size)) if duplicates else rng.normal(0, 10, size))
    x = np.concatenate([rng.normal(0, 12, 500), values, np.nextafter(values, np.inf), [np.nan, np.inf, -np.inf]])
    np.testing.assert_array_equal(search_right(values, x), np.searchsorted(values, x, side="right"))
