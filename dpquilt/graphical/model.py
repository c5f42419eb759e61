"""Private-PGM behind a small interface: estimate a model, project it, sample from it.

Estimation solves ([MSM19] Eq. 2, "Graphical-model based estimation and inference
for differential privacy", McKenna, Sheldon and Miklau, ICML 2019)::

    mu* = argmin_{mu in M} sum_i || w_i * mu_{C_i} - y_i ||_2^2 / sigma_i

over the marginal polytope ``M`` of the graphical model whose cliques are the
measured ones, by first-order methods in the entropic geometry: by default
dpquilt's numpy implementation of Tseng's accelerated proximal gradient
(:mod:`dpquilt.graphical.accelerated`); or mirror descent (Algorithm 1 of
arXiv:1901.09136), in numpy (:mod:`dpquilt.graphical.mirror_descent`, the same
iterates as ``mbi``'s) or in ``mbi``'s compiled JAX through its public estimator
(:mod:`dpquilt.graphical.mbi_engine`). The numpy engine stops by the discrepancy
principle (see :class:`EstimationOptions`). Everything here is
post-processing of noisy measurements: no private data enters.

All estimation options live in :class:`EstimationOptions`, so later speed work
(iterations, warm start, device) changes one place.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ..marginals.measurement import Measurement, noisy_total
from .accelerated import accelerated_descent
from .calibration import calibrate
from .junction import JunctionTree, build_junction_tree
from .mbi_engine import estimate_with_mbi
from .mirror_descent import Watch, mirror_descent
from .options import EstimationOptions
from .projection import ProjectionCache, ProjectionPlans, project, project_many
from .stopping import Stopping
from .warm_step import noise_level_factor

__all__ = ["EstimationOptions", "GraphicalModel", "estimate"]

log = logging.getLogger(__name__)


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
        their noise level (see :class:`~dpquilt.graphical.stopping.Stopping`).
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

    @classmethod
    def calibrated(
        cls,
        domain: Mapping[str, int],
        total: float,
        tree: JunctionTree,
        potentials: Mapping[tuple[str, ...], np.ndarray],
        node_marginals: Mapping[tuple[str, ...], np.ndarray],
        step: float | None = None,
        n_measurements: int = 0,
        plans: ProjectionPlans | None = None,
    ) -> GraphicalModel:
        """A model with potentials on the nodes of a junction ``tree`` whose calibrated node
        marginals are already known (a fit's: :class:`~dpquilt.graphical.accelerated.AcceleratedFit`),
        so that it keeps them instead of calibrating the potentials again.

        Examples
        --------
        >>> from dpquilt.graphical.junction import build_junction_tree
        >>> table = np.array([[1.0, 3.0], [2.0, 2.0]])
        >>> tree = build_junction_tree({"a": 2, "b": 2}, [("a", "b")])
        >>> model = GraphicalModel.calibrated({"a": 2, "b": 2}, 8.0, tree, {("a", "b"): np.log(table)}, {("a", "b"): table})
        >>> model.project(["b"]).tolist()
        [3.0, 5.0]
        """
        if set(tree.nodes) != set(node_marginals) or set(potentials) != set(tree.nodes):
            raise ValueError(
                f"potentials over {sorted(potentials)} and node marginals over {sorted(node_marginals)} "
                f"must both be over the junction tree's nodes {sorted(tree.nodes)}"
            )
        model = cls(dict(domain), total, dict(potentials), step, n_measurements, plans if plans is not None else ProjectionPlans())
        model.__dict__["tree"] = tree  # what the cached properties would hold
        model.__dict__["node_marginals"] = {node: node_marginals[node] for node in tree.nodes}
        return model

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

    def project_many(self, cliques: Sequence[tuple[str, ...]], single_precision: bool = False) -> list[np.ndarray]:
        """``[self.project(r) for r in cliques]``, sharing work across them and on threads
        (:func:`~dpquilt.graphical.projection.project_many`); ``single_precision``
        contracts in float32 (to about 1e-6 of the total, twice as fast on large nodes)."""
        dtype = np.float32 if single_precision else np.float64
        return project_many(self.tree, self.node_marginals, list(cliques), self.total, self.plans, dtype=dtype)


def estimate(
    domain: Mapping[str, int],
    measurements: Sequence[Measurement],
    options: EstimationOptions = EstimationOptions(),
    progress: bool = False,
    warm_start: GraphicalModel | None = None,
    watch: Watch | None = None,
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
    watch : callable, optional
        ``watch(iterations_done, answer)``, asked every few iterations with ``answer(i)``,
        measurement ``i``'s answer at the iterate, may end the estimation (AIM's refits; the
        numpy engine only).

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
    if watch is not None and options.engine != "numpy":
        raise ValueError("watch runs in the numpy engine only; pass EstimationOptions(engine='numpy') or no watch")
    total = noisy_total(measurements)
    plans = warm_start.plans if warm_start is not None else ProjectionPlans()  # AIM's rounds: most keep the junction tree
    stop = Stopping(options, [m.noisy.size for m in measurements], fitted=_fitted_before(measurements, warm_start))
    if options.engine == "numpy":
        with tqdm(total=options.iters, desc="Private-PGM", unit="it", disable=not progress, leave=False) as bar:

            def done(iteration: int, loss: float, term_losses: np.ndarray) -> bool:
                bar.update(iteration - bar.n)
                return stop.done(iteration, loss, term_losses)

            if options.algorithm == "accelerated":
                previous, factors = None, []
                if warm_start is not None:
                    scale = total / warm_start.total
                    previous = lambda cols: warm_start.project(cols) * scale  # noqa: E731
                    if options.warm_step:
                        factors = _warm_step(domain, measurements[stop.fitted :], previous)
                fit = accelerated_descent(
                    domain, measurements, total, options.iters, previous, stop=done,
                    initial_step=warm_start.step if warm_start is not None else None,
                    dtype=np.float32 if options.single_precision else np.float64,
                    start_factors=factors, watch=watch,
                )
                return GraphicalModel.calibrated(
                    domain, float(total), fit.tree, fit.potentials, fit.marginals, fit.step, len(measurements), plans
                )
            start = warm_start.potentials if warm_start is not None else None
            theta = mirror_descent(domain, measurements, total, options.iters, start, stop=done, watch=watch)
        return GraphicalModel(dict(domain), float(total), theta, n_measurements=len(measurements), plans=plans)
    warm = warm_start.potentials if warm_start is not None else None
    potentials = estimate_with_mbi(domain, measurements, total, options, progress, warm)
    return GraphicalModel(dict(domain), float(total), potentials, n_measurements=len(measurements), plans=plans)


def _warm_step(
    domain: Mapping[str, int], new: Sequence[Measurement], previous: Callable[[tuple[str, ...]], np.ndarray]
) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """The warm start's step toward a single new measurement, at its noise level
    (:mod:`dpquilt.graphical.warm_step`); none for several (their steps would interact)."""
    if len(new) != 1:
        return []
    (measurement,) = new
    shape = tuple(domain[c] for c in measurement.cols)
    factor = noise_level_factor(np.reshape(previous(measurement.cols), shape), measurement)
    return [] if factor is None else [(measurement.cols, factor)]


def _fitted_before(measurements: Sequence[Measurement], warm_start: GraphicalModel | None) -> int | None:
    """How many leading ``measurements`` a warm start was already fitted to (``None``: cold start)."""
    if warm_start is None:
        return None
    return min(warm_start.n_measurements, len(measurements))
