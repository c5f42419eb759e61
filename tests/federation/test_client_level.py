"""Client-level DP-FedAvg: the rounding's sensitivity, each round's noise scale and cost, and the fitted model."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("flwr")

import dpquilt as dq  # noqa: E402
from dpquilt.diffusion_model.feature_map import FeatureMap  # noqa: E402
from dpquilt.diffusion_model.gaussian_diffusion import GaussianDiffusion  # noqa: E402
from dpquilt.dpsgd.training import train_nonprivate  # noqa: E402
from dpquilt.federation.client_level import ClientLevelSettings, round_sigma, rounded_update  # noqa: E402
from dpquilt.federation.update_rounds import flat_weights, load_flat  # noqa: E402
from dpquilt.privacy import Accountant  # noqa: E402
from dpquilt.privacy.distributed import party_sigma  # noqa: E402
from dpquilt.privacy.mechanisms import spend_distributed_gaussian  # noqa: E402
from dpquilt.privacy.randomness import Randomness  # noqa: E402

from .test_fedavg import FAST, SCHEMA, frame  # noqa: E402


def test_a_rounded_update_stays_within_the_stated_sensitivities_for_any_offsets():
    rng = np.random.default_rng(0)
    settings = ClientLevelSettings(clip_norm=0.3, bits=8)
    d = 500
    l2, l1 = settings.sensitivities(d)
    for scale in (1e-4, 1e-2, 10.0):  # below, near and far above the clipping norm
        for _ in range(50):
            update = rng.standard_t(2, d) * scale  # heavy tails: a few large coordinates
            v = rounded_update(update, settings, rng.random(d))
            assert np.linalg.norm(v) <= l2 and np.abs(v).sum() <= l1
    zero = rounded_update(np.zeros(d), settings, rng.random(d))
    assert not zero.any()  # a coordinate the update leaves alone rounds to 0: only touched ones add the + 1


def test_rounding_with_uniform_offsets_is_unbiased():
    settings = ClientLevelSettings(clip_norm=1.0, bits=6)
    update = np.array([0.3, -0.2, 0.05]) / 10  # norm below S: not clipped
    rng = np.random.default_rng(1)
    mean = np.mean([rounded_update(update, settings, rng.random(3)) for _ in range(4000)], axis=0)
    assert np.abs(mean * settings.resolution - update).max() < 0.02 * settings.resolution * 64


def test_each_rounds_noise_costs_its_share_of_the_budget():
    settings = ClientLevelSettings(clip_norm=1.0, bits=12)
    acc = Accountant(2.0, 1e-9)
    rounds, d, t = 4, 3000, 3
    sigma = round_sigma(acc.remaining_rho() / rounds, t, settings, d)
    l2, _ = settings.sensitivities(d)
    assert sigma == pytest.approx(l2 / math.sqrt(2 * acc.remaining_rho() / rounds), rel=1e-6)  # shares >> 1
    for r in range(rounds):
        spend_distributed_gaussian(f"round {r}", sigma, t, acc, *settings.sensitivities(d), d)
    assert 0.999 * acc.rho_budget <= acc.rho_spent <= acc.rho_budget


def test_client_level_fit_adds_noise_of_the_planned_scale_and_reports_the_client_as_the_unit():
    frames = [frame(300, 1), frame(400, 2), frame(350, 3)]
    level = ClientLevelSettings(clip_norm=0.5, local_steps=3, bits=10)
    unfitted = dq.DiffusionSynthesizer(epsilon=4.0, schema=SCHEMA, settings=FAST, random_state=9, verbose=False)
    syn = dq.federation.simulate(frames, unfitted, fedavg_rounds=1, privacy_unit="client", client_level=level,
                                 server_learning_rate=1.0)
    features = FeatureMap(SCHEMA)
    init = GaussianDiffusion((), features.width, FAST, torch.device("cpu"),
                             Randomness.of(np.random.default_rng([9, 2**31])).generator("initial weights"))
    start = flat_weights(init.model).astype(np.float64)
    exact = np.zeros(start.size)
    for key, df in enumerate(frames):  # each client's clipped, rounded update, reproduced from its seeds
        x0, present = features.features(df)
        randomness = Randomness.of(np.random.default_rng([9, key, 1]))
        local = GaussianDiffusion((), features.width, FAST, torch.device("cpu"), randomness.generator("model shell"))
        load_flat(local.model, start.astype(np.float32))
        loss = local.record_loss(x0, present, np.zeros((len(df), 0), dtype=np.int64))
        train_nonprivate(local.model, loss, len(df), FAST.training, randomness.generator("local training"),
                         torch.device("cpu"), steps=3)
        update = flat_weights(local.model).astype(np.float64) - start
        exact += rounded_update(update, level, randomness.generator("rounding offsets").random(start.size))
    got = flat_weights(syn.diffusion_.model).astype(np.float64)
    noise = (got - start) * len(frames) / level.resolution - exact  # the released sum minus the exact one
    (sigma,) = syn.round_sigmas_
    acc = Accountant(4.0, 1e-9)
    assert sigma == pytest.approx(round_sigma(acc.remaining_rho(), 3, level, start.size))
    assert abs(noise.mean()) < 5 * sigma / math.sqrt(noise.size)
    assert noise.std() == pytest.approx(sigma, rel=0.1)  # three shares of party_sigma(sigma, 3) each
    assert party_sigma(sigma, 3) > 2  # far above 1/2: the bound of Kairouz et al. applies with no tau term
    report = syn.privacy_report()
    assert [e.what for e in report.expenditures] == ["client-level DP-FedAvg round 1"]
    assert 0.999 * report.epsilon_budget <= report.epsilon_spent <= report.epsilon_budget
    assert "privacy unit is one client" in report.notes[0]
    with pytest.raises(ValueError, match="pass n_samples"):
        syn.sample()
    assert len(syn.sample(50, random_state=0)) == 50


def test_client_level_needs_secure_updates():
    unfitted = dq.DiffusionSynthesizer(epsilon=1.0, schema=SCHEMA, settings=FAST, random_state=1, verbose=False)
    with pytest.raises(ValueError, match="privacy_unit='client' needs secure updates"):
        dq.federation.simulate([frame(50, 1), frame(50, 2)], unfitted, privacy_unit="client", secure_updates=False)
    with pytest.raises(ValueError, match="privacy_unit must be 'record' or 'client'"):
        dq.federation.simulate([frame(50, 1), frame(50, 2)], unfitted, privacy_unit="row")
