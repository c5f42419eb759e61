"""Awkward real-world columns, each fitted without a public schema (issue 18's bad-input list)."""

import numpy as np
import pandas as pd
import pytest

import dpquilt as dq
from dpquilt.schema.bounds import BoundsNotLearnedError
from tests.conftest import FAST

N = 4000


def fit_sample(df: pd.DataFrame, epsilon: float = 10.0) -> pd.DataFrame:
    syn = dq.MarginalSynthesizer(epsilon=epsilon, random_state=0, verbose=False, estimation=FAST).fit(df)
    return syn.sample(N, random_state=0)


def with_labels(column: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"x": column, "c": np.random.default_rng(1).choice(["a", "b"], len(column))})


@pytest.mark.parametrize("rows", [1, 10])
def test_tables_too_small_to_learn_a_range_say_so(rows):
    df = with_labels(pd.Series(np.random.default_rng(0).normal(50, 5, rows)))
    with pytest.raises(BoundsNotLearnedError, match="column 'x'"):
        fit_sample(df)


def test_a_column_holding_one_value_comes_back_as_that_value():
    out = fit_sample(with_labels(pd.Series([7.25] * N)))
    assert (out["x"] == 7.25).mean() > 0.99


def test_a_constant_column_with_missing_values_keeps_both():
    values = np.where(np.random.default_rng(2).random(N) < 0.3, np.nan, 7.0)
    out = fit_sample(with_labels(pd.Series(values)))
    assert abs(out["x"].isna().mean() - 0.3) < 0.03 and (out["x"].dropna() == 7.0).mean() > 0.99


def test_only_negative_values_stay_negative():
    out = fit_sample(with_labels(pd.Series(-np.random.default_rng(3).lognormal(3, 1, N))))
    assert (out["x"].dropna() < 0).all() and out["x"].isna().mean() < 0.01  # a missing code is still reserved


def test_an_id_column_fits_and_stays_in_its_range_without_copying_ids():
    df = with_labels(pd.Series(np.arange(N) + 100_000))
    out = fit_sample(df)
    assert out["x"].dtype == np.int64 and out["x"].between(99_000, 105_000).mean() > 0.95
    assert out["x"].nunique() < N  # ids are not points (each held by one row): no record's id is released as such


def test_a_date_column_with_three_values_returns_those_dates():
    dates = pd.to_datetime(np.random.default_rng(4).choice(["2021-01-01", "2021-02-01", "2021-03-01"], N))
    out = fit_sample(with_labels(pd.Series(dates)))
    assert set(out["x"].dropna()) == set(pd.to_datetime(["2021-01-01", "2021-02-01", "2021-03-01"]))
