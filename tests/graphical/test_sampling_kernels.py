"""The sampler's compiled and radix-sorted steps give the draws of the plain numpy rules."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dpquilt.graphical.sampling import sample_conditional, stratified_uniforms


def searchsorted_children(parent_index, joint, u):
    """The inverse-CDF draw as written before it was compiled: one searchsorted over all configurations."""
    joint = np.clip(np.asarray(joint, dtype=np.float64), 0.0, None)
    n_configs, d = joint.shape
    mass = joint.sum(axis=1, keepdims=True)
    cond = np.where(mass > 0, joint / np.where(mass > 0, mass, 1.0), 1.0 / d)
    cdf = np.cumsum(cond, axis=1)
    cdf /= cdf[:, -1:]
    flat = (cdf + np.arange(n_configs)[:, None]).ravel()
    return np.clip(np.searchsorted(flat, parent_index + u, side="right") - parent_index * d, 0, d - 1)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**31), configs=st.integers(1, 3000), d=st.integers(1, 40))
def test_compiled_draws_equal_one_searchsorted(seed, configs, d):
    rng = np.random.default_rng(seed)
    joint = rng.exponential(1.0, (configs, d)) * (rng.random((configs, d)) < 0.6)  # zero cells, zero rows
    joint[rng.random(configs) < 0.1] = 0.0
    n = 5000
    parent = rng.integers(0, configs, n)
    u = np.concatenate([rng.random(n - 4), [0.0, 1.0 - 2**-53, 1.0 - 1e-12, 0.5]])
    np.testing.assert_array_equal(sample_conditional(parent, joint, u), searchsorted_children(parent, joint, u))


def test_stratified_uniforms_sort_groups_by_radix_with_the_same_draws():
    """Group keys of up to 2^16 values are sorted as uint16 (a radix sort): the same order as on int64."""
    rng = np.random.default_rng(0)
    for groups in (1, 7, 65_536, 70_000):
        group = rng.integers(0, groups, 20_000)
        got = stratified_uniforms(group, np.random.default_rng(5))
        r = np.random.default_rng(5)
        shuffled = r.permutation(group.size)
        order = shuffled[np.argsort(group[shuffled], kind="stable")]
        sizes = np.bincount(group)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        rank = np.empty(group.size, dtype=np.int64)
        rank[order] = np.arange(group.size) - starts[group[order]]
        np.testing.assert_array_equal(got, (rank + r.random(group.size)) / sizes[group])
