"""Client-level DP-FedAvg: one client's whole contribution is the privacy unit.

For deployments with many clients, each holding many rows of the same people or one
person's many records (McMahan, Ramage, Talwar and Zhang, ICLR 2018: DP-FedAvg). Every
client takes part in every round, and the noise is added by the clients in shares under
SecAgg+, so no party, the server included, sees an update without noise (the distributed
discrete Gaussian of Kairouz, Liu and Steinke, ICML 2021). Each round:

1. the server sends the public weights ``w`` and each client's noise scale ``s``;
2. every client trains ``w`` on its own rows for ``local_steps`` steps of plain Adam (its
   rows never leave it; its whole update is what is protected), and clips the update
   ``u = w_i - w`` to L2 norm ``S`` (``clip_norm``);
3. it scales the update to units of ``r = S / 2^bits`` and rounds each coordinate down or
   up with a uniform offset ``o`` drawn independently of its rows:
   ``v = floor(u / r + o)``. For a fixed ``o`` this is a fixed function of ``u``, and a
   change ``delta`` of ``u`` moves ``v`` by at most ``|delta_j| / r + 1`` in each
   coordinate it touches, so the sum's sensitivity to one client is at most
   ``Delta_2 = S / r + sqrt(d)`` and ``Delta_1 = sqrt(d) S / r + d`` for ``d`` weights (a
   mixture over ``o`` of mechanisms that are each private is private);
4. it adds a discrete Gaussian share ``N_Z(0, s^2)`` to every coordinate; SecAgg+ reveals
   only the sum, whose noise has variance at least ``t s^2 = sigma^2`` with ``t`` honest
   shares; the server sets ``w <- w + eta r sum / K`` for the ``K`` clients of the
   deployment (a public number, so the divisor does not depend on who took part).

The server's one accountant charges each round as the distributed discrete Gaussian with
those sensitivities and ``d`` dimensions ([KLS21] Theorem 2), the budget split evenly
over the rounds. Numeric columns are scaled linearly through the schema's public bounds:
the federated quantile transform counts rows, whose number per client is not bounded.
No row count is released either, so ``sample`` needs ``n_samples``.

With ``K`` clients the noise on the averaged update is ``sigma r / K`` per coordinate:
this unit pays off with hundreds of clients, not with a handful (see
``docs/benchmarks.md``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..diffusion_model.feature_map import FeatureMap
from ..diffusion_model.gaussian_diffusion import DDPMSettings, GaussianDiffusion
from ..dpsgd.training import train_nonprivate
from ..privacy.accountant import Accountant
from ..privacy.distributed import party_sigma
from ..privacy.mechanisms import spend_distributed_gaussian
from ..privacy.randomness import Randomness
from ..schema import Schema
from .update_rounds import (
    CLIPPING_RANGE, FedAvgRound, RoundedSums, check_number, flat_weights, shared_reply, load_flat, local_model, round_sigma,
)

__all__ = ["ClientLevelSettings", "client_level_update", "round_sigma", "rounded_update", "run_client_level_fedavg"]


@dataclass(frozen=True)
class ClientLevelSettings(RoundedSums):
    """Public settings of client-level DP-FedAvg.

    Parameters
    ----------
    clip_norm : float, default 1.0
        ``S``: each client's update is clipped to this L2 norm.
    local_steps : int, default 50
        Adam steps each client makes on its own rows per round (batches of the network
        settings' ``batch_size``, at its ``learning_rate``).
    bits : int, default 16
        The update is rounded to ``S / 2^bits``; rounding adds ``sqrt(d)`` to the
        sensitivity ``2^bits`` in these units (under 1% for ``d < 4 10^6`` weights).

    Examples
    --------
    >>> s = ClientLevelSettings(clip_norm=0.5)
    >>> s.resolution == 0.5 / 2**16, s.sensitivities(10_000)  # (S / r + sqrt(d), sqrt(d) S / r + d)
    (True, (65636.0, 6563600.0))
    >>> ClientLevelSettings(clip_norm=0)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: ClientLevelSettings: clip_norm must be a positive number, got 0
    """

    clip_norm: float = 1.0
    local_steps: int = 50
    bits: int = 16

    def __post_init__(self) -> None:
        check_number("ClientLevelSettings", "clip_norm", self.clip_norm)
        check_number("ClientLevelSettings", "local_steps", self.local_steps, integer=True, low=1, high=10**6)
        check_number("ClientLevelSettings", "bits", self.bits, integer=True, low=4, high=20)


def rounded_update(update: np.ndarray, settings: ClientLevelSettings, offsets: np.ndarray) -> np.ndarray:
    """``floor(clip(update) / r + offsets)`` as int64: the update clipped to L2 norm ``S`` in units of ``r``.

    ``offsets`` are uniform on ``[0, 1)`` and independent of the rows: given them, a change
    ``delta`` of the update moves the result by at most ``|delta_j| / r + 1`` per coordinate.

    Examples
    --------
    >>> s = ClientLevelSettings(clip_norm=1.0, bits=4)  # r = 1/16
    >>> rounded_update(np.array([3.0, 4.0]), s, np.zeros(2)).tolist()  # norm 5 clipped to 1: (0.6, 0.8) x 16
    [9, 12]
    >>> rounded_update(np.array([0.01, -0.01]), s, np.full(2, 0.99)).tolist()
    [1, 0]
    """
    u = np.asarray(update, dtype=np.float64)
    norm = float(np.linalg.norm(u))
    if norm > settings.clip_norm:
        u = u * (settings.clip_norm / norm)
    return np.floor(u / settings.resolution + offsets).astype(np.int64)


def client_level_update(
    features: FeatureMap, x0: np.ndarray, present: np.ndarray, start: np.ndarray, config: Mapping[str, object],
    client: int, seed: int | None, device,
) -> np.ndarray:
    """One client's reply to a client-level round: its clipped, rounded update plus its noise share,
    then its seeded flag and the check entry ``1`` (see the module docstring).

    Examples
    --------
    Run by the client app of :func:`~.secure_fedavg.make_secure_fedavg_client_app` when the
    server's request names ``client-level``; see :func:`run_client_level_fedavg`.
    """
    from ..dpsgd.device import resolve_device
    from .fedavg import settings_from_wire

    settings = settings_from_wire(str(config["dpquilt.settings"]))
    level = ClientLevelSettings.from_wire(str(config["dpquilt.client-level"]))
    round_ = int(config["dpquilt.round"])
    randomness = Randomness.of(None if seed is None else np.random.default_rng([seed, client, round_]))
    dev = resolve_device(device)
    diffusion, loss = local_model(features, settings, start, randomness, dev, x0, present)
    train_nonprivate(diffusion.model, loss, x0.shape[0], settings.training, randomness.generator("local training"), dev,
                     steps=level.local_steps)  # the whole update is clipped and noised below
    update = flat_weights(diffusion.model).astype(np.float64) - start
    offsets = randomness.generator("rounding offsets").random(update.size)  # drawn without reading the rows
    rounded = rounded_update(update, level, offsets)
    return shared_reply(rounded, float(config["dpquilt.share-sigma"]), seed, client, round_, "ClientLevelSettings.bits")


def run_client_level_fedavg(
    grid,
    context,
    schema: Schema,
    sums,
    epsilon: float,
    delta: float,
    rounds: int,
    settings: DDPMSettings,
    level: ClientLevelSettings,
    seed: int | None,
    server_learning_rate: float = 1.0,
    device: str = "cpu",
    columns: Sequence[str] | None = None,
    synthesizer=None,
):
    """Inside a ServerApp main: client-level DP-FedAvg over SecAgg+ (see the module docstring).

    Returns the fitted :class:`~dpquilt.synthesizers.diffusion.DiffusionSynthesizer`
    (``synthesizer`` fitted in place, or a new one), whose report is the server's one
    ledger with the client as the privacy unit; ``round_sigmas_`` holds each round's
    total noise scale in units of the rounding step.
    """
    from ..dpsgd.device import resolve_device
    from ..synthesizers.diffusion import DiffusionSynthesizer
    from .fedavg import schema_digest, settings_to_wire
    from .masks import install_secure_masks
    from .secure_sum import SecureSum

    install_secure_masks()
    sums = replace(sums, clipping_range=CLIPPING_RANGE, retries=0)
    t, clients = sums.honest_shares, sums.clients
    features = FeatureMap(schema)  # linear scaling through the public bounds
    init = Randomness.of(None if seed is None else np.random.default_rng([int(seed), 2**31])).generator("initial weights")
    model = GaussianDiffusion((), features.width, settings, resolve_device("cpu"), init)
    flat = flat_weights(model.model).astype(np.float64)
    accountant = Accountant(epsilon, delta, secure=seed is None)
    rho_round = accountant.remaining_rho() / rounds
    sigma = round_sigma(rho_round, t, level, flat.size)
    l2, l1 = level.sensitivities(flat.size)
    config = {
        "dpquilt.settings": settings_to_wire(settings), "dpquilt.schema-sha256": schema_digest(schema),
        "dpquilt.client-level": level.to_wire(), "dpquilt.share-sigma": party_sigma(sigma, t),
    }
    seeded = seed is not None
    with SecureSum(grid, context, sums) as secure_sum:
        for r in range(1, rounds + 1):
            spend_distributed_gaussian(f"client-level DP-FedAvg round {r}", sigma, t, accountant, l2, l1, flat.size)
            request = FedAvgRound(f"client-level DP-FedAvg round {r}", r, flat.astype(np.float32),
                                  {**config, "dpquilt.unit": "client"})
            total, _ = secure_sum(request, flat.size + 2)
            seeded = seeded or total[flat.size] != 0
            flat = flat + server_learning_rate * level.resolution * total[: flat.size].astype(np.float64) / clients
    load_flat(model.model, flat.astype(np.float32))
    model.model.eval()
    if seeded:
        accountant.mark_not_secure()
    syn = synthesizer if synthesizer is not None else DiffusionSynthesizer(
        epsilon=epsilon, delta=delta, schema=schema, settings=settings, device=device, random_state=seed, verbose=False)
    syn.fit_trained(model, features, accountant, math.nan, columns, (
        f"client-level DP-FedAvg over {clients} clients, {rounds} rounds: the privacy unit is one client's whole "
        f"contribution (McMahan et al. 2018); each update clipped to L2 norm {level.clip_norm:g}, noised by the clients "
        f"in discrete Gaussian shares (at least {t} honest) and summed under SecAgg+, so the server saw only noisy sums",
        "numeric columns scaled linearly through the schema's public bounds; no row count released (pass n to sample)",
        "no DP-SGD: the noise is the clients' discrete Gaussian shares" + (" (seeded: not for release)" if seeded else ""),
    ))
    syn.round_sigmas_ = [sigma] * rounds
    return syn

