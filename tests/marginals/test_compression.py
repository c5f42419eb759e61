"""Compression: rare codes merged from noisy 1-way counts only, and split back uniformly."""

import numpy as np

from dpquilt.marginals.compression import COMPRESS_SIGMAS, Compression, compress
from dpquilt.marginals.measurement import Measurement
from dpquilt.schema.dataset import Dataset


def test_codes_under_three_sigma_are_merged_and_the_merged_cell_keeps_the_noise_scale():
    sigma = 2.0
    noisy = np.array([50.0, 40.0, 3.0, -1.0, 5.9])  # 3 sigma = 6: the last three are rare
    compression, (measured,) = compress([Measurement(("a",), noisy, sigma)], {"a": 5})
    assert COMPRESS_SIGMAS * sigma == 6.0
    assert compression.mapping["a"].tolist() == [0, 1, 2, 2, 2] and compression.merged["a"].tolist() == [2, 3, 4]
    assert compression.domain == {"a": 3}
    # three unit-weight cells summed: the merged estimate is their sum, its weight 1/sqrt(3) keeps sigma per cell
    np.testing.assert_allclose(measured.noisy, [50.0, 40.0, (3.0 - 1.0 + 5.9) / np.sqrt(3)])
    np.testing.assert_allclose(measured.cell_weights, [1.0, 1.0, 1 / np.sqrt(3)])
    assert measured.sigma == sigma


def test_nothing_rare_means_the_identity_and_the_same_measurement():
    m = Measurement(("a",), np.array([30.0, 40.0]), 1.0)
    compression, (kept,) = compress([m], {"a": 2})
    assert compression.merged["a"].size == 0 and kept is m
    data = Dataset({"a": np.array([0, 1, 1])}, {"a": 2})
    assert compression.apply(data).columns["a"].tolist() == [0, 1, 1]
    assert Compression.identity({"a": 2}).domain == {"a": 2}


def test_undo_draws_merged_codes_uniformly_among_their_originals():
    compression = Compression({"a": np.array([0, 1, 1, 1])}, {"a": np.array([1, 2, 3])})
    codes = Dataset({"a": np.array([0] * 10 + [1] * 30_000)}, {"a": 2})
    back = compression.undo(codes, np.random.default_rng(0)).columns["a"]
    assert (back[:10] == 0).all()
    shares = np.bincount(back[10:], minlength=4)[1:] / 30_000
    np.testing.assert_allclose(shares, 1 / 3, atol=0.015)
    np.testing.assert_allclose(compression.spread("a", np.array([4.0, 9.0])), [4.0, 3.0, 3.0, 3.0])
