"""The reference MST, re-implemented over mbi 2.0's public API for benchmarking.

Follows the algorithm of ``mechanisms/mst.py`` in ryan112358/private-pgm (McKenna,
Miklau and Sheldon 2021) step by step: continuous Gaussian noise, compression of
codes with noisy count below 3 sigma, selection with a Private-PGM estimate from the
1-way measurements (2,500 mirror-descent iterations), estimation with 10,000
iterations, and mbi's own ``synthetic_data()`` (default ``method="round"``). Only
the randomness differs: a seeded ``numpy.random.RandomState`` instead of numpy's
global generator (mbi's sampler itself still uses the global one, which the script
seeds).

This is a benchmark baseline, not part of the package.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
from mbi import Dataset, Domain, LinearMeasurement, WeightedQuery, estimation
from scipy.cluster.hierarchy import DisjointSet
from scipy.special import logsumexp

from dpquilt.privacy.conversions import rho_from_epsilon_delta


def reference_mst(data: Dataset, epsilon: float, delta: float, prng: np.random.RandomState) -> Dataset:
    rho = rho_from_epsilon_delta(epsilon, delta)
    sigma = np.sqrt(3 / (2 * rho))
    cliques = [(col,) for col in data.domain]
    log1 = _measure(data, cliques, sigma, prng)
    data, log1, supports = _compress_domain(data, log1)
    cliques = _select(data, rho / 3.0, log1, prng)
    log2 = _measure(data, cliques, sigma, prng)
    est = estimation.MirrorDescent().estimate(data.domain, log1 + log2, iters=10000)
    np.random.seed(prng.randint(2**31))  # mbi's synthetic_data draws from the global generator
    synth = est.synthetic_data()
    return _reverse_data(synth, supports, prng)


def _measure(data, cliques, sigma, prng):
    weights = np.ones(len(cliques)) / np.sqrt(len(cliques))
    out = []
    for proj, wgt in zip(cliques, weights):
        x = data.project(proj).datavector()
        y = x + prng.normal(loc=0, scale=sigma / wgt, size=x.size)
        out.append(LinearMeasurement(y, proj, sigma / wgt))
    return out


def _compress_domain(data, measurements):
    supports, new = {}, []
    for m in measurements:
        col = m.clique[0]
        y = np.asarray(m.noisy_measurement)
        sup = y >= 3 * m.stddev
        supports[col] = sup
        if sup.all():
            new.append(m)
            continue
        k = y.size - sup.sum()
        y2 = np.append(y[sup], y[~sup].sum())
        w = np.ones(y2.size)
        w[-1] = 1.0 / np.sqrt(k)
        y2[-1] /= np.sqrt(k)
        new.append(LinearMeasurement(y2, m.clique, m.stddev, query=WeightedQuery(w)))
    cols, dom = {}, {}
    for col in data.domain.attributes:
        sup = supports[col]
        size = int(sup.sum())
        mapping = np.full(sup.size, size)
        mapping[sup] = np.arange(size)
        cols[col] = mapping[np.asarray(data.to_dict()[col])]
        dom[col] = size + int(size < sup.size)
    return Dataset(cols, Domain.fromdict(dom)), new, supports


def _exponential_mechanism(q, eps, sensitivity, prng):
    scores = 0.5 * eps / sensitivity * q
    probas = np.exp(scores - logsumexp(scores))
    return prng.choice(q.size, p=probas)


def _select(data, rho, log, prng):
    est = estimation.MirrorDescent().estimate(data.domain, log, iters=2500)
    weights = {}
    candidates = list(itertools.combinations(data.domain.attributes, 2))
    for a, b in candidates:
        xhat = est.project([a, b]).datavector()
        x = data.project([a, b]).datavector()
        weights[a, b] = np.linalg.norm(x - xhat, 1)
    tree = nx.Graph()
    tree.add_nodes_from(data.domain.attributes)
    ds = DisjointSet(data.domain.attributes)
    r = len(data.domain.attributes)
    epsilon = np.sqrt(8 * rho / (r - 1))
    for _ in range(r - 1):
        candidates = [e for e in candidates if not ds.connected(*e)]
        wgts = np.array([weights[e] for e in candidates])
        e = candidates[_exponential_mechanism(wgts, epsilon, 1.0, prng)]
        tree.add_edge(*e)
        ds.merge(*e)
    return list(tree.edges)


def _reverse_data(data, supports, prng):
    cols, dom = {}, {}
    for col in data.domain.attributes:
        sup = supports[col]
        codes = np.asarray(data.to_dict()[col]).astype(np.int64)
        idx, extra = np.flatnonzero(sup), np.flatnonzero(~sup)
        out = np.empty_like(codes)
        rare = codes == sup.sum()
        if extra.size:
            out[rare] = prng.choice(extra, int(rare.sum()))
        out[~rare] = idx[codes[~rare]]
        cols[col], dom[col] = out, int(sup.size)
    return Dataset(cols, Domain.fromdict(dom))
