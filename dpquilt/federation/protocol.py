"""What the server asks each round and what a client sends back (no Flower here).

A :class:`Request` names cliques and asks either for their marginals
(``kind="measure"``) or for each clique's local selection score (``kind="scores"``).
A client answers with one integer vector: the requested numbers plus its share of
discrete Gaussian noise, followed by a single ``1`` (summed, it counts the clients that
contributed, which the server checks). Only the sum over clients is ever revealed, by
secure aggregation.

Local scores. AIM and MST score a clique by ``w_r || x_r - xhat_r ||_1``. Under secure
aggregation the server can only learn sums, so client ``k`` scores its own rows against
the model scaled to its row count, ``s_r^k = w_r || x_r^k - n_k p_r ||_1`` with ``p_r``
the model's marginal as a distribution (as in FLAIM, Maddock, Cormode and Maple, KDD
2024, Section 4), rounded to an integer. Adding or removing one row moves ``x_r^k`` by
one cell and ``n_k p_r`` by ``||p_r||_1 = 1`` in L1, and rounding by at most one more:
each summed score moves by at most ``2 |w_r| + 1`` (:func:`score_sensitivity`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..graphical.junction import marginalise
from ..marginals.counting import count
from ..marginals.dataset import Dataset
from ..privacy.noise import NoiseSource

__all__ = ["MalformedRequestError", "Request", "client_reply", "reply_length", "score_sensitivity"]

Clique = tuple[str, ...]
KINDS = ("measure", "scores")


class MalformedRequestError(ValueError):
    """A request that a client cannot answer (unknown column, wrong shapes)."""


@dataclass(frozen=True)
class Request:
    """One secure-sum round.

    Parameters
    ----------
    kind : {"measure", "scores"}
    cliques : tuple of tuple of str
    party_sigma : float
        Scale of each client's discrete Gaussian share.
    label : str
        Unique per attempt; with seeded noise it seeds the client's draw, so a retried
        round gets fresh noise.
    mapping : dict of str to ndarray, optional
        Codes merged by MST's compression (``mapping[col][code]`` is the new code).
    estimates : tuple of ndarray
        For ``scores``: the model's marginal on each clique (any scale; clients
        normalise it to a distribution).
    weights : tuple of float
        For ``scores``: the weight ``w_r`` of each clique.
    """

    kind: str
    cliques: tuple[Clique, ...]
    party_sigma: float
    label: str
    mapping: Mapping[str, np.ndarray] = field(default_factory=dict)
    estimates: tuple[np.ndarray, ...] = ()
    weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise MalformedRequestError(f"request kind {self.kind!r} is not one of {KINDS}")
        object.__setattr__(self, "cliques", tuple(tuple(c) for c in self.cliques))
        if self.kind == "scores" and not (len(self.estimates) == len(self.weights) == len(self.cliques)):
            raise MalformedRequestError(
                f"a scores request needs one estimate and one weight per clique: {len(self.cliques)} cliques, "
                f"{len(self.estimates)} estimates, {len(self.weights)} weights"
            )

    def to_wire(self) -> tuple[dict, list[np.ndarray]]:
        """A JSON-able header and the arrays, for a Flower message."""
        mapped = sorted(self.mapping)
        sources = _sources(self.cliques) if self.kind == "scores" else []
        header = {
            "kind": self.kind,
            "cliques": [list(c) for c in self.cliques],
            "party_sigma": self.party_sigma,
            "label": self.label,
            "mapped": mapped,
            "weights": list(self.weights),
            "sources": sources,
        }
        arrays = [np.asarray(self.mapping[c], dtype=np.int64) for c in mapped]
        # Only cliques that no other clique contains carry their estimate (float32: the
        # scores only need p to ~1e-7); clients sum the others from their source.
        arrays += [np.asarray(e, dtype=np.float32).ravel() for e, src in zip(self.estimates, sources) if src < 0]
        return {"dpquilt.request": json.dumps(header)}, arrays

    @classmethod
    def from_wire(cls, config: Mapping, arrays: Sequence[np.ndarray]) -> Request:
        try:
            header = json.loads(config["dpquilt.request"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedRequestError(f"the message carries no dpquilt request: {exc}") from exc
        mapped, sources = header["mapped"], header.get("sources", [])
        cliques = tuple(tuple(c) for c in header["cliques"])
        if len(arrays) != len(mapped) + sum(1 for src in sources if src < 0):
            raise MalformedRequestError(f"request {header['label']!r}: {len(arrays)} arrays do not match its header")
        sent = iter(arrays[len(mapped):])
        estimates = [np.asarray(next(sent), dtype=np.float64) if src < 0 else None for src in sources]
        for i, src in enumerate(sources):
            if src >= 0:
                estimates[i] = _Derived(src)
        return cls(
            kind=header["kind"],
            cliques=cliques,
            party_sigma=float(header["party_sigma"]),
            label=header["label"],
            mapping=dict(zip(mapped, arrays[: len(mapped)])),
            estimates=tuple(estimates),
            weights=tuple(float(w) for w in header["weights"]),
        )


@dataclass(frozen=True)
class _Derived:
    """An estimate to be summed from the estimate of clique number ``source``."""

    source: int


def _sources(cliques: Sequence[Clique]) -> list[int]:
    """For each clique, the index of a clique that strictly contains it and is itself
    sent (-1: send this one)."""
    order = sorted(range(len(cliques)), key=lambda i: -len(cliques[i]))
    sent: list[int] = []
    out = [-1] * len(cliques)
    for i in order:
        members = set(cliques[i])
        src = next((j for j in sent if members < set(cliques[j])), None)
        if src is None:
            sent.append(i)
        else:
            out[i] = src
    return out


def reply_length(request: Request, domain: Mapping[str, int]) -> int:
    """Entries in a client's reply: every cell (or one score per clique), plus the check entry."""
    if request.kind == "scores":
        return len(request.cliques) + 1
    sizes = {c: int(np.max(request.mapping[c])) + 1 if c in request.mapping else domain[c] for c in domain}
    return int(sum(np.prod([sizes[c] for c in cl]) for cl in request.cliques)) + 1


def score_sensitivity(weights: Sequence[float]) -> tuple[float, float]:
    """L2 and L1 norms of the largest change of the summed score vector (module docstring)."""
    per = np.abs(np.asarray(weights, dtype=np.float64)) * 2.0 + 1.0
    return float(np.sqrt((per**2).sum())), float(per.sum())


def client_reply(request: Request, data: Dataset, noise: NoiseSource, bound: int) -> np.ndarray:
    """The client's integer vector for ``request``: answers + noise share, then ``1``.

    Parameters
    ----------
    request : Request
    data : Dataset
        This client's encoded rows (private; never leaves the client).
    noise : NoiseSource
        The client's randomness.
    bound : int
        Every entry must lie strictly inside ``(-bound, bound)`` (the secure sum's
        clipping range); otherwise the client refuses rather than let it be clipped.

    Returns
    -------
    ndarray of int64
    """
    unknown = sorted({c for cl in request.cliques for c in cl} - set(data.domain))
    if unknown:
        raise MalformedRequestError(f"request {request.label!r} names column(s) {unknown} not in this client's schema")
    data = _apply_mapping(data, request.mapping)
    if request.kind == "measure":
        answers = np.concatenate([count(data, cl).ravel() for cl in request.cliques])
    else:
        answers = _local_scores(request, data)
    if answers.size and answers.min() < 0:
        raise ValueError(f"request {request.label!r}: negative noise-free answer; refusing to send")
    noisy = noise.discrete_gaussian(answers.astype(np.int64), request.party_sigma)
    vector = np.append(noisy, 1).astype(np.int64)
    worst = int(np.abs(vector).max())
    if worst >= bound:
        raise ValueError(
            f"request {request.label!r}: an entry of magnitude {worst} does not fit the secure sum's range "
            f"(-{bound}, {bound}); raise clipping_range (a power of two above every client's row count)"
        )
    return vector


def _apply_mapping(data: Dataset, mapping: Mapping[str, np.ndarray]) -> Dataset:
    if not mapping:
        return data
    cols, domain = dict(data.columns), dict(data.domain)
    for c, m in mapping.items():
        m = np.asarray(m, dtype=np.int64)
        if m.size != domain[c]:
            raise MalformedRequestError(f"mapping for column {c!r} has {m.size} entries, the schema has {domain[c]} codes")
        cols[c] = m[cols[c]]
        domain[c] = int(m.max()) + 1
    return Dataset(cols, domain)


def _local_scores(request: Request, data: Dataset) -> np.ndarray:
    """``round(w_r || x_r^k - n_k p_r ||_1)`` for each clique (module docstring)."""
    n = data.n_rows
    counted: dict[Clique, np.ndarray] = {}
    resolved: dict[int, np.ndarray] = {}
    out = np.empty(len(request.cliques), dtype=np.int64)
    for i in sorted(range(len(request.cliques)), key=lambda j: -len(request.cliques[j])):
        cl, estimate, w = request.cliques[i], request.estimates[i], request.weights[i]
        shape = data.shape_of(cl)
        if isinstance(estimate, _Derived):
            src = request.cliques[estimate.source]
            estimate = marginalise(resolved[estimate.source].reshape(data.shape_of(src)), src, cl)
        estimate = np.asarray(estimate, dtype=np.float64)
        resolved[i] = estimate
        if estimate.size != int(np.prod(shape)):
            raise MalformedRequestError(f"estimate for {cl} has {estimate.size} cells, expected {int(np.prod(shape))}")
        x = _marginal(data, cl, counted)
        total = estimate.sum()
        p = estimate.reshape(shape) / total if total > 0 else np.full(shape, 1.0 / estimate.size)
        out[i] = int(np.rint(abs(w) * np.abs(x - n * p).sum()))
    return out


def _marginal(data: Dataset, cl: Clique, counted: dict[Clique, np.ndarray]) -> np.ndarray:
    """Count ``cl``, summing from an already counted superset when there is one."""
    members = set(cl)
    for other, table in counted.items():
        if members < set(other):
            return marginalise(table, other, cl)
    counted[cl] = count(data, cl)
    return counted[cl]
