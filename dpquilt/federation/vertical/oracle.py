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
  place, which no party has for a cross-silo pair. Instead the scores themselves are
  released with Gaussian noise, as in the horizontal federation: every pair's score
  ``|| x_ab - round(xhat_ab) ||_1`` (the estimate rounded: public post-processing) moves
  by at most 1 when one row is added or removed, so the vector of ``P`` scores has L2
  sensitivity ``sqrt(P)`` and one release at MST's whole selection budget ``rho`` has
  noise ``sigma = sqrt(P / (2 rho))`` on each score. A silo scores its own pairs and adds
  the noise itself; the pairs across silos are scored under secret sharing (the counts,
  their distance to the public estimate and its absolute value, with MPyC's secure
  integers), every party adding a noise share, and only the noisy scores are opened.
  Kruskal then keeps the heaviest edges (post-processing).
- ``select`` (AIM's rounds) is not offered: a round would score every cross-silo candidate's cells under secure computation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from ...marginals.measurement import Measurement
from ...marginals.spanning_tree import grow_spanning_tree
from ...privacy.accountant import Accountant, Expenditure
from ...privacy.conversions import rho_of_gaussian
from ...privacy.distributed import party_sigma, sigma_for_distributed_rho
from ...privacy.mechanisms import gaussian_counts_expenditure, spend_distributed_gaussian

__all__ = ["SiloChannel", "VerticalOracle"]

Clique = tuple[str, ...]


class SiloChannel(Protocol):
    """How the coordinator asks the silos (an MPyC session, or a stand-in in tests).

    ``local(silo, cliques, sigma, mapping)``: the silo's counts of ``cliques`` (all its own
    columns) plus its ``N_Z(0, sigma^2)``, concatenated. ``cross(cliques, share_sigma,
    mapping)``: the cross-silo counts plus every party's ``N_Z(0, share_sigma^2)``,
    concatenated in each clique's C order. ``local_scores`` and ``cross_scores``: the
    same for the selection scores ``|| x_r - round(xhat_r) ||_1`` of pairs, one number
    each. ``parties``: the number of parties ``m`` (silos and coordinator).
    """

    parties: int

    def local(self, silo: int, cliques: Sequence[Clique], sigma: float, mapping: Mapping[str, np.ndarray]) -> np.ndarray: ...

    def cross(self, cliques: Sequence[Clique], share_sigma: float, mapping: Mapping[str, np.ndarray]) -> np.ndarray: ...

    def local_scores(self, silo: int, pairs: Sequence[Clique], estimates: Sequence[np.ndarray], sigma: float,
                     mapping: Mapping[str, np.ndarray]) -> np.ndarray: ...

    def cross_scores(self, pairs: Sequence[Clique], estimates: Sequence[np.ndarray], share_sigma: float,
                     mapping: Mapping[str, np.ndarray]) -> np.ndarray: ...


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
        return [out[cl] for cl in cliques]

    def select(self, *args, **kwargs) -> int:
        """AIM's private choice of a clique: not built for silos yet."""
        raise NotImplementedError(
            "AIM over silos is not offered: each round would score every cross-silo candidate's cells under secure "
            "computation (adult split in two: 2.2 million secure absolute values a round, about 10 minutes here); "
            "use method='mst', whose selection is one noisy release of every pair's score")

    def select_tree(
        self, pairs: Sequence[tuple[str, str]], estimates: Sequence[np.ndarray], rho: float, accountant: Accountant
    ) -> list[tuple[str, str]]:
        """MST's tree by Kruskal on one noisy release of every pair's score at budget ``rho`` (see the module docstring)."""
        pairs = [tuple(p) for p in pairs]
        names = sorted({c for pair in pairs for c in pair}, key=list(self._domain).index)
        if len(names) < 2:
            return []
        sigma = math.sqrt(len(pairs) / (2.0 * rho))
        estimate_of = dict(zip(pairs, estimates))
        scores: dict[Clique, float] = {}
        for silo in sorted(set(self.owners.values())):
            own = [p for p in pairs if not self.is_cross_silo(p) and self.owners[p[0]] == silo]
            if not own:
                continue
            l2 = math.sqrt(len(own))
            accountant.spend(Expenditure(f"selection scores of {len(own)} pairs (silo {silo})", "discrete Gaussian",
                                         sigma, rho_of_gaussian(sigma, l2), sensitivity=l2))
            answers = self.channel.local_scores(silo, own, [estimate_of[p] for p in own], sigma, self.mapping)
            scores.update(zip(own, map(float, answers)))
        cross = [p for p in pairs if self.is_cross_silo(p)]
        if cross:
            t, size = self.channel.parties - 1, len(cross)
            raised = sigma_for_distributed_rho(size / (2.0 * sigma**2), t, math.sqrt(size), float(size), size)
            spend_distributed_gaussian(f"selection scores of {size} pairs (across silos)", raised, t, accountant,
                                       l2_sensitivity=math.sqrt(size), l1_sensitivity=float(size), dimension=size)
            answers = self.channel.cross_scores(cross, [estimate_of[p] for p in cross], party_sigma(raised, t), self.mapping)
            scores.update(zip(cross, map(float, answers)))
        if self.on_measured is not None:
            self.on_measured(accountant)
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

