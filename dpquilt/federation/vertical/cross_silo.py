"""Cross-silo marginals under secret sharing: each silo's indicators in, only noisy totals out.

A marginal over columns held by different silos is a sum of products of indicators: for
two silos, ``c[i, j] = sum_r [a_r = i] [b_r = j]``, the ``(i, j)`` entry of ``X_A X_B^T``
where ``X_A`` (``d_A x n``) holds silo A's one-hot rows and ``X_B`` silo B's. Each silo
secret-shares its indicator matrix with MPyC (Shamir's scheme over a prime field,
Schoenmakers' MPyC; every party holds one share of each entry, and any ``t`` shares,
``t < m / 2``, are uniformly random), the parties multiply the shares
(``mpc.np_matmul``, one resharing), every party adds a shared discrete Gaussian noise
vector of its own, and only the noisy total is opened, to the coordinator alone. With
three or more silos in one clique the first silos' shares are multiplied elementwise
before the final product.

What each party learns (semi-honest parties, no two colluding; the coordinator follows
the protocol): a silo learns nothing beyond its own rows (it receives only shares); the
coordinator learns the noisy marginal ``c + sum_j z_j``, where ``z_j ~ N_Z(0, sigma_p^2)``
is party ``j``'s share of the noise. Any one party knows its own share only, so the
noise it cannot remove has variance ``(m - 1) sigma_p^2``: with ``t = m - 1`` honest
shares, the distributed discrete Gaussian's cost (Kairouz, Liu and Steinke 2021,
Theorem 2) applies, as in the horizontal federation.

The field is the Mersenne prime ``2^31 - 1``: counts and noise stay far inside
``(-2^30, 2^30)``, so an opened value above ``p / 2`` is negative noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ...schema.dataset import Dataset

__all__ = ["FIELD_PRIME", "MAX_ROWS", "cell_order", "from_field", "one_hot", "silo_parts"]

#: the prime of the secret-sharing field (a Mersenne prime)
FIELD_PRIME = 2**31 - 1
#: rows a cross-silo count may have: counts plus noise must stay below ``p / 2``
MAX_ROWS = 2**29

Clique = tuple[str, ...]


def silo_parts(clique: Clique, owners: Mapping[str, int]) -> list[tuple[int, Clique]]:
    """The clique's columns grouped by the party that holds them, in party order.

    Examples
    --------
    >>> silo_parts(("c", "a", "b"), {"a": 1, "b": 2, "c": 1})
    [(1, ('c', 'a')), (2, ('b',))]
    """
    parties = sorted({owners[c] for c in clique})
    return [(p, tuple(c for c in clique if owners[c] == p)) for p in parties]


def one_hot(data: Dataset, columns: Clique) -> np.ndarray:
    """The ``(prod of domains) x n`` indicator matrix of ``columns``' joint codes (C order).

    Private: a silo builds it from its own rows and only ever secret-shares it.

    Examples
    --------
    >>> rows = Dataset({"a": np.array([0, 1, 1]), "b": np.array([1, 0, 1])}, {"a": 2, "b": 2})
    >>> one_hot(rows, ("a", "b")).tolist()
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    """
    shape = tuple(int(data.domain[c]) for c in columns)
    joint = np.ravel_multi_index(tuple(np.asarray(data.columns[c], dtype=np.int64) for c in columns), shape)
    out = np.zeros((math.prod(shape), data.n_rows), dtype=np.int64)
    out[joint, np.arange(data.n_rows)] = 1
    return out


def cell_order(clique: Clique, owners: Mapping[str, int], domain: Mapping[str, int]) -> np.ndarray:
    """For each cell of the clique's marginal (C order over ``clique``), its position in the
    product's order (the silos' columns one after another, as :func:`silo_parts` groups them).

    Examples
    --------
    >>> cell_order(("b", "a"), {"a": 1, "b": 2}, {"a": 2, "b": 3}).tolist()  # product is (a, b)
    [0, 3, 1, 4, 2, 5]
    """
    grouped = [c for _, cols in silo_parts(clique, owners) for c in cols]
    positions = np.arange(math.prod(domain[c] for c in grouped)).reshape([domain[c] for c in grouped])
    return positions.transpose([grouped.index(c) for c in clique]).ravel()


def from_field(values: Sequence[int] | np.ndarray) -> np.ndarray:
    """Opened field elements as signed integers (above ``p / 2`` is negative).

    Examples
    --------
    >>> from_field([5, FIELD_PRIME - 2]).tolist()
    [5, -2]
    """
    v = np.asarray([int(x) for x in np.ravel(values)], dtype=np.int64)
    return np.where(v > FIELD_PRIME // 2, v - FIELD_PRIME, v)
