"""Estimation in ``mbi``'s compiled JAX mirror descent (``EstimationOptions(engine="mbi")``).

dpquilt's own numpy engine is the default (:mod:`dpquilt.graphical.accelerated`,
:mod:`dpquilt.graphical.mirror_descent`); this one runs ``mbi``, the reference dpquilt's
mirror descent is tested against, for users who want its compiled code (an accelerator).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..marginals.measurement import Measurement
from .mirror_descent import expand_potentials
from .options import EstimationOptions
from .stopping import Stopping

__all__ = ["estimate_with_mbi"]


def _precision(options: EstimationOptions):
    import jax

    return jax.enable_x64(True) if options.x64 else contextlib.nullcontext()


def estimate_with_mbi(
    domain: Mapping[str, int],
    measurements: Sequence[Measurement],
    total: float,
    options: EstimationOptions,
    stop: Stopping,
    progress: bool,
    warm_potentials: Mapping[tuple[str, ...], np.ndarray] | None,
) -> dict[tuple[str, ...], np.ndarray]:
    """``mbi``'s compiled mirror descent; returns the log-potentials. Its initialisation is
    compiled as one program rather than run op by op (which compiles each primitive
    separately, about 150 programs for a 15-column MST model); the iterations run in
    ``mbi``'s blocks. Reached through ``mbi``'s estimator internals (``_init``,
    ``_multi_step``): its public ``mirror_descent`` cannot stop by the discrepancy rule."""
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
        if warm_potentials is not None:  # expanded in numpy: eager jnp ops would each compile a program
            cliques = [tuple(c) for c in loss_fn.cliques]
            start = _clique_vector(dom, expand_potentials(domain, warm_potentials, cliques))
        state = init(loss_fn, total, warm_start=start)
        with tqdm(total=options.iters, desc="Private-PGM", unit="it", disable=not progress, leave=False) as bar:
            for block in range(1, -(-options.iters // CALLBACK_EVERY) + 1):
                state = method._multi_step(state, loss_fn, total)
                bar.update(CALLBACK_EVERY)
                if stop.done(block * CALLBACK_EVERY, float(state.loss)):
                    break
        return {tuple(c): np.asarray(state.potentials[c].values, dtype=np.float64) for c in state.potentials.cliques}


def _clique_vector(dom, potentials: Mapping[tuple[str, ...], np.ndarray]):
    """An ``mbi.CliqueVector`` holding numpy log-potentials."""
    import jax.numpy as jnp
    from mbi import CliqueVector, Factor

    tables = {c: Factor(dom.project(c), jnp.asarray(t)) for c, t in potentials.items()}
    return CliqueVector(dom, list(potentials), tables)


def _to_linear(m: Measurement):
    import mbi
    import jax.numpy as jnp

    query = mbi.DatavectorQuery() if m.weights is None else mbi.WeightedQuery(np.asarray(m.weights))
    return mbi.LinearMeasurement(jnp.asarray(m.noisy, dtype=float), tuple(m.cols), float(m.sigma), query=query)
