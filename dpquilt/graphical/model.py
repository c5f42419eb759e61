"""Private-PGM behind a small interface: estimate a model, project it, sample from it.

Estimation solves ([MSM19] Eq. 2, "Graphical-model based estimation and inference
for differential privacy", McKenna, Sheldon and Miklau, ICML 2019)::

    mu* = argmin_{mu in M} sum_i || w_i * mu_{C_i} - y_i ||_2^2 / sigma_i

over the marginal polytope ``M`` of the graphical model whose cliques are the
measured ones, by mirror descent (Algorithm 1 of arXiv:1901.09136) in ``mbi``.
Everything here is post-processing of noisy measurements: no private data enters.

All estimation options live in :class:`EstimationOptions`, so later speed work
(iterations, warm start, device) changes one place.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..marginals.measurement import Measurement
from .junction import JunctionTree, build_junction_tree, calibrate, project

__all__ = ["EstimationOptions", "GraphicalModel", "estimate", "noisy_total"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EstimationOptions:
    """How Private-PGM estimates a model.

    Parameters
    ----------
    iters : int
        Mirror-descent iterations.
    x64 : bool
        Compute in float64 (``mbi`` warns that float32 stalls beyond ~100k rows).
        Enabled only inside dpquilt's calls, never process-wide.
    tol : float or None
        Stop early when the relative loss improvement stays below ``tol``.
    """

    iters: int = 3000
    x64: bool = True
    tol: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.iters, int) and self.iters >= 1):
            raise ValueError(f"iters must be a positive integer, got {self.iters!r}")


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
    """

    domain: Mapping[str, int]
    total: float
    potentials: Any  # mbi.CliqueVector of log-potentials
    options: EstimationOptions

    @property
    def cliques(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(c) for c in self.potentials.cliques)

    @functools.cached_property
    def tree(self) -> JunctionTree:
        """Junction tree of the model's cliques."""
        return build_junction_tree(self.domain, self.cliques)

    @functools.cached_property
    def node_marginals(self) -> dict[tuple[str, ...], np.ndarray]:
        """Calibrated marginals (counts) of every junction-tree node, computed in numpy."""
        factors = [self.potentials[c] for c in self.potentials.cliques]
        potentials = {tuple(f.domain.attributes): np.asarray(f.values, dtype=np.float64) for f in factors}
        return calibrate(self.tree, self.domain, potentials, self.total)

    def project(self, cols: Sequence[str]) -> np.ndarray:
        """The model's marginal over ``cols`` (counts summing to ``total``), as an array."""
        return project(self.tree, self.node_marginals, tuple(cols), self.total)


def estimate(
    domain: Mapping[str, int],
    measurements: Sequence[Measurement],
    options: EstimationOptions = EstimationOptions(),
    progress: bool = False,
    warm_start: GraphicalModel | None = None,
) -> GraphicalModel:
    """Fit a Private-PGM model to noisy marginal measurements.

    Runs ``mbi``'s mirror descent (Algorithm 1 of arXiv:1901.09136 with its Armijo
    line search). The initialisation is compiled as one program rather than run op
    by op (which compiles each primitive separately, about 150 programs for a
    15-column MST model), and the iterations run in ``mbi``'s compiled blocks.

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
    """
    import jax
    import mbi
    from mbi import marginal_loss
    from mbi.estimation import CALLBACK_EVERY, MirrorDescent

    dom = mbi.Domain(tuple(domain), tuple(int(v) for v in domain.values()))
    total = noisy_total(measurements)
    with _precision(options):
        loss_fn = marginal_loss.from_linear_measurements([_to_linear(m) for m in measurements], dom)
        method = MirrorDescent()
        init = jax.jit(functools.partial(method._init, dom))
        start = warm_start.potentials.expand(loss_fn.cliques) if warm_start is not None else None
        state = init(loss_fn, total, warm_start=start)
        previous, stalls = np.inf, 0
        with tqdm(total=options.iters, desc="Private-PGM", unit="it", disable=not progress, leave=False) as bar:
            for _ in range(-(-options.iters // CALLBACK_EVERY)):
                state = method._multi_step(state, loss_fn, total)
                bar.update(CALLBACK_EVERY)
                if options.tol is not None:
                    loss = float(state.loss)
                    stalls = stalls + 1 if previous - loss <= options.tol * max(abs(loss), 1.0) else 0
                    previous = loss
                    if stalls >= 2:
                        break
        potentials = jax.tree.map(np.asarray, state.potentials)
    return GraphicalModel(dict(domain), float(total), potentials, options)


def noisy_total(measurements: Sequence[Measurement]) -> float:
    """Minimum-variance unbiased estimate of the record count from the measurements.

    Each measurement gives ``t = sum_i y_i / w_i`` with variance
    ``sigma^2 sum_i 1 / w_i^2``; the estimates are averaged with inverse-variance
    weights (post-processing; at least 1).
    """
    estimates, variances = [], []
    for m in measurements:
        w = np.ones_like(m.noisy) if m.weights is None else np.asarray(m.weights, dtype=np.float64)
        estimates.append(float(np.sum(m.noisy / w)))
        variances.append(float(m.sigma**2 * np.sum(1.0 / w**2)))
    if not estimates:
        return 1.0
    return max(1.0, float(np.average(estimates, weights=1.0 / np.asarray(variances))))


def _to_linear(m: Measurement):
    import mbi
    import jax.numpy as jnp

    query = mbi.DatavectorQuery() if m.weights is None else mbi.WeightedQuery(np.asarray(m.weights))
    return mbi.LinearMeasurement(jnp.asarray(m.noisy, dtype=float), tuple(m.cols), float(m.sigma), query=query)
