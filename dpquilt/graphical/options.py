"""How Private-PGM estimates a model: every estimation option in one frozen value."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EstimationOptions"]


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
        three standard deviations of its own level; see :class:`~dpquilt.graphical.stopping.Stopping`). The factor
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
        is tested against), which pays compilation per clique structure, through its
        public estimator; it runs mirror descent only, for ``iters`` iterations or
        until ``tol``, so it needs ``algorithm="mirror_descent"`` and both
        discrepancy stops off (``None``); anything else is refused.
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
        measurement is fitted (see :class:`~dpquilt.graphical.stopping.Stopping`) and the fit can stop there: its
        model only scores candidates and decides annealing, and the final
        estimation refits every measurement. A stopped fit has moved less than a
        fitted one, so before AIM anneals it continues the fit without early stopping,
        in steps of ``round_iters / 10`` iterations, until the test's answer changes
        (a step ends as soon as it does) or settles (:func:`dpquilt.marginals.aim._annealing_test`; nltcs at
        epsilon=0.1, seeds 0-9: without this, 11-17 rounds and 3-way error
        0.0553±0.0058; with it, 16-17 rounds as the reference, 0.0440±0.0014).
    x64 : bool
        With ``engine="mbi"``, compute in float64 (``mbi`` warns that float32 stalls
        beyond ~100k rows); enabled only inside dpquilt's calls, never process-wide.
        The numpy engine computes in float64 unless ``single_precision``.
    single_precision : bool
        With the numpy engine's accelerated method, keep the junction tree's node tables
        (the potentials, their calibration and the iterate) in float32, as ``mbi`` computes
        by default; the loss, the residuals, the step test and the returned potentials stay
        in float64. Late AIM models hold millions of cells and their fits run at the speed
        of memory, which float32 halves (RandHIE's round-85 fit at epsilon 10, 2.25 M cells: 0.83 s
        against 0.58 s, the same 30 iterations, loss within 2e-6 and every marginal within
        0.08 of 20,190 rows). Off by default: a final model is fitted in float64.
    round_single_precision : bool
        ``single_precision`` for AIM's warm-started round fits and refits, whose models only
        score candidates (their marginals are compared with counts under noise of several
        rows) and decide annealing; on by default. Applies only where the numpy engine
        runs the accelerated method. RandHIE at epsilon 10 (45 columns): 2.94 s a round
        against 3.51 s. A round fit amplifies rounding from iteration to iteration (on
        STAR's round-11 fit, a difference of 6e-8 in ``log Z`` after the first calibration
        was 8e-3 by the thirteenth iteration), so a seeded run selects the same cliques in
        single and double precision only until a selection or annealing test tips (STAR
        at epsilon 1: the same first 51 of 95 cliques); the coded benchmark tables' AIM errors are the
        same (nltcs and adult at epsilon 1, every seed within 1e-4). ``False`` fits every
        round in float64, as before.
    warm_step : bool
        With the accelerated method, a warm start that has one new measurement (AIM's
        round fits) starts from the previous model multiplied by a factor on the new
        clique that moves its answer toward the measurement, to where mirror descent on
        that measurement's loss alone first reaches its noise level
        (:mod:`dpquilt.graphical.warm_step`), instead of from the
        previous model as it is. Most of a late round fit's iterations otherwise pull
        that answer in from tens of standard deviations away: on STAR at epsilon 10
        (47 columns, seed 0) the round fits ran 11,610 iterations in 122 rounds
        without the step and 2,400 in 134 with it, most of them stopping at their
        first check. AIM's errors: STAR at epsilon 10, 3-way 0.1038 against 0.1051;
        adult at epsilon 1 (30 rounds, seeds 0-23) 0.0634 against 0.0630; nltcs at
        epsilon 1 (seeds 0-9) 0.0148 against 0.0150. ``False`` starts from the
        previous model.
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
    single_precision: bool = False
    round_single_precision: bool = True
    warm_step: bool = True

    @property
    def runs_single_precision(self) -> bool:
        """Whether this engine and algorithm can keep the node tables in float32 (the numpy engine's accelerated method)."""
        return (self.engine, self.algorithm) == ("numpy", "accelerated")

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
        if self.single_precision and not self.runs_single_precision:
            raise ValueError(
                f"single_precision runs only in the numpy engine's accelerated method, not engine={self.engine!r} with "
                f"algorithm={self.algorithm!r}; pass single_precision=False, or engine='numpy', algorithm='accelerated'"
            )
        for name in ("noise_level_stop", "round_noise_level_stop"):
            value = getattr(self, name)
            if value is not None and not value >= 1:
                raise ValueError(f"{name} must be None or at least 1, got {value!r}")
        stops = [name for name in ("noise_level_stop", "round_noise_level_stop") if getattr(self, name) is not None]
        if self.engine == "mbi" and stops:
            raise ValueError(
                f"engine='mbi' runs mbi's public estimator, which cannot stop by the discrepancy rule ({', '.join(stops)}); pass "
                "EstimationOptions(engine='mbi', algorithm='mirror_descent', noise_level_stop=None, round_noise_level_stop=None) "
                "(optionally with tol), or engine='numpy'"
            )
