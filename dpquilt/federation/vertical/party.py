"""One party of a cross-silo fit: the coordinator (party 0) or a silo (parties 1 .. k), in its own process.

All parties run one MPyC session (``python -m dpquilt.federation.vertical.party CONFIG``)
and take every step together, in the order the coordinator's MST asks:

- the coordinator sends each request (which cliques, which noise scale, MST's merged
  codes: public) to every silo;
- a ``local`` request is answered by the silo that holds all its columns: its counts plus
  its own discrete Gaussian noise, sent to the coordinator alone;
- a ``cross`` request is computed under secret sharing by all parties
  (:mod:`~dpquilt.federation.vertical.cross_silo`); only the noisy totals are opened, to
  the coordinator alone;
- ``stop`` ends the session (with the coordinator's error, if its fit failed).

The coordinator then fits the model and writes the fitted synthesizer; silos write
nothing. A party's ``transcript`` option keeps every byte it receives (for the audit
that no party sees another's values). MPyC's channels here are plain TCP, right for
loopback; across machines run them over TLS (MPyC's ``--ssl``) or a private network.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...marginals.counting import count
from ...privacy.accountant import Expenditure
from ...privacy.noise import NoiseSource, SecureNoise, SeededNoise
from ...schema import Schema
from ...schema.codec import encode
from ...schema.dataset import Dataset
from ...schema.releases import CountRelease
from ..protocol import apply_mapping
from .cross_silo import FIELD_PRIME, cell_order, from_field, one_hot, silo_parts
from .silo_schema import SchemaPlan, SiloSchema, assemble_schema, learn_silo_schema, own_hint

__all__ = ["Announcement", "CoordinatorJob", "PartyConfig", "PartySession", "SessionError", "SiloRequest", "main", "run_party", "schema_digest"]

Clique = tuple[str, ...]
COORDINATOR = 0
#: bits of the secure integers that hold selection scores (counts and their distances stay below 2^30)
SCORE_BITS = 32

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SiloRequest:
    """What the coordinator asks of the silos (public: no value of any row)."""

    kind: str  # "local", "cross", "refine" or "stop"
    cliques: tuple[Clique, ...] = ()
    sigma: float = 0.0
    silo: int = COORDINATOR
    mapping: Mapping[str, np.ndarray] = field(default_factory=dict)
    error: str | None = None
    payload: Mapping[Any, Any] = field(default_factory=dict)  # "refine": sub-cells; "*-scores": estimates (public)


@dataclass(frozen=True)
class CoordinatorJob:
    """What the coordinator does and where it writes the result.

    ``kind="mst"``: fit MST with the session's budget (:class:`PartyConfig`'s ``plan``) and
    write the fitted synthesizer. ``kind="requests"``: run ``requests`` as given (spending nothing: the
    caller accounts) and write their answers and wall times (audits and benchmarks).
    """

    output: str
    kind: str = "mst"
    requests: tuple[SiloRequest, ...] = ()


@dataclass(frozen=True)
class PartyConfig:
    """One party's part of a session: public facts, plus a silo's own rows.

    ``addresses``: ``(host, port)`` of every party, the coordinator first. ``names``:
    every silo's columns, in output order. ``hint``: the public facts users gave of some
    or all of them (``Schema.to_dict`` form; what they lack is learned by the silos with
    DP; a column without facts gets its kind from its dtype). Both the same for every party. ``plan``: the fit's budget
    and the schema's share of it. ``name`` and ``frame``: a silo's name and its aligned
    rows (its columns only). ``seed``: ``None`` for secure noise, or an int
    (reproducible, not for release).
    """

    pid: int
    addresses: tuple[tuple[str, int], ...]
    names: tuple[str, ...]
    hint: Mapping[str, Any]
    plan: SchemaPlan
    name: str = "coordinator"
    seed: int | None = None
    transcript: str | None = None
    stats: str | None = None
    progress: str | None = None
    job: CoordinatorJob | None = None
    frame: pd.DataFrame | None = None


class SessionError(RuntimeError):
    """The silos' announcements do not fit together (row counts, columns, schema): nothing was counted."""


@dataclass(frozen=True)
class Announcement:
    """What a silo tells every party when the session opens: public facts only."""

    name: str
    columns: tuple[str, ...]
    rows: int
    schema_digest: str


class PartySession:
    """A party's steps in the MPyC session (every party calls the same step in the same order).

    Opening the session, every silo announces its name, its columns, its row count (the
    public key list's length) and the digest of its public facts to every party; each
    party checks that they fit together and with the schema (:class:`SessionError`
    otherwise) and learns which party holds each column. Then, if the public facts are
    incomplete, every silo learns its columns' missing facts with DP
    (:mod:`.silo_schema`) and announces them; every party assembles the same schema
    (``schema``, with the silos' ledger lines in ``schema_ledger`` and their released
    counts in ``schema_releases``) and each silo encodes its rows.

    Parameters
    ----------
    mpc : mpyc.runtime.Runtime
        The started MPyC runtime of this process.
    config : PartyConfig
    """

    def __init__(self, mpc, config: PartyConfig) -> None:
        self.mpc = mpc
        self.config = config
        self.field = mpc.SecFld(FIELD_PRIME)
        self.noise: NoiseSource = SecureNoise() if config.seed is None else SeededNoise(
            np.random.default_rng([config.seed, config.pid])
        )
        frame = config.frame
        digest = schema_digest({"names": list(config.names), "facts": dict(config.hint)})
        mine = None if frame is None else Announcement(config.name, tuple(map(str, frame.columns)), len(frame), digest)
        silos = list(range(1, self.parties))
        told = self.mpc.run(self.mpc.transfer(mine, senders=silos))
        self.silos: list[Announcement] = told
        self.owners, self.rows = _check_announcements(told, config.names, digest)
        self.schema, self.schema_ledger, self.schema_releases = self._settle_schema()
        self.domain = self.schema.domain()
        self.data = None if frame is None else encode_aligned(frame, self.schema.select(list(frame.columns)))

    def _settle_schema(self) -> tuple[Schema, tuple[Expenditure, ...], tuple[CountRelease, ...]]:
        """The public schema if complete; else every silo's learned facts, announced to all."""
        names, hint = self.config.names, self.config.hint
        if set(hint) >= set(names) and Schema.from_public({c: hint[c] for c in names}).complete:
            return Schema.from_public({c: hint[c] for c in names}), (), ()
        frame = self.config.frame
        mine = None if frame is None else learn_silo_schema(
            frame, own_hint(hint, list(frame.columns)), self.config.plan, len(names), self.noise)
        learned: list[SiloSchema] = self.mpc.run(self.mpc.transfer(mine, senders=list(range(1, self.parties))))
        return assemble_schema(names, learned)

    @property
    def parties(self) -> int:
        return len(self.config.addresses)

    def broadcast(self, request: SiloRequest | None) -> SiloRequest:
        """The coordinator's request, sent to every silo."""
        return self.mpc.run(self.mpc.transfer(request, senders=COORDINATOR))

    def step(self, request: SiloRequest) -> np.ndarray | None:
        """Run one request; the coordinator gets the noisy answers, silos ``None``."""
        if request.kind == "local":
            return self._local(request)
        if request.kind == "cross":
            return self._cross(request)
        if request.kind == "refine":
            return self._refine(request)
        if request.kind == "local-scores":
            return self._local_scores(request)
        if request.kind == "cross-scores":
            return self._cross_scores(request)
        raise ValueError(f"unknown request kind {request.kind!r}")

    def _refine(self, request: SiloRequest) -> np.ndarray | None:
        """The silo's within-bin histograms of its learned numeric columns (the marginal path's refiner), noised."""
        from ...refiners.histogram import exact_cells
        from ...refiners.layout import Layout
        from ...schema.column_types import conform_frame

        mine = None
        if self.config.pid == request.silo:
            sub = self.schema.select(list(self.config.frame.columns))
            layout = Layout.of(sub)
            targets = layout.targets_of(conform_frame(self.config.frame, sub)[0], sub)
            plans = {name: request.payload[name] for name in layout.learned}
            exact = dict(zip(layout.learned, exact_cells(layout, layout.codes_of(self.data), targets, plans)))
            mine = np.concatenate([self.noise.discrete_gaussian(exact[c[0]], request.sigma) for c in request.cliques])
        return self._to_coordinator(request.silo, mine)

    def _mapped(self, mapping: Mapping[str, np.ndarray]) -> Dataset:
        """This silo's codes, merged as MST's compression says."""
        return apply_mapping(self.data, {c: m for c, m in mapping.items() if c in self.data.domain})

    def _to_coordinator(self, silo: int, value: np.ndarray | None) -> np.ndarray | None:
        """``value`` (one silo's noisy answers) sent by ``silo`` to the coordinator alone; every party calls it."""
        arcs = {p: [COORDINATOR] if p == silo else [] for p in range(self.parties)}
        got = self.mpc.run(self.mpc.transfer(value, sender_receivers=arcs))
        return np.asarray(got[0], dtype=np.int64) if self.config.pid == COORDINATOR else None

    def _local(self, request: SiloRequest) -> np.ndarray | None:
        mine = None
        if self.config.pid == request.silo:
            data = self._mapped(request.mapping)
            exact = np.concatenate([count(data, cl).ravel() for cl in request.cliques])
            mine = self.noise.discrete_gaussian(exact, request.sigma)
        return self._to_coordinator(request.silo, mine)

    def _products(self, request: SiloRequest, secure) -> list:
        """Each clique's secret-shared counts, flat in the product's order (the silos' columns in turn)."""
        mpc, rows, me = self.mpc, self.rows, self.config.pid
        data = self._mapped(request.mapping) if self.data is not None else None
        domain = _mapped_domain(self.domain, request.mapping)
        shared: dict[tuple[int, Clique], Any] = {}

        def share(party: int, columns: Clique):
            if (party, columns) not in shared:
                size = math.prod(domain[c] for c in columns)
                value = one_hot(data, columns) if me == party else np.zeros((size, rows), dtype=np.int64)
                shared[party, columns] = mpc.input(secure.array(value), senders=party)
            return shared[party, columns]

        totals = []
        for clique in request.cliques:
            matrices = [share(p, cols) for p, cols in silo_parts(clique, self.owners)]
            product = matrices[0]
            for middle in matrices[1:-1]:
                product = (product[:, None, :] * middle[None, :, :]).reshape(-1, rows)
            totals.append(mpc.np_matmul(product, mpc.np_transpose(matrices[-1])).reshape(-1))
        return totals

    def _noisy_open(self, total, size: int, share_sigma: float, secure) -> np.ndarray | None:
        """``total`` plus every party's discrete Gaussian share, opened to the coordinator alone."""
        mpc, me = self.mpc, self.config.pid
        for party in range(self.parties):
            value = self.noise.discrete_gaussian(np.zeros(size, dtype=np.int64), share_sigma) if me == party \
                else np.zeros(size, dtype=np.int64)
            total = total + mpc.input(secure.array(value), senders=party)
        opened = mpc.run(mpc.output(total, receivers=[COORDINATOR]))
        return None if me != COORDINATOR else opened

    def _cross(self, request: SiloRequest) -> np.ndarray | None:
        domain = _mapped_domain(self.domain, request.mapping)
        totals = self._products(request, self.field)
        total = totals[0] if len(totals) == 1 else self.mpc.np_concatenate(totals)
        cells = sum(math.prod(domain[c] for c in cl) for cl in request.cliques)
        opened = self._noisy_open(total, cells, request.sigma, self.field)
        if opened is None:
            return None
        values = from_field(opened)
        parts, start = [], 0
        for clique in request.cliques:
            size = math.prod(domain[c] for c in clique)
            parts.append(values[start : start + size][cell_order(clique, self.owners, domain)])
            start += size
        return np.concatenate(parts)

    def _local_scores(self, request: SiloRequest) -> np.ndarray | None:
        mine = None
        if self.config.pid == request.silo:
            data = self._mapped(request.mapping)
            exact = np.array([np.abs(count(data, cl).ravel() - request.payload[cl]).sum() for cl in request.cliques])
            mine = self.noise.discrete_gaussian(exact.astype(np.int64), request.sigma)
        return self._to_coordinator(request.silo, mine)

    def _cross_scores(self, request: SiloRequest) -> np.ndarray | None:
        """``|| x_r - round(xhat_r) ||_1`` of each pair under secret sharing (secure integers: the
        absolute values need comparisons), plus every party's noise share; only the scores open."""
        mpc = self.mpc
        secint = mpc.SecInt(SCORE_BITS)
        domain = _mapped_domain(self.domain, request.mapping)
        differences, sizes = [], []
        for clique, counts in zip(request.cliques, self._products(request, secint)):
            estimate = np.empty(math.prod(domain[c] for c in clique), dtype=np.int64)
            estimate[cell_order(clique, self.owners, domain)] = request.payload[clique]
            differences.append(counts - estimate)
            sizes.append(estimate.size)
        stacked = differences[0] if len(differences) == 1 else mpc.np_concatenate(differences)
        segments = np.repeat(np.eye(len(sizes), dtype=np.int64), sizes, axis=1)  # public: which cells are whose
        total = mpc.np_matmul(segments, mpc.np_absolute(stacked))  # one batch of secure comparisons
        opened = self._noisy_open(total, len(sizes), request.sigma, secint)
        return None if opened is None else np.asarray([int(v) for v in np.ravel(opened)], dtype=np.int64)

    def serve(self) -> str | None:
        """A silo's loop: run every request until ``stop``; returns the coordinator's error, if any."""
        while True:
            request = self.broadcast(None)
            if request.kind == "stop":
                return request.error
            self.step(request)


class MPCChannel:
    """The coordinator's :class:`~dpquilt.federation.vertical.oracle.SiloChannel` over the session."""

    def __init__(self, session: PartySession) -> None:
        self.session = session
        self.parties = session.parties

    def local(self, silo: int, cliques: Sequence[Clique], sigma: float, mapping: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.ask(SiloRequest("local", tuple(map(tuple, cliques)), float(sigma), silo, dict(mapping)))

    def cross(self, cliques: Sequence[Clique], share_sigma: float, mapping: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.ask(SiloRequest("cross", tuple(map(tuple, cliques)), float(share_sigma), COORDINATOR, dict(mapping)))

    def ask(self, request: SiloRequest) -> np.ndarray:
        """Send ``request`` to every silo and take this party's part in it; the coordinator's answers."""
        self.session.broadcast(request)
        return self.session.step(request)

    def refine(self, silo: int, columns: Sequence[str], sigma: float, plans: Mapping[str, Any]) -> np.ndarray:
        """Silo ``silo``'s noisy within-bin histograms of ``columns`` under ``plans``, concatenated."""
        return self.ask(SiloRequest("refine", tuple((c,) for c in columns), float(sigma), silo, payload=dict(plans)))

    def local_scores(self, silo: int, pairs: Sequence[Clique], estimates: Sequence[np.ndarray], sigma: float,
                     mapping: Mapping[str, np.ndarray]) -> np.ndarray:
        """Silo ``silo``'s selection scores ``|| x_r - round(xhat_r) ||_1`` of its own ``pairs``, plus its noise."""
        payload = {tuple(p): np.rint(np.ravel(e)).astype(np.int64) for p, e in zip(pairs, estimates)}
        return self.ask(SiloRequest("local-scores", tuple(map(tuple, pairs)), float(sigma), silo, dict(mapping), payload=payload))

    def cross_scores(self, pairs: Sequence[Clique], estimates: Sequence[np.ndarray], share_sigma: float,
                     mapping: Mapping[str, np.ndarray]) -> np.ndarray:
        """The same scores of pairs across silos, computed under secret sharing; only the noisy scores open."""
        payload = {tuple(p): np.rint(np.ravel(e)).astype(np.int64) for p, e in zip(pairs, estimates)}
        return self.ask(SiloRequest("cross-scores", tuple(map(tuple, pairs)), float(share_sigma), COORDINATOR,
                                     dict(mapping), payload=payload))

    def stop(self, error: str | None = None) -> None:
        self.session.broadcast(SiloRequest("stop", error=error))


def schema_digest(facts: Mapping[str, Any]) -> str:
    """SHA-256 of a schema's public facts (``Schema.to_dict()``), which every party must share.

    Examples
    --------
    >>> schema_digest({"a": {"categories": [1, 2]}}) == schema_digest({"a": {"categories": [1, 2]}})
    True
    """
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def encode_aligned(frame: pd.DataFrame, schema: Schema) -> Dataset:
    """A silo's codes with every row kept, so that row ``i`` stays the same person in every silo.

    A central fit leaves out a row holding a value the schema has no code for (missing
    where ``missing=False``, or off a closed category list); a silo cannot, or its rows
    would no longer line up with the others'. Such a value takes code 0 instead (a rule
    that reads no other row), and a curator note (not DP, kept in this silo's log) says
    how many.

    Examples
    --------
    >>> schema = Schema.from_public({"c": {"categories": ["a", "b"], "other": False, "missing": False}})
    >>> encode_aligned(pd.DataFrame({"c": ["b", "z", "a"]}), schema).columns["c"].tolist()
    [1, 0, 0]
    """
    columns = {}
    for name in schema.names:
        spec = schema.select([name])
        encoded = encode(frame[[name]], spec)
        codes = np.zeros(len(frame), dtype=np.int64)
        codes[encoded.kept] = np.asarray(encoded.data.columns[name], dtype=np.int64)
        if not encoded.kept.all():
            log.warning("curator note (not DP, not for release): %d values of %r have no code in the schema and "
                        "were given code 0, so that the silos' rows stay aligned", int((~encoded.kept).sum()), name)
        columns[name] = codes
    return Dataset(columns, schema.domain())


def _check_announcements(
    told: Sequence[Announcement], names: Sequence[str], digest: str
) -> tuple[dict[str, int], int]:
    """Which party holds each column, and the common row count; :class:`SessionError` if they do not fit."""
    other = [a.name for a in told if a.schema_digest != digest]
    if other:
        raise SessionError(f"silo(s) {other} use another schema than this party's: give every party the same schema "
                           "file")
    rows = {a.name: a.rows for a in told}
    if len(set(rows.values())) != 1:
        raise SessionError(f"the silos hold different numbers of rows {rows}: they must align to the same public "
                           "list of keys")
    owners: dict[str, int] = {}
    for party, a in enumerate(told, start=1):
        for column in a.columns:
            if column in owners:
                raise SessionError(f"column {column!r} is held by silo {told[owners[column] - 1].name!r} and by silo "
                                   f"{a.name!r}; each column must belong to one silo")
            owners[column] = party
    if set(owners) != set(names):
        raise SessionError(f"the silos' columns {sorted(owners)} are not the schema's {sorted(names)}: give every "
                           "party the same schema, with exactly the silos' columns")
    return owners, next(iter(rows.values()))


def _mapped_domain(domain: Mapping[str, int], mapping: Mapping[str, np.ndarray]) -> dict[str, int]:
    return {c: int(np.max(mapping[c])) + 1 if c in mapping else int(k) for c, k in domain.items()}


def _start_runtime(config: PartyConfig):
    """MPyC reads its parties from the command line when first imported: set it, then import."""
    program = sys.argv[0] if sys.argv else "dpquilt-party"
    sys.argv = [program] + [a for host, port in config.addresses for a in ("-P", f"{host}:{port}")] + [
        "-I", str(config.pid), "--log-level", "warning"]
    from mpyc.runtime import mpc

    return mpc


def _record_received(chunks: list[bytes]) -> None:
    from mpyc import asyncoro

    original = asyncoro.MessageExchanger.data_received

    def data_received(exchanger, data) -> None:
        chunks.append(bytes(data))
        original(exchanger, data)

    asyncoro.MessageExchanger.data_received = data_received


def _coordinate(session: PartySession, job: CoordinatorJob, config: PartyConfig) -> None:
    from ...refiners.histogram import HistogramRefiner
    from ...refiners.layout import Layout
    from ...synthesizers.marginal import MarginalSynthesizer, schema_measurements
    from .oracle import VerticalOracle

    channel = MPCChannel(session)
    schema = session.schema
    synthesizer = MarginalSynthesizer(
        epsilon=config.plan.epsilon, delta=config.plan.delta, method="mst", schema=schema, random_state=config.seed,
        verbose=False,
    )
    silos = session.parties - 1
    notes = (
        f"cross-silo over {silos} silos ({', '.join(a.name for a in session.silos)}) and a coordinator: within-silo marginals "
        "noised by their silo; cross-silo marginals computed under MPyC's Shamir secret sharing "
        f"(threshold {(session.parties - 1) // 2}), every party adding a noise share, opened only as noisy totals",
        "threat model: semi-honest parties, no two colluding; MST's tree chosen from one noisy release of every pair's score",
    )
    layout = Layout.of(schema)
    reserve = HistogramRefiner().default_share if layout.learned else 0.0
    try:
        columns = tuple(c for a in session.silos for c in a.columns)
        synthesizer.fit_oracle(
            VerticalOracle(channel, session.domain, session.owners, on_measured=_progress_writer(config.progress)),
            schema, columns, notes,
            earlier=session.schema_ledger, prior=schema_measurements(session.schema_releases, schema), reserve=reserve,
        )
        if layout.learned:
            synthesizer.refiner_ = _refine_in_silos(channel, synthesizer, layout, session.owners)
    except BaseException as exc:
        channel.stop(f"{type(exc).__name__}: {exc}")
        raise
    channel.stop()
    Path(job.output).write_bytes(pickle.dumps(synthesizer))


def _refine_in_silos(channel: MPCChannel, synthesizer, layout, owners: Mapping[str, int]):
    """The histogram refiner (:mod:`dpquilt.refiners.histogram`), each column's within-bin histogram
    measured by the silo that holds it with the budget the fit kept back, split over the columns."""
    from ...privacy.mechanisms import gaussian_counts_expenditure, sigma_for_rho
    from ...refiners.histogram import HistogramRefiner, plan_cells

    accountant = synthesizer.accountant_
    learned = list(layout.learned)
    sigma = sigma_for_rho(accountant.remaining_rho() / len(learned))
    numeric_of = {name: i for i, name in enumerate(layout.numeric)}
    plans = {}
    for name in learned:  # public: the model's shares, its noisy row count, the noise scale
        i = numeric_of[name]
        shares = np.asarray(synthesizer._bin_shares(name), dtype=np.float64)[: layout.bins[i]]
        plans[name] = (plan_cells(shares, float(synthesizer.model_.total), sigma, layout.slots[i]), layout.slots[i])
    cells, noisy = {}, {}
    for silo in sorted({owners[name] for name in learned}):
        mine = [name for name in learned if owners[name] == silo]
        for name in mine:
            accountant.spend(gaussian_counts_expenditure(f"within-bin histogram of {name!r} (silo {silo})", sigma))
        answers = channel.refine(silo, mine, sigma, {name: plans[name] for name in mine})
        sizes = [int(np.sum(plans[name][0])) for name in mine]
        for name, part in zip(mine, np.split(answers, np.cumsum(sizes)[:-1])):
            cells[name], noisy[name] = plans[name][0], part
    return HistogramRefiner.from_released(layout, cells, noisy)


def _progress_writer(path: str | None):
    """``on_measured`` for the coordinator: the share of the budget spent, written to ``path``."""
    if path is None:
        return None

    def write(accountant) -> None:
        Path(path).write_text(f"{accountant.rho_spent / accountant.rho_budget:.6f}")

    return write


def _run_requests(session: PartySession, job: CoordinatorJob) -> None:
    channel = MPCChannel(session)
    answers, seconds = [], []
    for request in job.requests:
        start = time.perf_counter()
        answers.append(channel.ask(request))
        seconds.append(time.perf_counter() - start)
    channel.stop()
    Path(job.output).write_bytes(pickle.dumps((answers, seconds)))


def _bytes_sent(mpc) -> int:
    return int(sum(p.protocol.nbytes_sent for p in mpc.parties if p.pid != mpc.pid and p.protocol is not None))


def run_party(config: PartyConfig) -> int:
    """Take part in the session as ``config`` says, in this process; 0 when it ended well.

    The coordinator writes its job's result to ``config.job.output``. MPyC reads its
    parties from the command line when first imported, so a process runs one party once.
    """
    chunks: list[bytes] = []
    mpc = _start_runtime(config)
    if config.transcript:
        _record_received(chunks)
    mpc.run(mpc.start())
    error = None
    try:
        session = PartySession(mpc, config)
        if config.pid == COORDINATOR:
            if config.job.kind == "requests":
                _run_requests(session, config.job)
            else:
                _coordinate(session, config.job, config)
        else:
            error = session.serve()
    finally:
        sent = _bytes_sent(mpc)
        mpc.run(mpc.shutdown())
        if config.stats:
            Path(config.stats).write_text(json.dumps({"party": config.pid, "bytes_sent": sent}))
        if config.transcript:
            Path(config.transcript).write_bytes(b"".join(chunks))
    if error:
        log.error("party %d: the coordinator stopped the session: %s", config.pid, error)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the party whose pickled :class:`PartyConfig` is at ``argv[0]`` (how :func:`~.simulation.simulate` starts each party)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_party(pickle.loads(Path(argv[0]).read_bytes()))


if __name__ == "__main__":
    sys.exit(main())
