"""DP-FedAvg whose server sees only the sum of the clients' updates (Flower's SecAgg+).

The plain DP-FedAvg of :mod:`.fedavg` hands the server every client's weights. Here each
round is one secure sum (:class:`~.secure_sum.SecureSum`, SecAgg+ in exact integer mode):

0. with numeric columns and ``transform_share > 0``, a federated quantile transform (:mod:`.quantile_transform`): every
   client counts its numeric values in the schema's bins and adds a discrete Gaussian
   share ``N_Z(0, sigma^2 / t)`` (``t``: the honest shares SecAgg+ guarantees), one secure
   sum reveals the noisy totals, and every party builds the same piecewise-linear CDFs
   from them (:class:`~dpquilt.diffusion_model.feature_map.BinnedCDF`, as the central
   model does); each client's ledger holds the release at the distributed discrete
   Gaussian's cost for ``transform_share`` of its budget, split over the columns;
1. before the first round the server asks every client for its plan (legacy
   ``get_properties``): the client releases its noisy row count ``n_i`` (discrete
   Gaussian, its ``count_share``) and solves its DP-SGD noise for all rounds, as in
   :func:`~.fedavg.plan_client`; the plans are DP outputs and public settings, and give
   each client's ledger;
2. each round the server sends the current weights ``w`` (public); every client trains
   one round of record-level DP-SGD, and replies with its weighted update quantised to
   integers, ``q_i = SR(n_i clip(w_i - w, -B, B) / r)`` (``SR``: stochastic rounding,
   unbiased), followed by ``n_i``, its seeded flag and the check entry ``1``;
3. SecAgg+ reveals only ``sum_i q_i`` and ``N = sum_i n_i``; the server sets
   ``w <- w + eta r sum_i q_i / N``: FedAvg weighted by the noisy counts (McMahan et al.
   2017), its step scaled by a server learning rate ``eta`` (:func:`~.fedavg.server_step`).

**Quantisation error.** Stochastic rounding moves each entry by less than 1, so the
averaged update is off by less than ``k r / N`` per coordinate for ``k`` contributing
clients (:func:`quantization_bound`); with ``r = 2^-10`` and ``N`` in the thousands that is
below ``10^-5``, against Adam steps of size ``learning_rate`` (``3 10^-3`` by default)
driven by DP-SGD noise of several times the clipped gradient's norm. Clipping each
coordinate of an update to ``B`` (default 1; weights here live in ``[-1, 1]``-scaled
features and move by about ``steps x learning_rate``) changes only utility, never privacy:
the update is already DP. An entry must fit SecAgg+'s range: ``n_i B / r < 2^29``, so a
client holds at most ``2^29 r / B`` rows (about 524,000 at the defaults; raise ``r``
for more); a client refuses otherwise.

**Faults.** A round needs ``clients - max_dropouts`` contributors (SecAgg+'s threshold);
it is not retried, since the clients' rounds of training are spent. The report shows
each client's ledger as if it trained every round: an upper bound for a client that
missed one.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace

import numpy as np
import pandas as pd

from ..diffusion_model.feature_map import FeatureMap, bin_counts
from ..diffusion_model.gaussian_diffusion import DDPMSettings, GaussianDiffusion
from ..dpsgd.training import train_dpsgd
from ..privacy.accountant import Accountant
from ..privacy.noise import SecureNoise, SeededNoise
from ..privacy.randomness import Randomness
from ..schema import Schema
from .fedavg import (
    ClientPlan, client_ledger, fit_from_ledgers, plan_client, schema_digest, server_step, settings_from_wire,
    settings_to_wire,
)
from .quantile_transform import cdfs_from_totals, federated_transform, spend_histograms, transform_sigmas
from .secure_sum import SecureSum, SecureSumSettings
from .update_rounds import CLIPPING_RANGE, FEDSGD_UNIT, FedAvgRound, flat_weights, load_flat, local_model

__all__ = [
    "FedAvgRound", "RESOLUTION", "secure_client_ledger", "UPDATE_BOUND", "make_secure_fedavg_client_app", "quantization_bound", "quantize_update",
    "run_secure_fedavg",
]

log = logging.getLogger(__name__)

#: ``r``: the value of one quantisation step of a weighted update
RESOLUTION = 2.0**-10
#: ``B``: each coordinate of a client's update is clipped to ``[-B, B]`` (utility only)
UPDATE_BOUND = 1.0
STATE_KEY = "dpquilt.secure-fedavg"


def quantize_update(
    update: np.ndarray, weight: float, rng: np.random.Generator, resolution: float = RESOLUTION,
    bound: float = UPDATE_BOUND, limit: int = CLIPPING_RANGE,
) -> np.ndarray:
    """``SR(weight clip(update, -bound, bound) / resolution)`` as int64 (see the module docstring).

    Examples
    --------
    >>> q = quantize_update(np.array([0.5, -2.0, 1e-4]), 10.0, np.random.default_rng(0), resolution=0.01)
    >>> q[:2].tolist(), int(q[2]) in (0, 1)  # -2 is clipped to -1; 0.1 steps round up with probability 0.1
    ([500, -1000], True)
    """
    x = float(weight) * np.clip(np.asarray(update, dtype=np.float64), -bound, bound) / resolution
    if x.size and float(np.abs(x).max()) + 1 >= limit:
        raise ValueError(
            f"a weighted update does not fit the secure sum's range (-{limit}, {limit}): this client's noisy count "
            f"{weight:.0f} times the update bound {bound} over the resolution {resolution} is too large; split the "
            "client's rows, or coarsen the resolution"
        )
    low = np.floor(x)
    return (low + (rng.random(x.shape) < x - low)).astype(np.int64)


def quantization_bound(contributors: int, total_rows: float, resolution: float = RESOLUTION) -> float:
    """Largest error, per coordinate, of the securely averaged update: ``k r / N``.

    Examples
    --------
    >>> quantization_bound(3, 3000.0) < 1e-5
    True
    """
    return contributors * resolution / max(total_rows, 1.0)


def secure_client_ledger(
    plan: ClientPlan, sigmas: Mapping[str, float], honest_shares: int, schema: Schema, epsilon: float, delta: float,
    secure: bool, rounds_done: int,
) -> Accountant:
    """A client's accountant: the quantile transform's histograms, its count and ``rounds_done`` rounds (replayed)."""
    accountant = Accountant(epsilon, delta, secure=secure)
    spend_histograms(accountant, sigmas, honest_shares, schema)
    for expenditure in client_ledger(plan, epsilon, delta, secure, rounds_done).ledger:
        accountant.spend(expenditure)
    return accountant


def make_secure_fedavg_client_app(
    load: Callable[[object], tuple[pd.DataFrame, Schema]],
    seed: int | None | Callable[[object], int | None] = None,
    device: str = "cpu",
    mods: Sequence = (),
):
    """A ClientApp for :func:`run_secure_fedavg`: its plan on request, one round of DP-SGD per secure sum.

    ``load``, ``seed`` and ``device`` as in :func:`~.fedavg.make_fedavg_client_app`;
    ``mods``: extra Flower mods placed outside SecAgg+ (fault injection in tests).
    """
    from flwr.client import NumPyClient
    from flwr.client.mod import secaggplus_mod
    from flwr.clientapp import ClientApp

    from .client import secure_masks_mod

    frames: dict[int, tuple[pd.DataFrame, Schema]] = {}
    cache: dict[int, tuple[FeatureMap, np.ndarray, np.ndarray]] = {}

    class Client(NumPyClient):
        def __init__(self, context) -> None:
            self.ctx = context
            self.key = int(context.node_config.get("partition-id", context.node_id))
            self.seed = seed(context) if callable(seed) else seed

        def _frame(self, config) -> tuple[pd.DataFrame, Schema]:
            if self.key not in frames:
                df, schema = load(self.ctx)
                if schema_digest(schema) != str(config["dpquilt.schema-sha256"]):
                    raise ValueError(f"client {self.key}: its schema differs from the server's; all parties must use "
                                     "the same file")
                frames[self.key] = (df[list(schema.names)], schema)
            return frames[self.key]

        def _rows(self, config):
            if self.key not in cache:
                df, schema = self._frame(config)
                features = FeatureMap(schema, cdfs_from_totals(schema, json.loads(str(config.get("dpquilt.cdfs", "{}")))))
                cache[self.key] = (features, *features.features(df))
            return cache[self.key]

        def _sigmas(self, config) -> tuple[dict[str, float], int]:
            return json.loads(str(config.get("dpquilt.transform-sigmas", "{}"))), int(config.get("dpquilt.honest-shares", 1))

        def _plan(self, config) -> tuple[ClientPlan, int]:
            state = self.ctx.state[STATE_KEY] if STATE_KEY in self.ctx.state else None
            if state is not None:
                return ClientPlan(**{f: state[f] for f in ClientPlan.__dataclass_fields__}), int(state["rounds-done"])
            df, schema = self._frame(config)
            noise = SecureNoise() if self.seed is None else SeededNoise(
                np.random.default_rng([self.seed, self.key, zlib.crc32(b"count")]))
            accountant = Accountant(float(config["dpquilt.epsilon"]), float(config["dpquilt.delta"]), secure=self.seed is None)
            spend_histograms(accountant, *self._sigmas(config), schema)  # released before the plan
            plan = plan_client(len(df), float(config["dpquilt.count-share"]), settings_from_wire(str(config["dpquilt.settings"])),
                               int(config["dpquilt.rounds"]), accountant, noise)
            self._save(plan, 0)
            return plan, 0

        def _save(self, plan: ClientPlan, done: int) -> None:
            from flwr.app import ConfigRecord

            self.ctx.state[STATE_KEY] = ConfigRecord({**asdict(plan), "rounds-done": done})

        def get_properties(self, config):
            plan, _ = self._plan(config)
            return {**{f: float(v) for f, v in asdict(plan).items()}, "client": self.key, "seeded": int(self.seed is not None)}

        def _histograms(self, config):
            df, schema = self._frame(config)
            shares = json.loads(str(config["dpquilt.share-sigmas"]))
            counts = bin_counts(df, schema)
            noise = SecureNoise() if self.seed is None else SeededNoise(
                np.random.default_rng([self.seed, self.key, zlib.crc32(b"histograms")]))
            noisy = [noise.discrete_gaussian(counts[name], sigma) for name, sigma in shares.items()]
            vector = np.concatenate([*noisy, [int(self.seed is not None), 1]]).astype(np.float64)
            if np.abs(vector).max() >= CLIPPING_RANGE:
                raise ValueError("a noisy bin count does not fit the secure sum's range; split the client's rows")
            return [vector], 1, {}

        def fit(self, parameters, config):
            from ..dpsgd.device import resolve_device

            if str(config.get("dpquilt.kind")) == "histogram":
                return self._histograms(config)
            features, x0, present = self._rows(config)
            if str(config.get("dpquilt.unit", "record")) == FEDSGD_UNIT:
                from .secure_fedsgd import fedsgd_reply

                start = np.asarray(parameters[0], dtype=np.float32)
                return [fedsgd_reply(features, x0, present, start, config, self.key, self.seed, device)], 1, {}
            if str(config.get("dpquilt.unit", "record")) == "client":
                from .client_level import client_level_update

                start = np.asarray(parameters[0], dtype=np.float32).astype(np.float64)
                return [client_level_update(features, x0, present, start, config, self.key, self.seed, device)], 1, {}
            plan, done = self._plan(config)
            round_ = int(config["dpquilt.round"])
            if done != round_ - 1:
                raise RuntimeError(f"client {self.key} has trained {done} rounds and was asked for round {round_}; "
                                   "a round is never trained twice")
            settings = settings_from_wire(str(config["dpquilt.settings"]))
            epsilon, delta = float(config["dpquilt.epsilon"]), float(config["dpquilt.delta"])
            accountant = secure_client_ledger(plan, *self._sigmas(config), features.schema, epsilon, delta,
                                              self.seed is None, done)
            randomness = Randomness.of(None if self.seed is None else np.random.default_rng([self.seed, self.key, round_]))
            dev = resolve_device(device)
            start = np.asarray(parameters[0], dtype=np.float32)
            diffusion, loss = local_model(features, settings, start, randomness, dev, x0, present)
            steps = plan.steps_per_round
            train_dpsgd(diffusion.model, loss, x0.shape[0], plan.dpsgd_plan(), settings.training, accountant,
                        f"DP-SGD round {round_}", randomness, dev,
                        schedule_window=((round_ - 1) * steps, plan.rounds * steps))  # one schedule over all rounds
            self._save(plan, done + 1)
            update = flat_weights(diffusion.model).astype(np.float64) - start
            q = quantize_update(update, plan.noisy_rows, randomness.generator("stochastic rounding"))
            vector = np.concatenate([q, [int(plan.noisy_rows), int(self.seed is not None), 1]]).astype(np.float64)
            return [vector], 1, {}

    return ClientApp(client_fn=lambda context: Client(context).to_client(), mods=[secure_masks_mod, *mods, secaggplus_mod])


def run_secure_fedavg(
    grid,
    context,
    schema: Schema,
    sums: SecureSumSettings,
    epsilon: float,
    delta: float,
    rounds: int,
    settings: DDPMSettings,
    count_share: float,
    seed: int | None,
    device: str = "cpu",
    columns: Sequence[str] | None = None,
    synthesizer=None,
    transform_share: float = 0.05,
    server_learning_rate: float | None = None,
):
    """Inside a ServerApp main: DP-FedAvg of the diffusion model over SecAgg+ (see the module docstring).

    ``server_learning_rate`` scales the averaged update (:func:`~.fedavg.server_step`;
    ``None``: the square root of the number of clients).

    Returns the fitted :class:`~dpquilt.synthesizers.diffusion.DiffusionSynthesizer`
    (``synthesizer`` fitted in place, or a new one); its report is the most-spent
    client's ledger, and ``quantization_bounds_`` holds each round's bound on the
    quantisation error of the averaged update.
    """
    from flwr.common import GetPropertiesIns

    from ..dpsgd.device import resolve_device
    from .masks import install_secure_masks

    install_secure_masks()  # the clients' mods do the same: masks must come from one generator to cancel
    sums = replace(sums, clipping_range=CLIPPING_RANGE, retries=0)
    t = sums.honest_shares
    eta = server_step(server_learning_rate, sums.clients)
    sigmas = transform_sigmas(schema, epsilon, delta, transform_share, t)
    config = {
        "dpquilt.epsilon": float(epsilon), "dpquilt.delta": float(delta), "dpquilt.rounds": int(rounds),
        "dpquilt.count-share": float(count_share), "dpquilt.settings": settings_to_wire(settings),
        "dpquilt.schema-sha256": schema_digest(schema), "dpquilt.transform-sigmas": json.dumps(sigmas),
        "dpquilt.honest-shares": int(t),
    }
    init = Randomness.of(None if seed is None else np.random.default_rng([int(seed), 2**31])).generator("initial weights")
    seeded = seed is not None
    with SecureSum(grid, context, sums) as secure_sum:
        totals, flagged = federated_transform(secure_sum, schema, sigmas, t, config)
        seeded = seeded or flagged
        config["dpquilt.cdfs"] = json.dumps(totals)
        features = FeatureMap(schema, cdfs_from_totals(schema, totals))
        model = GaussianDiffusion((), features.width, settings, resolve_device("cpu"), init)
        flat = flat_weights(model.model).astype(np.float64)
        bounds = []
        plans = {}
        for proxy in secure_sum.clients():
            reply = proxy.get_properties(GetPropertiesIns(dict(config)), timeout=sums.timeout, group_id=0)
            p = reply.properties
            plans[int(p["client"])] = ClientPlan(
                p["count_sigma"], p["noisy_rows"], p["noise_multiplier"], p["sample_rate"], int(p["steps_per_round"]),
                int(p["rounds"]), p["max_grad_norm"])
            seeded = seeded or bool(int(p["seeded"]))
        for r in range(1, rounds + 1):
            request = FedAvgRound(f"DP-FedAvg round {r}", r, flat.astype(np.float32), config)
            total, contributors = secure_sum(request, flat.size + 3)
            rows = float(total[flat.size])
            seeded = seeded or total[flat.size + 1] != 0
            flat = flat + eta * RESOLUTION * total[: flat.size].astype(np.float64) / max(rows, 1.0)
            bounds.append(eta * quantization_bound(contributors, rows))  # the error of the step taken
            log.info("secure DP-FedAvg round %d: %d clients, %.0f noisy rows", r, contributors, rows)
    load_flat(model.model, flat.astype(np.float32))
    model.model.eval()
    ledgers = {k: secure_client_ledger(p, sigmas, t, schema, epsilon, delta, not seeded, rounds) for k, p in plans.items()}
    transform_note = ("numeric columns Gaussianised by a federated quantile transform (noisy bin counts summed under "
                      "SecAgg+)",) if sigmas else ()
    syn = fit_from_ledgers(
        synthesizer, model, features, ledgers, plans,
        lambda worst: (
            f"DP-FedAvg over {len(plans)} clients, {rounds} rounds, updates summed under SecAgg+ (the server saw only "
            f"their sum): each client ran record-level DP-SGD on its own rows under its own ledger (parallel "
            f"composition); shown: client {worst}'s, the most spent",
            f"quantisation of the summed updates: error below {max(bounds):.2g} per coordinate of the averaged update",
            *transform_note,
        ),
        schema=schema, epsilon=epsilon, delta=delta, settings=settings, device=device, seed=seed, columns=columns,
    )
    syn.quantization_bounds_ = bounds
    return syn

