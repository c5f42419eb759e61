"""One-pass clipping (ghost norms + book-keeping) against per-record gradients from torch.func."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.func import functional_call, grad, vmap  # noqa: E402

from dpquilt.dpsgd.clipping import LinearTape, gaussian_noise, secure_noise_generator  # noqa: E402
from dpquilt.diffusion_model.denoiser import ConditionalDenoiser  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def denoiser_problem(seed: int, batch: int, device: str = "cpu"):
    gen = torch.Generator().manual_seed(seed)
    net = ConditionalDenoiser(n_codes=9, n_columns=3, n_targets=4, time_dim=6, hidden=16, depth=2, generator=gen)
    x = torch.randn((batch, 5, 4), generator=gen)
    tf = torch.randn((batch, 5, 6), generator=gen)
    codes = torch.stack([torch.randint(lo, lo + 3, (batch,), generator=gen) for lo in (0, 3, 6)], dim=1)
    target = torch.randn((batch, 5, 4), generator=gen)
    net, x, tf, codes, target = (v.to(device) for v in (net, x, tf, codes, target))

    def loss(module, x, tf, codes, target):  # x etc. batched: (B, ...)
        return ((module(x, tf, codes) - target) ** 2).sum(dim=(-2, -1)) * 3.0

    return net, (x, tf, codes, target), loss


def reference(net, inputs, loss):
    """Per-record gradients with torch.func (each record alone through the network)."""
    params = {k: v.detach() for k, v in net.named_parameters()}

    def one(p, x, tf, codes, target):
        return loss(lambda *a: functional_call(net, p, a), x[None], tf[None], codes[None], target[None])[0]

    per = vmap(grad(one), in_dims=(None, 0, 0, 0, 0))(params, *inputs)
    return per, torch.cat([g.flatten(1) for g in per.values()], dim=1).norm(dim=1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_norms_and_clipped_sum_equal_torch_func_per_record_gradients(seed, device):
    net, inputs, loss = denoiser_problem(seed, batch=11, device=device)
    per, norms_ref = reference(net, inputs, loss)
    clip = float(norms_ref.median())  # about half the records are clipped
    tape = LinearTape(net)
    with tape.recording():
        per_record = loss(net, *inputs)
    grads, norms = tape.clipped_sum(per_record, clip)
    torch.testing.assert_close(norms, norms_ref, rtol=1e-5, atol=1e-6)
    factor = (clip / (norms_ref + 1e-6)).clamp(max=1.0)
    names = [n for n, p in net.named_parameters()]
    by_id = {id(p): n for n, p in net.named_parameters()}
    assert sorted(by_id[id(p)] for p in tape.parameters()) == sorted(names)
    for p, g in zip(tape.parameters(), grads):
        expected = torch.einsum("b,b...->...", factor, per[by_id[id(p)]])
        torch.testing.assert_close(g, expected, rtol=1e-5, atol=1e-6)
    assert 0.3 < float((norms_ref > clip).float().mean()) < 0.7


def test_each_clipped_record_contributes_at_most_the_clipping_norm():
    net, inputs, loss = denoiser_problem(3, batch=1)
    tape = LinearTape(net)
    with tape.recording():
        grads, norms = tape.clipped_sum(loss(net, *[x * 100 for x in inputs[:2]], inputs[2], inputs[3]), 0.5)
    assert float(norms[0]) > 50
    total = torch.cat([g.detach().flatten() for g in grads]).norm()
    assert float(total) == pytest.approx(0.5, rel=1e-4)


def test_empty_batch_gives_zero_sums():
    net, inputs, loss = denoiser_problem(4, batch=0)
    tape = LinearTape(net)
    with tape.recording():
        grads, norms = tape.clipped_sum(loss(net, *inputs), 1.0)
    assert norms.shape == (0,) and all(float(g.abs().sum()) == 0.0 for g in grads)


def test_networks_with_other_parameters_are_refused_by_name():
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    with pytest.raises(ValueError, match=r"\['1.weight', '1.bias'\]"):
        LinearTape(net)


def test_a_layer_run_twice_is_refused():
    layer = nn.Linear(3, 3)
    tape = LinearTape(layer)
    with tape.recording():
        out = layer(layer(torch.ones(2, 3))).sum(dim=1)
    with pytest.raises(RuntimeError, match="exactly once"):
        tape.clipped_sum(out, 1.0)


def test_no_hooks_stay_behind():
    layer = nn.Linear(3, 3)
    tape = LinearTape(layer)
    with tape.recording():
        layer(torch.ones(1, 3))
    assert not layer._forward_hooks


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("secure", [False, True])
def test_noise_has_the_asked_std(secure, device):
    secure_rng = secure_noise_generator() if secure else None
    z = gaussian_noise(0.7, 200_000, torch.Generator(device=device).manual_seed(0), device, secure_rng).cpu().numpy()
    assert z.std() == pytest.approx(0.7, rel=0.01) and abs(z.mean()) < 4 * 0.7 / np.sqrt(z.size)
