"""DiffusionSynthesizer: DP-SGD and two-stage training, accounting, API."""

import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("opacus")

import dpquilt as dq  # noqa: E402
from dpquilt.diffusion_model import feature_map as features_module  # noqa: E402
from dpquilt.dpsgd.training import DPSGDSettings  # noqa: E402
from dpquilt.diffusion_model.gaussian_diffusion import DDPMSettings  # noqa: E402

FAST = DDPMSettings(hidden=32, diffusion_steps=20, noise_draws=4, training=DPSGDSettings(batch_size=256, epochs=8, learning_rate=5e-3))
#: enough training that what is learned does not hang on the seed (at 8 epochs the share of missing
#: "b" ranged 0.0-0.35 over seeds 0-5; at 24 it was 0 for each, 1.3 s a fit)
TRAINED = DDPMSettings(hidden=32, diffusion_steps=20, noise_draws=4, training=DPSGDSettings(batch_size=256, epochs=24, learning_rate=5e-3))
SCHEMA = {"a": {"categories": ["p", "q"]}, "b": {"lower": 0, "upper": 10}, "k": {"kind": "integer", "lower": 0, "upper": 5}}


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(2)
    n = 3000
    a = np.where(rng.random(n) < 0.85, "p", "q")
    return pd.DataFrame({"a": a, "b": np.where(a == "p", 2.0, 7.0) + rng.normal(0, 0.5, n), "k": rng.integers(0, 6, n)})


def test_dpsgd_fit_spends_a_count_and_dpsgd_and_learns_the_majority(frame):
    syn = dq.DiffusionSynthesizer(epsilon=8.0, schema=SCHEMA, settings=TRAINED, random_state=0, verbose=False).fit(frame)
    ledger = syn.accountant_.ledger
    assert [e.what for e in ledger] == [
        "record count",
        "histogram of 'b' (quantile transform)",
        "histogram of 'k' (quantile transform)",
        "diffusion model (DP-SGD)",
    ]
    rho_left = dq.Accountant(8.0, 1e-9).remaining_rho()  # the schema is public: nothing spent before
    assert ledger[0].rho == pytest.approx(0.01 * rho_left) and ledger[1].rho == pytest.approx(0.05 * rho_left / 2)
    assert ledger[3].noise_scale == pytest.approx(syn.plan_.noise_multiplier)
    assert set(syn.features_.cdfs) == {"b", "k"}
    report = syn.privacy_report()
    assert 0.99 * 8.0 <= report.epsilon_spent <= 8.0
    assert abs(syn.public_rows_ - len(frame)) < 6 * ledger[0].noise_scale
    out = syn.sample(2000, random_state=1)
    assert list(out.columns) == ["a", "b", "k"] and out["k"].dtype == np.int64
    assert out["b"].dropna().between(0, 10).all() and out["k"].between(0, 5).all()
    assert out["b"].isna().mean() < 0.2  # the real column has no missing values
    assert (out["a"] == "p").mean() > 0.6
    assert out.loc[out["a"] == "p", "b"].mean() < out.loc[out["a"] == "q", "b"].mean()


def test_matched_samples_follow_the_released_cdfs_in_the_models_row_order(frame):
    syn = dq.DiffusionSynthesizer(epsilon=4.0, schema=SCHEMA, settings=FAST, random_state=0, verbose=False).fit(frame)
    matched = syn.sample(4000, random_state=3)
    syn.set_params(match_marginals=False)
    plain = syn.sample(4000, random_state=3)  # the same model draws: only the decoding differs
    cdf = syn.features_.cdfs["b"]
    b = matched["b"].dropna().to_numpy()
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):  # the decoded column's quantiles are the released CDF's
        assert abs(float(np.quantile(b, q)) - float(cdf.inverse(np.array([q]))[0])) < 0.15
    gap_matched = max(abs(float(cdf.forward(np.array([np.quantile(b, q)]))[0]) - q) for q in np.linspace(0.05, 0.95, 19))
    plain_b = plain["b"].dropna().to_numpy()
    gap_plain = max(abs(float(cdf.forward(np.array([np.quantile(plain_b, q)]))[0]) - q) for q in np.linspace(0.05, 0.95, 19))
    assert gap_matched < 0.01 < gap_plain  # the undertrained model's own margin is off; the matched one is not
    both = matched["b"].notna() & plain["b"].notna()
    rho = pd.Series(matched.loc[both, "b"]).rank().corr(pd.Series(plain.loc[both, "b"]).rank())
    assert rho > 0.99  # rank for rank: the model's order of the rows is kept
    pd.testing.assert_series_equal(matched["a"], plain["a"])  # categorical columns are untouched
    share = cdf.missing_share  # from the histogram's missing cell: the real column has none, so only noise
    assert share is not None and share < 0.01
    assert matched["b"].isna().sum() == round(share * 4000)  # the flag follows the released share too


def test_transform_share_zero_scales_linearly_and_spends_no_histograms(frame):
    syn = dq.DiffusionSynthesizer(epsilon=4.0, schema=SCHEMA, settings=FAST, transform_share=0.0, random_state=0,
                                  verbose=False).fit(frame.iloc[:600])
    assert [e.what for e in syn.accountant_.ledger] == ["record count", "diffusion model (DP-SGD)"]
    assert syn.features_.cdfs == {}


def test_two_stage_spends_only_the_first_stage_and_trains_on_its_release(frame, monkeypatch):
    seen = []
    original = features_module.FeatureMap.features

    def spy(self, df):
        seen.append(df)
        return original(self, df)

    monkeypatch.setattr(features_module.FeatureMap, "features", spy)
    syn = dq.DiffusionSynthesizer(epsilon=1.0, schema=SCHEMA, settings=FAST, two_stage=True, random_state=0, verbose=False)
    syn.fit(frame)
    stage = dq.MarginalSynthesizer(epsilon=1.0, schema=SCHEMA, random_state=0, verbose=False).fit(frame)
    assert [(e.what, e.noise_scale) for e in syn.accountant_.ledger] == [(e.what, e.noise_scale) for e in stage.accountant_.ledger]
    assert syn.plan_ is None
    (trained_on,) = seen
    assert trained_on is not frame and len(trained_on) == syn.public_rows_ == round(syn.first_stage_.model_.total)
    assert any("two-stage" in note for note in syn.privacy_report().notes)
    assert syn.sample(10, random_state=0).shape == (10, 3)


def test_seeded_fits_are_reproducible(frame):
    outs = [
        dq.DiffusionSynthesizer(epsilon=2.0, schema=SCHEMA, settings=FAST, random_state=4, verbose=False)
        .fit(frame.iloc[:800])
        .sample(50, random_state=5)
        for _ in range(2)
    ]
    pd.testing.assert_frame_equal(outs[0], outs[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"count_share": 0}, "count_share=0 leaves nothing for the record count"),
        ({"first_stage": {"method": "aim"}}, "first_stage is used only with two_stage=True"),
        ({"schema_share": 1.0}, r"schema_share=1.0 must lie in \[0, 1\)"),
        ({"match_marginals": "yes"}, "match_marginals must be True or False, got 'yes'"),
    ],
)
def test_bad_parameters_are_named(frame, kwargs, message):
    with pytest.raises(ValueError, match=message):
        dq.DiffusionSynthesizer(schema=SCHEMA, verbose=False, **kwargs).fit(frame)


def test_sample_before_fit_says_what_to_do():
    with pytest.raises(dq.NotFittedError, match=r"call fit\(df\) before sample\(\)"):
        dq.DiffusionSynthesizer().sample(3)


def test_too_few_dpsgd_steps_are_flagged(frame, caplog):
    few = DDPMSettings(hidden=16, diffusion_steps=10, noise_draws=2, training=DPSGDSettings(batch_size=1024, epochs=2))
    with caplog.at_level("WARNING", logger="dpquilt.diffusion_model.gaussian_diffusion"):
        dq.DiffusionSynthesizer(epsilon=4.0, schema=SCHEMA, settings=few, random_state=0, verbose=False).fit(frame)
    (record,) = [r for r in caplog.records if "DP-SGD steps" in r.getMessage()]
    assert re.search(r"only [5-7] DP-SGD steps \(batch 1024, 2 epochs over about (29|30)\d\d rows\)", record.getMessage())


def test_fit_trained_takes_a_model_trained_elsewhere_with_the_estimators_budget():
    from dpquilt.diffusion_model.feature_map import FeatureMap
    from dpquilt.diffusion_model.gaussian_diffusion import GaussianDiffusion
    from dpquilt.privacy import Randomness

    schema = dq.Schema.from_public(SCHEMA)
    features = FeatureMap(schema)
    model = GaussianDiffusion((), features.width, FAST, "cpu", Randomness.of(0).generator("weights"))
    ledger = dq.Accountant(2.0, 1e-9, secure=False)
    syn = dq.DiffusionSynthesizer(epsilon=2.0, delta=1e-9, schema=schema, settings=FAST, random_state=0, verbose=False)
    syn.fit_trained(model, features, ledger, public_rows=120, notes=("trained by a test",))
    assert len(syn.sample(random_state=0)) == 120 and syn.privacy_report().notes == ("trained by a test",)
    with pytest.raises(ValueError, match="estimator's budget"):
        dq.DiffusionSynthesizer(epsilon=3.0, schema=schema, verbose=False).fit_trained(model, features, ledger, 120)
