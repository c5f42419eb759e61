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

``projection`` chooses how candidates' model marginals are computed, for measuring the
reference's *error* where its time is out of reach: ``"compiled"`` (the reference:
``model.project``, one compiled variable elimination per candidate); ``"dense"`` (the
model's whole joint once per round, by one variable elimination, summed in NumPy: for
tables with a small full domain, such as nltcs's 2^16 cells); ``"junction"``
(dpquilt's junction tree built on the reference model's potentials, in NumPy). The
mechanism, its random draws, the estimator and the sampler are unchanged, so the released
data follows the same distribution: the marginals agree to float32 rounding, which each
round's log checks on the selected candidate against ``model.project`` (``check=``, the
largest absolute difference in counts). Only the time is not the reference's.

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


def _compiled_projector(model, candidates):
    """The reference's ``model.project(cl).datavector()``."""
    return lambda cl: np.asarray(model.project(cl).datavector())


def _junction_projector(model, candidates):
    """All candidates' marginals from dpquilt's junction tree on the model's potentials."""
    from dpquilt.graphical.model import GraphicalModel
    from dpquilt.marginals.aim import model_marginals

    domain = dict(zip(model.domain.attributes, model.domain.shape))
    potentials = {tuple(c): np.asarray(model.potentials[c].values, dtype=np.float64) for c in model.potentials.cliques}
    answers = model_marginals(candidates, GraphicalModel(domain, float(model.total), potentials))
    return lambda cl: answers[cl].ravel()


def _dense_projector(model, candidates):
    """Answer ``model.project(cl).datavector()`` from one dense joint (see ``projection``)."""
    from mbi import marginal_oracles

    attrs = tuple(model.domain.attributes)
    joint = np.asarray(marginal_oracles.variable_elimination(model.potentials, attrs, float(model.total))
                       .transpose(attrs).datavector(flatten=False), dtype=np.float64)

    def project(cl):
        if model.marginals.supports(tuple(cl)):
            return np.asarray(model.project(cl).datavector())
        axes = [attrs.index(a) for a in cl]
        others = tuple(i for i in range(len(attrs)) if i not in axes)
        kept = sorted(axes)
        return joint.sum(axis=others).transpose([kept.index(i) for i in axes]).ravel()

    return project


_PROJECTORS = {"compiled": _compiled_projector, "dense": _dense_projector, "junction": _junction_projector}


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
    projection: str = "compiled",
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
        project = _PROJECTORS[projection](model, list(small))
        for cl, wgt in small.items():
            bias = np.sqrt(2 / np.pi) * sigma * model.domain.size(cl)
            xest = project(cl)
            errors[cl] = wgt * (np.linalg.norm(answers[cl] - xest, 1) - bias)
            sens[cl] = abs(wgt)
        cl = _exponential_mechanism(errors, eps, max(sens.values()), prng)
        n = data.domain.size(cl)
        x = data.project(cl).datavector()
        measurements.append(LinearMeasurement(x + prng.normal(0, sigma, n), cl, stddev=sigma))
        z = model.project(cl).datavector()
        check = float(np.abs(np.asarray(z) - project(cl)).max())
        model = estimation.MirrorDescent().estimate(data.domain, measurements, iters=max_iters, warm_start=model)
        w = model.project(cl).datavector()
        if np.linalg.norm(w - z, 1) <= sigma * np.sqrt(2 / np.pi) * n:
            sigma /= 2
            eps *= 2
        if clear_caches:
            jax.clear_caches()
        if log is not None:
            print(f"{time.strftime('%H:%M:%S')} round {t} {cl} candidates={len(small)} check={check:.3g}", file=log, flush=True)
    model = estimation.MirrorDescent().estimate(data.domain, measurements, iters=max_iters, warm_start=model)
    np.random.seed(prng.randint(2**31))  # mbi's synthetic_data draws from the global generator
    return model.synthetic_data(), t
