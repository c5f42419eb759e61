"""Record-level DP-FedSGD: the rounding's sensitivity, the clipped gradient sums, each round's noise and cost, the server's step."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("flwr")

import dpquilt as dq  # noqa: E402
from dpquilt.diffusion_model.feature_map import FeatureMap  # noqa: E402
from dpquilt.diffusion_model.gaussian_diffusion import GaussianDiffusion  # noqa: E402
from dpquilt.dpsgd.training import DPSGDSettings, adam_with_schedule, torch_generator  # noqa: E402
from dpquilt.federation.secure_fedsgd import (  # noqa: E402
    FedSGDSettings, clipped_gradient_sum, coordinate_limit, fedsgd_reply, rounded_sum,
)
from dpquilt.federation.update_rounds import round_sigma  # noqa: E402
from dpquilt.federation.update_rounds import flat_weights, local_model  # noqa: E402
from dpquilt.privacy import Accountant  # noqa: E402
from dpquilt.privacy.distributed import party_sigma  # noqa: E402
from dpquilt.privacy.randomness import Randomness  # noqa: E402

from .test_fedavg import FAST, SCHEMA, frame  # noqa: E402


def test_one_row_moves_the_rounded_sum_by_at_most_the_stated_sensitivities():
    rng = np.random.default_rng(0)
    settings = FedSGDSettings(clip_norm=0.5, bits=8)
    d = 400
    l2, l1 = settings.sensitivities(d)
    for limit in (10**9, 300):  # the coordinate clipping to the secure sum's range is a contraction
        for _ in range(100):
            rest = rng.standard_t(2, d) * 30  # the other rows' clipped gradients, summed
            row = rng.normal(size=d)
            row *= settings.clip_norm * rng.random() / np.linalg.norm(row)  # one row's clipped gradient
            offsets = rng.random(d)
            moved = rounded_sum(rest + row, settings, offsets, limit) - rounded_sum(rest, settings, offsets, limit)
            assert np.linalg.norm(moved) <= l2 and np.abs(moved).sum() <= l1


def test_clipped_gradient_sum_is_the_sum_of_each_rows_clipped_gradient():
    features = FeatureMap(SCHEMA)
    df = frame(37, 4)
    x0, present = features.features(df)
    start = flat_weights(GaussianDiffusion((), features.width, FAST, torch.device("cpu"),
                                           np.random.default_rng(1)).model)
    diffusion, loss = local_model(features, FAST, start, Randomness.of(5), torch.device("cpu"), x0, present)
    clip = 0.05  # small enough that most rows are clipped
    got = clipped_gradient_sum(diffusion, loss, len(df), clip, torch_generator(np.random.default_rng(7), "cpu"), chunk=16)
    model = diffusion.model
    generator = torch_generator(np.random.default_rng(7), "cpu")  # the same draws, chunk by chunk
    params = dict(model.named_parameters())
    expected = {name: torch.zeros_like(p) for name, p in params.items()}
    clipped_rows = 0
    model.train()
    for begin in range(0, len(df), 16):
        per_record = loss(model, np.arange(begin, min(begin + 16, len(df))), generator)
        for i in range(per_record.shape[0]):
            grads = torch.autograd.grad(per_record[i], list(params.values()), retain_graph=True)
            norm = torch.sqrt(sum((g**2).sum() for g in grads))
            clipped_rows += int(norm > clip)
            for name, g in zip(params, grads):
                expected[name] += g * min(1.0, clip / float(norm))
    flat = np.concatenate([expected[name].detach().numpy().ravel() if name in expected else np.zeros(t.numel())
                           for name, t in model.state_dict().items()])
    assert clipped_rows > 20
    np.testing.assert_allclose(got, flat, rtol=1e-4, atol=1e-6)


def test_each_rounds_noise_costs_its_share_of_the_budget():
    settings = FedSGDSettings(clip_norm=1.0, bits=12)
    acc = Accountant(3.0, 1e-9)
    rounds, d, t = 50, 14_302, 3
    sigma = round_sigma(acc.remaining_rho() / rounds, t, settings, d)
    l2, l1 = settings.sensitivities(d)
    assert sigma == pytest.approx(l2 / math.sqrt(2 * acc.remaining_rho() / rounds), rel=1e-6)
    assert party_sigma(sigma, t) > 2  # the shares' tau terms vanish
    from dpquilt.privacy.mechanisms import spend_distributed_gaussian

    for r in range(rounds):
        spend_distributed_gaussian(f"round {r}", sigma, t, acc, l2, l1, d)
    assert acc.rho_spent == pytest.approx(acc.rho_budget, rel=1e-9)  # the whole budget, to float rounding


def test_a_fedsgd_fit_takes_one_adam_step_on_the_noisy_sum_of_the_clients_replies():
    frames = [frame(120, 1), frame(90, 2), frame(100, 3)]
    sgd = FedSGDSettings(clip_norm=0.5, bits=10, learning_rate=0.02)
    unfitted = dq.DiffusionSynthesizer(epsilon=4.0, schema=SCHEMA, settings=FAST, random_state=9, verbose=False,
                                       transform_share=0.0)  # no histogram round: the clients scale linearly
    syn = dq.federation.simulate(frames, unfitted, fedavg_rounds=1, fedsgd=sgd)  # DP-FedSGD is the default
    features = FeatureMap(SCHEMA)
    init = GaussianDiffusion((), features.width, FAST, torch.device("cpu"),
                             Randomness.of(np.random.default_rng([9, 2**31])).generator("initial weights"))
    start = flat_weights(init.model)
    (sigma,) = syn.round_sigmas_
    assert sigma == pytest.approx(round_sigma(Accountant(4.0, 1e-9).remaining_rho(), 3, sgd, start.size))
    config = {"dpquilt.settings": dq.federation.fedavg.settings_to_wire(FAST), "dpquilt.fedsgd": sgd.to_wire(),
              "dpquilt.round": 1, "dpquilt.coordinate-limit": coordinate_limit(3),
              "dpquilt.share-sigma": party_sigma(sigma, 3)}
    replies, exact = np.zeros(start.size), np.zeros(start.size)
    for key, df in enumerate(frames):  # each client's reply, reproduced from its seeds
        x0, present = features.features(df)
        replies += fedsgd_reply(features, x0, present, start, config, key, 9, "cpu")[: start.size]
        randomness = Randomness.of(np.random.default_rng([9, key, 1]))
        diffusion, loss = local_model(features, FAST, start, randomness, torch.device("cpu"), x0, present)
        gradient = clipped_gradient_sum(diffusion, loss, len(df), sgd.clip_norm,
                                        torch_generator(randomness.generator("FedSGD loss"), "cpu"))
        exact += rounded_sum(gradient, sgd, randomness.generator("rounding offsets").random(start.size), coordinate_limit(3))
    noise = replies - exact
    assert abs(noise.mean()) < 5 * sigma / math.sqrt(noise.size)
    assert noise.std() == pytest.approx(sigma, rel=0.1)  # three shares of party_sigma(sigma, 3)
    # the server's step: Adam on r * sum (no row count released without the transform: divisor 1)
    params = list(init.model.parameters())
    optimizer, _ = adam_with_schedule(params, DPSGDSettings(learning_rate=sgd.learning_rate, schedule="cosine"), 1)
    gradient = sgd.resolution * replies
    begin = 0
    for name, tensor in init.model.state_dict().items():
        p = dict(init.model.named_parameters()).get(name)
        if p is not None:
            p.grad = torch.as_tensor(gradient[begin:begin + tensor.numel()], dtype=p.dtype).reshape(p.shape)
        begin += tensor.numel()
    optimizer.step()
    np.testing.assert_allclose(flat_weights(syn.diffusion_.model), flat_weights(init.model), rtol=1e-5, atol=1e-7)
    report = syn.privacy_report()
    assert [e.what for e in report.expenditures] == ["DP-FedSGD round 1 (clipped gradient sums)"]
    assert 0.999 * report.epsilon_budget <= report.epsilon_spent <= report.epsilon_budget
    assert "DP-FedSGD over 3 clients" in report.notes[0]
    assert len(syn.sample(40, random_state=0)) == 40


def test_fedsgd_is_refused_where_its_noise_could_not_be_summed():
    unfitted = dq.DiffusionSynthesizer(epsilon=1.0, schema=SCHEMA, settings=FAST, random_state=1, verbose=False)
    frames = [frame(50, 1), frame(50, 2)]
    with pytest.raises(ValueError, match="algorithm='fedsgd' adds the noise to the secure sum"):
        dq.federation.simulate(frames, unfitted, algorithm="fedsgd", secure_updates=False)
    with pytest.raises(ValueError, match="algorithm must be 'fedavg' or 'fedsgd'"):
        dq.federation.simulate(frames, unfitted, algorithm="sgd")
    with pytest.raises(ValueError, match="fedsgd= applies only with algorithm='fedsgd'"):
        dq.federation.simulate(frames, unfitted, fedsgd=FedSGDSettings(), algorithm="fedavg")
    with pytest.raises(ValueError, match="fedsgd= applies only with algorithm='fedsgd'"):
        dq.federation.simulate(frames, unfitted, fedsgd=FedSGDSettings(), secure_updates=False)  # the default is DP-FedAvg


def _drop_third_client_in_round_2(msg, context, call_next):
    """Client 2 fails while computing its masked vector in the fit's second secure sum (round 2)."""
    stage = msg.content.config_records.get("secaggplus_configs", {}).get("stage")
    if str(msg.metadata.group_id) == "2" and stage == "collect_masked_vectors" and int(context.node_config["partition-id"]) == 2:
        raise RuntimeError("simulated dropout in round 2")
    return call_next(msg, context)


def test_a_client_that_misses_a_round_leaves_the_ledger_and_its_guarantee_as_planned():
    frames = [frame(120, 1), frame(90, 2), frame(100, 3)]
    sgd = FedSGDSettings(clip_norm=0.5, bits=10, learning_rate=0.02)

    def fit(mods):
        unfitted = dq.DiffusionSynthesizer(epsilon=4.0, schema=SCHEMA, settings=FAST, random_state=9, verbose=False,
                                           transform_share=0.0)
        return dq.federation.simulate(frames, unfitted, fedavg_rounds=2, fedsgd=sgd, max_dropouts=1, client_mods=mods)

    full, dropped = fit(()), fit([_drop_third_client_in_round_2])
    ledger = [(e.what, e.rho, e.noise_scale) for e in full.accountant_.ledger]
    assert ledger == [(e.what, e.rho, e.noise_scale) for e in dropped.accountant_.ledger]
    assert [what for what, _, _ in ledger] == [f"DP-FedSGD round {r} (clipped gradient sums)" for r in (1, 2)]
    size = flat_weights(full.diffusion_.model).size
    # the noise was planned for the 2 honest shares left when one of 3 clients may drop
    assert dropped.round_sigmas_ == [pytest.approx(round_sigma(Accountant(4.0, 1e-9).remaining_rho() / 2, 2, sgd, size))] * 2
    assert "at least 2 honest" in dropped.privacy_report().notes[0]
    # round 2's sum lacked the third client's gradient and share: the trained weights moved elsewhere
    assert not np.allclose(flat_weights(full.diffusion_.model), flat_weights(dropped.diffusion_.model))
