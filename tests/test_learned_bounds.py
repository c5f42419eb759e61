"""Bounds learned from the noisy band histogram: thin tails are kept, noise is not."""

import numpy as np
import pandas as pd
import pytest

from dpquilt.privacy.accountant import Accountant
from dpquilt.privacy.mechanisms import sigma_for_rho
from dpquilt.privacy.noise import SeededNoise
from dpquilt.schema.bounds import BAND_SHARE, band_edges, occupied_bands
from dpquilt.schema.learning import learn_schema, merge_specs


def band_counts(x, edges):
    return np.bincount(np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2), minlength=edges.size - 1)


def zero_inflated(n, rng):
    """82% zeros, the rest log-normal around 1,500 (like modeldata::credit_data's Debt)."""
    x = np.zeros(n)
    tail = rng.random(n) < 0.18
    x[tail] = np.round(rng.lognormal(np.log(1500), 0.9, tail.sum()))
    return x


def test_a_thin_tail_spread_over_bands_widens_the_range():
    rng = np.random.default_rng(0)
    edges = band_edges("float")
    counts = band_counts(zero_inflated(4454, rng), edges)
    sigma = 71.0
    assert counts[counts < counts.max()].max() < 4 * sigma  # no tail band passes alone
    uppers, single_band_uppers = [], []
    for seed in range(200):
        noisy = SeededNoise(np.random.default_rng(seed)).discrete_gaussian(counts, sigma)
        first, last = occupied_bands(noisy, sigma)
        assert edges[first] == 0.0
        uppers.append(edges[last + 1])
        single_band_uppers.append(edges[occupied_bands(noisy, sigma, longest_run=1)[1] + 1])
    assert np.mean(np.array(uppers) >= 2000) >= 0.75
    assert np.mean(np.array(single_band_uppers) >= 2000) <= 0.5  # bands alone mostly lose the tail
    assert max(uppers) <= 20000


def test_pure_noise_beyond_a_heavy_band_rarely_widens_it():
    edges = band_edges("float")
    counts = np.zeros(edges.size - 1, dtype=np.int64)
    heavy = int(np.searchsorted(edges, 100.0))
    counts[heavy] = 10_000
    noise = SeededNoise(np.random.default_rng(1))
    trials = 3000
    widened = sum(occupied_bands(noise.discrete_gaussian(counts, 50.0), 50.0) != (heavy, heavy) for _ in range(trials))
    # Expected ~0.4% (0.33% from single bands, at most a quarter of that more from runs).
    assert widened / trials <= 0.015


def test_a_padded_run_ends_at_its_last_counted_band_and_tails_below_widen_the_lower_bound():
    noisy = np.zeros(30, dtype=np.int64)
    noisy[20] = 5000
    noisy[4:8] = 350  # below the bulk, each under 4 sigma
    assert occupied_bands(noisy, 100.0) == (4, 20)
    noisy[22:26] = 350
    assert occupied_bands(noisy, 100.0) == (4, 25)


def test_learned_bounds_keep_a_zero_inflated_column():
    """The zeros become a point mass; the range is learned from the non-zero amounts."""
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"debt": zero_inflated(4454, rng)})
    rho = 2.0 / (2 * 71.0**2) / BAND_SHARE  # points and bounds, the bounds' band histogram at sigma 71
    uppers = []
    for seed in range(20):
        acc = Accountant(1.0, 1e-9, secure=False)
        schema = learn_schema(df, merge_specs(df, None), rho, 1e-10, acc, SeededNoise(np.random.default_rng(seed)))
        assert acc.ledger[1].noise_scale == pytest.approx(71.0) and acc.rho_spent <= rho * (1 + 1e-12)
        assert schema["debt"].points == (0.0,) and schema["debt"].lower > 0
        uppers.append(schema["debt"].upper)
    assert np.median(uppers) >= 2000


def test_a_range_that_the_noise_hides_is_not_invented():
    """A 10-row table at a small budget: no band is significant, so the fit stops and names the column."""
    import pytest

    import dpquilt as dq
    from dpquilt.schema.bounds import BoundsNotLearnedError

    df = pd.DataFrame({"age": [31, 45, 52, 38, 29, 61, 44, 35, 50, 47]})
    for seed in range(5):
        with pytest.raises(BoundsNotLearnedError, match=r"column 'age'.*public bounds.*schema_share") as info:
            dq.MarginalSynthesizer(epsilon=1.0, random_state=seed, verbose=False).fit(df)
        assert info.value.column == "age"


def test_with_enough_rows_the_same_column_learns_a_range_that_holds_it():
    df = pd.DataFrame({"age": np.random.default_rng(0).integers(20, 70, 20_000)})
    acc = Accountant(1.0, 1e-9, secure=False)
    schema = learn_schema(df, merge_specs(df, None), 0.005, 0.0, acc, SeededNoise(np.random.default_rng(0)))
    assert schema["age"].lower <= 20 and schema["age"].upper >= 69


def test_values_spanning_twenty_decades_keep_their_decades():
    """1e-6 to 1e15, log-uniform: a log-scaled quantile grid and equal-mass bins keep the small values apart."""
    import dpquilt as dq

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": 10 ** rng.uniform(-6, 15, 5000), "c": rng.choice(["a", "b"], 5000)})
    syn = dq.MarginalSynthesizer(epsilon=10.0, random_state=0, verbose=False).fit(df)
    out = syn.sample(5000, random_state=0)["x"]
    assert syn.schema_["x"].lower < 1e-3 and syn.schema_["x"].n_bins >= 16
    for cut in (1e-3, 1.0, 1e3, 1e6, 1e9):  # the share below each decade cut is near the real one
        assert abs((out < cut).mean() - (df["x"] < cut).mean()) < 0.05, cut


def test_a_narrow_range_far_from_zero_is_found_at_a_small_budget():
    """Fractional years in [2016.5, 2017.7] inside the band [2000, 5000]: the quantiles must not land in the empty part."""
    from dpquilt.schema.bounds import learn_bounds
    from dpquilt.schema import NumericColumn

    x = pd.Series(np.random.default_rng(0).uniform(2016.5, 2017.7, 15_000))
    for seed in range(30):
        acc = Accountant(10.0, 1e-9, secure=False)
        spec = learn_bounds(x, NumericColumn("when", points=()), 17.4, acc, SeededNoise(np.random.default_rng(seed)))
        assert 2014 < spec.lower < 2017 and 2017 < spec.upper < 2020, (seed, spec.lower, spec.upper)


def test_learned_bins_follow_the_rows_and_the_noise():
    from dpquilt.schema.bounds import MIN_BINS, bins_for_rows
    from dpquilt.schema.specs import DEFAULT_BINS

    assert bins_for_rows(5_000, 10.0) < bins_for_rows(50_000, 10.0) <= DEFAULT_BINS
    assert bins_for_rows(50_000, 40.0) < bins_for_rows(50_000, 10.0)
    assert bins_for_rows(10, 10.0) == MIN_BINS and bins_for_rows(10**9, 1.0) == DEFAULT_BINS
    assert bins_for_rows(50_000, None) == DEFAULT_BINS  # noise unknown: the default


def test_a_synthesizer_sizes_learned_bins_and_keeps_declared_ones():
    import dpquilt as dq

    rng = np.random.default_rng(7)

    def table(n):
        return pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "c": rng.choice(["a", "b"], n)})

    # 5,000 rows at epsilon 1 learn every range on every seed tried (20 of 20); 2,000 at 0.5 on about half
    small = dq.MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False).fit(table(5_000))
    large = dq.MarginalSynthesizer(epsilon=10.0, random_state=0, verbose=False).fit(table(200_000))
    assert small.schema_["x"].n_bins < large.schema_["x"].n_bins
    declared = dq.MarginalSynthesizer(epsilon=1.0, random_state=0, verbose=False,
                                      schema={"x": {"kind": "float", "bins": 20}}).fit(table(5_000))
    assert declared.schema_["x"].n_bins == 20 and declared.schema_["x"].lower is not None
    from dpquilt.schema import NumericColumn

    assert NumericColumn("z", lower=0, upper=1, bins=None).n_bins == 32  # public bounds, bins left open: the default


def test_a_range_in_a_corner_of_its_band_is_zoomed_into_at_the_same_cost(monkeypatch):
    from dpquilt.privacy.conversions import rho_of_gaussian
    from dpquilt.schema import NumericColumn
    import dpquilt.schema.bounds as bounds_module
    from dpquilt.schema.bounds import ZOOM_LEVELS, ZOOM_SHARE, learn_bounds

    years = pd.Series(np.random.default_rng(8).uniform(2016.5, 2017.7, 15_000))  # the band is [2000, 5000]
    acc = Accountant(1.0, 1e-9, secure=False)
    sigma = 400.0  # a small budget: quantiles over the whole band alone miss (checked below)
    spec = learn_bounds(years, NumericColumn("year"), sigma, acc, SeededNoise(np.random.default_rng(0)))
    assert 2013 < spec.lower <= 2016.5 and 2017.7 <= spec.upper < 2021
    whats = [e.what for e in acc.ledger]
    assert whats[1:3] == ["zoom of 'year' (histogram over its band)", "zoom of 'year' (histogram over its band, level 2)"]
    share = (1 - BAND_SHARE) * ZOOM_SHARE / ZOOM_LEVELS
    assert [e.noise_scale for e in acc.ledger[1:3]] == pytest.approx([sigma / np.sqrt(share)] * 2)
    assert acc.rho_spent == pytest.approx(rho_of_gaussian(sigma))  # band + zoom + two quantiles: the fact's cost
    unzoomed = Accountant(1.0, 1e-9, secure=False)
    monkeypatch.setattr(bounds_module, "ZOOM_SHARE", 0.0)
    alone = learn_bounds(years, NumericColumn("year"), sigma, unzoomed, SeededNoise(np.random.default_rng(0)))
    monkeypatch.undo()
    assert alone.lower == 2000.0  # the quantiles alone keep the band's edge
    wide = pd.Series(np.random.default_rng(9).uniform(1, 4000, 15_000))  # several bands: no zoom
    acc2 = Accountant(1.0, 1e-9, secure=False)
    learn_bounds(wide, NumericColumn("w"), sigma, acc2, SeededNoise(np.random.default_rng(0)))
    assert not any(e.what.startswith("zoom") for e in acc2.ledger)
