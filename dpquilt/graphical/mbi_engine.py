"""Estimation in ``mbi``'s compiled JAX mirror descent (``EstimationOptions(engine="mbi")``).

dpquilt's own numpy engine is the default (:mod:`dpquilt.graphical.accelerated`,
:mod:`dpquilt.graphical.mirror_descent`); this one runs ``mbi``, the reference dpquilt's
mirror descent is tested against, for users who want its compiled code (an accelerator).
It is reached only through ``mbi``'s public estimator, ``MirrorDescent().estimate``,
which runs a fixed number of iterations or stops by its own ``tol``: the discrepancy
rule of dpquilt's engine needs each block's loss inside the loop, so
:class:`~dpquilt.graphical.options.EstimationOptions` refuses ``engine="mbi"`` with
``noise_level_stop`` or ``round_noise_level_stop`` set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..marginals.measurement import Measurement
from .mirror_descent import expand_potentials
from .options import EstimationOptions

__all__ = ["estimate_with_mbi"]


def _precision(options: EstimationOptions):
    import jax

    return jax.enable_x64(True) if options.x64 else contextlib.nullcontext()


def estimate_with_mbi(
    domain: Mapping[str, int],
    measurements: Sequence[Measurement],
    total: float,
    options: EstimationOptions,
    progress: bool,
    warm_potentials: Mapping[tuple[str, ...], np.ndarray] | None,
) -> dict[tuple[str, ...], np.ndarray]:
    """``mbi``'s mirror descent (Algorithm 1 of arXiv:1901.09136 with its Armijo rule) for
    ``options.iters`` iterations, or until ``options.tol``; returns the log-potentials.

    A warm start's potentials are expanded to the measurements' cliques in numpy and
    handed over as an ``mbi.CliqueVector``.
    """
    import mbi

    dom = mbi.Domain(tuple(domain), tuple(int(v) for v in domain.values()))
    with _precision(options):
        loss_fn = mbi.marginal_loss.from_linear_measurements([_to_linear(m) for m in measurements], dom)
        start = None
        if warm_potentials is not None:  # expanded in numpy: eager jnp ops would each compile a program
            cliques = [tuple(c) for c in loss_fn.cliques]
            start = _clique_vector(dom, expand_potentials(domain, warm_potentials, cliques))
        with tqdm(total=options.iters, desc="Private-PGM", unit="it", disable=not progress, leave=False) as bar:
            block = mbi.estimation.CALLBACK_EVERY

            def advance(_marginals) -> None:
                bar.update(min(block, options.iters - bar.n))

            model = mbi.estimation.MirrorDescent().estimate(
                dom, loss_fn, known_total=total, iters=options.iters, callback_fn=advance, warm_start=start, tol=options.tol
            )
        return {tuple(c): np.asarray(model.potentials[c].values, dtype=np.float64) for c in model.potentials.cliques}


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
