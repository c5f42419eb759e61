"""``simulate``: a federated fit of any synthesizer over in-memory frames on Flower's simulation engine."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..schema import Schema
from ..schema.codec import encode
from ..schema.column_types import validate_frame
from ..synthesizers.diffusion import DiffusionSynthesizer
from ..synthesizers.marginal import MarginalSynthesizer
from .client_level import ClientLevelSettings
from .fedavg import DEFAULT_FEDAVG_ROUNDS, server_step
from .secure_fedsgd import DEFAULT_ROUNDS as FEDSGD_ROUNDS
from .secure_fedsgd import FedSGDSettings
from .secure_sum import SecureSumSettings
from .run_config import diffusion_algorithm
from .server import run_federated_fit

__all__ = ["simulate"]


def simulate(
    frames: Sequence[pd.DataFrame],
    synthesizer: MarginalSynthesizer | DiffusionSynthesizer | None = None,
    *,
    fedavg_rounds: int | None = None,
    count_share: float = 0.01,
    secure_updates: bool = True,
    privacy_unit: str = "record",
    server_learning_rate: float | None = None,
    client_level: ClientLevelSettings | None = None,
    algorithm: str | None = None,
    fedsgd: FedSGDSettings | None = None,
    max_dropouts: int = 0,
    max_colluders: int = 0,
    clipping_range: int = 2**26,
    client_mods: Sequence = (),
    reply_hook=None,
    **options: Any,
) -> MarginalSynthesizer | DiffusionSynthesizer:
    """Fit ``synthesizer`` on rows split over clients, who never pool them (Flower's simulation engine).

    Each frame is one client's rows; clients and server run in this process tree. The
    synthesizer's own parameters say what is fitted, with its budget and schema:

    * a :class:`~dpquilt.MarginalSynthesizer`: each round the server names marginals (or
      selection scores), every client answers from its own rows with its share of discrete
      Gaussian noise, and SecAgg+ reveals only the sum (see :mod:`dpquilt.federation`);
    * a :class:`~dpquilt.DiffusionSynthesizer`: by default DP-FedSGD (see
      :mod:`.secure_fedsgd`): each round every client sums its rows' clipped gradients and
      adds a share of the noise, SecAgg+ reveals only the sum, and the server takes one
      Adam step; the guarantee is record-level, in one ledger. ``algorithm="fedavg"``:
      DP-FedAvg (:mod:`.fedavg`), every client trains the shared model with record-level
      DP-SGD under its own ``(epsilon, delta)``, the server averages the weights.

    Parameters
    ----------
    frames : sequence of DataFrame
        One per client, at least 2, all with the schema's columns.
    synthesizer : MarginalSynthesizer or DiffusionSynthesizer, optional
        Unfitted; its ``schema`` must be public and complete (federated mode learns
        nothing from rows), and its ``random_state`` ``None`` (secure noise) or an int
        (seeds every client: reproducible, not for release). ``None``: a
        ``MarginalSynthesizer(method="aim", **options)``.
    fedavg_rounds, count_share : int or None, float
        The federated diffusion's rounds (``None``: 25 for DP-FedAvg, where on diamonds over
        3 clients 25 rounds beat 5, 15 and 50, ``docs/benchmarks.md``; 200 for DP-FedSGD,
        :data:`~.secure_fedsgd.DEFAULT_ROUNDS`) and each client's budget share for its noisy
        row count.
    secure_updates : bool, default True
        DP-FedAvg only: sum the clients' updates under SecAgg+, so the server sees only
        their sum, and Gaussianise numeric columns by a federated quantile transform
        (:mod:`.secure_fedavg`; ``max_dropouts`` and ``max_colluders`` apply). ``False``:
        the server sees each client's DP-SGD weights (:mod:`.fedavg`).
    privacy_unit : {"record", "client"}, default "record"
        DP-FedAvg only. ``"record"``: each client runs record-level DP-SGD under its own
        ledger. ``"client"``: one client's whole contribution is the unit (client-level
        DP-FedAvg, :mod:`.client_level`; needs ``secure_updates``): clients train without
        DP-SGD, clip their updates and add discrete Gaussian shares under SecAgg+. It pays
        off with many clients.
    server_learning_rate : float, optional
        DP-FedAvg only: the server steps this times the averaged update
        (:func:`~.fedavg.server_step`). Default: the square root of the number of clients
        for record-level DP-SGD, 1 for client level.
    client_level : ClientLevelSettings, optional
        Clipping norm, local steps and rounding of client-level DP-FedAvg.
    algorithm : {"fedsgd", "fedavg"} or None
        Record-level federated diffusion (:func:`~.run_config.diffusion_algorithm`).
        ``None`` (default): DP-FedSGD where it can run (record level, secure updates),
        else DP-FedAvg. ``"fedsgd"``: each round is one full-batch DP gradient step whose
        noise the clients add in shares to the secure sum, so the model carries one
        central model's noise whatever the number of clients (diamonds at epsilon 1 over 3
        clients: 2-way error 1.10 times the central model's, DP-FedAvg 1.87 times);
        ``fedavg_rounds`` counts its steps. ``"fedavg"``: DP-FedAvg, each client adds its
        own DP-SGD noise; fewer, cheaper rounds.
    fedsgd : FedSGDSettings, optional
        Clipping norm, rounding and server learning rate of DP-FedSGD.
    max_dropouts, max_colluders, clipping_range : int
        SecAgg+'s tolerance and quantisation range (marginal path).
    client_mods, reply_hook
        Extra Flower mods for the clients (the marginal path and secure federated
        diffusion) and a hook on reply vectors (the marginal path): fault injection.
    **options
        Only without ``synthesizer``: the MarginalSynthesizer's parameters.

    Returns
    -------
    MarginalSynthesizer or DiffusionSynthesizer
        ``synthesizer``, fitted: ``sample(n)`` and ``privacy_report()`` as for a central fit.

    Examples
    --------
    >>> import dpquilt as dq  # doctest: +SKIP
    >>> schema = dq.Schema.from_domain(domain)  # doctest: +SKIP
    >>> syn = dq.federation.simulate([df[:500], df[500:]], dq.MarginalSynthesizer(method="mst", schema=schema))  # doctest: +SKIP
    >>> syn.sample(10)  # doctest: +SKIP
    """
    if synthesizer is None:
        synthesizer = MarginalSynthesizer(**{"method": "aim", **options})
    elif options:
        raise TypeError(f"simulate() got {sorted(options)}: set them on the synthesizer instead")
    if not isinstance(synthesizer, (MarginalSynthesizer, DiffusionSynthesizer)):
        raise TypeError(f"synthesizer must be a MarginalSynthesizer or a DiffusionSynthesizer, got {type(synthesizer).__name__}")
    synthesizer.check_params()  # before any process starts
    schema = _check_schema(synthesizer.schema)
    frames = [_check_frame(df, schema, i) for i, df in enumerate(frames)]
    if len(frames) < 2:
        raise ValueError(f"federated synthesis needs at least 2 clients' frames, got {len(frames)}")
    seed = synthesizer.random_state
    if seed is not None and not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        raise TypeError("random_state must be None (secure noise) or an int seed for a federated fit: it seeds every client")
    seed = None if seed is None else int(seed)
    algorithm = diffusion_algorithm(algorithm, privacy_unit, secure_updates,
                                    " (secure_updates=True, and privacy_unit='record' for algorithm='fedsgd')")
    if client_level is not None and privacy_unit != "client":
        raise ValueError("client_level= applies only with privacy_unit='client'")
    if client_mods and isinstance(synthesizer, DiffusionSynthesizer) and not secure_updates:
        raise ValueError("client_mods= needs secure_updates=True for a diffusion synthesizer: the plain DP-FedAvg client "
                         "takes no mods")
    if fedsgd is not None and algorithm != "fedsgd":
        raise ValueError("fedsgd= applies only with algorithm='fedsgd'")
    if server_learning_rate is not None:
        server_step(server_learning_rate, len(frames))  # checked before any process starts
    if isinstance(synthesizer, DiffusionSynthesizer):
        sums = SecureSumSettings(len(frames), max_dropouts, max_colluders) if secure_updates else None
        level = (client_level or ClientLevelSettings()) if privacy_unit == "client" else None
        sgd = (fedsgd or FedSGDSettings()) if algorithm == "fedsgd" else None
        if fedavg_rounds is None:
            fedavg_rounds = FEDSGD_ROUNDS if sgd is not None else DEFAULT_FEDAVG_ROUNDS
        return _fedavg(frames, synthesizer, schema, fedavg_rounds, count_share, seed, sums, server_learning_rate, level, sgd,
                       client_mods)
    settings = SecureSumSettings(len(frames), max_dropouts, max_colluders, clipping_range)
    return _secure_sums(frames, synthesizer, schema, settings, seed, client_mods, reply_hook)


def _secure_sums(frames, synthesizer: MarginalSynthesizer, schema: Schema, settings: SecureSumSettings, seed, client_mods,
                 reply_hook) -> MarginalSynthesizer:
    from flwr.serverapp import ServerApp

    from .client import make_client_app

    columns = list(frames[0].columns)
    server = ServerApp()

    @server.main()
    def main(grid, context) -> None:
        run_federated_fit(grid, context, settings, synthesizer, schema, columns)

    encoded = [encode(df, schema).data for df in frames]
    client = make_client_app(
        lambda context: encoded[int(context.node_config["partition-id"])], seed=seed, mods=client_mods, reply_hook=reply_hook,
    )
    _run(server, client, len(frames), synthesizer.verbose)
    if not hasattr(synthesizer, "model_"):
        raise RuntimeError("the federated fit ended without a model; see the log above for the server's error")
    return synthesizer


def _fedavg(frames, synthesizer: DiffusionSynthesizer, schema: Schema, rounds: int, count_share: float, seed,
            sums: SecureSumSettings | None = None, server_learning_rate: float | None = None,
            level: ClientLevelSettings | None = None, sgd: FedSGDSettings | None = None,
            client_mods: Sequence = ()) -> DiffusionSynthesizer:
    from flwr.serverapp import ServerApp

    from ..synthesizers.diffusion import DPSGD_SETTINGS
    from .client_level import run_client_level_fedavg
    from .fedavg import make_fedavg_client_app, run_fedavg
    from .secure_fedavg import make_secure_fedavg_client_app, run_secure_fedavg
    from .secure_fedsgd import run_secure_fedsgd

    if not (isinstance(rounds, int) and rounds >= 1):
        raise ValueError(f"fedavg_rounds must be a positive integer, got {rounds!r}")
    server = ServerApp()
    verbose = synthesizer.verbose

    @server.main()
    def main(grid, context) -> None:
        settings = synthesizer.settings or DPSGD_SETTINGS  # the central model's defaults
        columns = list(frames[0].columns)
        if sgd is not None:
            run_secure_fedsgd(grid, context, schema, sums, synthesizer.epsilon, synthesizer.delta, rounds, settings, sgd,
                              seed, synthesizer.device, columns, synthesizer=synthesizer,
                              transform_share=synthesizer.transform_share)
        elif level is not None:
            run_client_level_fedavg(grid, context, schema, sums, synthesizer.epsilon, synthesizer.delta, rounds, settings,
                                    level, seed, 1.0 if server_learning_rate is None else server_learning_rate,
                                    synthesizer.device, columns, synthesizer=synthesizer)
        elif sums is not None:
            run_secure_fedavg(grid, context, schema, sums, synthesizer.epsilon, synthesizer.delta, rounds, settings,
                              count_share, seed, synthesizer.device, columns, synthesizer=synthesizer,
                              transform_share=synthesizer.transform_share, server_learning_rate=server_learning_rate)
        else:
            run_fedavg(grid, schema, len(frames), synthesizer.epsilon, synthesizer.delta, rounds, settings, count_share,
                       seed, synthesizer.device, columns, synthesizer=synthesizer, server_learning_rate=server_learning_rate)

    load = lambda context: (frames[int(context.node_config["partition-id"])], schema)  # noqa: E731
    if sums is not None:
        client = make_secure_fedavg_client_app(load, seed=seed, device=synthesizer.device, mods=client_mods)
    else:  # simulate refused client_mods here
        client = make_fedavg_client_app(load, seed=seed, device=synthesizer.device)
    _run(server, client, len(frames), verbose)
    if not hasattr(synthesizer, "diffusion_"):
        raise RuntimeError("the federated training ended without a model; see the log above for the server's error")
    return synthesizer


def _check_schema(schema: Schema | None) -> Schema:
    if not isinstance(schema, Schema) or not schema.complete:
        raise ValueError(
            "federated synthesis needs a complete public Schema (categories, bounds and bins of every column), "
            "agreed by all clients: nothing is inferred from clients' rows. Build one with Schema.from_public(...) "
            "or Schema.from_domain(...)"
        )
    return schema


def _check_frame(df: pd.DataFrame, schema: Schema, index: int) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"frames[{index}] is a {type(df).__name__}; pass one pandas DataFrame per client")
    missing = [c for c in schema.names if c not in df.columns]
    if missing:
        raise ValueError(f"frames[{index}] lacks the schema's column(s) {missing}")
    return validate_frame(df[list(schema.names)])


def _run(server, client, clients: int, verbose: bool) -> None:
    """Flower's simulation engine: one SuperNode per client, one CPU each."""
    from flwr.simulation import run_simulation

    with _quiet(not verbose):
        run_simulation(
            server_app=server,
            client_app=client,
            num_supernodes=clients,
            backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
            verbose_logging=False,
        )


@contextlib.contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    """Lower Flower's log to warnings for the duration (restored afterwards)."""
    logger = logging.getLogger("flwr")
    level = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
