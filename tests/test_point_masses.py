"""Point masses: exact values that hold many rows get codes of their own and decode exactly."""

import numpy as np
import pandas as pd
import pytest

import dpquilt as dq
from dpquilt.schema.codec import decode, encode
from dpquilt.schema.point_masses import MAX_POINTS, learn_points
from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.conversions import rho_of_gaussian
from dpquilt.privacy.mechanisms import threshold_for_delta
from dpquilt.privacy.noise import SeededNoise
from dpquilt.schema import NumericColumn, Schema


def learn(series, sigma=10.0, delta=1e-10, seed=0, **spec):
    acc = Accountant(5.0, 1e-9, secure=False)
    out = learn_points(series, NumericColumn("x", points=None, **spec), sigma, delta, acc, SeededNoise(np.random.default_rng(seed)))
    return out, acc


def test_a_value_released_is_one_that_clears_the_stability_threshold():
    series = pd.Series([0.0] * 3000 + [36.0] * 400 + [60.0] * 250 + list(np.linspace(1, 999, 500)))
    spec, acc = learn(series)
    assert spec.points == (0.0, 36.0, 60.0)
    (entry,) = acc.ledger
    assert entry.mechanism == f"thresholded discrete Gaussian (T={threshold_for_delta(10.0, 1e-10)})"
    assert entry.rho == pytest.approx(rho_of_gaussian(10.0)) and entry.delta == 1e-10


def test_a_value_held_by_one_row_is_never_released():
    series = pd.Series([7.0] * 5000 + [123456.0])
    assert all(learn(series, seed=s)[0].points == (7.0,) for s in range(20))


def test_at_most_max_points_are_kept_the_largest_first():
    series = pd.Series(np.repeat(np.arange(100.0), 1000 + 100 * np.arange(100)))  # value i held by 1000 + 100 i rows
    spec, _ = learn(series)
    assert len(spec.points) == MAX_POINTS and min(spec.points) >= 100 - MAX_POINTS - 3


def test_points_encode_to_their_own_codes_and_decode_exactly():
    spec = NumericColumn("debt", lower=100.0, upper=5000.0, bins=4, points=(0.0, 36.0))
    schema = Schema((spec,))
    df = pd.DataFrame({"debt": [0.0, 36.0, 250.0, 4999.0, 10.0, None]})
    enc = encode(df, schema)
    assert enc.data.columns["debt"].tolist() == [4, 5, 0, 3, 0, 6]  # 4 bins, the points, then missing
    out = decode(enc.data, schema, np.random.default_rng(0))["debt"]
    assert out.iloc[0] == 0.0 and out.iloc[1] == 36.0 and out.iloc[4] >= 100.0 and np.isnan(out.iloc[5])


def test_a_fit_returns_whole_years_and_zeros_exactly():
    rng = np.random.default_rng(0)
    n = 20_000
    df = pd.DataFrame({
        "year": rng.integers(1963, 2016, n),
        "amount": np.where(rng.random(n) < 0.9, 0.0, np.round(rng.lognormal(7, 1, n), 2)),
        "age": rng.integers(12, 19, n).astype(float),  # whole years held in a float column
    })
    out = dq.MarginalSynthesizer(epsilon=10.0, random_state=0, verbose=False).fit(df).sample(5000, random_state=0)
    assert out["year"].between(1963, 2015).mean() > 0.99
    assert out["age"].isin(range(12, 19)).mean() > 0.97
    assert abs((out["amount"] == 0).mean() - 0.9) < 0.02
