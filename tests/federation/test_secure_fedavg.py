"""DP-FedAvg over SecAgg+: the quantisation and its bound, and the securely averaged weights."""

import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("flwr")

import dpquilt as dq  # noqa: E402
from dpquilt.diffusion_model.gaussian_diffusion import GaussianDiffusion  # noqa: E402
from dpquilt.dpsgd.training import train_dpsgd  # noqa: E402
from dpquilt.federation.fedavg import plan_client  # noqa: E402
from dpquilt.federation.secure_fedavg import (  # noqa: E402
    RESOLUTION, flat_weights, load_flat, quantization_bound, quantize_update,
)
from dpquilt.federation.quantile_transform import transform_sigmas  # noqa: E402
from dpquilt.privacy.mechanisms import spend_distributed_gaussian  # noqa: E402
from dpquilt.privacy import Accountant  # noqa: E402
from dpquilt.privacy.noise import SeededNoise  # noqa: E402
from dpquilt.privacy.randomness import Randomness  # noqa: E402

from .test_fedavg import FAST, SCHEMA, frame  # noqa: E402


def test_stochastic_rounding_is_unbiased_and_each_entry_moves_by_less_than_one_step():
    rng = np.random.default_rng(0)
    update = rng.normal(0, 1e-3, 2000)
    draws = np.array([quantize_update(update, 500.0, rng) for _ in range(400)])
    exact = 500.0 * update / RESOLUTION
    assert np.abs(draws - exact).max() < 1.0
    assert np.abs(draws.mean(axis=0) - exact).max() < 0.2  # mean of 400 draws: SE <= 0.025


def test_an_update_that_does_not_fit_the_secure_sums_range_is_refused():
    with pytest.raises(ValueError, match="does not fit the secure sum's range"):
        quantize_update(np.array([1.0]), 2e6, np.random.default_rng(0))


def test_the_securely_averaged_weights_are_the_weighted_average_within_the_stated_bound():
    frames = [frame(400, 1), frame(700, 2)]
    unfitted = dq.DiffusionSynthesizer(epsilon=3.0, schema=SCHEMA, settings=FAST, random_state=5, verbose=False)
    syn = dq.federation.simulate(frames, unfitted, fedavg_rounds=1, secure_updates=True, algorithm="fedavg")
    features = syn.features_  # the federated quantile transform's CDFs, the same on every party
    assert set(features.cdfs) == {"b", "k"}  # the numeric columns
    sigmas = transform_sigmas(SCHEMA, 3.0, 1e-9, 0.05, honest_shares=2)
    init = GaussianDiffusion((), features.width, FAST, torch.device("cpu"),
                             Randomness.of(np.random.default_rng([5, 2**31])).generator("initial weights"))
    start = flat_weights(init.model).astype(np.float64)
    weighted, rows = np.zeros_like(start), 0.0
    for key, df in enumerate(frames):  # each client's round, reproduced from its documented seeds
        x0, present = features.features(df)
        acc = Accountant(3.0, 1e-9, secure=False)
        for name, sigma in sigmas.items():  # the histograms are released first
            spend_distributed_gaussian(f"histogram of {name!r}", sigma, 2, acc, dimension=SCHEMA[name].size)
        plan = plan_client(len(df), 0.01, FAST, 1, acc, SeededNoise(np.random.default_rng([5, key, zlib.crc32(b"count")])))
        randomness = Randomness.of(np.random.default_rng([5, key, 1]))
        local = GaussianDiffusion((), features.width, FAST, torch.device("cpu"), randomness.generator("model shell"))
        load_flat(local.model, start.astype(np.float32))
        loss = local.record_loss(x0, present, np.zeros((len(df), 0), dtype=np.int64))
        train_dpsgd(local.model, loss, len(df), plan.dpsgd_plan(), FAST.training, acc, "DP-SGD round 1", randomness,
                    torch.device("cpu"))
        weighted += plan.noisy_rows * (flat_weights(local.model).astype(np.float64) - start)
        rows += plan.noisy_rows
        assert syn.client_epsilons_[key] == pytest.approx(acc.epsilon_spent())
    expected = start + np.sqrt(2) * weighted / rows  # the server's step: sqrt(clients) times the average update
    got = flat_weights(syn.diffusion_.model).astype(np.float64)
    bound = np.sqrt(2) * quantization_bound(2, rows)
    assert syn.quantization_bounds_ == [pytest.approx(bound)]
    assert np.abs(got - expected).max() <= bound + 1e-6  # + float32 storage of the weights
    assert np.abs(got - start).max() > 100 * bound  # the rounds did move the weights: the bound is far below a step
    report = syn.privacy_report()
    assert "summed under SecAgg+" in report.notes[0] and max(syn.client_epsilons_.values()) <= 3.0
    assert [e.what for e in report.expenditures][:2] == ["histogram of 'b' (federated quantile transform)",
                                                         "histogram of 'k' (federated quantile transform)"]
    assert "federated quantile transform" in report.notes[-1]


def test_the_federated_quantile_transform_follows_the_pooled_rows():
    frames = [frame(3000, 1), frame(3000, 2)]
    unfitted = dq.DiffusionSynthesizer(epsilon=3.0, schema=SCHEMA, settings=FAST, random_state=5, verbose=False)
    syn = dq.federation.simulate(frames, unfitted, fedavg_rounds=1, secure_updates=True, algorithm="fedavg")
    pooled = np.concatenate([f["b"].to_numpy() for f in frames])
    cdf = syn.features_.cdfs["b"]
    assert 0.0 <= cdf.missing_share < 0.01  # the summed missing cell: b has no missing values, so only noise
    for q in (0.25, 0.5, 0.75):  # b is bimodal (near 2 and 7, 80/20): the CDF at the pooled quantiles
        value = np.quantile(pooled, q)
        assert abs(float(cdf.forward(np.array([value]))[0]) - q) < 0.1
