"""DP-SGD with Poisson sampling and per-record clipping, spent through the accountant.

Each step samples every record independently with probability ``q`` (Poisson
sampling, the assumption of the subsampled Gaussian RDP bound of Mironov, Talwar and
Zhang 2019), clips each record's whole gradient to norm ``C``, sums, adds
``N(0, (z C)^2)`` and divides by the public expected batch size ``q n`` (Abadi et al.,
CCS 2016, Algorithm 1). Per-record norms and the clipped sum come from one backward
pass (:mod:`.clipping`: ghost norms and book-keeping, no per-record gradient tensors);
the privacy cost is Opacus's RDP analysis of the subsampled Gaussian. ``q`` and the
number of steps are
computed from a *public or already released* record count, never from ``len(rows)``;
the noise multiplier ``z`` is solved for from what is left of the budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..privacy.accountant import Accountant
from ..privacy.randomness import Randomness
from ..privacy.subsampled_gaussian import noise_multiplier_for, spend_dpsgd

__all__ = [
    "adam_with_schedule",
    "DPSGDPlan",
    "DPSGDSettings",
    "dpsgd_noise_note",
    "plan_dpsgd",
    "rate_and_steps",
    "torch_generator",
    "train_dpsgd",
    "train_nonprivate",
]


@dataclass(frozen=True)
class DPSGDSettings:
    """Public training settings.

    Parameters
    ----------
    batch_size : int, default 1024
        Expected records per step (``q n``); DP-SGD likes large batches.
    epochs : float, default 10
        Expected passes over the data (steps = ``epochs / q``).
    learning_rate : float, default 3e-3
        Adam's step size.
    max_grad_norm : float, default 1.0
        Clipping norm ``C`` of each record's gradient.
    schedule : {"constant", "cosine"}, default "constant"
        The learning rate over the steps: constant, or cosine annealing from
        ``learning_rate`` to 0 (Loshchilov and Hutter, ICLR 2017, eq. 5 without restarts).
    min_steps : int, default 0
        Train at least this many steps (more epochs on small tables). The count comes
        from the same public or released row count as ``q``.

    Examples
    --------
    >>> s = DPSGDSettings(batch_size=512, learning_rate=1e-2, schedule="cosine", min_steps=500)
    >>> s.epochs, s.max_grad_norm
    (10.0, 1.0)
    >>> DPSGDSettings(schedule="linear")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: DPSGDSettings: schedule must be 'constant' or 'cosine', got 'linear'
    """

    batch_size: int = 1024
    epochs: float = 10.0
    learning_rate: float = 3e-3
    max_grad_norm: float = 1.0
    schedule: str = "constant"
    min_steps: int = 0

    def __post_init__(self) -> None:
        for name in ("batch_size", "epochs", "learning_rate", "max_grad_norm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
                raise ValueError(f"DPSGDSettings: {name} must be a positive number, got {value!r}")
        if not (isinstance(self.min_steps, (int, np.integer)) and self.min_steps >= 0):
            raise ValueError(f"DPSGDSettings: min_steps must be a non-negative integer, got {self.min_steps!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"DPSGDSettings: schedule must be 'constant' or 'cosine', got {self.schedule!r}")


@dataclass(frozen=True)
class DPSGDPlan:
    """What a DP-SGD run does and what it costs: ``steps`` steps at rate ``sample_rate``, noise ``z``.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant
    >>> plan = plan_dpsgd(DPSGDSettings(batch_size=100, epochs=2), public_rows=1000, accountant=Accountant(3.0, 1e-6))
    >>> plan.sample_rate, plan.steps, plan.noise_multiplier > 0
    (0.1, 20, True)
    """

    noise_multiplier: float
    sample_rate: float
    steps: int
    max_grad_norm: float
    expected_batch_size: float


def plan_dpsgd(settings: DPSGDSettings, public_rows: float, accountant: Accountant, reserve_rho: float = 0.0) -> DPSGDPlan:
    """Solve the noise multiplier that lets ``settings`` fit what is left of ``accountant``.

    Parameters
    ----------
    settings : DPSGDSettings
    public_rows : float
        A record count that is public or already released with DP (e.g. a noisy
        total); it sets ``q = batch_size / public_rows`` and the number of steps.
    accountant : Accountant
    reserve_rho : float
        zCDP budget to leave for later mechanisms.

    Examples
    --------
    >>> acc = Accountant(1.0, 1e-6)
    >>> plan = plan_dpsgd(DPSGDSettings(batch_size=100, epochs=2), 1000, acc)
    >>> plan.steps, plan.sample_rate
    (20, 0.1)
    """
    if not public_rows > 0:
        raise ValueError(f"public_rows must be positive, got {public_rows!r}")
    q, steps = rate_and_steps(settings, public_rows)
    z = noise_multiplier_for(accountant, q, steps, reserve_rho)
    return DPSGDPlan(z, q, steps, float(settings.max_grad_norm), q * float(public_rows))


def dpsgd_noise_note(seeded: bool) -> str:
    """The privacy report's line on where DP-SGD's (floating-point) noise comes from.

    Examples
    --------
    >>> dpsgd_noise_note(seeded=True)
    'DP-SGD noise is floating-point Gaussian from PyTorch (seeded: not for release)'
    """
    source = "(seeded: not for release)" if seeded else (
        "drawn from PCG64DXSM seeded with 256 bits from the OS's secure source, each draw a sum of four "
        "(Holohan and Braghin 2021)"
    )
    return f"DP-SGD noise is floating-point Gaussian from PyTorch {source}"


def rate_and_steps(settings: DPSGDSettings, rows: float) -> tuple[float, int]:
    """Poisson rate ``q = batch / rows`` (at most 1) and the steps that make ``epochs`` passes (at least ``min_steps``).

    Examples
    --------
    >>> rate_and_steps(DPSGDSettings(batch_size=100, epochs=2), rows=1000)
    (0.1, 20)
    >>> rate_and_steps(DPSGDSettings(batch_size=100, epochs=2, min_steps=500), rows=1000)
    (0.1, 500)
    """
    q = min(1.0, settings.batch_size / max(float(rows), 1.0))
    return q, max(int(math.ceil(settings.epochs / q)), int(settings.min_steps))


def torch_generator(rng: np.random.Generator, device):
    """A PyTorch generator on ``device``, seeded from ``rng`` (for a release, ``rng`` is itself
    seeded from the OS's secure source: :meth:`~dpquilt.privacy.randomness.Randomness.generator`).

    Examples
    --------
    >>> a = torch_generator(np.random.default_rng(0), "cpu").initial_seed()
    >>> a == torch_generator(np.random.default_rng(0), "cpu").initial_seed()
    True
    """
    import torch

    seed = int(rng.integers(2**63 - 1))
    return torch.Generator(device=device).manual_seed(seed)


def poisson_batches(sampler: np.random.Generator, n_rows: int, rate: float, steps: int, desc: str, progress: bool):
    """``steps`` Poisson samples of row indices: each row independently with probability ``rate``."""
    from tqdm.auto import tqdm

    for _ in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
        yield np.flatnonzero(sampler.random(n_rows) < rate)


def train_dpsgd(
    model,
    record_loss: Callable,
    n_rows: int,
    plan: DPSGDPlan,
    settings: DPSGDSettings,
    accountant: Accountant,
    what: str,
    randomness: Randomness,
    device,
    progress: bool = False,
    schedule_window: tuple[int, int] | None = None,
) -> list[float]:
    """Spend ``plan`` in ``accountant``, then train ``model`` in place with DP-SGD.

    Parameters
    ----------
    model : torch.nn.Module
        Its parameters all in ``nn.Linear`` layers, each run once per forward pass
        (:class:`.clipping.LinearTape`).
    record_loss : callable
        ``record_loss(module, rows, generator) -> Tensor (B,)``: the loss of each
        sampled record (``rows`` an int64 index array); it draws its own noise from
        ``generator``.
    n_rows : int
        Rows held (private: used only to draw the Poisson sample).
    plan, settings : DPSGDPlan, DPSGDSettings
    accountant : Accountant
        Charged before training (refused if the plan does not fit).
    what : str
        Ledger line.
    randomness : Randomness
        The fit's randomness: the Poisson samples and the loss's randomness come from
        streams named after ``what``; the noise is secure-mode noise
        (:func:`.clipping.gaussian_noise`) when it is secure, else seeded (not for release).
    device : torch.device
    schedule_window : (int, int), optional
        ``(first, total)``: these steps are steps ``first .. first + plan.steps - 1`` of a
        cosine schedule over ``total`` steps (a federated client's round of a schedule that
        spans all rounds); default: the schedule spans this call's steps.

    Returns
    -------
    list of float
        Mean loss per step (of the clipped, un-noised objective: not private; for
        diagnostics on the curator's side only).

    Examples
    --------
    Fit ``y = 2 x`` with a linear model on 200 records (seeded: not for release):

    >>> import torch
    >>> from dpquilt.privacy import Accountant
    >>> x = torch.linspace(-1, 1, 200).unsqueeze(1)
    >>> def record_loss(module, rows, generator):
    ...     idx = torch.as_tensor(rows)
    ...     return ((module(x[idx]) - 2 * x[idx]) ** 2).squeeze(1)
    >>> acc = Accountant(5.0, 1e-6)
    >>> settings = DPSGDSettings(batch_size=50, epochs=30, learning_rate=0.05)
    >>> plan = plan_dpsgd(settings, public_rows=200, accountant=acc)
    >>> model = torch.nn.Linear(1, 1)
    >>> from dpquilt.privacy import Randomness
    >>> losses = train_dpsgd(model, record_loss, 200, plan, settings, acc, "example", Randomness.of(0), "cpu")
    >>> len(losses) == plan.steps, losses[-1] < losses[0], 4.99 < acc.epsilon_spent() <= 5.0  # the whole budget
    (True, True, True)
    """
    import torch

    from .clipping import LinearTape, gaussian_noise, secure_noise_generator

    tape = LinearTape(model)  # refuses a network it cannot clip, before any spending
    spend_dpsgd(what, plan.noise_multiplier, plan.sample_rate, plan.steps, accountant)
    sampler = randomness.generator(f"DP-SGD Poisson samples: {what}")
    generator = torch_generator(randomness.generator(f"DP-SGD loss: {what}"), device)  # e.g. diffusion times
    secure_rng = secure_noise_generator() if randomness.secure else None  # DP noise: 256-bit seed, not torch's 32
    params = tape.parameters()
    sizes = [p.numel() for p in params]
    optimizer, scheduler = adam_with_schedule(params, settings, plan.steps, schedule_window)
    std = plan.noise_multiplier * plan.max_grad_norm
    losses = []
    model.train()
    for rows in poisson_batches(sampler, n_rows, plan.sample_rate, plan.steps, what, progress):
        with tape.recording():
            per_record = record_loss(model, rows, generator)
        clipped, _ = tape.clipped_sum(per_record, plan.max_grad_norm)
        noise = gaussian_noise(std, sum(sizes), generator, device, secure_rng).split(sizes)
        torch._foreach_add_(clipped, [z.view_as(g) for g, z in zip(clipped, noise)])
        torch._foreach_div_(clipped, plan.expected_batch_size)
        for p, g in zip(params, clipped):
            p.grad = g
        optimizer.step()
        scheduler.step()
        losses.append(per_record.detach().mean() if rows.size else None)
    model.eval()
    return _floats(losses)


def train_nonprivate(
    model,
    record_loss: Callable,
    n_rows: int,
    settings: DPSGDSettings,
    rng: np.random.Generator,
    device,
    progress: bool = False,
    steps: int | None = None,
) -> list[float]:
    """Plain Adam on the mean of ``record_loss``, same batches and steps as DP-SGD would take.

    For data that is already public (a DP release, as in two-stage training), as the
    baseline of the throughput benchmark, and for a client's local round in client-level
    DP-FedAvg (:mod:`dpquilt.federation.client_level`), whose whole update is clipped and
    noised before it leaves the client. Spends nothing: it must never see private rows
    whose result is released otherwise. ``steps`` (optional) replaces the settings' count.

    Examples
    --------
    >>> import torch
    >>> x = torch.linspace(-1, 1, 200).unsqueeze(1)
    >>> def record_loss(module, rows, generator):
    ...     idx = torch.as_tensor(rows)
    ...     return ((module(x[idx]) - 2 * x[idx]) ** 2).squeeze(1)
    >>> model = torch.nn.Linear(1, 1)
    >>> losses = train_nonprivate(model, record_loss, 200, DPSGDSettings(batch_size=50, epochs=30, learning_rate=0.05),
    ...                           np.random.default_rng(0), "cpu")
    >>> losses[-1] < 0.01 < losses[0]
    True
    """
    import torch

    q, planned = rate_and_steps(settings, n_rows)
    steps = planned if steps is None else int(steps)
    sampler = rng
    generator = torch_generator(rng, device)
    optimizer, scheduler = adam_with_schedule(list(model.parameters()), settings, steps)
    losses = []
    model.train()
    for rows in poisson_batches(sampler, n_rows, q, steps, "training (public data)", progress):
        if rows.size:
            optimizer.zero_grad()
            loss = record_loss(model, rows, generator).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        scheduler.step()
    model.eval()
    return _floats(losses)


def adam_with_schedule(params: list, settings: DPSGDSettings, steps: int, window: tuple[int, int] | None = None):
    """Adam at ``settings.learning_rate`` and its schedule over ``steps`` (one ``step()`` per training step),
    or over the ``(first, total)`` window of a longer cosine schedule.

    Examples
    --------
    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(1))
    >>> optimizer, scheduler = adam_with_schedule([w], DPSGDSettings(learning_rate=0.1, schedule="cosine"), steps=4)
    >>> rates = []
    >>> for _ in range(4):
    ...     rates.append(round(optimizer.param_groups[0]["lr"], 4)); optimizer.step(); scheduler.step()
    >>> rates  # cosine from 0.1 over the 4 steps
    [0.1, 0.0854, 0.05, 0.0146]
    """
    import torch

    optimizer = torch.optim.Adam(params, lr=settings.learning_rate)
    if settings.schedule == "cosine" and window is not None:
        first, total = window
        return optimizer, torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(first + step, total) / max(total, 1))))
    if settings.schedule == "cosine":
        return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(int(steps), 1))
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def _floats(losses: list) -> list[float]:
    """Step losses as floats (``nan`` for an empty batch), read from the device once, after training."""
    import torch

    kept = [x for x in losses if x is not None]
    values = iter(torch.stack(kept).tolist() if kept else [])
    return [float("nan") if x is None else next(values) for x in losses]
