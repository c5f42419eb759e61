"""DP-FedAvg of the diffusion model: client plans, replayed ledgers, and the averaged weights."""

import zlib

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")
pytest.importorskip("flwr")

import dpquilt as dq
from dpquilt.privacy.randomness import Randomness  # noqa: E402
from dpquilt.dpsgd.training import DPSGDSettings, train_dpsgd  # noqa: E402
from dpquilt.diffusion_model.feature_map import FeatureMap  # noqa: E402
from dpquilt.diffusion_model.gaussian_diffusion import DDPMSettings, GaussianDiffusion  # noqa: E402
from dpquilt.federation.fedavg import client_ledger, plan_client  # noqa: E402
from dpquilt.privacy import Accountant  # noqa: E402
from dpquilt.privacy.noise import SeededNoise  # noqa: E402

FAST = DDPMSettings(hidden=16, diffusion_steps=10, noise_draws=2, training=DPSGDSettings(batch_size=128, epochs=2, learning_rate=5e-3))
SCHEMA = dq.Schema.from_public(
    {"a": {"categories": ["p", "q"]}, "b": {"lower": 0, "upper": 10}, "k": {"kind": "integer", "lower": 0, "upper": 5}}
)


def frame(n, seed):
    rng = np.random.default_rng(seed)
    a = np.where(rng.random(n) < 0.8, "p", "q")
    return pd.DataFrame({"a": a, "b": np.where(a == "p", 2.0, 7.0) + rng.normal(0, 0.5, n), "k": rng.integers(0, 6, n)})


def test_a_clients_plan_fills_its_budget_over_all_rounds_and_replays_exactly():
    acc = Accountant(2.0, 1e-8, secure=False)
    plan = plan_client(1000, 0.02, FAST, 4, acc, SeededNoise(np.random.default_rng(0)))
    assert plan.rounds == 4 and plan.sample_rate == pytest.approx(128 / plan.noisy_rows)
    assert plan.steps_per_round == int(np.ceil(2 / (4 * plan.sample_rate)))
    replayed = client_ledger(plan, 2.0, 1e-8, False, 4)
    assert 0.99 * 2.0 <= replayed.epsilon_spent() <= 2.0
    assert [e.what for e in replayed.ledger] == ["record count"] + [f"DP-SGD round {r}" for r in range(1, 5)]
    assert client_ledger(plan, 2.0, 1e-8, False, 2).epsilon_spent() < replayed.epsilon_spent()
    assert replayed.ledger[0] == acc.ledger[0]  # the count line replays what was spent


def test_a_clients_plan_makes_at_least_the_central_models_steps_over_all_rounds():
    settings = DDPMSettings(hidden=16, training=DPSGDSettings(batch_size=128, epochs=2, min_steps=100))
    plan = plan_client(1000, 0.02, settings, 4, Accountant(2.0, 1e-8, secure=False), SeededNoise(np.random.default_rng(0)))
    assert plan.steps_per_round == 25  # 2 epochs would be ceil(2 / (4 q)) = 4 steps a round
    assert plan.steps_per_round * plan.rounds >= 100


def test_one_round_steps_by_the_server_rate_towards_the_clients_models_weighted_by_their_noisy_counts():
    frames = [frame(400, 1), frame(700, 2)]
    unfitted = dq.DiffusionSynthesizer(epsilon=3.0, schema=SCHEMA, settings=FAST, random_state=5, verbose=False)
    syn = dq.federation.simulate(frames, unfitted, fedavg_rounds=1, secure_updates=False, server_learning_rate=1.5)
    assert syn is unfitted  # the estimator passed in is the one fitted
    features = FeatureMap(SCHEMA)
    init = GaussianDiffusion((), features.width, FAST, torch.device("cpu"),
                             Randomness.of(np.random.default_rng([5, 2**31])).generator("initial weights"))
    models, weights = [], []
    for key, df in enumerate(frames):  # each client's round, reproduced from its documented seeds
        x0, present = features.features(df)
        acc = Accountant(3.0, 1e-9, secure=False)
        plan = plan_client(len(df), 0.01, FAST, 1, acc, SeededNoise(np.random.default_rng([5, key, zlib.crc32(b"count")])))
        randomness = Randomness.of(np.random.default_rng([5, key, 1]))
        local = GaussianDiffusion((), features.width, FAST, torch.device("cpu"), randomness.generator("model shell"))
        local.model.load_state_dict(init.model.state_dict())
        loss = local.record_loss(x0, present, np.zeros((len(df), 0), dtype=np.int64))
        train_dpsgd(local.model, loss, len(df), plan.dpsgd_plan(), FAST.training, acc, "DP-SGD round 1", randomness, torch.device("cpu"))
        models.append(local.model.state_dict())
        weights.append(plan.noisy_rows)
        assert syn.client_epsilons_[key] == pytest.approx(acc.epsilon_spent())
    w = np.array(weights) / sum(weights)
    start = init.model.state_dict()
    for name, tensor in syn.diffusion_.model.state_dict().items():
        average = sum(wi * m[name].double() for wi, m in zip(w, models))
        expected = start[name].double() + 1.5 * (average - start[name].double())
        torch.testing.assert_close(tensor.double(), expected, rtol=1e-5, atol=1e-6)
    assert max(syn.client_epsilons_.values()) <= 3.0
    assert "DP-FedAvg over 2 clients" in syn.privacy_report().notes[0]
    out = syn.sample(20, random_state=0)
    assert list(out.columns) == ["a", "b", "k"] and len(out) == 20


def test_bad_rounds_and_schemas_are_named():
    with pytest.raises(ValueError, match="fedavg_rounds must be a positive integer, got 0"):
        dq.federation.simulate([frame(10, 0), frame(10, 1)], dq.DiffusionSynthesizer(schema=SCHEMA), fedavg_rounds=0)
    with pytest.raises(ValueError, match="needs a complete public Schema"):
        dq.federation.simulate([frame(10, 0), frame(10, 1)], dq.DiffusionSynthesizer(schema=None))
    with pytest.raises(TypeError, match="set them on the synthesizer"):
        dq.federation.simulate([frame(10, 0), frame(10, 1)], dq.DiffusionSynthesizer(schema=SCHEMA), epsilon=2.0)
    with pytest.raises(ValueError, match="server_learning_rate must be a positive number or None, got -1"):
        dq.federation.simulate([frame(10, 0), frame(10, 1)], dq.DiffusionSynthesizer(schema=SCHEMA), server_learning_rate=-1)
    with pytest.raises(ValueError, match="client_mods= needs secure_updates=True"):
        dq.federation.simulate([frame(10, 0), frame(10, 1)], dq.DiffusionSynthesizer(schema=SCHEMA), secure_updates=False,
                               client_mods=[lambda msg, ctx, call_next: call_next(msg, ctx)])
