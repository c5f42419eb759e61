"""Learn a numeric, integer or datetime column's range with DP.

A noisy histogram over data-independent, log-spaced bands (:func:`band_edges`); the
bounds are the outer edges of the lowest and the highest band whose noisy count reaches
``BAND_THRESHOLD_SIGMAS`` standard deviations, widened to any run of adjacent bands
beyond them whose noisy sum is significant (:func:`occupied_bands`: a thin tail spread
over several bands). One row falls in one band, so the histogram has L2 sensitivity 1
and one Gaussian measurement learns both bounds of a column. Bins are then equal-width
between the bounds, a function of the DP output only. (The idea is that of a DP bounds
search over exponentially growing bands, as in OpenDP's ``exponential_bounds_search``,
done here with one histogram.) When no band is significant, the range is not invented
from noise: :class:`BoundsNotLearnedError` names the column and the fix.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from statistics import NormalDist

import numpy as np
import pandas as pd

from ..privacy.accountant import Accountant
from ..privacy.mechanisms import exponential_mechanism_epsilon_for_rho, gaussian_counts, private_quantile_of_ranks
from ..privacy.noise import NoiseSource
from ..rows.engine import ColumnValues
from .column_types import numeric_values
from .specs import DEFAULT_BINS, NumericColumn

__all__ = [
    "BAND_RUN", "BAND_SHARE", "BAND_THRESHOLD_SIGMAS", "BIN_CELL_SIGMAS", "MAX_TAIL", "MIN_BINS", "QUANTILE_GRID", "REACH",
    "WIDE_BANDS", "ZOOM_LEVELS", "ZOOM_PARTS", "ZOOM_SHARE", "bins_for_rows", "BoundsNotLearnedError",
    "band_edges", "bin_edges_from_bands", "learn_bounds", "occupied_bands", "tail_share",
]

#: A band counts as occupied when its noisy count reaches this many sigmas (with
#: ~100 bands, the largest pure-noise count is about 3 sigma).
BAND_THRESHOLD_SIGMAS = 4.0

#: Longest run of adjacent bands tested together when widening the bounds (three decades).
BAND_RUN = 9

_MANTISSAS = (1.0, 2.0, 5.0)
_FLOAT_DECADES = range(-4, 13)


def band_edges(kind: str, lower: float | None = None, upper: float | None = None) -> np.ndarray:
    """Data-independent band edges for learning a column's bounds.

    Floats: ``0`` and ``+-m 10^k`` for ``m`` in (1, 2, 5) and ``k`` in -4..12.
    Integers: the same with ``k >= 0``. Datetimes: 1 January of every year from
    1900 to 2101, in seconds since 1970. A public half-bound replaces the edges
    beyond it.

    Examples
    --------
    >>> e = band_edges("integer", lower=0)
    >>> float(e[0]), float(e[1]), float(e[2]), float(e[3])
    (0.0, 1.0, 2.0, 5.0)
    """
    if kind == "datetime":
        years = pd.date_range("1900-01-01", "2101-01-01", freq="YS")
        edges = ((years - pd.Timestamp(0)).total_seconds()).to_numpy(dtype=np.float64)
    else:
        decades = range(0, 13) if kind == "integer" else _FLOAT_DECADES
        pos = np.array([m * 10.0**k for k in decades for m in _MANTISSAS])
        edges = np.unique(np.concatenate([-pos, [0.0], pos]))
    if lower is not None:
        edges = np.unique(np.concatenate([[lower], edges[edges > lower]]))
    if upper is not None:
        edges = np.unique(np.concatenate([edges[edges < upper], [upper]]))
    return edges


def occupied_bands(noisy: np.ndarray, sigma: float, longest_run: int = BAND_RUN) -> tuple[int, int] | None:
    """First and last band of a column's range, from its noisy band histogram.

    Post-processing of the released histogram (it spends nothing):

    1. Bands whose noisy count reaches ``BAND_THRESHOLD_SIGMAS * sigma`` are occupied.
       If none is, the most significant run of adjacent bands (by the test of step 2,
       trimmed to its bands whose count reaches ``sigma``) is the range: values spread
       thinly over a few bands. If no run is significant either, the histogram says
       nothing about where the values lie (its largest band is noise) and the answer is
       ``None``.
    2. A thin tail spreads its rows over several bands, none of which passes alone
       (a column that is zero for most rows and between 100 and 5,000 for the rest).
       A run of ``w`` adjacent bands (``2 <= w <= longest_run``) lying wholly beyond
       the range is significant when its noisy sum reaches ``t sigma sqrt(w)``. The
       range is widened to the nearest end of a significant run above it (and the
       nearest start of one below), trimmed to the run's last (first) band whose
       noisy count reaches ``sigma``, and the search repeats beyond the new range.
       Taking the nearest end keeps a run that is significant because of its first
       bands from carrying the range over the empty bands after them.
       A single empty band passes step 1 with probability
       ``p = P(Z >= BAND_THRESHOLD_SIGMAS)``; with ``longest_run - 1`` runs starting
       at each band, each run is tested at level ``p / (4 (longest_run - 1))``, so
       runs of pure noise pass at most a quarter as often as single bands do
       (Bonferroni; ``t`` = 4.76 for the defaults). A false pass is as harmful as a
       lost tail (the range then spans many decades), hence the small level.

    Parameters
    ----------
    noisy : ndarray of int
        Noisy count of each band, in band order.
    sigma : float
        Standard deviation of each count's noise.
    longest_run : int
        Most adjacent bands summed in step 2.

    Returns
    -------
    (int, int) or None
        Indices of the first and last band of the range; ``None`` when no band is
        significant (too few rows for the noise: the range cannot be learned).

    Examples
    --------
    >>> noisy = np.zeros(20, dtype=int)
    >>> noisy[3] = 4000              # most rows: one band
    >>> noisy[9:13] = 350            # a tail over four bands, each under 4 sigma = 400
    >>> occupied_bands(noisy, sigma=100.0)
    (3, 12)
    >>> occupied_bands(noisy, sigma=100.0, longest_run=1)  # without step 2
    (3, 3)
    >>> occupied_bands(np.array([30, 250, 10]), sigma=100.0) is None  # nothing reaches 4 sigma
    True
    >>> occupied_bands(np.array([0, 300, 320, 290, 0]), sigma=100.0)  # no band alone, but the run of three
    (1, 3)
    """
    noisy = np.asarray(noisy, dtype=np.float64)
    level = NormalDist().cdf(-BAND_THRESHOLD_SIGMAS) / (4 * max(longest_run - 1, 1))
    t = -NormalDist().inv_cdf(level)
    passing = np.flatnonzero(noisy >= BAND_THRESHOLD_SIGMAS * sigma)
    if passing.size:
        first, last = passing[0], passing[-1]
    else:
        run = _most_significant_run(noisy, sigma, t, longest_run)
        if run is None:
            return None
        first, last = run
    last = _widen_upwards(noisy, sigma, int(last), t, longest_run)
    first = noisy.size - 1 - _widen_upwards(noisy[::-1], sigma, noisy.size - 1 - int(first), t, longest_run)
    return int(first), int(last)


def _most_significant_run(noisy: np.ndarray, sigma: float, t: float, longest_run: int) -> tuple[int, int] | None:
    """The run of ``2 .. longest_run`` adjacent bands with the largest ``sum / (sigma sqrt(w))`` above ``t``,
    trimmed to its first and last band whose count reaches ``sigma``; ``None`` when no run reaches ``t``."""
    cum = np.concatenate([[0.0], np.cumsum(noisy)])
    best, best_z = None, t
    for width in range(2, min(longest_run, noisy.size) + 1):
        z = (cum[width:] - cum[:-width]) / (sigma * math.sqrt(width))
        start = int(np.argmax(z))
        if z[start] >= best_z:
            best, best_z = (start, start + width - 1), float(z[start])
    if best is None:
        return None
    counted = [i for i in range(best[0], best[1] + 1) if noisy[i] >= sigma]
    return (counted[0], counted[-1]) if counted else best


def _widen_upwards(noisy: np.ndarray, sigma: float, last: int, t: float, longest_run: int) -> int:
    """Step 2 of :func:`occupied_bands` above band ``last`` (the bands reversed give the step below)."""
    cum = np.concatenate([[0.0], np.cumsum(noisy)])
    index = np.arange(noisy.size)
    last_some = np.maximum.accumulate(np.where(noisy >= sigma, index, -1))  # last band <= i with a count >= sigma
    significant = {
        width: np.flatnonzero(cum[width:] - cum[:-width] >= t * sigma * math.sqrt(width))  # runs a .. a + width - 1
        for width in range(2, longest_run + 1)
    }
    while True:  # to the nearest end of a significant run beyond the range, then search beyond it again
        ends = [int(starts[starts > last].min()) + width - 1 for width, starts in significant.items()
                if (starts > last).any()]
        if not ends:
            return last
        last = int(last_some[min(ends)])


class BoundsNotLearnedError(ValueError):
    """No band of a column's noisy histogram is significant: its range cannot be learned.

    Raised instead of inventing a range from noise. A function of the DP release only
    (the noisy histogram), so raising it reveals nothing beyond what was paid for.

    Examples
    --------
    >>> print(BoundsNotLearnedError("age", 412.0))  # doctest: +NORMALIZE_WHITESPACE
    cannot learn the range of column 'age' with this budget and table size: no band of its noisy
    histogram reached 412 rows (4 noise standard deviations). Pass public bounds
    (schema={'age': {'lower': ..., 'upper': ...}}), a larger epsilon, a larger schema_share, or more rows
    """

    def __init__(self, column: str, threshold: float) -> None:
        self.column = column
        super().__init__(
            f"cannot learn the range of column {column!r} with this budget and table size: no band of its noisy "
            f"histogram reached {threshold:.0f} rows ({BAND_THRESHOLD_SIGMAS:g} noise standard deviations). "
            f"Pass public bounds (schema={{{column!r}: {{'lower': ..., 'upper': ...}}}}), a larger epsilon, "
            f"a larger schema_share, or more rows"
        )


#: Candidates of the exponential-mechanism quantiles that refine a band range.
QUANTILE_GRID = 2**16

#: Share of a column's bounds budget that the band histogram gets (the quantiles share the rest).
BAND_SHARE = 0.75

#: A range of one band (both bounds learned) is first zoomed into: a histogram over this many equal parts of it.
ZOOM_PARTS = 64

#: Most zoom histograms a column gets (each into the few parts the previous one found).
ZOOM_LEVELS = 2

#: Share of the quantiles' cost that the zoom histograms may take (split evenly over the levels; a level
#: not needed leaves its share to the quantiles). Measured on
#: ``benchmarks/raw_tables.py`` (6 tables, 2 seeds, MST): without the zoom, hotel_rates' fractional years
#: (in [2016.5, 2017.7], band [2000, 5000]) kept a lower bound of 2000 at epsilon 1 (1-way TV 0.53); with
#: it mean 2-way TV went from 0.155 / 0.0676 to 0.153 / 0.0671 at epsilon 1 / 10 (one level at 0.25 or 0.5
#: of the quantiles' share gave 0.153 / 0.0670, but left such a column at [2000, 2066] at smaller budgets).
ZOOM_SHARE = 0.5

#: A range over more bands than this (two decades of 1-2-5 bands) gets a log-scaled quantile grid and
#: bins of equal mass under the band histogram.
WIDE_BANDS = 6


#: Largest tail share a bound asks for (each bound then reaches over its tail, see :func:`learn_bounds`).
MAX_TAIL = 0.2

#: How far each bound reaches over its tail, in units of the tail at the central density (see :func:`learn_bounds`).
#: Measured on ``benchmarks/raw_tables.py`` (6 tables, 2 seeds, MST) with the histogram refiner, which keeps
#: the resolution inside wider bins: mean 2-way TV 0.175 / 0.0729 at epsilon 1 / 10 with 1 and 0.165 / 0.0722
#: with 2; the largest 1-way TV of a numeric column at epsilon 10 fell from 0.038 (lending_club's clipped
#: ``funded_amnt``) to 0.020. On four of the tables 3 gave 0.206 / 0.0905 against 2's 0.210 / 0.0903, but
#: a 1-way TV of 0.024.
REACH = 2.0


#: A learned column gets bins so that a 2-way marginal of two such columns holds about this many noise
#: deviations per cell (:func:`bins_for_rows`).
BIN_CELL_SIGMAS = 12.0

#: Fewest bins :func:`bins_for_rows` chooses (the histogram refiner keeps the resolution inside them).
MIN_BINS = 8


def bins_for_rows(rows: float, measurement_sigma: float | None) -> int:
    """Bins for a column of ``rows`` binned values whose marginals get noise ``measurement_sigma``.

    ``b = sqrt(rows / (BIN_CELL_SIGMAS sigma))``, so that the ``b^2`` cells of a 2-way
    marginal of two such columns hold on average ``BIN_CELL_SIGMAS`` noise deviations,
    kept in ``[MIN_BINS, DEFAULT_BINS]``; :data:`DEFAULT_BINS` when the noise is not
    known. A function of DP outputs (the noisy count) and public values only. More
    rows and more budget give more bins; within-bin shape is the refiner's job
    (:class:`~dpquilt.refiners.HistogramRefiner`). Measured on
    ``benchmarks/raw_tables.py`` (6 tables, 2 seeds, MST): mean 2-way TV 0.163 / 0.0718
    at epsilon 1 / 10 with 32 bins everywhere, 0.155 / 0.0676 with this rule (about 8
    bins at epsilon 1, 12-18 at epsilon 10), 0.156 / 0.0681 with 16 everywhere and
    0.155 / 0.0677 with 8 everywhere; with the rule no numeric column's 1-way TV at
    epsilon 10 exceeds 0.022. (The scores bin numeric columns at deciles; fewer bins
    than that would lose joint structure they cannot see, hence the floor of 8.)

    Examples
    --------
    >>> bins_for_rows(20_000, measurement_sigma=6.0), bins_for_rows(3_000, 30.0), bins_for_rows(10**7, 1.0)
    (17, 8, 32)
    """
    if measurement_sigma is None or not measurement_sigma > 0 or not rows > 0:
        return DEFAULT_BINS
    return int(np.clip(round(math.sqrt(rows / (BIN_CELL_SIGMAS * measurement_sigma))), MIN_BINS, DEFAULT_BINS))


def tail_share(epsilon: float, rows: float, candidates: int = QUANTILE_GRID) -> float:
    """The tail quantile to ask for: twice the exponential mechanism's rank error, as a share.

    The exponential-mechanism quantile over ``C`` candidates lands within about
    ``(2 / epsilon) ln C`` ranks of its target (McSherry and Talwar 2007, Theorem 6, with
    the utility's sensitivity 1). Asking for the ``alpha`` quantile with ``alpha n``
    twice that leaves every candidate outside the data ``C^-2`` times as likely as the
    target, so the bound falls into the empty part of the range with probability about
    ``1 / C``. ``alpha`` is kept in ``[0.0005, MAX_TAIL]``; at the cap (small budgets
    and tables) a bound may land in the empty part of the range, which still beats the
    band range it refines. Measured on ``benchmarks/raw_tables.py`` (3 seeds): a cap of
    0.05 let one hotel_rates fit in three put a bound in [2000, 5000] of a column that
    lies in [2016.5, 2017.7]. Keeping the band range above a cap of 0.1 gave storms'
    years 125-year bins at epsilon 1 (2-way TV 0.33 against 0.25). Shrinking the grid
    fails on narrow ranges: one candidate inside the data, and every one outside scores
    better.

    Examples
    --------
    >>> round(tail_share(epsilon=1.0, rows=20_000), 4), round(tail_share(epsilon=0.04, rows=15_000), 3)
    (0.0022, 0.074)
    >>> tail_share(epsilon=0.01, rows=5_000)
    0.2
    """
    alpha = 4.0 / epsilon * math.log(candidates) / max(rows, 1.0)
    return float(np.clip(alpha, 0.0005, MAX_TAIL))


def learn_bounds(
    series: pd.Series | ColumnValues,
    spec: NumericColumn,
    sigma: float,
    accountant: Accountant,
    noise: NoiseSource,
    measurement_sigma: float | None = None,
) -> NumericColumn:
    """``spec`` with the bounds it lacks, learned from ``series`` at the cost ``1 / (2 sigma^2)``.

    Up to three steps, each a DP release:

    1. the log-band histogram finds the range to within a band
       (:func:`occupied_bands`), at :data:`BAND_SHARE` of the cost (noise
       ``sigma / sqrt(BAND_SHARE)``): thin tails need it;
    2. when the range is one band and both bounds are to be learned, a histogram over
       :data:`ZOOM_PARTS` equal parts of the band narrows it to the occupied parts and one
       part beyond each side, and a second one zooms into those when they are few
       (:data:`ZOOM_LEVELS`; together at most :data:`ZOOM_SHARE` of the rest of the cost):
       a column of fractional years in [2016.5, 2017.7] lies in a small corner of the band
       [2000, 5000];
    3. exponential-mechanism quantiles (:func:`~dpquilt.privacy.mechanisms.private_quantile`,
       Smith 2011) on a grid of :data:`QUANTILE_GRID` candidates spread evenly over that
       range, one for each bound not given publicly (each half of the rest of the
       cost), at the tail share :func:`tail_share` chosen from their epsilon and the
       histogram's noisy row count. Each bound then reaches over its tail :data:`REACH`
       times as far as the tail would run at the central density (a share
       ``REACH alpha / (1 - 2 alpha)`` of the grid steps between them), within the band
       range: real tails are thinner than the centre. A range over more than
       :data:`WIDE_BANDS` bands (over two decades) gets a grid evenly spaced in
       ``sign(v) log(1 + |v| / c)`` and bins of equal mass under the band histogram
       (:func:`bin_edges_from_bands`): values from 1e-6 to 1e15 keep their decades. A latitude band of [20, 50] becomes about
       [24, 49.5] for latitudes spread evenly over [25, 48]; fractional years in [2000, 5000] become about [2016.5, 2017.7].

    A spec with ``bins=None`` gets :func:`bins_for_rows` of the histogram's noisy count
    and ``measurement_sigma`` (the noise its marginals will be measured with).

    Values equal to one of the spec's point masses (themselves a DP release) have codes
    of their own and are left out, so a zero-inflated amount gets the range of its
    non-zero part. When no band is significant but points are known, the range spans
    the points.

    Raises
    ------
    BoundsNotLearnedError
        When no band of the noisy histogram is significant and there are no points
        (a function of DP releases only).

    Examples
    --------
    >>> from dpquilt.privacy import Accountant, SeededNoise
    >>> lat = pd.Series(np.random.default_rng(0).uniform(25.0, 48.0, 5000))
    >>> acc = Accountant(3.0, 1e-9, secure=False)
    >>> spec = learn_bounds(lat, NumericColumn("lat"), 5.0, acc, SeededNoise(np.random.default_rng(0)))
    >>> 23.0 < spec.lower <= 25.0, 48.0 <= spec.upper < 50.0, len(acc.ledger)  # one band [20, 50]: zoomed into
    (True, True, 4)
    """
    edges = band_edges(spec.kind, lower=spec.lower, upper=spec.upper)
    x = ColumnValues.of(series).map(functools.partial(_values_between_points, spec.kind, spec.points or ()))
    counts = x.tally(functools.partial(_histogram, edges=edges))
    band_sigma = sigma / math.sqrt(BAND_SHARE)
    noisy = gaussian_counts(counts, band_sigma, f"bounds of {spec.name!r} (log-band histogram)", accountant, noise)
    bands = occupied_bands(noisy, band_sigma)
    if spec.bins is None:
        spec = replace(spec, bins=bins_for_rows(float(np.maximum(noisy, 0).sum()), measurement_sigma))
    if bands is None:
        if not spec.points:
            raise BoundsNotLearnedError(spec.name, BAND_THRESHOLD_SIGMAS * band_sigma)
        lower = spec.lower if spec.lower is not None else min(spec.points)
        upper = spec.upper if spec.upper is not None else max(spec.points)
        return replace(spec, lower=lower, upper=max(upper, lower), bins=1)
    first, last = bands
    lower = spec.lower if spec.lower is not None else float(edges[first])
    upper = spec.upper if spec.upper is not None else float(edges[last + 1])
    wide = last - first + 1 > WIDE_BANDS  # over two decades: quantile grid and bins on a log scale
    band_upper = upper
    quantile_share = 1.0 - BAND_SHARE
    if first == last and spec.lower is None and spec.upper is None and upper > lower and ZOOM_SHARE > 0:
        for level in range(ZOOM_LEVELS):  # each level narrows to a few of ZOOM_PARTS parts; zoom again while it does
            share = (1.0 - BAND_SHARE) * ZOOM_SHARE / ZOOM_LEVELS
            lower, upper, narrowed = _zoom(x, spec, lower, upper, sigma / math.sqrt(share), level, accountant, noise)
            quantile_share -= share
            if not narrowed:
                break
    if upper > lower:
        lower, upper = _refine(x, spec, lower, upper, np.maximum(noisy, 0).sum(), sigma, wide, accountant, noise,
                               quantile_share)
    if spec.grain is not None and spec.upper is None and upper == band_upper:
        upper -= spec.grain  # a band [a, b) holds the integers up to b - 1 (the days up to the eve of b)
    if spec.kind == "integer":
        lower, upper = math.floor(lower), math.ceil(upper) if spec.upper is not None else math.floor(upper)
    spec = replace(spec, lower=lower, upper=max(upper, lower))
    return replace(spec, edges=bin_edges_from_bands(noisy, edges, band_sigma, spec)) if wide else spec


def _symlog_grid(lower: float, upper: float, size: int) -> tuple[np.ndarray, float]:
    """``size`` points evenly spaced in ``sign(v) log10(1 + |v| / c)`` between the bounds, and ``c``."""
    c = max(abs(lower), abs(upper)) * 1e-9
    f = lambda v: np.sign(v) * np.log10(1.0 + np.abs(v) / c)  # noqa: E731
    u = np.linspace(f(lower), f(upper), size)
    grid = np.sign(u) * c * (10.0 ** np.abs(u) - 1.0)
    grid[0], grid[-1] = lower, upper
    return grid, c


def _histogram(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Exact counts of ``x`` in the intervals ``[e_i, e_{i+1})`` (values beyond the ends in the end intervals)."""
    index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2)
    return np.bincount(index, minlength=edges.size - 1)


def _values_between_points(kind: str, points: tuple[float, ...], series: pd.Series) -> np.ndarray:
    """The column's present values as numbers, less those equal to a point mass (they have codes of their own)."""
    x = numeric_values(series, kind)
    return x[~np.isin(x, np.asarray(points, dtype=np.float64))]


def _histogram_inside(lower: float, upper: float, edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:func:`_histogram` of the values in ``[lower, upper)``."""
    return _histogram(x[(x >= lower) & (x < upper)], edges)


def _ranks(lower: float, upper: float, grid: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many values, clipped to ``[lower, upper]``, lie below each grid point; and how many there are."""
    return np.searchsorted(np.sort(np.clip(x, lower, upper)), grid, side="left"), np.array([x.size])


def _zoom(x, spec, lower, upper, zoom_sigma, level, accountant, noise) -> tuple[float, float, bool]:
    """Where in ``[lower, upper)`` a column lies: a histogram over :data:`ZOOM_PARTS` equal parts of it.

    The range becomes the occupied parts (:func:`occupied_bands`) and one part beyond
    each side, or stays when none is significant. Also returns whether it narrowed to at
    most a sixteenth (worth zooming into again).
    """
    parts = np.linspace(lower, upper, ZOOM_PARTS + 1)
    counts = x.tally(functools.partial(_histogram_inside, lower, upper, parts))
    what = f"zoom of {spec.name!r} (histogram over its band{', level ' + str(level + 1) if level else ''})"
    noisy = gaussian_counts(counts, zoom_sigma, what, accountant, noise)
    occupied = occupied_bands(noisy, zoom_sigma)
    if occupied is None:
        return lower, upper, False
    first, last = max(occupied[0] - 1, 0), min(occupied[1] + 1, ZOOM_PARTS - 1)
    return float(parts[first]), float(parts[last + 1]), last - first + 1 <= ZOOM_PARTS // 16


def _refine(x, spec, lower, upper, rows, sigma, wide, accountant, noise, share=1.0 - BAND_SHARE) -> tuple[float, float]:
    """Step 2 of :func:`learn_bounds`: each bound not given publicly by an exponential-mechanism quantile."""
    epsilon = exponential_mechanism_epsilon_for_rho(1.0 / (2 * sigma**2) * share / 2.0)
    alpha = tail_share(epsilon, rows)
    grid = _symlog_grid(lower, upper, QUANTILE_GRID)[0] if wide else np.linspace(lower, upper, QUANTILE_GRID)
    below, (n,) = x.tally(functools.partial(_ranks, lower, upper, grid))  # one pass answers both quantiles
    if spec.lower is None:
        lower = private_quantile_of_ranks(below, int(n), grid, alpha, epsilon,
                                          f"lower bound of {spec.name!r} (quantile)", accountant, noise)
    if spec.upper is None:
        upper = private_quantile_of_ranks(below, int(n), grid, 1.0 - alpha, epsilon,
                                          f"upper bound of {spec.name!r} (quantile)", accountant, noise)
    # each tail holds a share alpha: reach over it REACH times as far as it would run at the central density
    # (counted in grid steps, so a log-scaled range reaches over its tails in decades)
    index = np.searchsorted(grid, [lower, upper])
    reach = int(round(max(index[1] - index[0], 0) * REACH * alpha / (1.0 - 2.0 * alpha)))
    if spec.lower is None:
        lower = float(grid[max(index[0] - reach, 0)])
    if spec.upper is None:
        upper = float(grid[min(index[1] + reach, grid.size - 1)])
    return lower, max(upper, lower)


def bin_edges_from_bands(noisy: np.ndarray, edges: np.ndarray, sigma: float, spec: NumericColumn) -> tuple[float, ...]:
    """``spec.bins`` bins of about equal mass under the noisy band histogram (for ranges over decades).

    Post-processing of the band histogram (it spends nothing). Bands whose noisy count is
    under ``sigma`` count as empty; the mass of a band is spread evenly over it. Equal
    widths would put a log-normal income spread over five decades into its first bin;
    these edges fall where the values are. (On the raw-tables benchmark, equal-mass
    edges for every column did no better than equal widths, so only ranges over
    :data:`WIDE_BANDS` bands get them.) Integer columns get integer edges, datetimes with
    a unit edges at midnights.

    Examples
    --------
    >>> edges = np.array([0.0, 10.0, 100.0, 1000.0])
    >>> spec = NumericColumn("income", lower=0.0, upper=1000.0, bins=4)
    >>> bin_edges_from_bands(np.array([0, 3000, 1000]), edges, 10.0, spec)  # three quarters in [10, 100)
    (0.0, 40.0, 70.0, 100.0, 1000.0)
    """
    lo, hi = float(spec.lower), float(spec.upper)
    if hi <= lo:
        return (lo, lo + 1.0)
    mass = np.where(np.asarray(noisy, dtype=np.float64) >= sigma, noisy, 0.0)
    left, right = np.clip(edges[:-1], lo, hi), np.clip(edges[1:], lo, hi)
    inside = mass * np.where(edges[1:] > edges[:-1], (right - left) / (edges[1:] - edges[:-1]), 0.0)
    total = inside.sum()
    if total <= 0:
        cuts = np.linspace(lo, hi, spec.bins + 1)
    else:
        knots = np.concatenate([[lo], right])
        cdf = np.concatenate([[0.0], np.cumsum(inside)])
        keep = np.concatenate([[True], right > left])
        cuts = np.interp(np.linspace(0.0, total, spec.bins + 1), cdf[keep], knots[keep])
        cuts[0], cuts[-1] = lo, hi
    if spec.grain is not None:  # integers, or whole days
        g = spec.grain
        cuts = np.round(cuts / g) * g
        cuts[0], cuts[-1] = np.floor(lo / g) * g, (np.floor(hi / g) + 1.0) * g
    cuts = np.unique(cuts)
    return tuple(float(v) for v in cuts) if cuts.size >= 2 else (lo, lo + 1.0)
