"""ExtensionSizes gives tree_size(cliques + [r]) exactly, from one shared elimination."""

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.graphical.extension_sizes import ExtensionSizes, SizeReuse
from dpquilt.graphical.elimination import tree_size


@st.composite
def graphs(draw):
    n = draw(st.integers(2, 9))
    names = [f"c{i}" for i in range(n)]
    domain = {a: draw(st.integers(1, 6)) for a in names}
    cliques = draw(st.lists(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True), max_size=8))
    candidate = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    return domain, [tuple(c) for c in cliques], tuple(candidate)


@settings(max_examples=400, deadline=None)
@given(graphs())
def test_every_extension_size_equals_a_fresh_triangulation(case):
    domain, cliques, candidate = case
    assert ExtensionSizes(domain, cliques)(candidate) == tree_size(domain, cliques + [candidate])


def test_wide_random_models_agree_on_every_three_way_candidate():
    rng = np.random.default_rng(0)
    names = [f"col{i:02d}" for i in range(24)]
    domain = {a: int(rng.integers(2, 40)) for a in names}
    for n_cliques in (5, 20, 40):
        cliques = [tuple(rng.choice(names, size=int(rng.integers(2, 4)), replace=False)) for _ in range(n_cliques)]
        sizes = ExtensionSizes(domain, cliques)
        assert sizes.base == tree_size(domain, cliques)
        for r in itertools.islice(itertools.combinations(names, 3), 0, None, 7):
            assert sizes(r) == tree_size(domain, cliques + [r]), (n_cliques, r)


def test_sizes_reused_across_a_growing_graph_stay_exact():
    """AIM's sequence: one clique added a round, one ``reuse`` dict for every round's sizes."""
    rng = np.random.default_rng(1)
    names = [f"col{i:02d}" for i in range(16)]
    domain = {a: int(rng.integers(2, 9)) for a in names}
    cliques, reuse = [(a,) for a in names], SizeReuse()
    candidates = list(itertools.combinations(names, 2)) + list(itertools.islice(itertools.combinations(names, 3), 0, None, 5))
    for _ in range(12):
        sizes = ExtensionSizes(domain, cliques, reuse)
        for r in candidates:
            assert sizes(r) == tree_size(domain, cliques + [r]), (len(cliques), r)
        cliques.append(candidates[int(rng.integers(len(candidates)))])
    assert len(reuse.growth) < 12 * len(candidates)  # something was shared


def _both_paths(domain, cliques):
    compiled, python = ExtensionSizes(domain, cliques), ExtensionSizes(domain, cliques)
    python._compiled = None
    return compiled, python


def test_compiled_replays_equal_python_replays_up_to_64_columns():
    rng = np.random.default_rng(2)
    names = [f"col{i:02d}" for i in range(64)]
    domain = {a: int(rng.integers(2, 30)) for a in names}
    cliques = [tuple(rng.choice(names, size=int(rng.integers(2, 4)), replace=False)) for _ in range(70)]
    compiled, python = _both_paths(domain, cliques)
    assert compiled._compiled is not None
    for r in itertools.islice(itertools.combinations(names, 3), 0, None, 97):
        assert compiled(r) == python(r), r


def test_wider_tables_and_huge_cliques_are_sized_in_python_integers():
    names = [f"col{i:02d}" for i in range(70)]
    wide = ExtensionSizes({a: 3 for a in names}, [tuple(names[i : i + 3]) for i in range(0, 66, 2)])
    assert wide._compiled is None and wide(("col00", "col69")) == tree_size(
        {a: 3 for a in names}, [tuple(names[i : i + 3]) for i in range(0, 66, 2)] + [("col00", "col69")]
    )
    huge = {a: 10**6 for a in names[:10]}  # a 4-column clique has 10**24 cells: float64 would round
    cliques = [tuple(names[i : i + 3]) for i in range(8)]
    sizes = ExtensionSizes(huge, cliques)
    assert sizes._compiled is not None
    for r in [("col00", "col05", "col09"), ("col01", "col08")]:
        assert sizes(r) == tree_size(huge, cliques + [r])


@settings(max_examples=300, deadline=None)
@given(graphs(), st.lists(st.lists(st.sampled_from([f"c{i}" for i in range(9)]), min_size=1, max_size=4, unique=True), max_size=6))
def test_a_batch_of_sizes_equals_one_at_a_time(case, more):
    domain, cliques, candidate = case
    asked = [candidate] + [tuple(c) for c in more if set(c) <= set(domain)]
    sizes = ExtensionSizes(domain, cliques)
    assert sizes.many(asked) == [sizes(r) for r in asked] == [tree_size(domain, cliques + [r]) for r in asked]


def test_a_wide_batch_equals_fresh_triangulations_and_huge_counts_fall_back():
    rng = np.random.default_rng(3)
    names = [f"col{i:02d}" for i in range(30)]
    domain = {a: int(rng.integers(2, 12)) for a in names}
    cliques = [tuple(rng.choice(names, size=int(rng.integers(2, 4)), replace=False)) for _ in range(35)]
    asked = list(itertools.islice(itertools.combinations(names, 3), 0, None, 11)) + list(itertools.combinations(names[:8], 2))
    sizes = ExtensionSizes(domain, cliques)
    assert sizes._batch is not None
    assert sizes.many(asked) == [tree_size(domain, cliques + [r]) for r in asked]
    huge = {a: 2**20 for a in names[:6]}
    big = ExtensionSizes(huge, [tuple(names[:3]), tuple(names[2:5])])  # a clique of 2^60 cells: Python's integers
    asked_big = [tuple(names[:2]) + (names[5],), (names[0], names[4])]
    assert big.many(asked_big) == [tree_size(huge, [tuple(names[:3]), tuple(names[2:5]), r]) for r in asked_big]


def test_a_batch_replay_past_exact_float_counts_is_sized_in_python():
    names = [f"c{i}" for i in range(5)]
    domain = {a: 2**18 for a in names}
    cliques = [("c0", "c1"), ("c1", "c2")]  # 2^37 cells: the batch runs
    sizes = ExtensionSizes(domain, cliques)
    assert sizes._batch is not None
    asked = [("c0", "c2", "c3"), ("c3", "c4"), ("c0", "c1")]  # the first replays two 2^54-cell cliques
    assert sizes.many(asked) == [tree_size(domain, cliques + [r]) for r in asked]
    assert sizes.many(asked)[0] > 2**54
