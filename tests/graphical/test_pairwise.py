"""Pairwise products planned as matrix products: the tables numpy's einsum gives, in every layout."""

import string

import numpy as np
import pytest

from dpquilt.graphical.pairwise import plan_pairwise


def _einsum(operands, keep_order, x, y):
    letters = {a: string.ascii_letters[k] for k, a in enumerate(dict.fromkeys(operands[0] + operands[1]))}
    expression = ",".join("".join(letters[a] for a in attrs) for attrs in operands) + "->" + "".join(letters[a] for a in keep_order)
    return np.einsum(expression, x, y)


def test_every_layout_gives_einsums_table():
    """Random pairs of tables over shared and own columns, random kept columns in a random
    order: straight or transposed operands, copied or read in place, the table is einsum's."""
    rng = np.random.default_rng(0)
    names = list("abcdefg")
    seen = set()
    for _ in range(400):
        domain = {a: int(k) for a, k in zip(names, rng.integers(1, 4, len(names)))}
        first = tuple(rng.permutation(names)[: rng.integers(1, 6)])
        second = tuple(rng.permutation(names)[: rng.integers(1, 6)])
        union = list(dict.fromkeys(first + second))
        keep = tuple(rng.permutation([a for a in union if rng.random() < 0.5]))
        x = rng.random([domain[a] for a in first])
        y = rng.random([domain[a] for a in second])
        plan = plan_pairwise((first, second), domain, keep)
        np.testing.assert_allclose(plan(x, y), _einsum((first, second), keep, x, y), rtol=1e-12, atol=1e-12)
        seen.update(
            {
                ("swap", plan.swap),
                ("a copied", plan.a_arrange is not None and plan.a_arrange.perm is not None),
                ("a transposed", plan.product.a_flip),
                ("b transposed", plan.product.b_flip),
                ("outer product", plan.product.multiply),
            }
        )
    assert {("swap", True), ("swap", False), ("a copied", True), ("a transposed", True), ("b transposed", True), ("outer product", True)} <= seen


def test_the_larger_table_sets_the_layout_whichever_comes_first():
    """Two plans that take the same product share its operands' arranged copies, named by
    table and layout: the layout must not depend on which operand came first."""
    domain = {"a": 2, "b": 3, "c": 4, "d": 2}
    one = plan_pairwise((("a", "b", "c"), ("c", "d")), domain, ("a", "d"))
    other = plan_pairwise((("c", "d"), ("a", "b", "c")), domain, ("a", "d"))
    assert (one.a_cols, one.b_cols) == (other.a_cols, other.b_cols) and one.swap != other.swap


def test_a_copy_keeps_the_tables_trailing_columns_in_place():
    """A table that must be copied into matrices is laid out so that its own last columns stay
    last where they can (the copy then moves blocks)."""
    domain = dict.fromkeys("abcdefghjk", 3)
    node = tuple("abcdefghjk")
    message = tuple("abcdefghi")
    domain["i"] = 3
    plan = plan_pairwise((node, message), domain, ("b", "e", "j", "k", "i"))
    assert plan.a_cols[-2:] == ("j", "k") and plan.product.a_flip


def test_columns_the_product_cannot_keep_are_refused():
    with pytest.raises(ValueError, match="not the columns the product keeps"):
        plan_pairwise((("a", "b"), ("b", "c")), {"a": 2, "b": 2, "c": 2}, ("a", "d"))
