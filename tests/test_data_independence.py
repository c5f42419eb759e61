"""No bound, category list or bin edge comes from the data for free."""

import numpy as np
import pandas as pd
import pytest

import dpquilt as dq
import dpquilt.schema.bounds as bounds
import dpquilt.schema.kinds as kinds
import dpquilt.schema.point_masses as point_masses
import dpquilt.schema.time_units as time_units
import dpquilt.schema.learning as inference
from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.noise import SeededNoise
from dpquilt.schema.learning import facts_to_learn, learn_schema, merge_specs
from tests.conftest import FAST


def frame(rng, n=300):
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.lognormal(10, 1, n),
            "city": rng.choice(["paris", "rome", "oslo"], n),
            "when": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
        }
    )


def with_extreme_row(df):
    extreme = pd.DataFrame(
        {"age": [10**6], "income": [1e12], "city": ["atlantis"], "when": [pd.Timestamp("2099-12-31")]}
    )
    return pd.concat([df, extreme], ignore_index=True)


PUBLIC = {
    "age": {"kind": "integer", "lower": 18, "upper": 90},
    "income": {"lower": 0, "upper": 1e6},
    "city": {"categories": ["oslo", "paris", "rome"]},
    "when": {"kind": "datetime", "lower": "2020-01-01", "upper": "2021-01-01"},
}


def fit(df, **kw):
    return dq.MarginalSynthesizer(epsilon=1.0, random_state=3, verbose=False, estimation=FAST, **kw).fit(df)


def test_public_schema_gives_identical_encodings_and_no_schema_entry(rng):
    df = frame(rng)
    a, b = fit(df, schema=PUBLIC), fit(with_extreme_row(df), schema=PUBLIC)
    assert a.schema_ == b.schema_
    for s in (a, b):
        assert not any(("bounds" in e.what) or ("categories" in e.what) for e in s.privacy_report().expenditures)


def test_learned_schema_has_one_ledger_entry_per_fact(rng):
    df = frame(rng, n=3000)  # enough rows for every range to stand above the noise
    syn = fit(df)
    whats = [e.what for e in syn.privacy_report().expenditures]
    for col, fact in facts_to_learn(merge_specs(df, None)):
        prefix = {"points": "point masses"}.get(fact, fact)
        assert sum(1 for w in whats if w.startswith(f"{prefix} of {col!r}")) == 1


def test_with_dp_steps_patched_out_nothing_else_moves(rng, monkeypatch):
    """Replace the DP releases (kind and unit classes, band histograms, category and point counts, quantiles) by
    constants: the learned schema must then be equal on neighbours."""

    def constant_counts(counts, sigma, what, accountant, noise):
        return np.arange(np.size(counts))[::-1] * 1000  # ignores the data

    def constant_classes(counts, sigma, what, accountant, noise):
        return np.eye(np.size(counts))[-1] * 1000  # all in the last class: text, or times of day

    def constant_categories(counts, sigma, delta, what, accountant, noise, known=None):
        return {"paris": 1000, "rome": 1000, **{k: 0 for k in (known or {})}}  # ignores the data

    def constant_points(counts, sigma, delta, what, accountant, noise, known=None):
        return {0.0: 1000, **{k: 1000 for k in (known or {})}}

    monkeypatch.setattr(bounds, "gaussian_counts", constant_counts)
    monkeypatch.setattr(bounds, "private_quantile_of_ranks",
                        lambda below, n, candidates, *rest: float(candidates[len(candidates) // 3]))
    monkeypatch.setattr(inference, "thresholded_counts", constant_categories)
    monkeypatch.setattr(point_masses, "thresholded_counts", constant_points)
    monkeypatch.setattr(kinds, "gaussian_counts", constant_classes)
    monkeypatch.setattr(time_units, "gaussian_counts", constant_classes)
    df = frame(rng)
    schemas = []
    for data in (df, with_extreme_row(df)):
        specs = merge_specs(data, None)
        acc = Accountant(1.0, 1e-9)
        schemas.append(learn_schema(data, specs, 0.01, 1e-10, acc, SeededNoise(np.random.default_rng(0))))
    assert schemas[0] == schemas[1]


def test_learned_bounds_cover_the_bulk_of_the_data(rng):
    df = frame(rng, n=20_000)
    syn = fit(df)
    lo, hi = syn.schema_["age"].clip_range
    assert lo <= 20 and hi >= 85
    assert set(syn.schema_["city"].categories) == {"oslo", "paris", "rome"}
