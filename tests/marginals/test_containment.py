"""Which cliques of a list are summed from another: the bit-mask index against the rule stated plainly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.marginals.containment import _SUBSETS_UP_TO, containing_sources, inside_any

COLUMNS = [f"c{k}" for k in range(16)]


def sources_by_rule(cliques: list[tuple[str, ...]]) -> list[int]:
    """Largest first (then in list order), each clique's source is the first maximal clique
    found that strictly contains it; a clique with none is maximal."""
    out, maximal = [-1] * len(cliques), []
    for i in sorted(range(len(cliques)), key=lambda j: -len(cliques[j])):
        holders = [j for j in maximal if set(cliques[i]) < set(cliques[j])]
        if holders:
            out[i] = holders[0]
        else:
            maximal.append(i)
    return out


cliques_strategy = st.lists(
    st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=_SUBSETS_UP_TO + 3, unique=True).map(tuple),
    min_size=0,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(cliques_strategy)
def test_sources_follow_the_rule(cliques):
    assert containing_sources(cliques) == sources_by_rule(cliques)


def test_a_downward_closure_points_at_its_triples():
    triples = [("a", "b", "c"), ("b", "c", "d")]
    closure = [("a",), ("b",), ("c",), ("d",), ("a", "b"), ("b", "c"), ("c", "d"), *triples, ("a", "c")]
    sources = containing_sources(closure)
    assert [closure[s] if s >= 0 else None for s in sources] == [
        triples[0], triples[0], triples[0], triples[1], triples[0], triples[0], triples[1], None, None, triples[0]
    ]


def test_the_same_columns_in_another_order_are_not_contained():
    assert containing_sources([("a", "b"), ("b", "a")]) == [-1, -1]


@settings(max_examples=200, deadline=None)
@given(cliques_strategy, st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=4, unique=True).map(tuple))
def test_inside_any_is_a_subset_test(cliques, r):
    assert inside_any(cliques)(r) == any(set(r) <= set(c) for c in cliques)
