"""The greedy variable elimination of a projection plan, compiled.

AIM plans the marginal of each of its ~10^4 candidates on every round's junction tree
(:mod:`dpquilt.graphical.projection`), and most of a plan's making is choosing the order
of its products: variable elimination in greedy min-size order (Koller and Friedman 2009,
Section 9.4.3.1), some 20-40 hidden columns over 5-15 factors, which took about 220
microseconds a plan in Python (a 47-column table's planning, 55% of it).
:func:`greedy_products` runs that choice as a Numba kernel on 64-bit column masks, with
the same rule and ties as the Python loop it stands for
(:func:`dpquilt.graphical.projection.greedy_order`, tested equal); the plan's steps are
then made from its answer. Cell counts are products of column sizes in float64, exact
below :data:`~dpquilt.graphical.compiled_replay.EXACT_CELLS`; past it the kernel gives up
and the Python loop, on Python's integers, decides. :func:`shared_products` is the same
choice taking first the products other plans already made, looked up by signature
(:func:`dpquilt.graphical.projection.shared_greedy_order`); plain greedy elimination is
that rule with nothing made.
"""

from __future__ import annotations

import numba
import numpy as np

from .compiled_replay import EXACT_CELLS, _cells

__all__ = ["greedy_products", "product_signature", "shared_products"]


@numba.njit(cache=True)
def greedy_products(masks, keep, tables, rank):  # pragma: no cover - compiled; tested against greedy_order
    """The products of a greedy elimination of the factors over ``masks`` (uint64 column
    masks) onto the columns ``keep``: while a column outside ``keep`` is left and more
    than two factors are, multiply the factors holding the hidden column whose product
    has the fewest cells (ties: the lower ``rank``, by bit position) and keep of it what
    ``keep`` or the other factors need.

    ``tables`` are :func:`~dpquilt.graphical.compiled_replay.byte_tables` of the column
    sizes. Factors are numbered as given, each product next (``len(masks)``, ...).

    Returns
    -------
    steps : int
        Products made; ``-1`` when a product's cells reach ``EXACT_CELLS`` (decide in Python).
    pointers, involved : int64 arrays
        Product ``k`` multiplies the factors ``involved[pointers[k]:pointers[k + 1]]``, in
        the order of the work list.
    outs : uint64 array
        Product ``k``'s columns.
    final : int64 array
        The factors left for the last contraction, in the work list's order.
    """
    made = numba.typed.Dict.empty(key_type=numba.types.uint64, value_type=numba.types.uint8)
    return shared_products(masks, np.zeros(masks.shape[0], dtype=np.uint64), keep, tables, rank, made)


#: multipliers of a product's signature (:func:`product_signature`): odd 64-bit constants
SIGNATURE_INPUTS = np.uint64(0x9E3779B97F4A7C15)
SIGNATURE_COLUMNS = np.uint64(0xC2B2AE3D27D4EB4F)


def product_signature(inputs: int, columns: int) -> int:
    """A product's signature from the xor of its factors' signatures and its columns' mask,
    on Python's integers, as :func:`shared_products` computes it (mod 2^64).

    Examples
    --------
    >>> product_signature(1, 0) == int(SIGNATURE_INPUTS)
    True
    """
    return ((inputs * int(SIGNATURE_INPUTS)) ^ (columns * int(SIGNATURE_COLUMNS))) & 0xFFFFFFFFFFFFFFFF


@numba.njit(cache=True)
def shared_products(masks, signatures, keep, tables, rank, made):  # pragma: no cover - compiled; tested against shared_greedy_order
    """:func:`greedy_products`, except that a product whose signature is in ``made`` (a
    typed dict of uint64 signatures) costs nothing, so it is chosen first (then by cells,
    then rank): :func:`dpquilt.graphical.projection.shared_greedy_order`, compiled.

    ``signatures`` (uint64) sign the factors; a product is signed by
    :func:`product_signature` of the xor of its factors' signatures and its columns.
    Returns as :func:`greedy_products`, which is this rule with nothing made.
    """
    one = np.uint64(1)
    zero = np.uint64(0)
    m = masks.shape[0]
    capacity = m + 64
    work = np.empty(capacity, dtype=np.int64)
    work_mask = np.empty(capacity, dtype=np.uint64)
    work_sign = np.empty(capacity, dtype=np.uint64)
    count = m
    hidden = zero
    for i in range(m):
        work[i] = i
        work_mask[i] = masks[i]
        work_sign[i] = signatures[i]
        hidden |= masks[i]
    hidden &= ~keep
    pointers = np.zeros(65, dtype=np.int64)
    involved = np.empty(capacity * 64, dtype=np.int64)
    outs = np.empty(64, dtype=np.uint64)
    steps = 0
    next_work = np.empty(capacity, dtype=np.int64)
    next_mask = np.empty(capacity, dtype=np.uint64)
    next_sign = np.empty(capacity, dtype=np.uint64)
    best_sign = zero
    while hidden != zero and count > 2:
        best = -1
        best_free = False
        best_cells = 0.0
        for b in range(64):
            bit = one << np.uint64(b)
            if hidden & bit == zero:
                continue
            union = zero
            outside = keep
            sign = zero
            for w in range(count):
                if work_mask[w] & bit != zero:
                    union |= work_mask[w]
                    sign ^= work_sign[w]
                else:
                    outside |= work_mask[w]
            cells = _cells(union, tables)
            if cells >= EXACT_CELLS:
                return -1, pointers, involved, outs, work[:0]
            sign = (sign * SIGNATURE_INPUTS) ^ ((union & outside) * SIGNATURE_COLUMNS)
            free = sign in made
            better = best < 0
            if not better:
                if free != best_free:
                    better = free
                elif cells != best_cells:
                    better = cells < best_cells
                else:
                    better = rank[b] < rank[best]
            if better:
                best = b
                best_cells = cells
                best_free = free
                best_sign = sign
        bit = one << np.uint64(best)
        outside = keep
        union = zero
        start = pointers[steps]
        n_involved = 0
        n_rest = 0
        for w in range(count):
            if work_mask[w] & bit != zero:
                involved[start + n_involved] = work[w]
                n_involved += 1
                union |= work_mask[w]
            else:
                next_work[n_rest] = work[w]
                next_mask[n_rest] = work_mask[w]
                next_sign[n_rest] = work_sign[w]
                n_rest += 1
                outside |= work_mask[w]
        out = union & outside
        outs[steps] = out
        pointers[steps + 1] = start + n_involved
        next_work[n_rest] = m + steps
        next_mask[n_rest] = out
        next_sign[n_rest] = best_sign
        count = n_rest + 1
        for w in range(count):
            work[w] = next_work[w]
            work_mask[w] = next_mask[w]
            work_sign[w] = next_sign[w]
        hidden &= ~(union & ~out)
        steps += 1
    return steps, pointers, involved, outs, work[:count].copy()
