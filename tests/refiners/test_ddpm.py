"""The DDPM refiner: it learns within-bin shapes, keeps bins, and spends through the accountant."""

import logging

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("opacus")

import dpquilt as dq  # noqa: E402
from dpquilt.privacy.randomness import Randomness  # noqa: E402
from dpquilt.refiners.ddpm import DDPMRefiner, DDPMSettings  # noqa: E402
from dpquilt.dpsgd.training import DPSGDSettings  # noqa: E402
from dpquilt.refiners.layout import Layout  # noqa: E402
from dpquilt.schema.dataset import Dataset  # noqa: E402
from dpquilt.schema.codec import encode  # noqa: E402
from dpquilt.privacy import Accountant  # noqa: E402
from dpquilt.schema import CategoricalColumn, NumericColumn, Schema  # noqa: E402

FAST = DDPMSettings(hidden=32, diffusion_steps=20, noise_draws=4, training=DPSGDSettings(batch_size=256, epochs=6, learning_rate=5e-3))
SCHEMA = Schema([CategoricalColumn("c", (0, 1)), NumericColumn("x", lower=0.0, upper=1.0, bins=1)])


def skewed_rows(n, rng):
    """Inside its one bin, x sits low for c=0 and high for c=1: uniform decoding misses this."""
    c = rng.integers(0, 2, n)
    return c, np.where(c == 0, rng.beta(2, 8, n), rng.beta(8, 2, n))


def codes_of(c, x):
    """Records' codes as a Dataset over SCHEMA's columns."""
    return Dataset({"c": c, "x": x}, SCHEMA.domain())


def fitted_refiner(n):
    rng = np.random.default_rng(0)
    c, u = skewed_rows(n, rng)
    lay = Layout.of(SCHEMA)
    codes = np.stack([c, np.zeros_like(c)], axis=1)
    return DDPMRefiner(FAST).fit(lay, codes, u[:, None], Accountant(8.0, 1e-6), "cpu", public_rows=n, randomness=Randomness.of(rng)), lay, c


def test_refiner_learns_where_values_sit_inside_a_bin():
    ref, _, c = fitted_refiner(4000)
    out = ref.sample(codes_of(c[:2000], np.zeros(2000, dtype=int)), np.random.default_rng(1))["x"]
    assert np.all((out >= 0) & (out < 1))
    low, high = out[c[:2000] == 0].mean(), out[c[:2000] == 1].mean()
    assert low < 0.4 and high > 0.6  # truth 0.2 and 0.8; uniform decoding gives 0.5 and 0.5


def test_missing_codes_get_no_position():
    ref, lay, _ = fitted_refiner(500)
    missing = lay.missing_codes[0]
    out = ref.sample(codes_of(np.array([0, 1]), np.array([0, missing])), np.random.default_rng(1))["x"]
    assert not np.isnan(out[0]) and np.isnan(out[1])


def test_shapes_are_checked():
    lay = Layout.of(SCHEMA)
    with pytest.raises(ValueError, match=r"targets must be \(rows, 1\)"):
        DDPMRefiner(FAST).fit(lay, np.zeros((5, 2), int), np.zeros((5, 2)), Accountant(1.0, 1e-6), "cpu", public_rows=5)


@pytest.fixture(scope="module")
def mixed_frame():
    rng = np.random.default_rng(3)
    n = 3000
    a = rng.choice(["p", "q", "r"], n)
    b = np.where(a == "p", rng.exponential(0.5, n), rng.normal(5, 1, n)).clip(0, 10)
    return pd.DataFrame({"a": a, "b": b, "k": rng.integers(0, 4, n), "c": (2 * b + rng.normal(0, 1, n)).clip(-5, 25)})


MIXED_SCHEMA = {
    "a": {"categories": ["p", "q", "r"]},
    "b": {"lower": 0, "upper": 10, "bins": 6},
    "k": {"kind": "integer", "lower": 0, "upper": 3},
    "c": {"lower": -5, "upper": 25, "bins": 6},
}


def fit_ddpm(frame, **kw):
    return dq.MarginalSynthesizer(
        epsilon=2.0, schema=MIXED_SCHEMA, refiner="ddpm", refiner_settings=FAST, random_state=0, verbose=False, **kw
    ).fit(frame)


def test_synthesizer_keeps_the_models_bins_exactly(mixed_frame):
    syn = fit_ddpm(mixed_frame)
    refined = syn.sample(1500, random_state=7)
    ddpm = syn.refiner_
    syn.refiner_ = dq.refiners.UniformBackend().fit(ddpm.layout_, None, None, None)
    uniform = syn.sample(1500, random_state=7)
    schema = syn.schema_
    for col in schema.names:
        assert np.array_equal(encode(refined, schema).data.columns[col], encode(uniform, schema).data.columns[col]), col
    assert not np.allclose(refined["b"].to_numpy(), uniform["b"].to_numpy(), equal_nan=True)


def test_synthesizer_splits_the_budget_and_reports_dpsgd(mixed_frame):
    syn = fit_ddpm(mixed_frame, refiner_share=0.4)
    report = syn.privacy_report()
    ledger = syn.accountant_.ledger
    assert ledger[-1].what.startswith("refiner: DDPM") and ledger[-1].rdp is not None
    rho_total = Accountant(2.0, 1e-9).remaining_rho()
    assert syn.accountant_.rho_spent == pytest.approx(0.6 * rho_total, rel=1e-6)
    assert 0.99 * 2.0 <= report.epsilon_spent <= 2.0
    assert any("DP-SGD noise" in note for note in report.notes)


def test_no_numeric_room_skips_the_refiner_and_keeps_the_budget_for_marginals(caplog):
    frame = pd.DataFrame({"a": ["p", "q"] * 100, "k": [0, 1, 2, 3] * 50})
    schema = {"a": {"categories": ["p", "q"]}, "k": {"kind": "integer", "lower": 0, "upper": 3}}
    with caplog.at_level(logging.WARNING):
        syn = dq.MarginalSynthesizer(epsilon=1.0, schema=schema, refiner="ddpm", random_state=0, verbose=False).fit(frame)
    assert "has no numeric column with room" in caplog.text
    assert syn.refiner_.name == "uniform"
    assert all(e.rdp is None for e in syn.accountant_.ledger)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"refiner": "gan"}, r"refiner='gan' is not available; choose one of \['histogram', 'uniform', 'ddpm'\]"),
        ({"refiner": "ddpm", "refiner_share": 1.0}, r"refiner_share=1.0 must lie in \(0, 1\)"),
    ],
)
def test_bad_refiner_arguments_are_named(mixed_frame, kwargs, message):
    with pytest.raises(ValueError, match=message):
        dq.MarginalSynthesizer(schema=MIXED_SCHEMA, verbose=False, **kwargs).fit(mixed_frame)
