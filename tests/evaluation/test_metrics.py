"""Metrics on real tables: each one moves the right way on a copy, a resample and a broken table."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sdmetrics")
pytest.importorskip("sklearn")

from dpquilt.evaluation import (  # noqa: E402
    association_difference,
    column_distances,
    cramers_v,
    distance_to_closest_record,
    evaluation_schema,
    membership_inference_auc,
    train_synthetic_test_real,
)
from tests.conftest import independent_columns  # noqa: E402


@pytest.fixture(scope="module")
def split(credit_data):
    shuffled = credit_data.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return shuffled[:2000], shuffled[2000:4000]


def test_column_distances_are_zero_on_a_copy_and_grow_with_a_shift(split):
    train, _ = split
    schema = evaluation_schema(train)
    assert column_distances(train, train, schema).distance.max() == 0.0
    shifted = train.copy()
    lo, hi = schema["Income"].clip_range
    shifted["Income"] = np.clip(shifted["Income"] + 0.1 * (hi - lo), lo, hi)
    shifted["Status"] = "bad"
    d = column_distances(train, shifted, schema).set_index("column")
    assert 0.05 < d.loc["Income", "distance"] <= 0.1 and d.loc["Income", "kind"] == "wasserstein"
    share_good = (train.Status == "good").mean()
    assert d.loc["Status", "distance"] == pytest.approx(share_good) and d.loc["Status", "kind"] == "tv"


def test_association_difference_sees_broken_dependence(split, rng):
    train, holdout = split
    cats = ["Status", "Home", "Marital", "Records", "Job"]
    assert cramers_v(train, "Status", "Records") > 0.1  # a real dependence in credit_data
    same = association_difference(train, holdout, cats)
    broken = association_difference(train, independent_columns(train, rng), cats)
    assert same < 0.1 and broken > 1.8 * same


def test_tstr_on_real_rows_beats_tstr_on_independent_columns(split, rng):
    train, test = split
    schema = evaluation_schema(train)
    trtr = train_synthetic_test_real(train, test, "Status", schema)
    majority = (test.Status == train.Status.mode()[0]).mean()
    shuffled = train_synthetic_test_real(independent_columns(train, rng), test, "Status", schema)
    assert trtr > majority + 0.03 and shuffled <= majority + 0.01
    r2 = train_synthetic_test_real(train, test, "Amount", schema)
    assert r2 > 0.3  # Amount is predictable from Price and the rest


def test_a_copied_table_fails_both_disclosure_checks_and_a_fresh_sample_passes(split):
    train, holdout = split
    schema = evaluation_schema(train)
    assert membership_inference_auc(train, holdout, train, schema) > 0.95
    assert distance_to_closest_record(train, train, holdout, schema, max_rows=400) > 0.95
    other = holdout  # real rows the "synthesizer" never saw, from the same population
    rest = train.iloc[1000:]
    assert membership_inference_auc(train.iloc[:1000], rest, other, schema) == pytest.approx(0.5, abs=0.05)
    assert distance_to_closest_record(train.iloc[:1000], other, rest, schema, max_rows=400) == pytest.approx(0.5, abs=0.08)


def test_bad_target_and_missing_columns_are_named(split):
    train, test = split
    schema = evaluation_schema(train)
    with pytest.raises(ValueError, match="target 'nope'"):
        train_synthetic_test_real(train, test, "nope", schema)
    with pytest.raises(ValueError, match=r"lacks columns \['Income'\]"):
        column_distances(train, train.drop(columns="Income"), schema)


def test_evaluation_schema_keeps_public_facts():
    import dpquilt as dq

    df = pd.DataFrame({"x": [1.0, 5.0], "c": ["a", "b"]})
    public = dq.Schema.from_public({"x": {"lower": 0.0, "upper": 10.0}})
    schema = evaluation_schema(df, public)
    assert (schema["x"].lower, schema["x"].upper) == (0.0, 10.0) and schema["c"].categories == ("a", "b")


def test_tstr_splits_categories_natively_and_long_lists_as_codes(rng):
    """One model input per column: a code that decides the target is learnt as categories,
    and a list longer than the model's 255 bins enters as ordered codes (no one-hot blow-up)."""
    from dpquilt.evaluation.utility import model_inputs

    n = 3000
    short = rng.integers(0, 40, n)
    long_list = rng.integers(0, 300, n)
    df = pd.DataFrame({"short": short.astype(str), "long": long_list.astype(str)})
    df["y"] = np.where(np.isin(short, [3, 17, 29, 31]), "yes", "no")  # categories, not an order
    schema = evaluation_schema(df)
    inputs, categorical = model_inputs(df, schema, ["short", "long"])
    assert inputs.shape == (n, 2) and categorical.tolist() == [True, False]
    assert train_synthetic_test_real(df[:2000], df[2000:], "y", schema) > 0.99
