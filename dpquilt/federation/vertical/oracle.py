"""MST's questions answered by silos that hold different columns of the same people.

:class:`VerticalOracle` implements :class:`~dpquilt.marginals.oracle.MarginalOracle` at
the coordinator, asking a :class:`SiloChannel`:

- ``measure``: a clique whose columns one silo holds is counted by that silo, which adds
  ``N_Z(0, sigma^2)`` itself (the central discrete Gaussian, cost ``1 / (2 sigma^2)``);
  a clique across silos is counted under secret sharing
  (:mod:`~dpquilt.federation.vertical.cross_silo`), every one of the ``m`` parties adding
  a share ``N_Z(0, sigma^2 / (m - 1))``, so that the noise one party cannot remove is
  ``sigma^2``; the cost is the distributed discrete Gaussian's (Kairouz, Liu and Steinke
  2021, Theorem 2), never more than the central cost MST planned (``sigma`` is raised
  by a hair when it would be).
- ``select_tree``: the exponential mechanism needs every pair's exact score in one
  place, which no party has for a cross-silo pair. Instead every pair's marginal is
  released with Gaussian noise at MST's whole selection budget (an even split), each
  pair is scored on its release, ``|| y_ab - xhat_ab ||_1`` less the noise's expected
  share ``cells sigma sqrt(2 / pi)``, and Kruskal keeps the heaviest edges
  (post-processing). The releases of the chosen pairs are not wasted: when MST then
  measures them, each answer is the inverse-variance average of the two releases.
- ``select`` (AIM's rounds) is not built yet.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from ...marginals.measurement import Measurement
from ...marginals.oracle import even_sigma
from ...marginals.spanning_tree import grow_spanning_tree
from ...privacy.accountant import Accountant
from ...privacy.distributed import party_sigma, sigma_for_distributed_rho
from ...privacy.mechanisms import gaussian_counts_expenditure, spend_distributed_gaussian

__all__ = ["SiloChannel", "VerticalOracle"]

Clique = tuple[str, ...]


class SiloChannel(Protocol):
    """How the coordinator asks the silos (an MPyC session, or a stand-in in tests).

    ``local(silo, cliques, sigma, mapping)``: the silo's counts of ``cliques`` (all its own
    columns) plus its ``N_Z(0, sigma^2)``, concatenated. ``cross(cliques, share_sigma,
    mapping)``: the cross-silo counts plus every party's ``N_Z(0, share_sigma^2)``,
    concatenated in each clique's C order. ``parties``: the number of parties ``m``
    (silos and coordinator).
    """

    parties: int

    def local(self, silo: int, cliques: Sequence[Clique], sigma: float, mapping: Mapping[str, np.ndarray]) -> np.ndarray: ...

    def cross(self, cliques: Sequence[Clique], share_sigma: float, mapping: Mapping[str, np.ndarray]) -> np.ndarray: ...


class VerticalOracle:
    """Noisy marginals from silos that each hold some columns (see the module docstring).

    Parameters
    ----------
    channel : SiloChannel
        Reaches the silos.
    domain : dict of str to int
        The public schema's domain, every silo's columns.
    owners : dict of str to int
        The party (``1 .. m - 1``; 0 is the coordinator) that holds each column.
    mapping : dict, optional
        Merged codes (MST's compression), applied by the silos before counting.
    on_measured : callable, optional
        ``on_measured(accountant)`` after every answer (progress).

    Examples
    --------
    >>> from dpquilt.privacy import Accountant
    >>> class Exact:  # stands in for the silos: exact counts of a known table, no noise
    ...     parties = 3
    ...     rows = {"a": np.array([0, 1, 1]), "b": np.array([2, 0, 2])}
    ...     def local(self, silo, cliques, sigma, mapping):
    ...         return np.concatenate([np.bincount(self.rows[c[0]], minlength=3) for c in cliques])
    ...     def cross(self, cliques, share_sigma, mapping):
    ...         return np.bincount(self.rows["a"] * 3 + self.rows["b"], minlength=6)
    >>> oracle = VerticalOracle(Exact(), {"a": 2, "b": 3}, {"a": 1, "b": 2})
    >>> acc = Accountant(1.0, 1e-9, secure=False)
    >>> m = oracle.measure([("b",), ("a", "b")], 10.0, acc)
    >>> m[0].noisy.tolist(), m[1].noisy.tolist()
    ([1.0, 0.0, 2.0], [0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    """

    def __init__(
        self,
        channel: SiloChannel,
        domain: Mapping[str, int],
        owners: Mapping[str, int],
        mapping: Mapping[str, np.ndarray] | None = None,
        on_measured: Callable[[Accountant], None] | None = None,
    ) -> None:
        self.channel = channel
        self._domain = dict(domain)
        self.owners = dict(owners)
        self.mapping = dict(mapping or {})
        self.on_measured = on_measured
        self._released: dict[Clique, Measurement] = {}

    @property
    def domain(self) -> Mapping[str, int]:
        if not self.mapping:
            return self._domain
        return {c: int(np.max(self.mapping[c])) + 1 if c in self.mapping else k for c, k in self._domain.items()}

    def is_cross_silo(self, clique: Clique) -> bool:
        """True when the clique's columns are held by more than one silo."""
        return len({self.owners[c] for c in clique}) > 1

    def measure(
        self, cliques: Sequence[Clique], sigma: float, accountant: Accountant, what: str = "marginal"
    ) -> list[Measurement]:
        """Each clique's noisy marginal (its own silo's, or under secret sharing); see the module docstring."""
        cliques = [tuple(cl) for cl in cliques]
        domain = self.domain
        out: dict[Clique, Measurement] = {}
        by_silo = {silo: [cl for cl in cliques if not self.is_cross_silo(cl) and self.owners[cl[0]] == silo]
                   for silo in sorted(set(self.owners.values()))}
        for silo, own in by_silo.items():
            if not own:
                continue
            for cl in own:
                accountant.spend(gaussian_counts_expenditure(f"{what} {cl} (silo {silo})", sigma))
            answers = self.channel.local(silo, own, sigma, self.mapping)
            out.update(_split(own, answers, domain, sigma))
        cross = [cl for cl in cliques if self.is_cross_silo(cl)]
        if cross:
            t = self.channel.parties - 1
            sizes = [math.prod(domain[c] for c in cl) for cl in cross]
            raised = sigma_for_distributed_rho(1.0 / (2.0 * sigma**2), t, 1.0, 1.0, max(sizes))
            for cl, size in zip(cross, sizes):
                spend_distributed_gaussian(f"{what} {cl} (across silos)", raised, t, accountant, dimension=size)
            share = party_sigma(raised, t)
            answers = self.channel.cross(cross, share, self.mapping)
            out.update(_split(cross, answers, domain, share * math.sqrt(self.channel.parties)))
        if self.on_measured is not None:
            self.on_measured(accountant)
        return [self._with_earlier_release(out[cl]) for cl in cliques]

    def _with_earlier_release(self, m: Measurement) -> Measurement:
        """The inverse-variance average with the selection's release of the same clique, if any."""
        earlier = self._released.pop(m.cols, None)
        if earlier is None:
            return m
        w1, w2 = 1.0 / earlier.sigma**2, 1.0 / m.sigma**2
        return Measurement(m.cols, (w1 * earlier.noisy + w2 * m.noisy) / (w1 + w2), 1.0 / math.sqrt(w1 + w2))

    def select(self, *args, **kwargs) -> int:
        """AIM's private choice of a clique: not built for silos yet."""
        raise NotImplementedError("AIM over silos is not built yet; use method='mst'")

    def select_tree(
        self, pairs: Sequence[tuple[str, str]], estimates: Sequence[np.ndarray], rho: float, accountant: Accountant
    ) -> list[tuple[str, str]]:
        """MST's tree by Kruskal on every pair's noisy release at budget ``rho`` (see the module docstring)."""
        pairs = [tuple(p) for p in pairs]
        names = sorted({c for pair in pairs for c in pair}, key=list(self._domain).index)
        if len(names) < 2:
            return []
        released = self.measure(pairs, even_sigma(len(pairs), rho), accountant, what="selection marginal")
        scores = {}
        for pair, m, est in zip(pairs, released, estimates):
            expected_noise = m.noisy.size * m.sigma * math.sqrt(2.0 / math.pi)
            scores[pair] = float(np.abs(m.noisy - np.ravel(est)).sum()) - expected_noise
            self._released[pair] = m
        return grow_spanning_tree(names, pairs, lambda cands, _: int(np.argmax([scores[e] for e in cands])))

    def compressed(self, compression) -> VerticalOracle:
        """The same silos, asked over MST's merged codes."""
        return VerticalOracle(self.channel, self._domain, self.owners, compression.mapping, self.on_measured)


def _split(
    cliques: Sequence[Clique], answers: np.ndarray, domain: Mapping[str, int], sigma: float
) -> dict[Clique, Measurement]:
    sizes = [math.prod(domain[c] for c in cl) for cl in cliques]
    if answers.size != sum(sizes):
        raise RuntimeError(f"the silos answered {answers.size} cells for {sum(sizes)} asked; nothing is used")
    parts = np.split(np.asarray(answers, dtype=np.float64), np.cumsum(sizes)[:-1])
    return {cl: Measurement(cl, part, sigma) for cl, part in zip(cliques, parts)}

