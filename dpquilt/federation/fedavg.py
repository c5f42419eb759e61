"""DP-FedAvg of the standalone diffusion model across Flower clients.

Each client trains the shared model on its own rows with record-level DP-SGD and its
own accountant, as in DP-Fed-FinDiff (Sattarov et al. 2024): in round 1 it releases a
noisy count of its rows (discrete Gaussian, ``count_share`` of its budget), which sets
its sample rate ``q = batch / count``; it then solves one noise multiplier for all
``rounds x steps_per_round`` of its DP-SGD steps from the rest, and spends one round's
steps per round. The server averages the returned weights, weighted by the released
counts (FedAvg, McMahan et al. 2017), and steps ``server_step`` times that average's
update (a server learning rate, by default the square root of the number of clients).
Every record belongs to one client, so the release is as private as the most-spent
client's ledger (parallel composition); the server and other clients see only DP outputs
(the weights after each round).

A client's ledger is replayed each round from its plan, kept in the node's Flower
state, so a client restarted between rounds cannot spend twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..dpsgd.training import DPSGDPlan, DPSGDSettings, train_dpsgd
from ..diffusion_model.feature_map import FeatureMap
from ..diffusion_model.gaussian_diffusion import DDPMSettings, GaussianDiffusion
from ..privacy.accountant import Accountant
from ..privacy.mechanisms import gaussian_counts, gaussian_counts_expenditure, sigma_for_rho
from ..privacy.noise import NoiseSource, SecureNoise, SeededNoise
from ..privacy.randomness import Randomness
from ..privacy.subsampled_gaussian import noise_multiplier_for, spend_dpsgd
from ..schema import Schema

__all__ = ["ClientPlan", "client_ledger", "fit_from_ledgers", "make_fedavg_client_app", "plan_client", "run_fedavg",
           "schema_digest", "server_step", "DEFAULT_FEDAVG_ROUNDS"]

#: DP-FedAvg's rounds unless asked otherwise (on diamonds over 3 clients 25 beat 5, 15 and 50)
DEFAULT_FEDAVG_ROUNDS = 25

STATE_KEY = "dpquilt.fedavg"


@dataclass(frozen=True)
class ClientPlan:
    """What one client spends: a noisy count, then ``rounds`` rounds of DP-SGD steps.

    Examples
    --------
    See :func:`plan_client`, which returns one.
    """

    count_sigma: float
    noisy_rows: float
    noise_multiplier: float
    sample_rate: float
    steps_per_round: int
    rounds: int
    max_grad_norm: float

    def dpsgd_plan(self) -> DPSGDPlan:
        """One round's DP-SGD steps."""
        return DPSGDPlan(
            self.noise_multiplier, self.sample_rate, self.steps_per_round, self.max_grad_norm,
            self.sample_rate * self.noisy_rows,
        )


def plan_client(
    n_rows: int,
    count_share: float,
    settings: DDPMSettings,
    rounds: int,
    accountant: Accountant,
    noise: NoiseSource,
) -> ClientPlan:
    """Release the client's noisy count (spent in ``accountant``) and solve its DP-SGD noise for all rounds.

    Each round runs ``ceil(epochs / (rounds q))`` steps, so the whole fit makes about
    ``settings.training.epochs`` passes over the client's rows, and at least
    ``ceil(min_steps / rounds)``, so a client makes as many steps in all as the central
    model would (``DPSGDSettings.min_steps``).

    Examples
    --------
    >>> acc = Accountant(3.0, 1e-6, secure=False)
    >>> settings = DDPMSettings(training=DPSGDSettings(batch_size=100, epochs=10))
    >>> plan = plan_client(1000, 0.05, settings, rounds=5, accountant=acc, noise=SeededNoise(np.random.default_rng(0)))
    >>> plan.rounds, bool(900 < plan.noisy_rows < 1100), plan.sample_rate == 100 / plan.noisy_rows  # q from the noisy count
    (5, True, True)
    >>> plan.steps_per_round == math.ceil(10 / (5 * plan.sample_rate))  # 10 epochs over 5 rounds
    True
    >>> ledger = client_ledger(plan, 3.0, 1e-6, secure=False, rounds_done=5)  # all rounds: the whole budget
    >>> bool(2.99 < ledger.epsilon_spent() <= 3.0)
    True
    """
    sigma = sigma_for_rho(count_share * accountant.remaining_rho())
    noisy = float(max(int(gaussian_counts(np.array([n_rows]), sigma, "record count", accountant, noise)[0]), 1))
    q = min(1.0, settings.training.batch_size / noisy)
    steps = max(1, int(math.ceil(settings.training.epochs / (rounds * q))),
                int(math.ceil(settings.training.min_steps / rounds)))  # the central model's floor, over the rounds
    z = noise_multiplier_for(accountant, q, steps * rounds)
    return ClientPlan(sigma, noisy, z, q, steps, rounds, float(settings.training.max_grad_norm))


def client_ledger(plan: ClientPlan, epsilon: float, delta: float, secure: bool, rounds_done: int) -> Accountant:
    """A client's accountant after its count and ``rounds_done`` rounds of DP-SGD (replayed).

    Examples
    --------
    See :func:`plan_client`.
    """
    accountant = Accountant(epsilon, delta, secure=secure)
    accountant.spend(gaussian_counts_expenditure("record count", plan.count_sigma))
    for r in range(1, rounds_done + 1):
        spend_dpsgd(f"DP-SGD round {r}", plan.noise_multiplier, plan.sample_rate, plan.steps_per_round, accountant)
    return accountant


def settings_to_wire(settings: DDPMSettings) -> str:
    """The settings as JSON, for the server's train config (every client trains the same network)."""
    return json.dumps(asdict(settings), sort_keys=True)


def settings_from_wire(text: str) -> DDPMSettings:
    values = json.loads(text)
    return DDPMSettings(**{**values, "training": DPSGDSettings(**values["training"])})


def make_fedavg_client_app(
    load: Callable[[object], tuple[pd.DataFrame, Schema]],
    seed: int | None | Callable[[object], int | None] = None,
    device: str = "cpu",
):
    """A ClientApp whose ``train`` runs one round of local DP-SGD on this client's rows.

    The budget, rounds, count share and network settings come from the server's train
    config (``dpquilt.*`` keys, see :func:`run_fedavg`); the client refuses a schema that
    is not the server's (SHA-256 of its canonical JSON).

    Parameters
    ----------
    load : callable
        ``load(context) -> (DataFrame, Schema)``: this client's rows and the public schema.
    seed : int, callable or None
        ``None``: secure noise. An int (or ``seed(context)``): reproducible from
        ``(seed, client, round)``; not for release.
    device : str

    Examples
    --------
    A client's Flower app file (run with ``flwr``), reading its own CSV::

        import json
        from dpquilt.schema import Schema
        from dpquilt.federation.fedavg import make_fedavg_client_app

        schema = Schema.from_public(json.loads(open("schema.json").read()))
        app = make_fedavg_client_app(lambda context: (pd.read_csv("mine.csv"), schema))
    """
    from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    from ..dpsgd.device import resolve_device

    app = ClientApp()
    cache: dict[int, tuple[FeatureMap, np.ndarray, np.ndarray]] = {}

    @app.train()
    def train(msg, context):
        config = msg.content["config"]
        key = int(context.node_config.get("partition-id", context.node_id))
        if key not in cache:
            df, schema = load(context)
            if schema_digest(schema) != str(config["dpquilt.schema-sha256"]):
                raise ValueError(f"client {key}: its schema differs from the server's; all parties must use the same file")
            features = FeatureMap(schema)
            cache[key] = (features, *features.features(df[list(schema.names)]))
        features, x0, present = cache[key]
        settings = settings_from_wire(str(config["dpquilt.settings"]))
        epsilon, delta = float(config["dpquilt.epsilon"]), float(config["dpquilt.delta"])
        rounds, count_share = int(config["dpquilt.rounds"]), float(config["dpquilt.count-share"])
        node_seed = seed(context) if callable(seed) else seed
        server_round = int(config["server-round"])
        randomness = Randomness.of(None if node_seed is None else np.random.default_rng([node_seed, key, server_round]))
        state = context.state[STATE_KEY] if STATE_KEY in context.state else None
        if state is None:
            noise = (SecureNoise() if node_seed is None
                     else SeededNoise(np.random.default_rng([node_seed, key, zlib.crc32(b"count")])))
            accountant = Accountant(epsilon, delta, secure=node_seed is None)
            plan = plan_client(x0.shape[0], count_share, settings, rounds, accountant, noise)
            done = 0
        else:
            plan = ClientPlan(**{f: state[f] for f in ClientPlan.__dataclass_fields__})
            done = int(state["rounds-done"])
            accountant = client_ledger(plan, epsilon, delta, node_seed is None, done)
        if done >= rounds:
            raise RuntimeError(f"client {key} planned its budget for {rounds} rounds and has trained them all")
        dev = resolve_device(device)
        diffusion = GaussianDiffusion((), features.width, settings, dev, randomness.generator("model shell (weights loaded next)"))
        diffusion.model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
        loss = diffusion.record_loss(x0, present, np.zeros((x0.shape[0], 0), dtype=np.int64))
        steps = plan.steps_per_round
        train_dpsgd(diffusion.model, loss, x0.shape[0], plan.dpsgd_plan(), settings.training, accountant,
                    f"DP-SGD round {done + 1}", randomness, dev,
                    schedule_window=(done * steps, plan.rounds * steps))  # one schedule over all rounds
        context.state[STATE_KEY] = ConfigRecord({**asdict(plan), "rounds-done": done + 1})
        metrics = MetricRecord({
            "num-examples": plan.noisy_rows,
            "client": key,
            "epsilon": accountant.epsilon_spent(),
            "seeded": int(node_seed is not None),  # the server's report must not call a seeded client secure
            **{f: float(v) for f, v in asdict(plan).items()},
        })
        arrays = ArrayRecord(diffusion.model.state_dict())
        return Message(RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=msg)

    return app


def run_fedavg(
    grid,
    schema: Schema,
    clients: int,
    epsilon: float,
    delta: float,
    rounds: int,
    settings: DDPMSettings,
    count_share: float,
    seed: int | None,
    device: str = "cpu",
    columns: Sequence[str] | None = None,
    synthesizer=None,
    server_learning_rate: float | None = None,
):
    """Inside a ServerApp main: FedAvg the diffusion model over ``clients`` clients; a fitted DiffusionSynthesizer
    (``synthesizer``, fitted in place with :meth:`~dpquilt.synthesizers.diffusion.DiffusionSynthesizer.fit_trained`,
    or a new one).

    The initial weights are drawn here (seeded from ``(seed, 2**31)`` or the OS), every
    round all clients train (``min_train_nodes = clients``), the server steps
    ``server_step(server_learning_rate, clients)`` times the averaged update
    (:func:`server_step`), and the report is the most-spent client's ledger, replayed
    from the plan it reported.

    Examples
    --------
    The server's Flower app (run with ``flwr``; :func:`dpquilt.federation.simulate`
    runs both sides in one process)::

        from flwr.serverapp import ServerApp
        app = ServerApp()

        @app.main()
        def main(grid, context):
            syn = run_fedavg(grid, schema, clients=3, epsilon=3.0, delta=1e-6, rounds=5,
                             settings=DDPMSettings(), count_share=0.05, seed=None)
            syn.sample(1000).to_csv("synthetic.csv", index=False)
    """
    from flwr.app import ArrayRecord, ConfigRecord
    from flwr.serverapp.strategy import FedAvg
    from flwr.serverapp.strategy.strategy_utils import aggregate_metricrecords

    from ..dpsgd.device import resolve_device

    features = FeatureMap(schema)
    init = Randomness.of(None if seed is None else np.random.default_rng([int(seed), 2**31])).generator("initial weights")
    model = GaussianDiffusion((), features.width, settings, resolve_device("cpu"), init)
    seen: list = []

    def collect(records, key):
        seen.extend(records)
        return aggregate_metricrecords(records, key)

    eta = server_step(server_learning_rate, clients)

    class ServerStepFedAvg(FedAvg):
        """FedAvg whose new weights are ``w + eta (average - w)``."""

        def configure_train(self, server_round, arrays, config, grid):
            self.current = arrays.to_torch_state_dict()
            return super().configure_train(server_round, arrays, config, grid)

        def aggregate_train(self, server_round, replies):
            arrays, metrics = super().aggregate_train(server_round, replies)
            if arrays is not None:
                average = arrays.to_torch_state_dict()
                arrays = ArrayRecord({k: self.current[k] + eta * (average[k] - self.current[k]) for k in average})
            return arrays, metrics

    strategy = ServerStepFedAvg(fraction_evaluate=0.0, min_train_nodes=clients, min_available_nodes=clients,
                                train_metrics_aggr_fn=collect)
    config = ConfigRecord({
        "dpquilt.epsilon": float(epsilon), "dpquilt.delta": float(delta), "dpquilt.rounds": int(rounds),
        "dpquilt.count-share": float(count_share), "dpquilt.settings": settings_to_wire(settings),
        "dpquilt.schema-sha256": schema_digest(schema),
    })
    result = strategy.start(grid=grid, initial_arrays=ArrayRecord(model.model.state_dict()), num_rounds=rounds,
                            train_config=config)
    model.model.load_state_dict(result.arrays.to_torch_state_dict())
    model.model.eval()
    plans = client_plans_from_metrics(seen)
    if not plans:
        raise RuntimeError("no client finished a round of DP-FedAvg; see the log above")
    done = {k: sum(1 for r in seen if int(r["metrics"]["client"]) == k) for k in plans}
    seeded = any(int(r["metrics"].get("seeded", 1)) for r in seen)  # a client that does not say counts as seeded
    ledgers = {k: client_ledger(p, epsilon, delta, seed is None and not seeded, done[k]) for k, p in plans.items()}
    return fit_from_ledgers(
        synthesizer, model, features, ledgers, plans,
        lambda worst: (f"DP-FedAvg over {len(plans)} clients, {rounds} rounds: each client ran record-level DP-SGD on "
                       f"its own rows under its own ledger (parallel composition); shown: client {worst}'s, the most spent",),
        schema=schema, epsilon=epsilon, delta=delta, settings=settings, device=device, seed=seed, columns=columns,
    )


def fit_from_ledgers(
    synthesizer, model: GaussianDiffusion, features: FeatureMap, ledgers: dict[int, Accountant], plans: dict[int, ClientPlan],
    notes_for: Callable[[int], tuple[str, ...]], *, schema: Schema, epsilon: float, delta: float, settings: DDPMSettings,
    device: str, seed: int | None, columns: Sequence[str] | None,
):
    """The federated model as a fitted DiffusionSynthesizer (``synthesizer``, or a new one): its report is the
    most-spent client's ledger, with ``notes_for(that client)``; ``client_epsilons_`` lists every client's."""
    from ..synthesizers.diffusion import DiffusionSynthesizer

    worst = max(ledgers, key=lambda k: ledgers[k].epsilon_spent())
    syn = synthesizer if synthesizer is not None else DiffusionSynthesizer(
        epsilon=epsilon, delta=delta, schema=schema, settings=settings, device=device, random_state=seed, verbose=False
    )
    syn.fit_trained(model, features, ledgers[worst], sum(p.noisy_rows for p in plans.values()), columns, notes_for(worst))
    syn.client_epsilons_ = {k: ledgers[k].epsilon_spent() for k in sorted(ledgers)}
    return syn


def schema_digest(schema: Schema) -> str:
    """SHA-256 of the schema's canonical JSON: server and clients must agree on it.

    Examples
    --------
    >>> a = Schema.from_domain({"a": 2, "b": 3})
    >>> schema_digest(a) == schema_digest(Schema.from_domain({"a": 2, "b": 3})), schema_digest(a) == schema_digest(Schema.from_domain({"a": 2, "b": 4}))
    (True, False)
    """
    return hashlib.sha256(json.dumps(schema.to_dict(), sort_keys=True).encode()).hexdigest()


def server_step(server_learning_rate: float | None, clients: int) -> float:
    """The server learning rate ``eta`` of ``w <- w + eta * mean_i(w_i - w)`` (FedOpt's server SGD
    step, Reddi et al., ICLR 2021, Algorithm 1); ``None``: ``sqrt(clients)``.

    Each client's DP-SGD noise is its own, and Adam scales each client's steps by that
    noise, so the noise parts of ``k`` clients' updates cancel to ``1/sqrt(k)`` of one
    client's in the average while the common part stays, scaled down by each client's
    noisier gradients: the average moves a ``sqrt(k)``-th as far as one client did.
    ``eta = sqrt(k)`` gives the step its length back (post-processing: it spends
    nothing). Measured on diamonds over 3 clients at epsilon 3 (``docs/benchmarks.md``).

    Examples
    --------
    >>> server_step(None, 4), server_step(1.0, 4)
    (2.0, 1.0)
    >>> server_step(0.0, 4)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: server_learning_rate must be a positive number or None, got 0.0
    """
    if server_learning_rate is None:
        return math.sqrt(clients)
    if isinstance(server_learning_rate, bool) or not (isinstance(server_learning_rate, (int, float))
                                                      and math.isfinite(server_learning_rate) and server_learning_rate > 0):
        raise ValueError(f"server_learning_rate must be a positive number or None, got {server_learning_rate!r}")
    return float(server_learning_rate)


def client_plans_from_metrics(records: Sequence) -> dict[int, ClientPlan]:
    """Each client's plan, read from its round metrics (the server's view)."""
    plans = {}
    for record in records:
        m = record["metrics"]
        plans[int(m["client"])] = ClientPlan(
            m["count_sigma"], m["noisy_rows"], m["noise_multiplier"], m["sample_rate"],
            int(m["steps_per_round"]), int(m["rounds"]), m["max_grad_norm"],
        )
    return plans
