"""Whether a column has missing values is learned with DP, from the release that learns its values."""

import numpy as np
import pandas as pd
import pytest

import dpquilt as dq
from dpquilt.schema.point_masses import MISSING_KEY, MISSING_SIGMAS, has_missing, learn_points
from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.mechanisms import thresholded_counts
from dpquilt.privacy.noise import SeededNoise
from dpquilt.schema import NumericColumn


def _noise(seed=0):
    return SeededNoise(np.random.default_rng(seed))


def test_a_known_key_is_released_whatever_its_count_and_costs_nothing_more():
    acc = Accountant(1.0, 1e-9, secure=False)
    out = thresholded_counts({"a": 5000, "rare": 2}, 10.0, 1e-10, "categories of c", acc, _noise(), known={MISSING_KEY: 0})
    assert MISSING_KEY in out and "rare" not in out
    alone = Accountant(1.0, 1e-9, secure=False)
    thresholded_counts({"a": 5000, "rare": 2}, 10.0, 1e-10, "categories of c", alone, _noise())
    assert acc.rho_spent == alone.rho_spent and acc.delta_spent_approx == alone.delta_spent_approx
    with pytest.raises(ValueError, match="both known and learned"):
        thresholded_counts({"a": 1}, 10.0, 1e-10, "x", acc, _noise(), known={"a": 0})


def test_the_missing_key_is_decided_by_its_noisy_count():
    sigma = 10.0
    assert has_missing({MISSING_KEY: int(MISSING_SIGMAS * sigma)}, sigma, missing=True)
    assert not has_missing({MISSING_KEY: int(MISSING_SIGMAS * sigma) - 1}, sigma, missing=True)
    assert not has_missing({MISSING_KEY: 10_000}, sigma, missing=False)  # the dtype holds no missing values
    assert not has_missing({}, sigma, missing=True)


def test_point_masses_learn_missing_values_in_the_same_release():
    rng = np.random.default_rng(1)
    x = pd.Series(np.where(rng.random(5000) < 0.2, np.nan, rng.normal(size=5000)))
    acc = Accountant(1.0, 1e-9, secure=False)
    spec = learn_points(x, NumericColumn("x", points=None), 10.0, 1e-10, acc, _noise())
    assert spec.missing and len(acc.ledger) == 1
    full = learn_points(x.fillna(0.5), NumericColumn("x", points=None), 10.0, 1e-10, acc, _noise())
    assert not full.missing


def test_columns_without_missing_values_get_none_and_columns_with_them_keep_their_share():
    rng = np.random.default_rng(2)
    n = 8000
    df = pd.DataFrame({
        "amount": rng.lognormal(3, 1, n),  # float: could hold NaN, holds none
        "city": rng.choice(["oslo", "rome", "lima"], n).astype(object),
        "score": np.where(rng.random(n) < 0.25, np.nan, rng.normal(50, 10, n)),
        "label": pd.Series(rng.choice(["x", "y"], n)).where(rng.random(n) >= 0.1, None),
    })
    syn = dq.MarginalSynthesizer(epsilon=2.0, random_state=0, verbose=False).fit(df)
    assert [syn.schema_[c].missing for c in df.columns] == [False, False, True, True]
    out = syn.sample(n, random_state=0)
    assert out["amount"].notna().all() and out["city"].notna().all()
    assert abs(out["score"].isna().mean() - 0.25) < 0.03 and abs(out["label"].isna().mean() - 0.1) < 0.03


def test_rare_missing_values_under_the_threshold_leave_their_rows_out():
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.normal(size=n)
    x[:2] = np.nan  # two rows: far under 3 sigma at this budget
    df = pd.DataFrame({"x": x, "c": rng.choice(["a", "b"], n)})
    syn = dq.MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False).fit(df)
    assert not syn.schema_["x"].missing
    assert syn.sample(2000, random_state=0)["x"].notna().all()
    assert any(note.startswith("2 of 3000 rows") and note.endswith("left out") for note in syn.curator_notes_)
