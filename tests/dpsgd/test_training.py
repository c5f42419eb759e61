"""DP-SGD: what it costs (golden values against Opacus) and the noise it adds."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from opacus.accountants.analysis.rdp import compute_rdp  # noqa: E402

from dpquilt.privacy.randomness import Randomness  # noqa: E402
from dpquilt.dpsgd.training import DPSGDPlan, DPSGDSettings, plan_dpsgd, train_dpsgd  # noqa: E402
from dpquilt.privacy import Accountant  # noqa: E402
from dpquilt.privacy.conversions import RDP_ORDERS  # noqa: E402


def zero_loss(module, rows, generator):
    """A loss with zero gradient: DP-SGD's update is then pure noise."""
    x = torch.ones((rows.size, 4, 40), device=next(module.parameters()).device)
    return 0.0 * module(x).sum(dim=(1, 2))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_plan_uses_the_public_count_and_fills_the_budget():
    acc = Accountant(1.0, 1e-6)
    plan = plan_dpsgd(DPSGDSettings(batch_size=100, epochs=3), 1000.0, acc)
    assert plan.sample_rate == pytest.approx(0.1) and plan.steps == 30 and plan.expected_batch_size == pytest.approx(100)
    train_dpsgd(torch.nn.Linear(40, 2), zero_loss, 1000, plan, DPSGDSettings(), acc, "test", Randomness.of(0), "cpu")
    assert 0.99 <= acc.epsilon_spent() <= 1.0


def test_the_ledger_holds_opacus_rdp_curve_of_the_plan():
    acc = Accountant(2.0, 1e-6)
    plan = plan_dpsgd(DPSGDSettings(batch_size=64, epochs=2), 640.0, acc)
    train_dpsgd(torch.nn.Linear(40, 2), zero_loss, 640, plan, DPSGDSettings(), acc, "test", Randomness.of(0), "cpu")
    (entry,) = acc.ledger
    golden = compute_rdp(q=plan.sample_rate, noise_multiplier=plan.noise_multiplier, steps=plan.steps, orders=list(RDP_ORDERS))
    np.testing.assert_allclose(entry.rdp, golden, rtol=1e-12)
    assert entry.noise_scale == pytest.approx(plan.noise_multiplier)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("sample_rate", [0.5, 1e-9])  # the second gives empty batches: noise is still added
@pytest.mark.parametrize("secure", [False, True])
def test_each_step_adds_gaussian_noise_of_std_z_c_over_the_expected_batch(sample_rate, device, secure):
    net = torch.nn.Linear(40, 250).to(device)  # 10,250 parameters: the std is estimated to ~1%
    plan = DPSGDPlan(noise_multiplier=2.0, sample_rate=sample_rate, steps=1, max_grad_norm=0.5, expected_batch_size=10.0)
    acc = Accountant(1e6, 1e-6)
    randomness = Randomness.of(None if secure else 1)
    train_dpsgd(net, zero_loss, 20, plan, DPSGDSettings(), acc, "test", randomness, torch.device(device))
    grads = torch.cat([p.grad.flatten() for p in net.parameters()]).cpu().numpy()
    assert grads.std() * plan.expected_batch_size == pytest.approx(2.0 * 0.5, rel=0.04)
    assert abs(grads.mean()) < 4 * grads.std() / math.sqrt(grads.size)


@pytest.mark.parametrize("device", DEVICES)
def test_two_secure_runs_cannot_share_a_32_bit_seeds_stream(device, monkeypatch):
    """PyTorch's CPU generator keeps 32 bits of a seed: OS seeds that agree there must still give other noise."""
    import secrets

    calls = iter(range(1, 1000))

    def low_bits_equal(k):  # every seed the OS hands out agrees in its low 64 bits
        return ((next(calls) << 64) | 0x5EED) & ((1 << k) - 1)

    monkeypatch.setattr(secrets, "randbits", low_bits_equal)
    plan = DPSGDPlan(noise_multiplier=1.0, sample_rate=1e-9, steps=1, max_grad_norm=1.0, expected_batch_size=1.0)
    updates = []
    for _ in range(2):
        net = torch.nn.Linear(40, 2).to(device)
        train_dpsgd(net, zero_loss, 20, plan, DPSGDSettings(), Accountant(1e6, 1e-6), "test", Randomness.of(None), torch.device(device))
        updates.append(torch.cat([p.grad.flatten() for p in net.parameters()]).cpu())
    assert not torch.equal(updates[0], updates[1])


def test_a_plan_that_does_not_fit_is_refused_before_training():
    acc = Accountant(0.1, 1e-6)
    plan = DPSGDPlan(noise_multiplier=0.5, sample_rate=1.0, steps=100, max_grad_norm=1.0, expected_batch_size=10.0)
    net = torch.nn.Linear(40, 2)
    before = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(ValueError, match="budget"):
        train_dpsgd(net, zero_loss, 20, plan, DPSGDSettings(), acc, "test", Randomness.of(0), "cpu")
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert acc.ledger == ()


def test_seeded_training_is_reproducible():
    def loss(module, rows, generator):
        x = torch.randn((rows.size, 2, 40), generator=generator)
        return (module(x) ** 2).mean(dim=(1, 2))

    outs = []
    for _ in range(2):
        torch_net = torch.nn.Linear(40, 3)
        with torch.no_grad():
            for p in torch_net.parameters():
                p.fill_(0.1)
        acc = Accountant(3.0, 1e-6)
        plan = plan_dpsgd(DPSGDSettings(batch_size=8, epochs=1), 80.0, acc)
        train_dpsgd(torch_net, loss, 80, plan, DPSGDSettings(), acc, "test", Randomness.of(5), "cpu")
        outs.append(torch_net.weight.detach().clone())
    assert torch.equal(outs[0], outs[1])


def test_settings_name_the_bad_value():
    with pytest.raises(ValueError, match="batch_size must be a positive number, got 0"):
        DPSGDSettings(batch_size=0)


def test_cosine_schedule_anneals_the_steps_to_zero():
    from dpquilt.dpsgd.training import train_nonprivate

    net = torch.nn.Linear(4, 1)
    seen = []

    def loss(module, rows, generator):
        seen.append(module.weight.detach().clone())
        return (module(torch.ones((rows.size, 1, 4))) ** 2).mean(dim=(1, 2))

    settings = DPSGDSettings(batch_size=100, epochs=20, learning_rate=0.1, schedule="cosine")
    train_nonprivate(net, loss, 100, settings, np.random.default_rng(0), "cpu")
    moves = [float((b - a).abs().max()) for a, b in zip(seen, seen[1:])]
    assert len(seen) == 20 and moves[0] > 0.05 and moves[-1] < 0.01
    with pytest.raises(ValueError, match="schedule must be 'constant' or 'cosine', got 'linear'"):
        DPSGDSettings(schedule="linear")


def test_a_window_of_a_longer_cosine_schedule_continues_where_the_last_round_stopped():
    from dpquilt.dpsgd.training import adam_with_schedule

    settings = DPSGDSettings(learning_rate=0.1, schedule="cosine")
    param = torch.nn.Parameter(torch.zeros(1))
    rates = []
    for first in (0, 5):  # two rounds of 5 steps of one 10-step schedule
        optimizer, scheduler = adam_with_schedule([param], settings, 5, (first, 10))
        for _ in range(5):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    expected = [0.1 * 0.5 * (1 + np.cos(np.pi * t / 10)) for t in range(10)]
    assert np.allclose(rates, expected)  # not back to 0.1 at the second round


def test_min_steps_raises_the_step_count_of_small_tables():
    from dpquilt.dpsgd.training import rate_and_steps

    assert rate_and_steps(DPSGDSettings(batch_size=1000, epochs=10), 4000.0) == (0.25, 40)
    assert rate_and_steps(DPSGDSettings(batch_size=1000, epochs=10, min_steps=500), 4000.0) == (0.25, 500)
    assert rate_and_steps(DPSGDSettings(batch_size=1000, epochs=10, min_steps=500), 100_000.0) == (0.01, 1000)
    with pytest.raises(ValueError, match="min_steps must be a non-negative integer, got -1"):
        DPSGDSettings(min_steps=-1)
