"""``simulate``: federated MST/AIM over in-memory frames on Flower's simulation engine."""

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
from ..synthesizers.marginal import MarginalSynthesizer
from .secure_sum import SecureSumSettings
from .server import run_federated_fit

__all__ = ["simulate", "simulate_diffusion"]


def simulate(
    frames: Sequence[pd.DataFrame],
    method: str = "aim",
    epsilon: float = 1.0,
    delta: float = 1e-9,
    schema: Schema | None = None,
    max_dropouts: int = 0,
    max_colluders: int = 0,
    clipping_range: int = 2**26,
    random_state: int | None = None,
    verbose: bool = True,
    client_mods: Sequence = (),
    reply_hook=None,
    **synthesizer_options: Any,
) -> MarginalSynthesizer:
    """Fit a synthesizer on rows split over clients, who share only noisy sums.

    Each frame is one client's rows. Clients and server run on Flower's simulation
    engine in this process tree; each round the server names marginals (or selection
    scores), every client answers from its own rows with its share of discrete
    Gaussian noise, and SecAgg+ reveals only the sum (see :mod:`dpquilt.federation`).

    Parameters
    ----------
    frames : sequence of DataFrame
        One per client, at least 2, all with the schema's columns.
    method : {"aim", "mst"}
    epsilon, delta : float
        The budget of the whole fit; the privacy unit is one row of any client.
    schema : Schema
        Public and complete (categories, bounds and bins given): federated mode learns
        nothing about columns from rows.
    max_dropouts, max_colluders : int, default 0
        Clients that may drop out of a round, or collude with the server; each client's
        noise variance is ``sigma^2 / (clients - max_dropouts - max_colluders)``.
    clipping_range : int, default 2**26
        A power of two above any client's row count.
    random_state : int, optional
        ``None`` (default): clients draw secure noise. An int seeds every client's noise
        and the sampling: reproducible, not for release.
    verbose : bool, default True
        Progress bars and Flower's log.
    client_mods, reply_hook
        Extra Flower mods for the clients and a hook on reply vectors (fault injection).
    **synthesizer_options
        Passed to :class:`~dpquilt.MarginalSynthesizer` (``rounds``, ``workload``,
        ``max_model_size``, ``estimation``).

    Returns
    -------
    MarginalSynthesizer
        Fitted: ``sample(n)`` and ``privacy_report()`` as for a central fit.

    Examples
    --------
    >>> import dpquilt as dq  # doctest: +SKIP
    >>> df, domain = ...  # doctest: +SKIP
    >>> schema = dq.Schema.from_domain(domain)  # doctest: +SKIP
    >>> syn = dq.federation.simulate([df[:500], df[500:]], method="mst", epsilon=1.0, schema=schema)  # doctest: +SKIP
    >>> syn.sample(10)  # doctest: +SKIP
    """
    from flwr.serverapp import ServerApp

    from .client import make_client_app

    schema = _check_schema(schema)
    frames = [_check_frame(df, schema, i) for i, df in enumerate(frames)]
    if len(frames) < 2:
        raise ValueError(f"federated synthesis needs at least 2 clients' frames, got {len(frames)}")
    if random_state is not None and not isinstance(random_state, (int, np.integer)):
        raise TypeError("random_state must be None (secure noise) or an int seed for simulate()")
    settings = SecureSumSettings(len(frames), max_dropouts, max_colluders, clipping_range)
    synthesizer = MarginalSynthesizer(
        epsilon=epsilon, delta=delta, method=method, schema=schema, random_state=random_state, verbose=verbose,
        **synthesizer_options,
    )
    synthesizer.check_params()  # before any process starts
    columns = list(frames[0].columns)

    server = ServerApp()

    @server.main()
    def main(grid, context) -> None:
        run_federated_fit(grid, context, settings, synthesizer, schema, columns)

    encoded = [encode(df, schema).data for df in frames]
    client = make_client_app(
        lambda context: encoded[int(context.node_config["partition-id"])],
        seed=None if random_state is None else int(random_state),
        mods=client_mods,
        reply_hook=reply_hook,
    )
    _run(server, client, len(frames), verbose)
    if not hasattr(synthesizer, "model_"):
        raise RuntimeError("the federated fit ended without a model; see the log above for the server's error")
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


def simulate_diffusion(
    frames: Sequence[pd.DataFrame],
    epsilon: float = 1.0,
    delta: float = 1e-9,
    schema: Schema | None = None,
    rounds: int = 5,
    settings=None,
    count_share: float = 0.01,
    random_state: int | None = None,
    verbose: bool = True,
    device: str = "cpu",
):
    """DP-FedAvg of a :class:`~dpquilt.DiffusionSynthesizer` over clients' frames (Flower simulation).

    Every client trains the shared model on its own rows with record-level DP-SGD under
    its own ``(epsilon, delta)`` (see :mod:`dpquilt.federation.fedavg`); the server
    averages the weights each round, weighted by the clients' noisy counts.

    Parameters
    ----------
    frames : sequence of DataFrame
        One per client, at least 2.
    epsilon, delta : float
        The budget each client spends on its own rows; the privacy unit is one row of
        any client.
    schema : Schema
        Public and complete, agreed by all clients.
    rounds : int, default 5
        FedAvg rounds; each client's DP-SGD noise is planned for all of them.
    settings : DDPMSettings, optional
        Network and DP-SGD settings; ``training.epochs`` counts passes over a client's
        rows in the whole fit.
    count_share : float, default 0.01
        Share of each client's zCDP budget for its noisy record count.
    random_state : int, optional
        ``None``: secure noise; an int: reproducible, not for release.
    verbose : bool
    device : str, default "cpu"
        Each client's training device.

    Returns
    -------
    DiffusionSynthesizer
        Fitted: ``sample(n)``; ``privacy_report()`` shows the most-spent client's
        ledger; ``client_epsilons_`` lists every client's spend.

    Examples
    --------
    >>> syn = dq.federation.simulate_diffusion([df[:500], df[500:]], epsilon=3.0, schema=schema)  # doctest: +SKIP
    """
    from flwr.serverapp import ServerApp

    from ..diffusion_model.gaussian_diffusion import DDPMSettings
    from .fedavg import make_fedavg_client_app, run_fedavg

    schema = _check_schema(schema)
    frames = [_check_frame(df, schema, i) for i, df in enumerate(frames)]
    if len(frames) < 2:
        raise ValueError(f"federated training needs at least 2 clients' frames, got {len(frames)}")
    if not (isinstance(rounds, int) and rounds >= 1):
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    if random_state is not None and not isinstance(random_state, (int, np.integer)):
        raise TypeError("random_state must be None (secure noise) or an int seed for simulate_diffusion()")
    seed = None if random_state is None else int(random_state)
    result: dict = {}
    server = ServerApp()

    @server.main()
    def main(grid, context) -> None:
        result["synthesizer"] = run_fedavg(
            grid, schema, len(frames), epsilon, delta, rounds, settings or DDPMSettings(), count_share, seed, device,
            list(frames[0].columns),
        )

    client = make_fedavg_client_app(
        lambda context: (frames[int(context.node_config["partition-id"])], schema), seed=seed, device=device
    )
    _run(server, client, len(frames), verbose)
    if "synthesizer" not in result:
        raise RuntimeError("the federated training ended without a model; see the log above for the server's error")
    syn = result["synthesizer"]
    syn.verbose = verbose
    return syn

