"""Exact integer sums over Flower's SecAgg+, or a clear error and nothing released.

Flower's ``SecAggPlusWorkflow`` computes a weighted *mean* of float vectors, quantised
and clipped to ``[-clipping_range, clipping_range]`` (default 8). With
``quantization_range = 2 c``, ``max_weight = 1``, each client reporting weight 1 and
integer entries inside ``(-c, c)``, quantisation is the identity shift ``x + c`` and the
unmasked result is ``sum / k`` for the ``k`` contributing clients; ``rint(mean * k)``
is then the exact sum, provided the modulus exceeds ``2 c k`` (we take the next power
of two above ``4 c k``). Every reply vector ends in a ``1``, so the summed last entry
must equal ``k``: the server checks it.

Faults. When too few clients answer a stage, SecAgg+ halts quietly and keeps the old
values (a client lost at setup or key sharing halts it in the unmask stage, because
its shares are missing); :class:`SecureSum` sees that ``aggregate_fit`` was never
called, names the stage and the clients that failed, and retries with fresh noise up
to ``retries`` times before raising :class:`SecureAggregationError`. A round that
reached the unmask stage gave the server the survivors' mask shares, enough to compute
their sum itself, so its retry is paid for again (see :meth:`SecureSum.__call__`). A masked vector of the wrong shape raises
:class:`MalformedReplyError` before anything is unmasked. The reconstruction threshold
is ``clients - max_dropouts``, so a sum is only unmasked when at least that many clients
contributed, which is what the noise calibration assumes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flwr.app import ConfigRecord
from flwr.common import FitIns, bytes_to_ndarray, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS
from flwr.common.secure_aggregation.secaggplus_constants import Key as SecKey
from flwr.compat.common.recorddict_compat import parameters_to_arrayrecord
from flwr.server.compat.app_utils import start_update_client_manager_thread
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.strategy import Strategy
from flwr.server.workflow import SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey
from flwr.serverapp import Grid

from .protocol import Request

__all__ = ["MalformedReplyError", "SecureAggregationError", "SecureSum", "SecureSumSettings"]

log = logging.getLogger(__name__)

#: Flower quantises through int32 (``_stochastic_round``): entries + c must stay below 2**31.
MAX_CLIPPING_RANGE = 2**29


class SecureAggregationError(RuntimeError):
    """A secure-sum round released nothing: too few clients, dropouts, or client errors."""


class MalformedReplyError(SecureAggregationError):
    """A client sent a reply of the wrong shape or type; nothing was unmasked."""


@dataclass(frozen=True)
class SecureSumSettings:
    """How the secure sum is run, and what it tolerates.

    Parameters
    ----------
    clients : int
        Clients expected in every round (>= 2).
    max_dropouts : int, default 0
        Clients that may drop out of a round without halting it (< clients / 2).
    max_colluders : int, default 0
        Clients that may collude with the server (their noise shares are assumed known).
    clipping_range : int, default 2**26
        ``c``: every entry a client sends must lie in ``(-c, c)``; a power of two above
        every client's row count.
    timeout : float or None, default 300
        Seconds to wait for replies at each SecAgg+ stage (``None``: wait forever).
    retries : int, default 1
        Fresh attempts after a round halts before giving up.
    wait_for_clients : float, default 120
        Seconds to wait for all ``clients`` to connect at the start.

    Examples
    --------
    >>> s = SecureSumSettings(clients=5, max_dropouts=1, max_colluders=1)
    >>> s.threshold, s.honest_shares, s.modulus == 2**31
    (4, 3, True)
    """

    clients: int
    max_dropouts: int = 0
    max_colluders: int = 0
    clipping_range: int = 2**26
    timeout: float | None = 300.0
    retries: int = 1
    wait_for_clients: float = 120.0

    def __post_init__(self) -> None:
        if not (isinstance(self.clients, int) and self.clients >= 2):
            raise ValueError(f"secure aggregation needs at least 2 clients, got clients={self.clients!r}")
        if not 0 <= self.max_dropouts < self.clients / 2:
            raise ValueError(
                f"max_dropouts={self.max_dropouts} must be >= 0 and below half of the {self.clients} clients "
                "(SecAgg+ needs an honest majority to unmask)"
            )
        if self.max_colluders < 0 or self.honest_shares < 1:
            raise ValueError(
                f"clients - max_dropouts - max_colluders = {self.honest_shares} leaves no honest noise share; "
                "tolerate fewer dropouts or colluders"
            )
        c = self.clipping_range
        if not (isinstance(c, int) and c >= 2 and c & (c - 1) == 0 and c <= MAX_CLIPPING_RANGE):
            raise ValueError(f"clipping_range must be a power of two in [2, 2**29], got {c!r}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries!r}")

    @property
    def honest_shares(self) -> int:
        """``t_min``: noise shares guaranteed in every released sum and unknown to the server."""
        return self.clients - self.max_dropouts - self.max_colluders

    @property
    def threshold(self) -> int:
        """Fewest contributing clients for which a sum is unmasked."""
        return self.clients - self.max_dropouts

    @property
    def modulus(self) -> int:
        """A power of two above ``4 c k``: the sum of quantised entries never wraps."""
        return 1 << (4 * self.clipping_range * self.clients).bit_length()

    def workflow(self):
        """Flower's SecAgg+ workflow configured for exact integer sums."""
        return SecAggPlusWorkflow(
            num_shares=1.0,  # every client shares with every other (complete graph)
            reconstruction_threshold=self.threshold,
            max_weight=1.0,
            clipping_range=float(self.clipping_range),
            quantization_range=2 * self.clipping_range,
            modulus_range=self.modulus,
            timeout=self.timeout,
        )


@dataclass
class _Round:
    """What one attempt saw: the aggregate (if any) and each stage's failures."""

    expected_length: int
    aggregate: tuple[np.ndarray, int] | None = None
    failures: list[str] = field(default_factory=list)
    reached_unmask: bool = False
    stage_seconds: dict[str, float] = field(default_factory=dict)


class SecureSum:
    """Run requests through SecAgg+ on a Flower grid and return exact integer sums.

    Examples
    --------
    Use as a context manager inside a ``ServerApp``'s main function::

        with SecureSum(grid, context, settings) as secure_sum:
            total, contributors = secure_sum(request, length)
    """

    def __init__(self, grid, context, settings: SecureSumSettings) -> None:
        self.settings = settings
        self._strategy = _RequestStrategy(settings.clients, settings.threshold)
        self._context = LegacyContext(context, strategy=self._strategy)
        self._grid = _WatchingGrid(grid)
        self._workflow = settings.workflow()
        self._attempts = 0
        self._last_reached_unmask = False
        #: Wall seconds of each released secure sum (all its attempts), in order.
        self.seconds: list[float] = []
        #: For each released sum, the wall seconds of each SecAgg+ stage (last attempt).
        self.stage_seconds: list[dict[str, float]] = []
        self._stop = None

    def __enter__(self) -> SecureSum:
        if hasattr(self._grid.inner, "pull_interval"):
            self._grid.inner.pull_interval = 0.01  # the in-memory grid polls every 0.1 s by default
        thread, stop, registered = start_update_client_manager_thread(self._grid.inner, self._context.client_manager)
        self._stop, self._thread = stop, thread
        registered.wait()
        if not self._context.client_manager.wait_for(self.settings.clients, timeout=int(self.settings.wait_for_clients)):
            got = self._context.client_manager.num_available()
            self.__exit__(None, None, None)
            raise SecureAggregationError(
                f"only {got} of {self.settings.clients} clients connected within {self.settings.wait_for_clients:.0f} s; "
                "start every client, or lower clients="
            )
        self._context.state.array_records[MAIN_PARAMS_RECORD] = parameters_to_arrayrecord(
            ndarrays_to_parameters([]), True
        )
        self._config = ConfigRecord()
        self._context.state.config_records[MAIN_CONFIGS_RECORD] = self._config
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._stop is not None:
            self._stop.set()
            self._thread.join(timeout=10)
            self._stop = None

    def clients(self) -> list:
        """The connected clients' legacy proxies (for a question outside a secure sum, e.g. a DP-released plan)."""
        return list(self._context.client_manager.all().values())

    def __call__(
        self, request: Request, length: int, on_retry: Callable[[], None] | None = None
    ) -> tuple[np.ndarray, int]:
        """The exact sum of the clients' replies to ``request`` (each ``length`` entries).

        Returns the summed vector without its check entry and the number of clients
        that contributed. Raises :class:`SecureAggregationError` when no attempt
        released a sum.

        A round that halts before the unmask stage revealed nothing and is retried
        for free. One that halts *in* the unmask stage has already handed the server
        the survivors' mask shares, from which it could compute their sum, so before
        retrying ``on_retry()`` is called to pay for that release again (it may raise
        when the budget is spent); without ``on_retry`` such a round is not retried.
        """
        reasons = []
        started = time.perf_counter()
        for attempt in range(self.settings.retries + 1):
            if attempt and self._last_reached_unmask:
                if on_retry is None:
                    break
                on_retry()
            self._attempts += 1
            labelled = request if attempt == 0 else _relabel(request, f"{request.label}#retry{attempt}")
            current = _Round(expected_length=length)
            self._strategy.begin(labelled, self.settings.clipping_range, current)
            self._grid.begin(current)
            self._config[WorkflowKey.CURRENT_ROUND] = self._attempts
            self._workflow(self._grid, self._context)
            self._last_reached_unmask = current.reached_unmask
            if current.aggregate is not None:
                result = self._check(current, request)
                self.seconds.append(time.perf_counter() - started)
                self.stage_seconds.append(dict(current.stage_seconds))
                return result
            reasons.append(f"attempt {attempt + 1}: " + ("; ".join(current.failures) or "halted without a reply error"))
            log.warning("secure sum for %r released nothing (%s)", request.label, reasons[-1])
        raise SecureAggregationError(
            f"secure aggregation of {request.label!r} failed {len(reasons)} time(s) and released nothing: "
            + " | ".join(reasons)
            + f". It needs at least {self.settings.threshold} of {self.settings.clients} clients in every stage; "
            "check that the clients are running, or raise max_dropouts"
        )

    def _check(self, current: _Round, request: Request) -> tuple[np.ndarray, int]:
        mean, contributors = current.aggregate
        if mean.shape != (current.expected_length,) or not np.all(np.isfinite(mean)):
            raise MalformedReplyError(
                f"secure sum of {request.label!r}: aggregate of shape {mean.shape} (expected "
                f"({current.expected_length},)) or not finite"
            )
        total = np.rint(mean * contributors).astype(np.int64)
        if contributors < self.settings.threshold or total[-1] != contributors:
            raise SecureAggregationError(
                f"secure sum of {request.label!r}: {contributors} results but a check count of {total[-1]} "
                f"(need >= {self.settings.threshold}); the sum is discarded"
            )
        return total[:-1], contributors


def _relabel(request: Request, label: str) -> Request:
    import dataclasses

    return dataclasses.replace(request, label=label)


class _RequestStrategy(Strategy):
    """The legacy Strategy that SecAgg+ drives: send the request to every client, keep the mean."""

    def __init__(self, clients: int, threshold: int) -> None:
        self.clients = clients
        self.threshold = threshold
        self._round: _Round | None = None

    def begin(self, request: Request, bound: int, current: _Round) -> None:
        config, arrays = request.to_wire()
        config["dpquilt.bound"] = int(bound)
        self._config, self._arrays, self._round = config, arrays, current

    def initialize_parameters(self, client_manager):
        return None

    def configure_fit(self, server_round, parameters, client_manager):
        available = list(client_manager.all().values())
        if len(available) < self.threshold:
            self._round.failures.append(
                f"only {len(available)} of {self.clients} clients are connected (need {self.threshold})"
            )
            return []
        fit_ins = FitIns(ndarrays_to_parameters(self._arrays), dict(self._config))
        return [(proxy, fit_ins) for proxy in available]

    def aggregate_fit(self, server_round, results, failures):
        arrays = parameters_to_ndarrays(results[0][1].parameters) if results else []
        if len(arrays) != 1:
            self._round.failures.append(f"aggregate has {len(arrays)} arrays, expected 1")
            return None, {}
        self._round.aggregate = (np.asarray(arrays[0], dtype=np.float64), len(results))
        return None, {}

    def configure_evaluate(self, server_round, parameters, client_manager):
        return []

    def aggregate_evaluate(self, server_round, results, failures):
        return None, {}

    def evaluate(self, server_round, parameters):
        return None


class _WatchingGrid(Grid):
    """Forwards to Flower's grid; records failed replies per stage and checks masked shapes."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self._round: _Round | None = None

    def begin(self, current: _Round) -> None:
        self._round = current

    def send_and_receive(self, messages: Iterable, *, timeout: float | None = None):
        messages = list(messages)
        stage = _stage_of(messages)
        if stage == "unmask":
            self._round.reached_unmask = True
        started = time.perf_counter()
        replies = list(self.inner.send_and_receive(messages, timeout=timeout))
        self._round.stage_seconds[stage] = self._round.stage_seconds.get(stage, 0.0) + time.perf_counter() - started
        answered = {m.metadata.src_node_id for m in replies if not m.has_error()}
        for m in replies:
            if m.has_error():
                self._round.failures.append(
                    f"stage {stage!r}: node {m.metadata.src_node_id} failed ({_last_line(m.error.reason)})"
                )
        missing = {m.metadata.dst_node_id for m in messages} - {m.metadata.src_node_id for m in replies}
        for node in sorted(missing):
            self._round.failures.append(f"stage {stage!r}: node {node} did not reply")
        if stage == "collect_masked_vectors":
            for m in replies:
                if m.metadata.src_node_id not in answered:
                    continue
                blobs = m.content.config_records[RECORD_KEY_CONFIGS][SecKey.MASKED_PARAMETERS]
                shapes = [bytes_to_ndarray(b).shape for b in blobs]
                dtypes = {bytes_to_ndarray(b).dtype.kind for b in blobs}
                if shapes != [(1,), (self._round.expected_length,)] or dtypes - {"i", "u"}:
                    raise MalformedReplyError(
                        f"node {m.metadata.src_node_id} sent a masked vector of shapes {shapes} and kinds {sorted(dtypes)}; "
                        f"expected [(1,), ({self._round.expected_length},)] integers. Nothing was unmasked; check that "
                        "every client runs the same dpquilt version and schema"
                    )
        return replies

    # Everything else goes straight to Flower's grid.
    def set_run(self, run):
        return self.inner.set_run(run)

    @property
    def run(self):
        return self.inner.run

    def create_message(self, *args, **kwargs):
        return self.inner.create_message(*args, **kwargs)

    def get_node_ids(self):
        return self.inner.get_node_ids()

    def push_messages(self, messages):
        return self.inner.push_messages(messages)

    def pull_messages(self, message_ids):
        return self.inner.pull_messages(message_ids)


def _last_line(text: str, limit: int = 300) -> str:
    """The last non-empty line of an error report (Ray wraps client errors in long tracebacks)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return (lines[-1] if lines else "no reason given")[:limit]


def _stage_of(messages: list) -> str:
    for m in messages:
        cfg = m.content.config_records.get(RECORD_KEY_CONFIGS)
        if cfg is not None and SecKey.STAGE in cfg:
            return str(cfg[SecKey.STAGE])
    return "unknown"
