"""Accelerated Bregman proximal gradient on the marginal polytope: dpquilt's default estimator.

Solves the problem of :mod:`dpquilt.graphical.mirror_descent`::

    min_{mu in M}  L(mu) = sum_i 0.5 || (w_i * mu_{C_i} - y_i) / sigma_i ||^2

with Tseng's accelerated proximal gradient method in the entropic geometry (Tseng,
"On accelerated proximal gradient methods for convex-concave optimization", 2008,
Algorithm 1; Auslender and Teboulle 2006, the "interior gradient" scheme that
``mbi.estimation.InteriorGradient`` runs with a fixed step), with the backtracking
of Hanzely, Richtarik and Xiao ("Accelerated Bregman proximal gradient methods for
relatively smooth convex optimization", 2021, Algorithm ABPG-e with triangle-scaling
exponent 2). Each iteration, with ``0 < theta <= 1``:

    y      = (1 - theta) x + theta z
    u'     = u - (s / theta) grad L(y)          (log-potentials: z' = mu(u'))
    x'     = (1 - theta) x + theta z'
    accept when  L(x') <= L(y) + <grad L(y), x' - y> + theta^2 / s * D(z', z),

else halve ``s`` and retry; ``theta`` solves ``theta^2 / s = (1 - theta) theta_prev^2 /
s_prev``. ``D`` is the Bregman divergence of the mirror map, ``N KL(p_{u'} || p_u)``
for distributions scaled to the total ``N``, computed from the clique marginals and
the log-partition functions of the two calibrations.

Why: mirror descent's rate on these problems is set by the smallest cells of the
largest tables (its step is bounded by the largest curvature, and a cell of count
``c`` moves at a rate proportional to ``c``), so at small noise it needs tens of
thousands of steps; acceleration needs about the square root of that (on salary at
epsilon=10 the loss reaches the noise level ``m / 2`` after ~400 iterations instead of
~9,000). The iterate ``x`` is a convex combination of calibrated marginals, hence
consistent on the junction tree; the fitted model is the decomposable distribution
``prod_K x_K / prod_S x_S`` over the junction-tree nodes, whose marginals are exactly
``x``. The dual iterate ``u`` lives on the junction-tree nodes too (the gradient of
each clique is added into its node), so a warm start sets ``u`` to the previous
model's decomposable potentials on the new tree and starts exactly where the last
fit ended (for AIM, whose clique set grows every round).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..marginals.measurement import Measurement
from .calibration import decomposable_marginals, node_factors
from .compiled_update import move_toward
from .junction import JunctionTree
from .mirror_descent import MarginalProblem, Watch, _broadcast, _dot, _home, lipschitz

__all__ = ["AcceleratedFit", "accelerated_descent", "node_log_potentials"]

Clique = tuple[str, ...]
STEP_GROWTH = 1.1  # the step is tried this much larger after every accepted iteration
MAX_STEP_GROWTH = 1e4  # ... up to this multiple of the first (2 / (Lipschitz * total)); 50-100x is typical
MAX_BACKTRACKS = 60  # halvings of the step before the descent ends
#: in single precision, the step test allows this many float32 epsilons of relative error in each
#: term of ``<grad L(y), z'>``: the new marginals ``z'`` are rounded to float32, and near the optimum
#: that rounding, not the step, decided the test (the step then collapsed 30-fold in 100 iterations
#: of a small fit); 16 kept every decision of the same fits in float64, 256 changed some early ones
ROUNDING_SLACK = 16.0
STALL_TOLERANCE, STALL_CHECKS = 1e-12, 5  # converged: no relative gain of 1e-12 at 5 checks in a row


@dataclass(frozen=True)
class AcceleratedFit:
    """The result of :func:`accelerated_descent`.

    Attributes
    ----------
    potentials : dict of clique to array
        Log-potentials over the junction-tree nodes whose model has marginals ``x``.
    iterations : int
    loss : float
        ``L(x)`` at the end.
    step : float
        The last accepted step, where a warm-started fit may start its search.
    tree : JunctionTree
        The junction tree of the measured cliques, whose nodes carry ``potentials``.
    marginals : dict of clique to array
        The calibrated marginals (float64 counts) of the model ``potentials`` define, on the
        same nodes: ``x`` made exactly consistent (:func:`~dpquilt.graphical.calibration.decomposable_marginals`),
        which the fitted model takes instead of calibrating its potentials again.

    Examples
    --------
    See :func:`accelerated_descent`, which returns one.
    """

    potentials: dict[Clique, np.ndarray]
    iterations: int
    loss: float
    step: float
    tree: JunctionTree
    marginals: dict[Clique, np.ndarray]


def accelerated_descent(
    domain: Mapping[str, int],
    measurements: Sequence[Measurement],
    total: float,
    iters: int,
    warm_marginal: Callable[[Clique], np.ndarray] | None = None,
    stop: Callable[[int, float, np.ndarray], bool] | None = None,
    check_every: int = 10,
    initial_step: float | None = None,
    dtype: type = np.float64,
    start_factors: Sequence[tuple[Clique, np.ndarray]] = (),
    watch: Watch | None = None,
) -> AcceleratedFit:
    """Fit the marginals by accelerated entropic proximal gradient (see the module docstring).

    Parameters
    ----------
    domain : mapping of str to int
    measurements : sequence of Measurement
    total : float
        The records count every marginal sums to.
    iters : int
        Most iterations.
    warm_marginal : callable, optional
        ``warm_marginal(cols)`` gives a previous model's marginal over ``cols`` (counts
        summing to ``total``). The descent starts from the decomposable model with
        these marginals on the junction-tree nodes, which agrees with the previous
        model on every measured clique; without it, from the uniform distribution.
    stop : callable, optional
        ``stop(iterations_done, loss, term_losses)`` is asked every ``check_every``
        iterations with ``L(x)`` and each measurement's share of it, and may end the
        descent. It also ends when ``L(x)`` stops
        improving (relative gain under 1e-12 at five checks in a row) or no step
        passes the test.
    watch : callable, optional
        ``watch(iterations_done, answer)`` is asked every ``check_every`` iterations, where
        ``answer(i)`` is measurement ``i``'s ``w_i * mu_{C_i}`` at the iterate (read from its
        residual, :meth:`~dpquilt.graphical.mirror_descent.MarginalProblem.answer`), and may end
        the descent: AIM's refits end once the new clique's answer has moved enough
        (:func:`dpquilt.marginals.aim._annealing_test`).
    initial_step : float, optional
        Where the step search starts (a previous fit's :attr:`AcceleratedFit.step`);
        by default, and never below, ``2 / (Lipschitz * total)``, the bound of
        ``mbi``'s mirror descent. Backtracking halves a step that is too long.
    dtype : numpy float type
        Precision of the node tables: the potentials, their calibration and the
        iterate (``np.float32`` halves the memory a late AIM model's iteration moves;
        ``EstimationOptions.single_precision``). The residuals, the loss, the step test
        and the returned potentials are float64 either way; in float32 the step test
        allows for the rounding of the new marginals (``ROUNDING_SLACK``).
    start_factors : sequence of (clique, ndarray), optional
        Log-factors over measured cliques multiplied into the warm start (each added
        to the log-potential of a node containing its clique): AIM's round fits start
        from the previous model moved toward the new measurement
        (:func:`~dpquilt.graphical.warm_step.noise_level_factor`). Only with
        ``warm_marginal``.

    Examples
    --------
    >>> import numpy as np
    >>> from dpquilt.marginals.measurement import Measurement
    >>> y = np.array([30.0, 70.0])
    >>> fit = accelerated_descent({"a": 2}, [Measurement(("a",), y, 1.0)], 100.0, 200)
    >>> p = np.exp(fit.potentials[("a",)])
    >>> (p / p.sum()).round(3).tolist()
    [0.3, 0.7]
    """
    problem = MarginalProblem(domain, measurements, total)
    plan = problem.plan
    rounding = 0.0 if np.dtype(dtype) == np.float64 else ROUNDING_SLACK * float(np.finfo(dtype).eps)
    # the dual iterate u is kept exponentiated, P = exp(u - offset) per node: an update multiplies
    # each node by exp(-step / theta * gradient), computed on the small clique tables, and so saves
    # an exp over every cell of the model per iteration
    if warm_marginal is None:
        potentials, offset = [np.ones(shape, dtype=dtype) for shape in plan.shapes], 0.0
    else:
        # exp of the decomposable potentials: the factors themselves, with no log and exp over every cell
        start = node_factors(problem.tree, [warm_marginal(node) for node in plan.nodes])
        for cols, factor in start_factors:
            home = plan.nodes.index(_home(tuple(cols), plan.nodes))
            start[home] = start[home] * _broadcast(np.exp(factor), tuple(cols), plan.nodes[home], problem.domain)
        potentials, offset = _renormalise(start, dtype)
    first_step = 2.0 / (lipschitz(problem.domain, measurements, problem.cliques) * total)
    step = first_step if initial_step is None else max(initial_step, first_step)
    z_nodes, log_z = plan.propagate(potentials, offset, total)
    r_z = problem.residual(problem.readout(z_nodes))
    x_nodes, r_x = [t.copy() for t in z_nodes], r_z
    theta_prev = step_prev = None
    max_step = MAX_STEP_GROWTH * first_step
    checked, stalls = np.inf, 0
    it = 0
    for it in range(1, iters + 1):
        for _ in range(MAX_BACKTRACKS):
            if theta_prev is None:
                theta = 1.0
            else:
                c = theta_prev**2 * step / step_prev
                theta = 0.5 * (np.sqrt(c * c + 4.0 * c) - c)
            # everything but the calibration lives in residual space: r is affine in mu
            r_y = (1.0 - theta) * r_x + theta * r_z
            loss_y = 0.5 * _dot(r_y, r_y)
            potentials2, taken = plan.times_exp(potentials, problem.gradient(r_y), -step / theta)
            offset2 = offset + taken
            with np.errstate(over="ignore", invalid="ignore"):
                z2_nodes, log_z2 = plan.propagate(potentials2, offset2, total)
                r_z2 = problem.residual(problem.readout(z2_nodes))
                r_x2 = (1.0 - theta) * r_x + theta * r_z2
                loss_x2 = 0.5 * _dot(r_x2, r_x2)
                linear = _dot(r_y, r_x2 - r_y)  # <grad L(y), x' - y>
                # D(z', z) = <z', u' - u> - N (log Z' - log Z), with <grad L(y), z'> = <r_y, r_z' + y / sigma>
                z2_scaled = r_z2 + problem.scaled_y
                bregman = -(step / theta) * _dot(r_y, z2_scaled) - total * (log_z2 - log_z)
                bound = loss_y + linear + theta**2 / step * max(bregman, 0.0) + 1e-12 * abs(loss_y)
                if rounding:  # single precision: <z', u' - u> is known to float32's rounding of z' only
                    bound += theta * rounding * _dot(np.abs(r_y), np.abs(z2_scaled))
            if np.isfinite(loss_x2) and np.isfinite(bound) and loss_x2 <= bound:
                break
            step *= 0.5
        else:  # no step is accepted: the iterate is as good as floating point allows
            break
        potentials, offset, z_nodes, r_z, log_z = potentials2, offset2, z2_nodes, r_z2, log_z2
        for a, b in zip(x_nodes, z_nodes):  # x = (1 - theta) x + theta z, in place, in one pass
            move_toward(a, b, 1.0 - theta)
        r_x = r_x2
        theta_prev, step_prev = theta, step
        step = min(step * STEP_GROWTH, max_step)
        if it % check_every == 0:
            potentials, taken = _renormalise(potentials)  # keep each node's maximum at 1
            offset += taken
            loss = 0.5 * _dot(r_x, r_x)
            stalls = stalls + 1 if loss > checked - STALL_TOLERANCE * max(abs(loss), 1.0) else 0
            checked = min(checked, loss)
            if stalls >= STALL_CHECKS or (stop is not None and stop(it, loss, problem.term_losses(r_x))) or (
                watch is not None and watch(it, lambda i: problem.answer(r_x, i))
            ):
                break
    factors = node_factors(problem.tree, x_nodes)
    marginals = decomposable_marginals(problem.tree, factors, total)
    return AcceleratedFit(
        _logs(problem.tree, factors), it, float(0.5 * _dot(r_x, r_x)), step_prev or step, problem.tree,
        dict(zip(problem.tree.nodes, marginals)),
    )


def _renormalise(tables: Sequence[np.ndarray], dtype: type | None = None) -> tuple[list[np.ndarray], float]:
    """Each non-negative table scaled to maximum 1 (as ``dtype``; by default its own), and the log of the scale taken out overall."""
    tops = [float(np.max(t)) for t in tables]
    scaled = [
        np.divide(t, top if top > 0 else 1.0, out=np.empty(t.shape, dtype=dtype or t.dtype), casting="same_kind")
        for t, top in zip(tables, tops)
    ]
    return scaled, sum(float(np.log(top)) for top in tops if top > 0)


def node_log_potentials(tree: JunctionTree, node_marginals: Sequence[np.ndarray]) -> dict[Clique, np.ndarray]:
    """Log-potentials of the decomposable model ``prod_K mu_K / prod_S mu_S`` over a
    junction tree's nodes, whose marginals are the given consistent ``node_marginals``
    (in the order of ``tree.nodes``): each non-root node's :func:`conditionals` given its
    separator, the root's marginal as it is. Cells of zero mass get ``-inf``.

    Examples
    --------
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> from dpquilt.graphical.model import GraphicalModel
    >>> domain = {"a": 2, "b": 2, "c": 2}
    >>> tree = build_junction_tree(domain, [("a", "b"), ("b", "c")])
    >>> joint = np.array([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]])  # axes a, b, c
    >>> given = {("a", "b"): joint.sum(2), ("b", "c"): joint.sum(0)}
    >>> theta = node_log_potentials(tree, [given[node] for node in tree.nodes])
    >>> GraphicalModel(domain, 36.0, theta).project(["b", "c"]).round(9).tolist()  # the node marginals come back
    [[6.0, 8.0], [10.0, 12.0]]
    """
    return _logs(tree, node_factors(tree, node_marginals))


def _logs(tree: JunctionTree, factors: Sequence[np.ndarray]) -> dict[Clique, np.ndarray]:
    """Each node's log-potential, the log of its factor (``-inf`` where it has no mass)."""
    with np.errstate(divide="ignore"):
        return {node: np.log(np.maximum(f, 0.0)) for node, f in zip(tree.nodes, factors)}
