"""ExtensionSizes gives tree_size(cliques + [r]) exactly, from one shared elimination."""

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.graphical.extension_sizes import ExtensionSizes, SizeReuse
from dpquilt.graphical.junction import tree_size


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
