"""What the server asks each round and what a client sends back (no Flower here).

A :class:`Request` names cliques and asks either for their marginals
(``kind="measure"``) or for each clique's local selection score (``kind="scores"``).
A client answers with one integer vector: the requested numbers plus its share of
discrete Gaussian noise, then ``1`` if its noise is seeded (not secure) and ``0``
otherwise (summed, it tells the server whether every party's noise was secure, so the
report's ``secure`` flag covers all of them), then a single ``1`` (summed, it counts the
clients that contributed, which the server checks). Only the sum over clients is ever revealed, by
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

from ..marginals.tables import marginalise
from ..marginals.compression import Compression
from ..marginals.containment import containing_sources
from ..marginals.counting import count
from ..privacy.noise import NoiseSource
from ..schema.dataset import Dataset

__all__ = ["MalformedRequestError", "Request", "TRAILER", "apply_mapping", "client_reply", "reply_length", "score_sensitivity"]

#: Entries after the answers in every reply: the seeded flag and the check entry.
TRAILER = 2

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

    Examples
    --------
    >>> req = Request("measure", (("age", "sex"),), party_sigma=3.5, label="measure #1")
    >>> config, arrays = req.to_wire()  # what travels in the Flower message
    >>> Request.from_wire(config, arrays) == req
    True
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
        """A JSON-able header and the arrays, for a Flower message.

        Only cliques that no other clique contains carry their estimate (float32: the
        scores only need ``p`` to ~1e-7; clients sum the others from their source), all
        packed into one array: a message of hundreds of small arrays costs Flower ~5x
        more to convert and serialise than one of the same bytes.
        """
        mapped = sorted(self.mapping)
        sources = containing_sources(self.cliques) if self.kind == "scores" else []
        sent = [np.asarray(e, dtype=np.float32).ravel() for e, src in zip(self.estimates, sources) if src < 0]
        header = {
            "kind": self.kind,
            "cliques": [list(c) for c in self.cliques],
            "party_sigma": self.party_sigma,
            "label": self.label,
            "mapped": mapped,
            "weights": list(self.weights),
            "sources": sources,
            "estimate_sizes": [int(e.size) for e in sent],
        }
        arrays = [np.asarray(self.mapping[c], dtype=np.int64) for c in mapped]
        if sent:
            arrays.append(np.concatenate(sent))
        return {"dpquilt.request": json.dumps(header)}, arrays

    @classmethod
    def from_wire(cls, config: Mapping, arrays: Sequence[np.ndarray]) -> Request:
        try:
            header = json.loads(config["dpquilt.request"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedRequestError(f"the message carries no dpquilt request: {exc}") from exc
        mapped, sources = header["mapped"], header.get("sources", [])
        sizes = [int(k) for k in header.get("estimate_sizes", [])]
        cliques = tuple(tuple(c) for c in header["cliques"])
        if len(sizes) != sum(1 for src in sources if src < 0) or len(arrays) != len(mapped) + bool(sizes):
            raise MalformedRequestError(f"request {header['label']!r}: {len(arrays)} arrays do not match its header")
        packed = np.asarray(arrays[-1], dtype=np.float64) if sizes else np.empty(0)
        if packed.size != sum(sizes):
            raise MalformedRequestError(
                f"request {header['label']!r}: {packed.size} estimate cells, its header declares {sum(sizes)}"
            )
        sent = iter(np.split(packed, np.cumsum(sizes)[:-1]) if sizes else [])
        estimates = [next(sent) if src < 0 else None for src in sources]  # derived ones: clients sum them
        return cls(
            kind=header["kind"],
            cliques=cliques,
            party_sigma=float(header["party_sigma"]),
            label=header["label"],
            mapping=dict(zip(mapped, arrays[: len(mapped)])),
            estimates=tuple(estimates),
            weights=tuple(float(w) for w in header["weights"]),
        )


def reply_length(request: Request, domain: Mapping[str, int]) -> int:
    """Entries in a client's reply: every cell (or one score per clique), the seeded flag and the check entry.

    Examples
    --------
    >>> reply_length(Request("measure", (("a", "b"), ("c",)), 1.0, "m#1"), {"a": 2, "b": 3, "c": 4})
    12
    """
    if request.kind == "scores":
        return len(request.cliques) + TRAILER
    sizes = {c: int(np.max(request.mapping[c])) + 1 if c in request.mapping else domain[c] for c in domain}
    return int(sum(np.prod([sizes[c] for c in cl]) for cl in request.cliques)) + TRAILER


def score_sensitivity(weights: Sequence[float]) -> tuple[float, float]:
    """L2 and L1 norms of the largest change of the summed score vector (module docstring).

    Examples
    --------
    >>> score_sensitivity([1.0, 1.0])  # each score moves by at most 2 w + 1 = 3
    (4.242640687119285, 6.0)
    """
    per = np.abs(np.asarray(weights, dtype=np.float64)) * 2.0 + 1.0
    return float(np.sqrt((per**2).sum())), float(per.sum())


def client_reply(request: Request, data: Dataset, noise: NoiseSource, bound: int) -> np.ndarray:
    """The client's integer vector for ``request``: answers + noise share, the seeded flag, then ``1``.

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

    Examples
    --------
    >>> from dpquilt.privacy import SeededNoise
    >>> rows = Dataset({"a": np.array([0, 1, 1])}, {"a": 2})
    >>> vector = client_reply(Request("measure", (("a",),), 2.0, "m#1"), rows, SeededNoise(np.random.default_rng(0)), 2**20)
    >>> vector.size, int(vector[-2]), int(vector[-1])  # two noisy counts, seeded: yes, then the check entry
    (4, 1, 1)
    """
    unknown = sorted({c for cl in request.cliques for c in cl} - set(data.domain))
    if unknown:
        raise MalformedRequestError(f"request {request.label!r} names column(s) {unknown} not in this client's schema")
    data = apply_mapping(data, request.mapping)
    if request.kind == "measure":
        answers = np.concatenate([count(data, cl).ravel() for cl in request.cliques])
    else:
        answers = _local_scores(request, data)
    if answers.size and answers.min() < 0:
        raise ValueError(f"request {request.label!r}: negative noise-free answer; refusing to send")
    noisy = noise.discrete_gaussian(answers.astype(np.int64), request.party_sigma)
    vector = np.append(noisy, [0 if noise.secure else 1, 1]).astype(np.int64)
    if int(np.abs(vector).max()) >= bound:  # the refusal names no count or magnitude of the rows
        raise ValueError(
            f"request {request.label!r}: an entry does not fit the secure sum's range (-{bound}, {bound}); "
            f"raise clipping_range (a power of two above every client's row count)"
        )
    return vector


def apply_mapping(data: Dataset, mapping: Mapping[str, np.ndarray]) -> Dataset:
    """``data``'s codes merged as ``mapping`` says (MST's compression); columns it omits keep theirs.

    Examples
    --------
    >>> rows = Dataset({"a": np.array([0, 1, 2])}, {"a": 3})
    >>> apply_mapping(rows, {"a": np.array([0, 0, 1])}).columns["a"].tolist()
    [0, 0, 1]
    """
    if not mapping:
        return data
    full = {c: np.asarray(mapping.get(c, np.arange(k)), dtype=np.int64) for c, k in data.domain.items()}
    for c, m in full.items():
        if m.size != data.domain[c]:
            raise MalformedRequestError(
                f"mapping for column {c!r} has {m.size} entries, the schema has {data.domain[c]} codes"
            )
    return Compression(full, {}).apply(data)


def _local_scores(request: Request, data: Dataset) -> np.ndarray:
    """``round(w_r || x_r^k - n_k p_r ||_1)`` for each clique (module docstring).

    Counts (and estimates that did not travel) are summed from the clique's maximal
    source, so each maximal clique is counted once.
    """
    n = data.n_rows
    cliques = request.cliques
    sources = containing_sources(cliques)
    counts, estimates = {}, {}
    for i, src in enumerate(sources):
        if src < 0:
            counts[i] = count(data, cliques[i])
            estimates[i] = _checked_estimate(request.estimates[i], data.shape_of(cliques[i]), cliques[i])
    for i, src in enumerate(sources):
        if src >= 0:
            counts[i] = marginalise(counts[src], cliques[src], cliques[i])
            given = request.estimates[i]
            estimates[i] = (
                marginalise(estimates[src], cliques[src], cliques[i])
                if given is None
                else _checked_estimate(given, data.shape_of(cliques[i]), cliques[i])
            )
    out = np.empty(len(cliques), dtype=np.int64)
    for i, w in enumerate(request.weights):
        estimate, total = estimates[i], estimates[i].sum()
        p = estimate / total if total > 0 else np.full(estimate.shape, 1.0 / estimate.size)
        out[i] = int(np.rint(abs(w) * np.abs(counts[i] - n * p).sum()))
    return out


def _checked_estimate(estimate, shape: tuple[int, ...], clique: Clique) -> np.ndarray:
    estimate = np.asarray(estimate, dtype=np.float64)
    if estimate.size != int(np.prod(shape)):
        raise MalformedRequestError(f"estimate for {clique} has {estimate.size} cells, expected {int(np.prod(shape))}")
    return estimate.reshape(shape)
