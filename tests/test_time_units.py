"""Datetimes at their natural resolution: the unit learned with DP, whole days in the bins, decoding to it."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dpquilt as dq
from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.conversions import rho_of_gaussian
from dpquilt.privacy.noise import SeededNoise
from dpquilt.schema import DAY_SECONDS, NumericColumn, UntypedColumn
from dpquilt.schema.time_units import learn_unit, unit_classes, unit_from_noisy_classes


def _days(n, rng, start="2016-07-01", span=426):
    return pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, span, n), unit="D")


_DATES = st.datetimes(min_value=pd.Timestamp("1700-01-01").to_pydatetime(), max_value=pd.Timestamp("2200-01-01").to_pydatetime())


@given(st.lists(st.one_of(_DATES, st.none()), max_size=30), _DATES)
@settings(max_examples=100, deadline=None)
def test_one_row_moves_one_unit_class_by_one(values, extra):
    """The class histogram's sensitivity: adding one row changes exactly one class by one (L1 = L2 = 1)."""
    a = unit_classes(pd.Series(pd.to_datetime(pd.Series(values, dtype=object))))
    b = unit_classes(pd.Series(pd.to_datetime(pd.Series(values + [extra], dtype=object))))
    diff = b - a
    assert np.abs(diff).sum() == 1 and diff.min() >= 0


@pytest.mark.parametrize(
    "noisy,unit",
    [
        ([40, 300, 9000, 0], "day"),
        ([300, 3300, 12, -8], "month"),  # stray midnights under 3 sigma: still months
        ([900, 0, 0, 0], "year"),
        ([40, 300, 9000, 2000], None),  # times of day: instants
        ([10, 5, 0, 3], None),  # all noise: instants
    ],
)
def test_the_unit_is_a_function_of_the_noisy_classes(noisy, unit):
    assert unit_from_noisy_classes(np.array(noisy), sigma=10.0) == unit


def test_a_learned_unit_costs_one_gaussian_release_of_the_given_noise():
    acc = Accountant(1.0, 1e-9, secure=False)
    series = pd.Series(pd.to_datetime(["2021-03-01", "2021-04-01", "2021-05-01"] * 400))
    spec = learn_unit(series, NumericColumn("m", kind="datetime", unit="auto"), 10.0, acc,
                      SeededNoise(np.random.default_rng(0)))
    assert spec.unit == "month"
    (entry,) = acc.ledger
    assert entry.rho == pytest.approx(rho_of_gaussian(10.0)) and entry.noise_scale == 10.0


def test_a_unit_is_for_datetimes_and_a_learned_one_must_be_learned_before_encoding():
    with pytest.raises(ValueError, match="unit='day' is for datetime columns"):
        NumericColumn("x", unit="day")
    with pytest.raises(ValueError, match="unit must be"):
        NumericColumn("x", kind="datetime", unit="week")
    assert not NumericColumn("d", kind="datetime", lower=0, upper=1e9, unit="auto").complete


def test_dated_bins_hold_whole_days():
    spec = NumericColumn("d", kind="datetime", lower="2020-01-01 13:00", upper="2021-06-30 08:00", unit="day")
    edges = np.asarray(spec.bin_edges())
    assert np.all(edges % DAY_SECONDS == 0) and spec.n_bins == 32
    assert edges[0] == pd.Timestamp("2020-01-01").value / 1e9 and edges[-1] == pd.Timestamp("2021-07-01").value / 1e9
    few = NumericColumn("d", kind="datetime", lower="2020-01-01", upper="2020-01-10", unit="day")
    assert few.n_bins == 10  # one bin per day


def test_day_columns_decode_to_midnights_and_month_columns_to_month_starts():
    rng = np.random.default_rng(0)
    n = 6000
    df = pd.DataFrame({"day": _days(n, rng),
                       "month": pd.to_datetime(rng.choice(["2020-01-01", "2020-02-01", "2020-03-01"], n)),
                       "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.uniform(0, 3e7, n), unit="s"),
                       "c": rng.choice(["a", "b"], n)})
    syn = dq.MarginalSynthesizer(epsilon=3.0, random_state=0, verbose=False).fit(df)
    assert [syn.schema_[c].unit for c in ("day", "month", "when")] == ["day", "month", None]
    out = syn.sample(n, random_state=0)
    day = out["day"].dropna()
    assert (day == day.dt.normalize()).all() and day.nunique() > 300
    assert set(out["month"].dropna()) <= set(pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01"]))
    assert (out["when"].dropna() != out["when"].dropna().dt.normalize()).mean() > 0.9  # instants keep their times


def test_a_time_zone_keeps_its_local_dates():
    rng = np.random.default_rng(1)
    local = _days(4000, rng, "2021-01-01", 200).tz_localize("America/New_York")  # local midnights: 05:00 UTC
    df = pd.DataFrame({"d": local, "c": rng.choice(["a", "b"], 4000)})
    out = dq.MarginalSynthesizer(epsilon=3.0, random_state=0, verbose=False).fit(df).sample(4000, random_state=0)
    d = out["d"].dropna()
    assert str(d.dt.tz) == "America/New_York"
    wall = d.dt.tz_localize(None)
    assert (wall == wall.dt.normalize()).all()
    assert wall.min() >= pd.Timestamp("2020-12-01") and wall.max() <= pd.Timestamp("2021-08-31")


def test_dates_handed_over_as_text_come_back_as_dates_in_the_same_text():
    rng = np.random.default_rng(2)
    n = 8000
    dates = _days(n, rng)
    df = pd.DataFrame({"arrival": dates.strftime("%Y-%m-%d").astype(object),
                       "code": rng.choice(["1", "2", "3"], n).astype(object),  # numbers as text stay labels
                       "city": rng.choice(["oslo", "rome"], n).astype(object)})
    syn = dq.MarginalSynthesizer(epsilon=3.0, random_state=0, verbose=False).fit(df)
    assert syn.schema_["arrival"].kind == "datetime" and syn.schema_["arrival"].unit == "day"
    assert type(syn.schema_["code"]).__name__ == "CategoricalColumn"
    assert set(syn.schema_["code"].categories) == {"1", "2", "3"}
    out = syn.sample(n, random_state=0)
    assert out["arrival"].dtype == object
    text = out["arrival"].dropna()
    assert text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    parsed = pd.to_datetime(text)
    assert parsed.min() >= pd.Timestamp("2016-05-01") and parsed.max() <= pd.Timestamp("2017-11-01")
    # the days keep their frequencies: per-month shares close to the real ones
    real = pd.to_datetime(df["arrival"]).dt.to_period("M").value_counts(normalize=True)
    synth = parsed.dt.to_period("M").value_counts(normalize=True)
    assert 0.5 * real.sub(synth, fill_value=0).abs().sum() < 0.08
    assert "kind of 'arrival' (value classes)" in [e.what for e in syn.accountant_.ledger]


def test_the_kind_of_a_text_column_is_paid_for_and_a_declared_one_is_not():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"city": rng.choice(["oslo", "rome"], 3000).astype(object)})
    learned = dq.MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False).fit(df)
    declared = dq.MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False,
                                      schema={"city": {"kind": "categorical"}}).fit(df)
    whats = [e.what for e in learned.accountant_.ledger]
    assert whats[:2] == ["kind of 'city' (value classes)", "categories of 'city'"]
    assert "kind of 'city' (value classes)" not in [e.what for e in declared.accountant_.ledger]
    assert UntypedColumn("x").numbers and not UntypedColumn("x", numbers=False).numbers


def test_a_small_text_column_falls_back_to_labels_without_a_warning(caplog):
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"a": rng.choice(["x", "y"], 60).astype(object), "n": rng.integers(0, 5, 60)})
    with caplog.at_level("INFO", logger="dpquilt"):
        syn = dq.MarginalSynthesizer(epsilon=0.3, random_state=0, verbose=False,
                                     schema={"n": {"kind": "integer", "lower": 0, "upper": 4}}).fit(df)
    assert type(syn.schema_["a"]).__name__ == "CategoricalColumn"
    notes = [r for r in caplog.records if "tell dates from labels" in r.getMessage()]
    assert notes and all(r.levelname == "INFO" for r in notes)
    assert not any(r.levelname == "WARNING" and "its kind" in r.getMessage() for r in caplog.records)
