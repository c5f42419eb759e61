"""AIM: an adaptive and iterative mechanism for DP synthetic data.

McKenna, Mullins, Sheldon and Miklau, VLDB 2022 (arXiv:2201.12677), Algorithm 2.
With zCDP budget ``rho`` and ``T`` rounds (default ``16 d``):

1. measure every 1-way marginal with ``sigma = sqrt(T / (2 * 0.9 * rho))``;
2. each round, select a candidate ``r`` from the workload's downward closure whose
   junction tree stays under ``max_model_size * rho_used / rho`` megabytes, by the
   exponential mechanism with ``epsilon = sqrt(8 * 0.1 * rho / T)`` on the score
   ``c_r (|| x_r - xhat_r ||_1 - sqrt(2/pi) sigma n_r)`` (sensitivity ``max c_r``);
   measure it with ``sigma``; re-estimate the model (warm start);
3. anneal: when the model's answer on ``r`` moved by less than the noise's expected
   L1 norm, halve ``sigma`` and double ``epsilon`` (Section 4.3). A round fit that
   stopped early moves less than a converged one would, so before annealing the fit is
   continued in steps (``refit_model``, warm) until the answer moves by more than the
   noise (no annealing), settles, or ``max_refits`` steps are done;
4. when less than two rounds' cost is left, the last round spends exactly what is
   left (0.9 on measurement, 0.1 on selection).

The mechanism asks only a :class:`~dpquilt.marginals.oracle.MarginalOracle` (noisy
marginals and private selections), the accountant, and a model fitter, so the same
code runs on local rows and on federated secure sums.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from .tables import marginalise
from ..privacy.accountant import Accountant
from .containment import containing_sources, inside_any
from .measurement import Measurement, merge_priors
from .oracle import MarginalOracle, weighted_l1_scores
from .workload import Workload

__all__ = ["AIMResult", "aim", "candidate_scores", "model_marginals"]

Clique = tuple[str, ...]
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
#: a refit step that changes the answer's move by less than this share of the annealing
#: threshold has settled: further steps would not change the decision
REFIT_SETTLED = 0.01
#: most refit steps a round (each a fixed number of iterations)
REFIT_STEPS = 10
#: AIM's progress line: budget spent, rounds, elapsed time and tqdm's estimate of the time left
#: (from the rate at which budget is spent; annealing makes later rounds dearer, so it is an upper bound)
PROGRESS_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.3g}/{total:.3g} rho, {postfix} [{elapsed}<{remaining}]"


class Model(Protocol):
    """What AIM needs of a model: its marginals."""

    def project(self, cols: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class ManyProjections(Protocol):
    """A model that answers many marginals at once faster than one at a time
    (:meth:`~dpquilt.graphical.model.GraphicalModel.project_many`)."""

    def project_many(self, cliques: Sequence[Clique], single_precision: bool = False) -> list[np.ndarray]: ...


ModelFitter = Callable[[Sequence[Measurement], "Model | None"], Model]
#: ``watch(iterations_done, answer)``: whether a refit may end, from ``answer``, the refit's
#: answer on the clique just measured (flat, as its measurement's noisy vector)
RefitWatch = Callable[[int, np.ndarray], bool]
#: ``refit(measurements, model, watch)``: ``model``'s fit continued by a fixed number of iterations
#: without early stopping, warm, unless ``watch(iterations_done, answer_of)``, asked every few
#: iterations, ends it (``answer_of(i)``: measurement ``i``'s answer at the iterate; the
#: :func:`~dpquilt.graphical.model.estimate` ``watch``)
ModelRefitter = Callable[[Sequence[Measurement], Model, Callable[[int, Callable[[int], np.ndarray]], bool]], Model]
ModelSize = Callable[[Sequence[Clique]], float]
#: ``model_sizes(cliques)(r)``: the size of the model of ``cliques + [r]``, for many ``r``
ModelSizes = Callable[[Sequence[Clique]], Callable[[Clique], float]]  # optionally with ``many(cliques)``: all at once


@dataclass(frozen=True)
class AIMResult:
    """What AIM released, and the last model it fitted.

    Examples
    --------
    See :func:`aim`, whose example returns one.
    """

    measurements: tuple[Measurement, ...]
    model: Model
    rounds: int


def candidate_scores(
    candidates: Mapping[Clique, float],
    answers: Mapping[Clique, np.ndarray],
    model: Model,
    sigma: float,
) -> tuple[list[Clique], np.ndarray, float]:
    """AIM's quality scores and their sensitivity ``max_r c_r``.

    ``q_r = c_r (|| x_r - xhat_r ||_1 - sqrt(2/pi) sigma n_r)``: one row moves
    ``x_r`` by one in one cell, so ``q_r`` moves by at most ``c_r``; the bias term
    does not depend on the data.

    Examples
    --------
    >>> from dpquilt.graphical.model import GraphicalModel
    >>> uniform = GraphicalModel({"a": 2}, total=10.0, potentials={("a",): np.zeros(2)})
    >>> names, scores, sensitivity = candidate_scores({("a",): 2.0}, {("a",): np.array([8.0, 2.0])}, uniform, sigma=1.0)
    >>> names, scores.round(3).tolist(), sensitivity  # 2 (|8 - 5| + |2 - 5| - sqrt(2/pi) 2)
    ([('a',)], [8.808], 2.0)
    """
    names = list(candidates)
    estimates = model_marginals(names, model)
    scores = weighted_l1_scores(
        [answers[r] for r in names],
        [estimates[r] for r in names],
        [candidates[r] for r in names],
        [SQRT_2_OVER_PI * sigma * answers[r].size for r in names],
    )
    sensitivity = max(abs(candidates[r]) for r in names)
    return names, scores, sensitivity


def model_marginals(cliques: Sequence[Clique], model: Model) -> dict[Clique, np.ndarray]:
    """The model's marginal on every clique: one projection for each clique that no other
    contains (all at once where the model offers it, :class:`ManyProjections`, in single
    precision: within 1e-6 of the total, far below the noise of the counts they are
    compared with), the others summed from a containing one (AIM's candidates are a
    downward closure, so most are).

    Examples
    --------
    >>> from dpquilt.graphical.model import GraphicalModel
    >>> model = GraphicalModel({"a": 2, "b": 2}, total=4.0, potentials={("a", "b"): np.log(np.array([[1.0, 1.0], [1.0, 5.0]]))})
    >>> {r: m.round(6).tolist() for r, m in model_marginals([("a", "b"), ("b",)], model).items()}
    {('a', 'b'): [[0.5, 0.5], [0.5, 2.5]], ('b',): [1.0, 3.0]}
    """
    sources = containing_sources(cliques)
    asked = [cliques[i] for i, src in enumerate(sources) if src < 0]
    if isinstance(model, ManyProjections):  # to 1e-6 of the total: far below the scores' noise of several rows
        projected = model.project_many(asked, single_precision=True)
    else:
        projected = [model.project(r) for r in asked]
    out: dict[Clique, np.ndarray] = dict(zip(asked, projected))
    for r, src in zip(cliques, sources):
        if src >= 0:
            out[r] = marginalise(out[cliques[src]], cliques[src], r)
    return out


def aim(
    oracle: MarginalOracle,
    rho: float,
    accountant: Accountant,
    workload: Workload,
    fit_model: ModelFitter,
    model_size: ModelSize,
    rounds: int | None = None,
    max_model_size: float = 80.0,
    progress: bool = False,
    refit_model: ModelRefitter | None = None,
    max_refits: int = REFIT_STEPS,
    prior: Sequence[Measurement] = (),
    model_sizes: ModelSizes | None = None,
) -> AIMResult:
    """Run AIM with zCDP budget ``rho``, asking only ``oracle`` (see the module docstring).

    ``fit_model(measurements, warm)`` re-estimates each round; ``refit_model(measurements,
    model, watch)`` (optional) continues a fit by a fixed number of iterations without early
    stopping, unless ``watch`` ends it sooner. It is called only when the annealing test
    would fire, at most ``max_refits`` times a round, so that the decision rests on a
    fitted model (post-processing: it spends nothing); see :func:`_annealing_test`. ``prior`` holds
    earlier releases of 1-way cells (the schema's category and point-mass counts), merged
    into the 1-way measurements (:func:`~dpquilt.marginals.measurement.merge_priors`).
    ``model_sizes`` (optional) sizes every candidate's model from one shared
    computation (:class:`~dpquilt.graphical.extension_sizes.ExtensionSizes`); it must
    agree with ``model_size``, which is called per candidate when it is absent. Where the
    sizer it returns also has ``many(cliques)`` (:func:`~dpquilt.graphical.sizes.extension_sizes_mb`),
    a round's candidates are sized in one call.

    Examples
    --------
    >>> from dpquilt.graphical.model import EstimationOptions, estimate
    >>> from dpquilt.graphical.sizes import model_size_mb
    >>> from dpquilt.schema.dataset import Dataset
    >>> from dpquilt.marginals.oracle import LocalOracle
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 2, 2000)
    >>> domain = {"a": 2, "b": 2, "c": 3}
    >>> data = Dataset({"a": a, "b": a ^ (rng.random(2000) < 0.1), "c": rng.integers(0, 3, 2000)}, domain)
    >>> acc = Accountant(1.0, 1e-9, secure=False)
    >>> result = aim(LocalOracle(data, SeededNoise(rng)), acc.rho_budget, acc, Workload.all_kway(list(domain), 2),
    ...              fit_model=lambda ms, warm: estimate(domain, ms, EstimationOptions(iters=200), warm_start=warm),
    ...              model_size=lambda cliques: model_size_mb(domain, cliques), rounds=6)
    >>> round(acc.rho_spent / acc.rho_budget, 9), result.rounds <= 6
    (1.0, True)
    """
    names = list(oracle.domain)
    workload.check_columns(names)
    d = len(names)
    T = rounds if rounds is not None else 16 * d
    if T < d:
        raise ValueError(f"rounds={T} is fewer than the {d} columns; AIM needs rounds >= columns (default 16 x columns)")
    candidates = {r: w for r, w in workload.candidates().items() if w > 0}
    rho_start = accountant.rho_spent

    def used() -> float:
        return accountant.rho_spent - rho_start

    sigma = math.sqrt(T / (2 * 0.9 * rho))
    epsilon = math.sqrt(8 * 0.1 * rho / T)
    measurements = merge_priors(oracle.measure([(c,) for c in names], sigma, accountant), prior)
    model = fit_model(measurements, None)
    cliques = [(c,) for c in names]
    n_rounds = 0
    terminate = False
    sized_graph: frozenset | None = None
    bar = tqdm(total=rho, desc="AIM", unit="rho", disable=not progress, leave=False, bar_format=PROGRESS_FORMAT)
    bar.update(used())
    bar.set_postfix_str(f"1-way marginals measured, at most {_rounds_left(rho - used(), sigma, epsilon)} rounds to go")
    while not terminate:
        remaining = rho - used()
        if remaining < 2 * (0.5 / sigma**2 + epsilon**2 / 8):
            sigma = math.sqrt(1 / (2 * 0.9 * remaining))
            epsilon = math.sqrt(8 * 0.1 * remaining)
            terminate = True
        round_cost = 0.5 / sigma**2 + epsilon**2 / 8
        size_limit = max_model_size * (used() + round_cost) / rho
        graph = _edges(cliques)
        if graph != sized_graph:  # a junction tree's size depends on the graph only: sizes are reused until it grows
            sized_graph = graph
            size_with = _SizeMemo(
                model_sizes(cliques) if model_sizes is not None else (lambda r, cl=list(cliques): model_size(cl + [r]))
            )
        eligible = _eligible(candidates, cliques, size_limit, size_with)
        names_r = list(eligible)
        estimates = model_marginals(names_r, model)
        n_rounds += 1
        pick = oracle.select(
            names_r,
            [estimates[r] for r in names_r],
            [eligible[r] for r in names_r],
            [SQRT_2_OVER_PI * sigma * estimates[r].size for r in names_r],
            epsilon,
            accountant,
            f"AIM round {n_rounds} selection",
        )
        r = names_r[pick]
        (measurement,) = oracle.measure([r], sigma, accountant)
        measurements.append(measurement)
        cliques.append(r)
        before = estimates[r].ravel()
        model = fit_model(measurements, model)
        bar.update(min(round_cost, bar.total - bar.n))  # float sums may pass the total by a hair
        bar.set_postfix_str(f"round {n_rounds} of at most {n_rounds + _rounds_left(rho - used(), sigma, epsilon)}")
        if terminate:  # the last round spent what was left: nothing to anneal
            break
        refit = None if refit_model is None else _refit_on(refit_model, measurements, len(measurements) - 1)
        model, anneal = _annealing_test(model, r, before, measurement.sigma, refit, max_refits)
        if anneal:
            sigma /= 2
            epsilon *= 2
    bar.close()
    return AIMResult(tuple(measurements), model, n_rounds)


def _edges(cliques: Sequence[Clique]) -> frozenset:
    """The graph of ``cliques``: its columns and the pairs that share a clique."""
    return frozenset(frozenset(p) for c in cliques for p in itertools.combinations(c, min(2, len(c))))


class _SizeMemo:
    """Each candidate's model size for one graph, computed once; :meth:`fill` sizes many at
    once where the sizer offers ``many(cliques)`` (one compiled pass instead of a Python
    call per candidate)."""

    def __init__(self, size_with: Callable[[Clique], float]) -> None:
        self._size_with = size_with
        self._sizes: dict[Clique, float] = {}

    def __call__(self, r: Clique) -> float:
        found = self._sizes.get(r)
        if found is None:
            found = self._sizes[r] = self._size_with(r)
        return found

    def fill(self, cliques: Sequence[Clique]) -> None:
        many = getattr(self._size_with, "many", None)
        todo = [r for r in cliques if r not in self._sizes]
        if many is not None and todo:
            self._sizes.update(zip(todo, many(todo)))


def _rounds_left(remaining: float, sigma: float, epsilon: float) -> int:
    """Rounds the remaining budget pays for at the current noise (annealing can only shorten this)."""
    return int(remaining // (0.5 / sigma**2 + epsilon**2 / 8))


def _refit_on(
    refit_model: ModelRefitter, measurements: Sequence[Measurement], index: int
) -> Callable[[Model, RefitWatch], Model]:
    """``refit(model, watch)``: ``refit_model`` on ``measurements``, its watch shown the answer on measurement ``index``."""
    return lambda model, watch: refit_model(measurements, model, lambda it, answer_of: watch(it, answer_of(index)))


def _annealing_test(
    model: Model,
    r: Clique,
    before: np.ndarray,
    sigma: float,
    refit: Callable[[Model, RefitWatch], Model] | None = None,
    max_refits: int = 0,
) -> tuple[Model, bool]:
    """AIM's annealing test (Section 4.3): whether the model's answer on ``r`` moved, in
    L1, by at most the expected L1 norm ``sqrt(2/pi) sigma n_r`` of the measurement's noise.

    While it did, ``refit`` (if given) continues the fit, up to ``max_refits`` steps;
    the loop ends early once the answer moves by more than the noise (no annealing)
    or a step changes the move by less than ``REFIT_SETTLED`` of the threshold (the
    decision would not change). A step watches the answer every few iterations and
    ends as soon as it moves by more than the noise, which decides the test: the rest
    of the step would only have been paid for. On salary at epsilon=10 (paper
    defaults) 5 of 7 tests that fired on stopped fits did not fire on refitted ones.

    Returns
    -------
    model : Model
        The last model (refitted or not).
    anneal : bool
    """
    threshold = SQRT_2_OVER_PI * sigma * before.size

    def move(answer: np.ndarray) -> float:
        return float(np.abs(np.asarray(answer).ravel() - before).sum())

    def moved_past(iterations: int, answer: np.ndarray) -> bool:
        return move(answer) > threshold

    moved = move(model.project(r))
    for _ in range(max_refits if refit is not None else 0):
        if moved > threshold:
            break
        model = refit(model, moved_past)
        previous, moved = moved, move(model.project(r))
        if abs(moved - previous) < REFIT_SETTLED * threshold:
            break
    return model, moved <= threshold


def _eligible(
    candidates: Mapping[Clique, float],
    cliques: Sequence[Clique],
    size_limit: float,
    size_with: _SizeMemo,
) -> dict[Clique, float]:
    """Candidates already inside a measured clique, or that keep the model under ``size_limit`` MB
    (the others sized all at once, :meth:`_SizeMemo.fill`)."""
    inside = inside_any(cliques)
    within = {r: inside(r) for r in candidates}
    size_with.fill([r for r, is_inside in within.items() if not is_inside])
    return {r: w for r, w in candidates.items() if within[r] or size_with(r) <= size_limit}
