"""The reference AIM, re-implemented over mbi 2.0's public API for benchmarking.

Follows ``mechanisms/aim.py`` of ryan112358/private-pgm (McKenna, Mullins, Sheldon and
Miklau 2022) step by step, with the two renames mbi 2.0 needs (``Domain.attrs`` ->
``.attributes``, ``potentials=`` -> ``warm_start=``): continuous Gaussian noise,
candidates from the workload's downward closure filtered by
``junction_tree.hypothetical_model_size``, selection by the exponential mechanism on
``wgt * (||x - xhat||_1 - sqrt(2/pi) sigma n)``, mirror descent with ``max_iters``
iterations per round warm-started from the previous model, annealing, and mbi's
``synthetic_data()``. Model marginals of candidates come from ``model.project``
(variable elimination, compiled per clique), as in the reference.

``clear_caches=True`` clears JAX's compilation caches after every round, which keeps
a long run from exhausting the kernel's memory-map limit.
This is a benchmark baseline, not part of the package.
"""

from __future__ import annotations

import itertools

import numpy as np
from mbi import Dataset, LinearMeasurement, estimation, junction_tree

from dpquilt.privacy.conversions import rho_from_epsilon_delta


def _powerset(items):
    s = list(items)
    return itertools.chain.from_iterable(itertools.combinations(s, r) for r in range(1, len(s) + 1))


def _downward_closure(cliques):
    ans = set()
    for c in cliques:
        ans.update(_powerset(c))
    return list(sorted(ans, key=len))


def _compile_workload(workload):
    weights = {cl: wt for cl, wt in workload}

    def score(cl):
        return sum(w * len(set(cl) & set(wcl)) for wcl, w in weights.items())

    return {cl: score(cl) for cl in _downward_closure(weights)}


def _filter_candidates(candidates, model, size_limit):
    free = _downward_closure(model.cliques)
    out = {}
    for cl in candidates:
        small = junction_tree.hypothetical_model_size(model.domain, list(model.cliques) + [cl]) <= size_limit
        if small or cl in free:
            out[cl] = candidates[cl]
    return out


def _exponential_mechanism(scores: dict, eps: float, sensitivity: float, prng) -> tuple:
    keys = list(scores)
    q = np.array([scores[k] for k in keys])
    q = q - q.max()
    p = np.exp(0.5 * eps / sensitivity * q)
    return keys[prng.choice(len(keys), p=p / p.sum())]


def reference_aim(
    data: Dataset,
    workload,
    epsilon: float,
    delta: float,
    prng: np.random.RandomState,
    rounds: int | None = None,
    max_model_size: float = 80,
    max_iters: int = 1000,
    clear_caches: bool = False,
    log=None,
):
    import time

    import jax

    rho = rho_from_epsilon_delta(epsilon, delta)
    rounds = rounds or 16 * len(data.domain)
    candidates = _compile_workload(workload)
    answers = {cl: data.project(cl).datavector() for cl in candidates}
    oneway = [cl for cl in candidates if len(cl) == 1]
    sigma = np.sqrt(rounds / (2 * 0.9 * rho))
    eps = np.sqrt(8 * 0.1 * rho / rounds)
    measurements = []
    rho_used = len(oneway) * 0.5 / sigma**2
    for cl in oneway:
        x = data.project(cl).datavector()
        measurements.append(LinearMeasurement(x + prng.normal(0, sigma, x.size), cl, stddev=sigma))
    model = estimation.MirrorDescent().estimate(data.domain, measurements, iters=max_iters)
    t, terminate = 0, False
    while not terminate:
        t += 1
        if rho - rho_used < 2 * (0.5 / sigma**2 + 1.0 / 8 * eps**2):
            remaining = rho - rho_used
            sigma = np.sqrt(1 / (2 * 0.9 * remaining))
            eps = np.sqrt(8 * 0.1 * remaining)
            terminate = True
        rho_used += 1.0 / 8 * eps**2 + 0.5 / sigma**2
        size_limit = max_model_size * rho_used / rho
        small = _filter_candidates(candidates, model, size_limit)
        errors, sens = {}, {}
        for cl, wgt in small.items():
            bias = np.sqrt(2 / np.pi) * sigma * model.domain.size(cl)
            xest = model.project(cl).datavector()
            errors[cl] = wgt * (np.linalg.norm(answers[cl] - xest, 1) - bias)
            sens[cl] = abs(wgt)
        cl = _exponential_mechanism(errors, eps, max(sens.values()), prng)
        n = data.domain.size(cl)
        x = data.project(cl).datavector()
        measurements.append(LinearMeasurement(x + prng.normal(0, sigma, n), cl, stddev=sigma))
        z = model.project(cl).datavector()
        model = estimation.MirrorDescent().estimate(data.domain, measurements, iters=max_iters, warm_start=model)
        w = model.project(cl).datavector()
        if np.linalg.norm(w - z, 1) <= sigma * np.sqrt(2 / np.pi) * n:
            sigma /= 2
            eps *= 2
        if clear_caches:
            jax.clear_caches()
        if log is not None:
            print(f"{time.strftime('%H:%M:%S')} round {t} {cl} candidates={len(small)}", file=log, flush=True)
    model = estimation.MirrorDescent().estimate(data.domain, measurements, iters=max_iters, warm_start=model)
    np.random.seed(prng.randint(2**31))  # mbi's synthetic_data draws from the global generator
    return model.synthetic_data(), t
