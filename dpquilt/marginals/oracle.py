"""What a selection mechanism may ask of private data: noisy marginals and private picks.

MST and AIM never touch rows. They ask a :class:`MarginalOracle` for

- ``measure(cliques, sigma)``: each clique's marginal with Gaussian noise of scale
  ``sigma`` (cost ``1 / (2 sigma^2)`` each, or less);
- ``select(cliques, estimates, weights, penalties, epsilon)``: a private choice of the
  clique with the largest ``w_r (|| x_r - xhat_r ||_1 - penalty_r)``, at the cost of an
  ``epsilon``-DP exponential mechanism (zCDP ``epsilon^2 / 8``);
- ``select_tree(pairs, estimates, rho)``: a private maximum spanning tree of pairs
  scored by ``|| x_ab - xhat_ab ||_1`` at total cost ``rho`` (MST's selection);
- ``compressed(compression)``: the same oracle over merged codes.

:class:`LocalOracle` answers from a :class:`~dpquilt.schema.dataset.Dataset` on this
machine (counts cached, exact exponential mechanism); the federated oracle in
:mod:`dpquilt.federation` answers from secure sums of clients' noisy counts. Every
answer spends through the accountant passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..privacy.accountant import Accountant
from ..privacy.mechanisms import exponential_mechanism, exponential_mechanism_epsilon_for_rho, gaussian_counts
from ..privacy.noise import NoiseSource
from ..schema.dataset import Dataset
from .code_counts import CodeCounts, DatasetCounts
from .counting import count
from .measurement import Measurement
from .spanning_tree import grow_spanning_tree

if TYPE_CHECKING:
    from .compression import Compression

__all__ = ["LocalOracle", "MarginalOracle", "weighted_l1_scores"]

Clique = tuple[str, ...]
CountFn = Callable[[Dataset, Sequence[str]], np.ndarray]


class MarginalOracle(Protocol):
    """The private-data interface of MST and AIM (see the module docstring).

    Examples
    --------
    See :class:`LocalOracle` (rows on this machine) and
    :class:`~dpquilt.federation.federated_oracle.FederatedOracle` (secure sums), which implement it.
    """

    @property
    def domain(self) -> Mapping[str, int]: ...

    def measure(self, cliques: Sequence[Clique], sigma: float, accountant: Accountant) -> list[Measurement]: ...

    def select(
        self,
        cliques: Sequence[Clique],
        estimates: Sequence[np.ndarray],
        weights: Sequence[float],
        penalties: Sequence[float],
        epsilon: float,
        accountant: Accountant,
        what: str,
    ) -> int: ...

    def select_tree(
        self, pairs: Sequence[tuple[str, str]], estimates: Sequence[np.ndarray], rho: float, accountant: Accountant
    ) -> list[tuple[str, str]]: ...

    def compressed(self, compression: Compression) -> MarginalOracle: ...


def weighted_l1_scores(
    answers: Sequence[np.ndarray], estimates: Sequence[np.ndarray], weights: Sequence[float], penalties: Sequence[float]
) -> np.ndarray:
    """``q_r = w_r (|| x_r - xhat_r ||_1 - penalty_r)`` for each clique ``r``.

    One row moves one cell of each ``x_r`` by one, so ``q_r`` moves by at most
    ``|w_r|`` (AIM, McKenna et al. 2022, Section 4.2; MST's scores are ``w = 1``,
    ``penalty = 0``).

    Examples
    --------
    >>> weighted_l1_scores([np.array([3.0, 1.0])], [np.array([2.0, 2.0])], [2.0], [0.5]).tolist()  # 2 (2 - 0.5)
    [3.0]
    """
    if len(answers) == 0:
        return np.zeros(0)
    sizes = np.array([np.size(x) for x in answers])
    gaps = np.abs(np.concatenate([np.ravel(x) for x in answers]) - np.concatenate([np.ravel(e) for e in estimates]))
    l1 = np.add.reduceat(gaps, np.concatenate([[0], np.cumsum(sizes)[:-1]]))  # one pass over all cells
    return np.asarray(weights, dtype=np.float64) * (l1 - np.asarray(penalties, dtype=np.float64))


class LocalOracle:
    """Answers from rows held on this machine: exact counts, central mechanisms.

    Parameters
    ----------
    data : Dataset or CodeCounts
        The encoded private table, or where its exact marginals come from
        (:class:`~dpquilt.marginals.code_counts.PartitionCounts`: rows read part by
        part, e.g. on Dask workers). Each call counts all the cliques it needs at once
        (one pass over partitioned rows), and each clique is counted once.
    noise : NoiseSource
        Randomness for the mechanisms.
    counter : callable, default :func:`~dpquilt.marginals.counting.count`
        With a Dataset: ``counter(data, cols)`` returns the exact marginal.

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> d = Dataset({"a": np.array([0, 1, 1]), "b": np.array([2, 0, 2])}, {"a": 2, "b": 3})
    >>> acc = Accountant(1.0, 1e-9)
    >>> oracle = LocalOracle(d, SeededNoise(np.random.default_rng(0)))
    >>> [m.cols for m in oracle.measure([("a",), ("a", "b")], 40.0, acc)]
    [('a',), ('a', 'b')]
    """

    def __init__(self, data: Dataset | CodeCounts, noise: NoiseSource, counter: CountFn = count) -> None:
        self.codes: CodeCounts = DatasetCounts(data, counter) if isinstance(data, Dataset) else data
        self.noise = noise
        self._counts: dict[Clique, np.ndarray] = {}

    @property
    def domain(self) -> Mapping[str, int]:
        return self.codes.domain

    def answer(self, clique: Clique) -> np.ndarray:
        """The exact marginal (private; cached)."""
        return self.answers([clique])[0]

    def answers(self, cliques: Sequence[Clique]) -> list[np.ndarray]:
        """The exact marginals (private; cached), those not yet known counted together."""
        cliques = [tuple(c) for c in cliques]
        todo = [c for c in dict.fromkeys(cliques) if c not in self._counts]
        if todo:
            self._counts.update(zip(todo, self.codes.count_many(todo)))
        return [self._counts[c] for c in cliques]

    def measure(self, cliques: Sequence[Clique], sigma: float, accountant: Accountant) -> list[Measurement]:
        out = []
        for cl, exact in zip(cliques, self.answers(cliques)):
            noisy = gaussian_counts(exact, sigma, f"marginal {tuple(cl)}", accountant, self.noise)
            out.append(Measurement(tuple(cl), noisy.ravel().astype(np.float64), sigma))
        return out

    def select(
        self,
        cliques: Sequence[Clique],
        estimates: Sequence[np.ndarray],
        weights: Sequence[float],
        penalties: Sequence[float],
        epsilon: float,
        accountant: Accountant,
        what: str,
    ) -> int:
        scores = weighted_l1_scores(self.answers(cliques), estimates, weights, penalties)
        sensitivity = max(abs(w) for w in weights)
        return exponential_mechanism(scores, sensitivity, epsilon, what, accountant, self.noise)

    def select_tree(
        self, pairs: Sequence[tuple[str, str]], estimates: Sequence[np.ndarray], rho: float, accountant: Accountant
    ) -> list[tuple[str, str]]:
        """Kruskal with each edge chosen by the exponential mechanism (MST, Algorithm 1).

        ``r - 1`` choices among ``r`` columns, each with
        ``epsilon = sqrt(8 rho / (r - 1))``; scores ``|| x_ab - xhat_ab ||_1``, sensitivity 1.
        """
        names = sorted({c for pair in pairs for c in pair}, key=list(self.domain).index)
        if len(names) < 2:
            return []
        scores = dict(zip(map(tuple, pairs), weighted_l1_scores(
            self.answers(pairs), estimates, [1.0] * len(pairs), [0.0] * len(pairs))))
        epsilon = exponential_mechanism_epsilon_for_rho(rho / (len(names) - 1))

        def choose(candidates: list[tuple[str, str]], step: int) -> int:
            what = f"MST edge {step} of {len(names) - 1}"
            return exponential_mechanism(
                np.array([scores[e] for e in candidates]), 1.0, epsilon, what, accountant, self.noise
            )

        return grow_spanning_tree(names, list(scores), choose)

    def compressed(self, compression: Compression) -> LocalOracle:
        return LocalOracle(self.codes.compressed(compression), self.noise)


def even_sigma(n_measurements: int, rho: float) -> float:
    """Noise scale that spends ``rho`` evenly over ``n`` unit-sensitivity measurements."""
    return math.sqrt(n_measurements / (2.0 * rho))
