"""Private-PGM behind a small interface: estimate a model, project it, sample from it.

Estimation solves ([MSM19] Eq. 2, "Graphical-model based estimation and inference
for differential privacy", McKenna, Sheldon and Miklau, ICML 2019)::

    mu* = argmin_{mu in M} sum_i || w_i * mu_{C_i} - y_i ||_2^2 / sigma_i

over the marginal polytope ``M`` of the graphical model whose cliques are the
measured ones, by first-order methods in the entropic geometry: by default
dpquilt's numpy implementation of Tseng's accelerated proximal gradient
(:mod:`dpquilt.graphical.accelerated`); or mirror descent (Algorithm 1 of
arXiv:1901.09136), in numpy (:mod:`dpquilt.graphical.mirror_descent`, the same
iterates as ``mbi``'s) or in ``mbi``'s compiled JAX. Estimation stops by the
discrepancy principle (see :class:`EstimationOptions`). Everything here is
post-processing of noisy measurements: no private data enters.

All estimation options live in :class:`EstimationOptions`, so later speed work
(iterations, warm start, device) changes one place.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ..marginals.measurement import Measurement, noisy_total
from .accelerated import accelerated_descent
from .extension_sizes import ExtensionSizes, SizeReuse
from .junction import JunctionTree, build_junction_tree, calibrate, tree_size
from .mirror_descent import expand_potentials, mirror_descent
from .projection import ProjectionCache, ProjectionPlans, project, project_many

__all__ = ["EstimationOptions", "GraphicalModel", "estimate", "extension_sizes_mb", "model_size_mb"]

log = logging.getLogger(__name__)
NOISE_BAND = 3.0  # standard deviations of a measurement's loss above its noise level still counted as fitted


@dataclass(frozen=True)
class EstimationOptions:
    """How Private-PGM estimates a model.

    Parameters
    ----------
    iters : int
        Most mirror-descent iterations of a full estimation; the reference MST
        runs 10,000.
    noise_level_stop : float or None
        Early stopping by the discrepancy principle (Morozov 1966; Engl, Hanke and
        Neubauer, "Regularization of Inverse Problems", 1996, Sec. 6.1 for
        Landweber iteration): the loss ``0.5 sum ||(Q mu - y) / sigma||^2`` of the
        true marginals is about ``m / 2`` for ``m`` measured cells, so iterates that
        fit the measurements more closely than that start fitting noise. Estimation
        stops after ``noise_level_stop`` times the iteration count at which the loss
        first fell to ``m / 2`` (after a warm start, also each measurement to within
        three standard deviations of its own level; see ``_Stopping``). The factor
        1.5 was chosen for the accelerated method on the MST benchmark
        (``benchmarks/mst_vs_reference.py``, 4 tables x 3 epsilons x 3 seeds, factors
        1, 1.5, 2 and 3): acceleration reaches the noise level in a few hundred
        iterations and then overfits quickly (salary at epsilon=1: 3-way error
        0.2004, 0.2012, 0.2033, 0.2059), while stopping at once was worst on adult at
        epsilon=1 (0.0934 against 0.0919 at 1.5). For ``algorithm="mirror_descent"``,
        whose path is slower, 2 was best. ``None`` runs all ``iters``.
    algorithm : {"accelerated", "mirror_descent"}
        The numpy engine's optimiser. ``"accelerated"`` (default): Tseng's accelerated
        proximal gradient in the same entropic geometry
        (:mod:`dpquilt.graphical.accelerated`), which reaches a given loss in far
        fewer iterations. ``"mirror_descent"``: Algorithm 1 of arXiv:1901.09136 with
        ``mbi``'s Armijo rule, iterate for iterate equal to ``mbi``'s.
    engine : {"numpy", "mbi"}
        Where estimation runs. ``"numpy"`` (default): dpquilt's own engine, on a
        junction-tree propagation plan, running ``algorithm``; nothing is compiled,
        which makes it much faster on the small models of MST and AIM. ``"mbi"``:
        ``mbi``'s compiled JAX mirror descent (the reference dpquilt's mirror descent
        is tested against), which pays about a second of compilation per clique
        structure; it runs mirror descent only, so it needs
        ``algorithm="mirror_descent"`` (anything else is refused).
    round_iters : int
        Most iterations of each warm-started re-estimation inside AIM's rounds (the
        reference's ``max_iters``, 1000), with the same stopping rules. Fitting each
        round well matters: AIM anneals when the fit moved less than the noise, so
        an underfitted round spends the budget early (on adult at epsilon=1, paper
        defaults, seed 0: 100 iterations per round gave 13 rounds and 3-way error
        0.079; this gave 22 rounds and 0.064).
    round_noise_level_stop : float or None
        ``noise_level_stop`` for AIM's warm-started round fits. A round starts from
        the previous model, so the rule reaches the noise level once the new
        measurement is fitted (see ``_Stopping``) and the fit can stop there: its
        model only scores candidates and decides annealing, and the final
        estimation refits every measurement. A stopped fit has moved less than a
        fitted one, so before AIM anneals it continues the fit without early stopping,
        in steps of ``round_iters / 10`` iterations, until the test's answer changes
        or settles (:func:`dpquilt.marginals.aim._annealing_test`; nltcs at
        epsilon=0.1, seeds 0-9: without this, 11-17 rounds and 3-way error
        0.0553±0.0058; with it, 16-17 rounds as the reference, 0.0440±0.0014).
    x64 : bool
        With ``engine="mbi"``, compute in float64 (``mbi`` warns that float32 stalls
        beyond ~100k rows); enabled only inside dpquilt's calls, never process-wide.
        The numpy engine always computes in float64.
    tol : float or None
        Stop early when the relative loss improvement stays below ``tol``.

    Examples
    --------
    >>> options = EstimationOptions(iters=500, noise_level_stop=None)
    >>> options.algorithm, options.engine
    ('accelerated', 'numpy')
    """

    iters: int = 10000
    noise_level_stop: float | None = 1.5
    engine: str = "numpy"
    algorithm: str = "accelerated"
    round_iters: int = 1000
    round_noise_level_stop: float | None = 1.0
    x64: bool = True
    tol: float | None = None

    def __post_init__(self) -> None:
        for name in ("iters", "round_iters"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.engine not in ("numpy", "mbi"):
            raise ValueError(f"engine must be 'numpy' or 'mbi', got {self.engine!r}")
        if self.algorithm not in ("accelerated", "mirror_descent"):
            raise ValueError(f"algorithm must be 'accelerated' or 'mirror_descent', got {self.algorithm!r}")
        if self.engine == "mbi" and self.algorithm != "mirror_descent":
            raise ValueError(
                f"engine='mbi' runs mbi's mirror descent only, not algorithm={self.algorithm!r}; pass "
                "EstimationOptions(engine='mbi', algorithm='mirror_descent'), or engine='numpy' for the accelerated method"
            )
        for name in ("noise_level_stop", "round_noise_level_stop"):
            value = getattr(self, name)
            if value is not None and not value >= 1:
                raise ValueError(f"{name} must be None or at least 1, got {value!r}")


def _precision(options: EstimationOptions):
    import jax

    return jax.enable_x64(True) if options.x64 else contextlib.nullcontext()


@dataclass(frozen=True)
class GraphicalModel:
    """A fitted Private-PGM model over a discrete domain.

    Attributes
    ----------
    domain : dict of str to int
        Domain sizes, in column order.
    total : float
        The model's (noisy) number of records.
    potentials : dict of clique to array
        Log-potential tables, axes in clique order.
    step : float or None
        The estimator's last step, where a warm-started estimation starts its search.
    n_measurements : int
        How many measurements the model was fitted to. A warm-started
        :func:`estimate` takes the first ``n_measurements`` of its measurements to
        be these (AIM appends one a round) and waits only for the others to reach
        their noise level (see ``_Stopping``).
    plans : ProjectionPlans
        How this model's projections are computed, kept while each one's layout lasts:
        a warm-started :func:`estimate` hands its start's plans on, so AIM's rounds
        plan again only the projections whose part of the junction tree changed
        (:mod:`dpquilt.graphical.projection`). Not part of the model's value (not
        compared, not pickled).

    Examples
    --------
    >>> model = GraphicalModel({"a": 2}, total=10.0, potentials={("a",): np.log(np.array([1.0, 4.0]))})
    >>> model.project(["a"]).tolist()
    [2.0, 8.0]
    """

    domain: Mapping[str, int]
    total: float
    potentials: Mapping[tuple[str, ...], np.ndarray]
    step: float | None = None
    n_measurements: int = 0
    plans: ProjectionPlans = field(default_factory=ProjectionPlans, compare=False, repr=False)

    @property
    def cliques(self) -> tuple[tuple[str, ...], ...]:
        return tuple(self.potentials)

    @functools.cached_property
    def tree(self) -> JunctionTree:
        """Junction tree of the model's cliques."""
        return build_junction_tree(self.domain, self.cliques)

    @functools.cached_property
    def node_marginals(self) -> dict[tuple[str, ...], np.ndarray]:
        """Calibrated marginals (counts) of every junction-tree node, computed in numpy."""
        return calibrate(self.tree, self.domain, self.potentials, self.total)

    @functools.cached_property
    def projection_cache(self) -> ProjectionCache:
        """Reduced tables and elimination products shared by this model's projections (AIM asks for thousands a round)."""
        return ProjectionCache()

    def project(self, cols: Sequence[str]) -> np.ndarray:
        """The model's marginal over ``cols`` (counts summing to ``total``), as an array."""
        return project(self.tree, self.node_marginals, tuple(cols), self.total, self.projection_cache, self.plans)

    def project_many(self, cliques: Sequence[tuple[str, ...]]) -> list[np.ndarray]:
        """``[self.project(r) for r in cliques]``, sharing work across them and on threads
        (:func:`~dpquilt.graphical.projection.project_many`)."""
        return project_many(self.tree, self.node_marginals, list(cliques), self.total, self.plans)


def estimate(
    domain: Mapping[str, int],
    measurements: Sequence[Measurement],
    options: EstimationOptions = EstimationOptions(),
    progress: bool = False,
    warm_start: GraphicalModel | None = None,
) -> GraphicalModel:
    """Fit a Private-PGM model to noisy marginal measurements.

    Runs ``options.algorithm`` (by default Tseng's accelerated proximal gradient,
    :mod:`dpquilt.graphical.accelerated`; or mirror descent, Algorithm 1 of
    arXiv:1901.09136 with ``mbi``'s Armijo line search) in the engine
    ``options.engine`` names, until ``options.iters`` or the stopping rules of
    :class:`EstimationOptions`.

    Parameters
    ----------
    domain : mapping of str to int
    measurements : sequence of :class:`~dpquilt.marginals.measurement.Measurement`
    options : EstimationOptions
    progress : bool
        Show a tqdm progress bar over the iterations.
    warm_start : GraphicalModel, optional
        Start from this model's potentials (expanded to the new cliques).

    Returns
    -------
    GraphicalModel

    Examples
    --------
    >>> from dpquilt.marginals.measurement import Measurement
    >>> noisy = [Measurement(("a", "b"), np.array([400.0, 100.0, 100.0, 400.0]), sigma=1.0)]
    >>> model = estimate({"a": 2, "b": 2}, noisy)
    >>> np.round(model.project(["a", "b"]) / model.total, 2).tolist()
    [[0.4, 0.1], [0.1, 0.4]]
    """
    total = noisy_total(measurements)
    plans = warm_start.plans if warm_start is not None else ProjectionPlans()  # AIM's rounds: most keep the junction tree
    stop = _Stopping(options, [m.noisy.size for m in measurements], fitted=_fitted_before(measurements, warm_start))
    if options.engine == "numpy":
        with tqdm(total=options.iters, desc="Private-PGM", unit="it", disable=not progress, leave=False) as bar:

            def done(iteration: int, loss: float, term_losses: np.ndarray) -> bool:
                bar.update(iteration - bar.n)
                return stop.done(iteration, loss, term_losses)

            if options.algorithm == "accelerated":
                previous = None
                if warm_start is not None:
                    scale = total / warm_start.total
                    previous = lambda cols: warm_start.project(cols) * scale  # noqa: E731
                fit = accelerated_descent(
                    domain, measurements, total, options.iters, previous, stop=done,
                    initial_step=warm_start.step if warm_start is not None else None,
                )
                return GraphicalModel(dict(domain), float(total), fit.potentials, fit.step, len(measurements), plans)
            start = warm_start.potentials if warm_start is not None else None
            theta = mirror_descent(domain, measurements, total, options.iters, start, stop=done)
        return GraphicalModel(dict(domain), float(total), theta, n_measurements=len(measurements), plans=plans)
    return _estimate_mbi(domain, measurements, total, options, stop, progress, warm_start, plans)


def _estimate_mbi(domain, measurements, total, options, stop, progress, warm_start, plans) -> GraphicalModel:
    """``mbi``'s compiled mirror descent. Its initialisation is compiled as one program
    rather than run op by op (which compiles each primitive separately, about 150
    programs for a 15-column MST model); the iterations run in ``mbi``'s blocks."""
    import jax
    import mbi
    from mbi import marginal_loss
    from mbi.estimation import CALLBACK_EVERY, MirrorDescent

    dom = mbi.Domain(tuple(domain), tuple(int(v) for v in domain.values()))
    with _precision(options):
        loss_fn = marginal_loss.from_linear_measurements([_to_linear(m) for m in measurements], dom)
        method = MirrorDescent()
        init = jax.jit(functools.partial(method._init, dom))
        start = None
        if warm_start is not None:  # expanded in numpy: eager jnp ops would each compile a program
            cliques = [tuple(c) for c in loss_fn.cliques]
            start = _clique_vector(dom, expand_potentials(domain, warm_start.potentials, cliques))
        state = init(loss_fn, total, warm_start=start)
        with tqdm(total=options.iters, desc="Private-PGM", unit="it", disable=not progress, leave=False) as bar:
            for block in range(1, -(-options.iters // CALLBACK_EVERY) + 1):
                state = method._multi_step(state, loss_fn, total)
                bar.update(CALLBACK_EVERY)
                if stop.done(block * CALLBACK_EVERY, float(state.loss)):
                    break
        potentials = {
            tuple(c): np.asarray(state.potentials[c].values, dtype=np.float64) for c in state.potentials.cliques
        }
    return GraphicalModel(dict(domain), float(total), potentials, n_measurements=len(measurements), plans=plans)


def _fitted_before(measurements: Sequence[Measurement], warm_start: GraphicalModel | None) -> int | None:
    """How many leading ``measurements`` a warm start was already fitted to (``None``: cold start)."""
    if warm_start is None:
        return None
    return min(warm_start.n_measurements, len(measurements))


class _Stopping:
    """When to end mirror descent: the discrepancy rule and the relative-improvement rule.

    The noise level is reached when the loss is at most ``m / 2`` and, after a warm
    start, no measurement added since it was fitted is fitted worse than
    ``NOISE_BAND`` standard deviations above its own level: at the true marginals
    the loss of a measurement of ``n`` cells is ``chi^2_n / 2``, mean ``n / 2`` and
    standard deviation ``sqrt(n / 2)``. The second condition is for AIM's rounds,
    where the old measurements are already fitted below their noise level and the
    total alone would stop before the new one is fitted. It looks only at the new
    measurements: an old one can sit above the band for good (a sparse table whose
    noise the nonnegative model cannot follow; on salary at epsilon=10 one stayed at
    3.2 deviations, and every later round ran its 1,000 iterations, 45 s each, without
    moving it). From a cold start the total alone is the classic rule (on the MST
    benchmark the second condition only delayed the stop, and salary's 3-way error
    at epsilon=1 rose from 0.2012 to 0.2036).

    Parameters
    ----------
    options : EstimationOptions
    sizes : sequence of int
        Cells of each measurement.
    fitted : int or None
        How many leading measurements the warm start was fitted to; ``None`` for a
        cold start.
    """

    def __init__(self, options: EstimationOptions, sizes: Sequence[int], fitted: int | None = None) -> None:
        self.options, self.fitted = options, fitted
        self.sizes = np.asarray(sizes, dtype=np.float64)
        self.noise_level = 0.5 * float(self.sizes.sum())
        self.reached_at: int | None = None
        self.previous, self.stalls = np.inf, 0

    def reached(self, loss: float, term_losses: np.ndarray | None) -> bool:
        """Whether the fit is at the noise level (see the class docstring)."""
        if loss > self.noise_level:
            return False
        if self.fitted is None or term_losses is None or self.fitted >= self.sizes.size:
            return True
        half = 0.5 * self.sizes[self.fitted :]
        return bool(np.all(np.asarray(term_losses)[self.fitted :] - half <= NOISE_BAND * np.sqrt(half)))

    def done(self, iteration: int, loss: float, term_losses: np.ndarray | None = None) -> bool:
        """Whether to stop after ``iteration`` iterations whose current loss is ``loss``
        (``term_losses``: each measurement's share, when known)."""
        factor, tol = self.options.noise_level_stop, self.options.tol
        if factor is not None:
            if self.reached_at is None and self.reached(loss, term_losses):
                self.reached_at = iteration
            if self.reached_at is not None and iteration >= factor * self.reached_at:
                return True
        if tol is not None:
            improved = self.previous - loss > tol * max(abs(loss), 1.0)
            self.stalls, self.previous = (0 if improved else self.stalls + 1), loss
            return self.stalls >= 2
        return False


def _clique_vector(dom, potentials: Mapping[tuple[str, ...], np.ndarray]):
    """An ``mbi.CliqueVector`` holding numpy log-potentials."""
    import jax.numpy as jnp
    from mbi import CliqueVector, Factor

    tables = {c: Factor(dom.project(c), jnp.asarray(t)) for c, t in potentials.items()}
    return CliqueVector(dom, list(potentials), tables)


def model_size_mb(domain: Mapping[str, int], cliques: Sequence[tuple[str, ...]]) -> float:
    """Size in MB (float64) of the junction tree of ``cliques``: AIM's model-size measure.

    Examples
    --------
    >>> model_size_mb({"a": 1024, "b": 128}, [("a", "b")])  # 131,072 float64 cells
    1.0
    """
    return tree_size(domain, cliques) * 8 / 2**20


def extension_sizes_mb(
    domain: Mapping[str, int], cliques: Sequence[tuple[str, ...]], reuse: SizeReuse | None = None
) -> Callable[[tuple[str, ...]], float]:
    """``sizes(r)``: :func:`model_size_mb` of ``cliques + [r]``, for many ``r`` from one shared elimination.

    ``reuse`` (optional): one :class:`~dpquilt.graphical.extension_sizes.SizeReuse` passed to every call of a growing sequence of graphs
    (AIM's rounds), so that candidates whose components did not change keep their
    growth (:class:`~dpquilt.graphical.extension_sizes.ExtensionSizes`).

    Examples
    --------
    >>> sizes = extension_sizes_mb({"a": 1024, "b": 128, "c": 2}, [("a", "b")])
    >>> sizes(("b", "c")) == model_size_mb({"a": 1024, "b": 128, "c": 2}, [("a", "b"), ("b", "c")])
    True
    """
    sizes = ExtensionSizes(domain, cliques, reuse)
    return lambda r: sizes(r) * 8 / 2**20


def _to_linear(m: Measurement):
    import mbi
    import jax.numpy as jnp

    query = mbi.DatavectorQuery() if m.weights is None else mbi.WeightedQuery(np.asarray(m.weights))
    return mbi.LinearMeasurement(jnp.asarray(m.noisy, dtype=float), tuple(m.cols), float(m.sigma), query=query)
