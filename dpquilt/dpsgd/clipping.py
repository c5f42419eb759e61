"""Per-record gradient clipping for networks of linear layers, in one backward pass.

DP-SGD needs each record's gradient norm, then the sum of the clipped gradients. For a
linear layer ``y = a W^T + b`` applied to ``T`` positions of record ``i`` (``T`` = the
noise draws ``K`` of the denoiser, or 1), record ``i``'s weight gradient is
``G_i = sum_t g_it a_it^T`` with ``g = dL/dy``, so

    ||G_i||_F^2 = sum_{t,s} (a_it . a_is) (g_it . g_is),    ||db_i||^2 = ||sum_t g_it||^2
                = sum_{t,s} 1 (g_it . g_is)

("ghost norm", Goodfellow 2015; Li et al., ICLR 2022, sec. 4) and the clipped sum is one
matrix product, ``sum_i c_i G_i = (c g)^T a`` with ``c_i = min(1, C / (||grad_i|| + 1e-6))``
(Opacus's clipping factor). Computing it from the activations ``a`` and output
gradients ``g`` of a single backward pass is the "book-keeping" trick of Bu, Wang, Zha
and Karypis (ICML 2023, "Differentially private optimization on large model at small
cost", Algorithm 1): Opacus's ghost clipping runs a second backward pass for the sum,
and on a GPU, where these small networks are bound by kernel launches, that pass and
its hooks cost two thirds of every step (``benchmarks/diffusion_throughput.py``).

Only networks whose parameters all sit in ``nn.Linear`` layers, each called once per
forward pass, are accepted (the denoiser of :mod:`.denoiser`); anything else is refused.
Tests check the norms and sums against per-record gradients from ``torch.func``.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

__all__ = ["LinearTape", "SECURE_SEED_BITS", "gaussian_noise", "secure_noise_generator"]

_STABILITY = 1e-6  # added to the norm in the clipping factor, as Opacus does


class LinearTape:
    """Records every ``nn.Linear``'s input and output during a forward pass of ``model``.

    Parameters
    ----------
    model : nn.Module
        Every parameter must belong to an ``nn.Linear`` layer.

    Raises
    ------
    ValueError
        If a parameter lives outside a linear layer (its per-record gradient would be
        missed), naming it.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.SiLU(), nn.Linear(4, 1))
    >>> tape = LinearTape(net)
    >>> x = torch.randn(5, 2, 3)
    >>> with tape.recording():
    ...     per_record = net(x).pow(2).sum(dim=(1, 2))
    >>> grads, norms = tape.clipped_sum(per_record, max_grad_norm=1.0)
    >>> [tuple(g.shape) for g in grads], tuple(norms.shape)
    ([(4, 3), (4,), (1, 4), (1,)], (5,))
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
        covered = {id(p) for layer in self.layers for p in layer.parameters(recurse=False)}
        outside = [name for name, p in model.named_parameters() if p.requires_grad and id(p) not in covered]
        if outside:
            raise ValueError(
                f"LinearTape clips per-record gradients of nn.Linear layers only; parameters {outside} "
                "live elsewhere. Build the network from nn.Linear layers and parameter-free activations"
            )
        self._records: list[tuple[nn.Linear, torch.Tensor, torch.Tensor]] = []

    def parameters(self) -> list[nn.Parameter]:
        """Parameters in the order :meth:`clipped_sum` returns their gradients."""
        return [p for layer in self.layers for p in (layer.weight, layer.bias) if p is not None]

    def _record(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        self._records.append((module, inputs[0], output))

    @contextmanager
    def recording(self):
        """Record the layers' inputs and outputs of the forward passes inside the block (no hooks stay behind)."""
        self._records = []
        handles = [layer.register_forward_hook(self._record) for layer in self.layers]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def clipped_sum(self, per_record: torch.Tensor, max_grad_norm: float) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Sum over records of each record's gradient clipped to ``max_grad_norm``.

        Parameters
        ----------
        per_record : Tensor (B,)
            Each record's loss, from the forward pass just recorded; record ``i``'s
            loss must depend on row ``i`` (the first dimension) of each layer only.
        max_grad_norm : float
            ``C``.

        Returns
        -------
        grads : list of Tensor
            The clipped sums, in :meth:`parameters`' order (no noise yet).
        norms : Tensor (B,)
            Each record's whole-gradient norm before clipping.
        """
        records, self._records = self._records, []
        seen = [id(m) for m, _, _ in records]
        if sorted(seen) != sorted(id(m) for m in self.layers):
            raise RuntimeError(
                "LinearTape: each linear layer must run exactly once in the recorded forward pass "
                f"({len(seen)} calls recorded for {len(self.layers)} layers)"
            )
        batch = per_record.shape[0]
        out_grads = torch.autograd.grad(per_record.sum(), [out for _, _, out in records], allow_unused=True)
        layers, squares = [], []
        for (layer, a, out), g in zip(records, out_grads):
            g = torch.zeros_like(out) if g is None else g
            a3, g3 = _by_record(a, batch), _by_record(g, batch)
            gram_a = torch.bmm(a3, a3.transpose(1, 2))
            if layer.bias is not None:
                gram_a = gram_a + 1.0  # the bias is a weight on a constant input 1
            squares.append((gram_a * torch.bmm(g3, g3.transpose(1, 2))).sum(dim=(1, 2)))
            layers.append((layer, a3, g3))
        norms = torch.stack(squares).sum(dim=0).sqrt() if squares else per_record.new_zeros(batch)
        factor = (max_grad_norm / (norms + _STABILITY)).clamp(max=1.0)
        by_layer = {}
        for layer, a3, g3 in layers:
            scaled = (g3 * factor[:, None, None]).reshape(-1, g3.shape[-1])
            weight = scaled.T @ a3.reshape(-1, a3.shape[-1])
            by_layer[id(layer)] = (weight, None if layer.bias is None else scaled.sum(dim=0))
        grads = []
        for layer in self.layers:
            weight, bias = by_layer[id(layer)]
            grads.append(weight)
            if layer.bias is not None:
                grads.append(bias)
        return grads, norms.detach()


def _by_record(x: torch.Tensor, batch: int) -> torch.Tensor:
    """``(B, ..., d) -> (B, T, d)``: the positions of each record in one axis (``T = 1`` for 2-D)."""
    return x.reshape(batch, -1, x.shape[-1]) if batch else x.reshape(0, 1, x.shape[-1])


#: Bits of OS entropy behind secure-mode DP-SGD noise (PyTorch's CPU generator keeps only 32).
SECURE_SEED_BITS = 256


def secure_noise_generator() -> np.random.Generator:
    """A generator for secure-mode DP-SGD noise, seeded with 256 bits from the OS's secure source.

    PyTorch's CPU generator (a Mersenne twister) keeps only the low 32 bits of its seed,
    so noise from it is one of ``2^32`` streams that an attacker could enumerate.
    numpy's PCG64DXSM takes its 128-bit state and 128-bit increment from a
    ``SeedSequence`` of :data:`SECURE_SEED_BITS` bits drawn with :mod:`secrets`.

    Examples
    --------
    >>> a, b = secure_noise_generator(), secure_noise_generator()
    >>> bool((a.standard_normal(4) != b.standard_normal(4)).all())
    True
    """
    seed = np.random.SeedSequence(secrets.randbits(SECURE_SEED_BITS))
    return np.random.Generator(np.random.PCG64DXSM(seed))


def gaussian_noise(
    std: float, numel: int, generator: torch.Generator, device, secure_rng: np.random.Generator | None = None
) -> torch.Tensor:
    """``numel`` draws of ``N(0, std^2)``, one flat tensor on ``device``.

    Seeded (not for release): from the PyTorch ``generator`` on ``device``. Secure
    (``secure_rng`` given, from :func:`secure_noise_generator`): drawn on the CPU from
    ``secure_rng`` and copied to ``device``; each draw is the sum of four draws of
    ``N(0, std^2)`` halved, after one draw thrown away, so no single floating-point
    Gaussian sample is exposed (Holohan and Braghin, "Secure random sampling in
    differential privacy", ESORICS 2021, sec. 5.1, with ``n = 2``; Opacus's secure mode
    does the same).

    Examples
    --------
    >>> z = gaussian_noise(2.0, 100_000, torch.Generator().manual_seed(0), "cpu", secure_noise_generator())
    >>> round(float(z.std()), 1)
    2.0
    """
    if secure_rng is None:
        return torch.normal(0.0, std, size=(numel,), generator=generator, device=device)
    secure_rng.standard_normal(1)
    total = np.zeros(numel, dtype=np.float64)
    for _ in range(4):
        total += secure_rng.standard_normal(numel)
    return torch.from_numpy((total * (std / 2.0)).astype(np.float32)).to(device)
