"""``simulate``: a cross-silo fit with every party in its own process on this machine (loopback)."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import pickle
import socket
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...schema import Schema
from ...synthesizers.marginal import MarginalSynthesizer
from ..processes import log_tail, started_process
from .alignment import AlignedSilos, SiloInputError, align_silos
from .cross_silo import MAX_ROWS
from .party import CoordinatorJob, PartyConfig, SiloRequest
from .silo_schema import SchemaPlan, public_facts

__all__ = ["RequestsRun", "run_requests", "simulate"]

#: seconds a simulated fit may take before every party is stopped
DEFAULT_TIMEOUT = 1800.0


def simulate(
    silos: Mapping[str, pd.DataFrame],
    key: str,
    keys: Sequence,
    schema: Schema | Mapping[str, Any] | None = None,
    *,
    method: str = "mst",
    epsilon: float = 1.0,
    delta: float = 1e-9,
    schema_share: float = 0.1,
    random_state: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    transcripts: str | Path | None = None,
    progress: bool = True,
) -> MarginalSynthesizer:
    """Fit MST on silos that hold different columns of the same people, none seeing another's values.

    Each silo and a coordinator run as separate processes on loopback, in one MPyC session
    (see :mod:`dpquilt.federation.vertical`): marginals within a silo are noised by that
    silo, marginals across silos are computed under secret sharing and opened only as noisy
    totals, and the coordinator fits the model. The privacy unit is one person: their
    row across every silo. Every process is stopped at the end, also on error.

    Parameters
    ----------
    silos : mapping of name to DataFrame
        2 to 5 silos, each with the ``key`` column and its own columns.
    key : str
        The shared identifier's column.
    keys : sequence
        The public list of keys (see :func:`~dpquilt.federation.vertical.align_silos`);
        its length is the public row count.
    schema : Schema or dict of column facts, optional
        Public facts of some or all of the silos' columns (categories, bounds, bins). What
        they lack is learned with DP by the silo that holds the column, on its own rows
        (:mod:`~dpquilt.federation.vertical.silo_schema`); a column without facts gets its
        kind from its dtype. A complete schema spends nothing on learning.
    method : {"mst"}
        MST (AIM over silos is not offered: see :meth:`.oracle.VerticalOracle.select`).
    epsilon, delta : float
        The whole fit's budget, over every silo.
    schema_share : float
        The share of the budget the silos' schema learning may spend (split evenly over
        the silos); unspent, it goes to the marginals.
    random_state : int or None
        ``None``: secure noise. An int seeds every party (reproducible, not for release).
    timeout : float
        Seconds before every party is stopped and :class:`TimeoutError` raised.
    transcripts : path, optional
        A folder where each party writes every byte it received (``party<i>.bin``), for audits.
    progress : bool
        A bar of the budget spent so far (the coordinator reports it after every answer).

    Returns
    -------
    MarginalSynthesizer
        Fitted: ``sample(n)`` gives every silo's columns (no key), and ``privacy_report()``
        lists every expenditure and how the marginals were formed.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ids = np.arange(300)
    >>> bank = pd.DataFrame({"id": ids, "account": rng.choice(["basic", "gold"], 300)})
    >>> insurer = pd.DataFrame({"id": ids[::-1], "claims": rng.integers(0, 3, 300)})
    >>> schema = Schema.from_public({"account": {"categories": ["basic", "gold"]},
    ...                              "claims": {"kind": "integer", "edges": [0, 1, 2, 3]}})
    >>> syn = simulate({"bank": bank, "insurer": insurer}, "id", ids, schema, epsilon=1.0, random_state=0)
    >>> list(syn.sample(5).columns)
    ['account', 'claims']
    """
    if method != "mst":
        raise ValueError(f"method={method!r}: cross-silo synthesis runs 'mst' (AIM over silos is not offered: its rounds "
                         "would score every cross-silo candidate's cells under secure computation, about 10 minutes a "
                         "round on adult)")
    MarginalSynthesizer(epsilon=epsilon, delta=delta, method="mst", schema_share=schema_share,
                        random_state=random_state).check_params()
    setting = _prepare(silos, key, keys, schema)
    plan = SchemaPlan(float(epsilon), float(delta), float(schema_share), len(setting.names))
    result, _ = _launch(setting, CoordinatorJob(""), plan, random_state, timeout, transcripts, progress)
    return result


@dataclass(frozen=True)
class RequestsRun:
    """What :func:`run_requests` returns: answers, wall time per request, bytes each party sent."""

    answers: list[np.ndarray]
    seconds: list[float]
    bytes_sent: list[int]


def run_requests(
    silos: Mapping[str, pd.DataFrame],
    key: str,
    keys: Sequence,
    schema: Schema,
    requests: Sequence[SiloRequest],
    *,
    random_state: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    transcripts: str | Path | None = None,
) -> RequestsRun:
    """Run the protocol's raw steps (``local`` and ``cross`` requests) as separate processes.

    For audits and benchmarks: the answers are noisy at the requests' scales but nothing
    is spent here, so the caller accounts for them. Parameters as in :func:`simulate`.
    ``requests`` name columns by the schema's names and parties as ``1 ..`` in the order
    of ``silos`` (0 is the coordinator).

    Examples
    --------
    >>> ids = np.arange(4)
    >>> a = pd.DataFrame({"id": ids, "x": ["u", "v", "v", "v"]})
    >>> b = pd.DataFrame({"id": ids, "y": ["s", "s", "t", "t"]})
    >>> closed = {"missing": False, "other": False}
    >>> schema = Schema.from_public({"x": {"categories": ["u", "v"], **closed}, "y": {"categories": ["s", "t"], **closed}})
    >>> run = run_requests({"a": a, "b": b}, "id", ids, schema, [SiloRequest("cross", (("x", "y"),), 1.0)],
    ...                    random_state=0)
    >>> run.answers[0].size, len(run.seconds), len(run.bytes_sent)  # 2 x 2 noisy cells; three parties
    (4, 1, 3)
    """
    setting = _prepare(silos, key, keys, schema)
    if not Schema.from_public(setting.hint).complete or set(setting.hint) != set(setting.columns):
        raise SiloInputError("run_requests needs a complete public schema of every silo's column: it learns nothing")
    plan = SchemaPlan(1.0, 1e-9, 0.0, len(setting.names))  # nothing is learned or spent
    (answers, seconds), sent = _launch(setting, CoordinatorJob("", "requests", tuple(requests)), plan, random_state,
                                       timeout, transcripts)
    return RequestsRun(answers, seconds, sent)


@dataclass(frozen=True)
class _Setting:
    aligned: AlignedSilos
    hint: dict[str, Any]
    names: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for name in self.names for c in self.aligned.tables[name].columns)


def _prepare(silos: Mapping[str, pd.DataFrame], key: str, keys: Sequence, schema: Schema) -> _Setting:
    aligned = align_silos(silos, key, keys)
    hint = _check_schema(schema, aligned)
    if aligned.rows >= MAX_ROWS:
        raise SiloInputError(f"{aligned.rows} public keys: cross-silo counts support fewer than {MAX_ROWS} rows")
    return _Setting(aligned, hint, tuple(aligned.tables))


def _launch(
    setting: _Setting, job: CoordinatorJob, plan: SchemaPlan, seed: int | None, timeout: float, transcripts,
    progress: bool = False,
) -> tuple[object, list[int]]:
    """Every party in its own process; the coordinator's result and each party's bytes sent."""
    if importlib.util.find_spec("mpyc") is None:
        raise ImportError("cross-silo synthesis needs MPyC: pip install 'dpquilt[vertical]'")
    names, tables = setting.names, setting.aligned.tables
    addresses = tuple(("127.0.0.1", port) for port in _free_ports(len(names) + 1))
    with tempfile.TemporaryDirectory(prefix="dpquilt-vertical-") as tmp:
        work = Path(tmp)
        job = dataclasses.replace(job, output=str(work / "result.pkl"))
        configs = []
        for pid in range(len(names) + 1):
            transcript = None if transcripts is None else str(Path(transcripts) / f"party{pid}.bin")
            configs.append(PartyConfig(
                pid, addresses, setting.columns, setting.hint, plan, names[pid - 1] if pid else "coordinator", seed,
                transcript, str(work / f"party{pid}.json"), None if pid else str(work / "progress"), job if pid == 0 else None,
                tables[names[pid - 1]] if pid else None,
            ))
        _run_parties(configs, work, ["coordinator", *names], timeout, progress)
        sent = [json.loads((work / f"party{pid}.json").read_text())["bytes_sent"] for pid in range(len(configs))]
        return pickle.loads(Path(job.output).read_bytes()), sent


def _check_schema(schema: Schema | Mapping[str, Any] | None, aligned: AlignedSilos) -> dict[str, Any]:
    """The users' public facts as plain data, for columns some silo holds."""
    facts = public_facts(schema)
    held = [c for cols in aligned.columns.values() for c in cols]
    extra = [c for c in facts if c not in held]
    if extra:
        raise SiloInputError(f"the schema names column(s) {extra} that no silo holds; remove them from the schema")
    return facts


def _free_ports(count: int) -> list[int]:
    """Ports the system reports free on loopback (bound and released at once)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def _spent_percent(path: Path) -> float:
    try:
        return round(100.0 * float(path.read_text()), 1)
    except (OSError, ValueError):  # not written yet, or being written
        return 0.0


def _run_parties(
    configs: Sequence[PartyConfig], work: Path, labels: Sequence[str], timeout: float, progress: bool = False
) -> None:
    """Start every party; wait for all to finish; on any failure or timeout stop all and raise."""
    from tqdm.auto import tqdm

    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(tqdm(total=100, desc="cross-silo fit: budget spent", unit="%", disable=not progress,
                                       bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}"))
        procs = []
        for config, label in zip(configs, labels):
            path = work / f"party{config.pid}.pkl"
            path.write_bytes(pickle.dumps(config))
            log = work / f"party{config.pid}.log"
            cmd = [sys.executable, "-m", "dpquilt.federation.vertical.party", str(path)]
            procs.append((label, log, stack.enter_context(started_process(cmd, log))))
        deadline = time.monotonic() + timeout
        while any(p.poll() is None for _, _, p in procs):
            failed = [(label, log, p) for label, log, p in procs if p.poll() not in (None, 0)]
            if failed:
                label, log, p = failed[0]
                raise RuntimeError(f"{label} (party {procs.index(failed[0])}) exited with code {p.returncode}; "
                                   f"every party was stopped and nothing was released. Its log:\n{log_tail(log)}")
            spent = _spent_percent(work / "progress") if progress else bar.n
            if spent != bar.n:
                bar.n = spent
                bar.refresh()
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {label}:\n{log_tail(log, 40)}" for label, log, _ in procs)
                raise TimeoutError(f"the cross-silo fit took over {timeout:.0f} s; every party was stopped. Their logs:\n{tails}")
            time.sleep(0.05)
        bar.n = _spent_percent(work / "progress")
        bar.refresh()
        failed = [(i, label, log, p) for i, (label, log, p) in enumerate(procs) if p.returncode != 0]
        if failed:
            i, label, log, p = failed[0]
            raise RuntimeError(f"{label} (party {i}) exited with code {p.returncode}; nothing was released. "
                               f"Its log:\n{log_tail(log)}")
