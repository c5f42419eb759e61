"""MST's and AIM's questions answered by secure sums of clients' noisy answers.

:class:`FederatedOracle` implements :class:`~dpquilt.marginals.oracle.MarginalOracle`:

- ``measure``: each client adds ``N_Z(0, sigma^2 / t)`` to its counts, where ``t`` is
  the number of honest shares guaranteed in every sum
  (:attr:`~dpquilt.federation.secure_sum.SecureSumSettings.honest_shares`); the cost is
  the distributed discrete Gaussian's (Kairouz, Liu and Steinke 2021, Theorem 2), never
  more than the central Gaussian cost that MST/AIM planned with ``sigma`` (``sigma`` is
  raised by a hair when it would be). The measurement's ``sigma`` is the noise actually
  in the sum: ``k`` contributing shares of ``sigma / sqrt(t)``.
- ``select`` and ``select_tree``: secure aggregation reveals sums, not an argmax, so the
  exponential mechanism cannot run centrally. Instead each client sends its local
  scores (:mod:`~dpquilt.federation.protocol`) with noise shares; the server receives the
  noisy summed score vector (weights scaled to ``SCORE_RESOLUTION w / max(w)``, which
  leaves the argmax unchanged), a Gaussian release of all scores at the zCDP cost the
  central exponential mechanism would have had (``epsilon^2 / 8``), and takes the
  argmax (post-processing). MST's tree is chosen from one such release of all pair
  scores at MST's whole selection budget, then grown by Kruskal on the noisy scores.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..marginals.measurement import Measurement
from ..marginals.spanning_tree import grow_spanning_tree
from ..privacy.accountant import Accountant
from ..privacy.distributed import party_sigma, sigma_for_distributed_rho
from ..privacy.mechanisms import spend_distributed_gaussian
from .protocol import Request, reply_length, score_sensitivity

__all__ = ["FederatedOracle", "SCORE_RESOLUTION"]

#: Scores are sent as ``round(R w_r / max(w) || x_r^k - n_k p_r ||_1)``: with ``R = 4`` the
#: rounding adds 1/4 (not 1) to each score's sensitivity ``2 w_r / max(w)``, and a client's
#: largest score, ``2 R n_k``, stays inside the default clipping range up to 8 M rows.
SCORE_RESOLUTION = 4.0

Clique = tuple[str, ...]
SecureSumFn = Callable[..., tuple[np.ndarray, int]]


class FederatedOracle:
    """Answers from secure sums over clients (see the module docstring).

    Parameters
    ----------
    secure_sum : callable
        ``secure_sum(request, length, on_retry) -> (summed vector without check entry,
        contributors)``: the vector ends with the summed seeded flags, e.g. a :class:`~dpquilt.federation.secure_sum.SecureSum`;
        ``on_retry()`` pays again for a retry that might repeat a release.
    domain : dict of str to int
        The public schema's domain.
    honest_shares : int
        ``t``: noise shares guaranteed in every released sum.
    mapping : dict, optional
        Merged codes (MST's compression), sent with every request.

    Examples
    --------
    >>> from dpquilt.schema.dataset import Dataset
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> from dpquilt.federation.protocol import client_reply
    >>> clients = [Dataset({"a": np.array([0, 1, 1])}, {"a": 2}), Dataset({"a": np.array([1, 1])}, {"a": 2})]
    >>> def secure_sum(request, length, on_retry=None):  # stands in for SecAgg+: only the sum leaves
    ...     replies = [client_reply(request, rows, SeededNoise(np.random.default_rng(i)), 2**20)
    ...                for i, rows in enumerate(clients)]
    ...     return np.sum(replies, axis=0)[:-1], len(clients)
    >>> oracle = FederatedOracle(secure_sum, {"a": 2}, honest_shares=2)
    >>> acc = Accountant(1.0, 1e-9, secure=False)
    >>> (m,) = oracle.measure([("a",)], 20.0, acc)
    >>> m.cols, m.noisy.size, acc.rho_spent > 0
    (('a',), 2, True)
    """

    def __init__(
        self,
        secure_sum: SecureSumFn,
        domain: Mapping[str, int],
        honest_shares: int,
        mapping: Mapping[str, np.ndarray] | None = None,
        counter: itertools.count | None = None,
    ) -> None:
        self.secure_sum = secure_sum
        self._domain = dict(domain)
        self.honest_shares = honest_shares
        self.mapping = dict(mapping or {})
        self._requests = counter if counter is not None else itertools.count(1)

    @property
    def domain(self) -> Mapping[str, int]:
        if not self.mapping:
            return self._domain
        return {c: int(np.max(self.mapping[c])) + 1 if c in self.mapping else k for c, k in self._domain.items()}

    def _send(
        self, kind: str, cliques: Sequence[Clique], sigma: float, spend: Callable[[], None], accountant: Accountant,
        **extra,
    ) -> tuple[np.ndarray, int]:
        """Spend, then ask; a retry that might repeat a release spends again.

        Returns the summed answers and the number of contributors. A sum in which any
        client's seeded flag is set marks ``accountant`` not secure: the release is then
        reported as "seeded: not for release" whatever the server's own noise.
        """
        label = f"{kind} #{next(self._requests)}"
        request = Request(
            kind, tuple(cliques), party_sigma(sigma, self.honest_shares), label, mapping=self.mapping, **extra
        )
        spend()
        total, contributors = self.secure_sum(request, reply_length(request, self._domain), on_retry=spend)
        if total[-1] != 0:
            accountant.mark_not_secure()
        return total[:-1], contributors

    def measure(self, cliques: Sequence[Clique], sigma: float, accountant: Accountant) -> list[Measurement]:
        """Noisy marginals from one secure sum; each client adds ``N_Z(0, sigma^2 / t)``."""
        domain = self.domain
        sizes = [math.prod(domain[c] for c in cl) for cl in cliques]
        t = self.honest_shares
        sigma = sigma_for_distributed_rho(1.0 / (2.0 * sigma**2), t, 1.0, 1.0, max(sizes))

        def spend() -> None:
            for cl, size in zip(cliques, sizes):
                spend_distributed_gaussian(f"marginal {tuple(cl)}", sigma, t, accountant, dimension=size)

        total, contributors = self._send("measure", cliques, sigma, spend, accountant)
        actual = party_sigma(sigma, t) * math.sqrt(contributors)
        parts = np.split(total.astype(np.float64), np.cumsum(sizes)[:-1])
        return [Measurement(tuple(cl), part, actual) for cl, part in zip(cliques, parts)]

    def _noisy_scores(
        self, cliques: Sequence[Clique], estimates: Sequence[np.ndarray], weights: Sequence[float], rho: float,
        accountant: Accountant, what: str,
    ) -> np.ndarray:
        if any(w <= 0 for w in weights):
            raise ValueError("federated selection needs positive weights")
        weights = SCORE_RESOLUTION * np.asarray(weights, dtype=np.float64) / max(weights)
        l2, l1 = score_sensitivity(weights)
        t = self.honest_shares
        sigma = sigma_for_distributed_rho(rho, t, l2, l1, len(cliques))

        def spend() -> None:
            spend_distributed_gaussian(
                f"{what} (noisy local scores of {len(cliques)} candidates)", sigma, t, accountant,
                l2_sensitivity=l2, l1_sensitivity=l1, dimension=len(cliques),
            )

        total, _ = self._send(
            "scores", cliques, sigma, spend, accountant, estimates=tuple(np.ravel(e) for e in estimates), weights=tuple(weights.tolist())
        )
        return total.astype(np.float64), weights

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
        """The argmax of the noisy summed local scores (at the exponential mechanism's zCDP cost)."""
        scores, sent = self._noisy_scores(cliques, estimates, weights, epsilon**2 / 8.0, accountant, what)
        return int(np.argmax(scores - sent * np.asarray(penalties)))

    def select_tree(
        self, pairs: Sequence[tuple[str, str]], estimates: Sequence[np.ndarray], rho: float, accountant: Accountant
    ) -> list[tuple[str, str]]:
        """MST's tree by Kruskal on one noisy release of all pair scores at budget ``rho``."""
        names = sorted({c for pair in pairs for c in pair}, key=list(self._domain).index)
        if len(names) < 2:
            return []
        scores, _ = self._noisy_scores(pairs, estimates, [1.0] * len(pairs), rho, accountant, "MST tree selection")
        by_pair = dict(zip(map(tuple, pairs), scores))
        return grow_spanning_tree(names, list(by_pair), lambda cands, _: int(np.argmax([by_pair[e] for e in cands])))

    def compressed(self, compression) -> FederatedOracle:
        """The same clients and counter, asking over MST's merged codes."""
        return FederatedOracle(self.secure_sum, self._domain, self.honest_shares, compression.mapping, self._requests)
