"""Fit several synthesizers at several budgets on one split and measure them the same way.

:func:`compare` returns a tidy table (one row per method, epsilon, seed and metric) in
which the real holdout table also appears as a "method" (``HOLDOUT``, epsilon ``inf``):
its rows are what real data of the same size scores (sampling error; TSTR becomes
train-on-real test-on-real), which makes the synthesizers' numbers readable.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..rows.inputs import is_dask_frame
from ..schema import Schema
from ..synthesizers.base import clone_with
from . import plots
from .association import association_difference
from .binning import EvaluationBinning, binned_tv
from .columns import column_distances, evaluation_schema, numeric_columns
from .disclosure import distance_to_closest_record, membership_inference_auc
from .fidelity import correlation_difference
from .results import HOLDOUT, result_rows
from .utility import train_synthetic_test_real
from .workload_error import workload_error

log = logging.getLogger(__name__)

#: rows of a Dask table that compare() scores (a seeded random share: its metrics read tables in memory)
SCORED_ROWS = 100_000

__all__ = ["HOLDOUT", "METRICS", "compare", "holdout_floor", "measure"]

METRICS = ("binned_1", "binned_2", "binned_3", "workload_1", "workload_2", "workload_3", "column_distance",
           "correlation", "association", "tstr", "dcr_train_share", "mia_auc")


def measure(
    real_train: pd.DataFrame,
    real_test: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    target: str | None = None,
    metrics: Sequence[str] = METRICS,
    max_rows: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Every metric of ``metrics`` that applies, for one synthetic table.

    Binned errors (mean TV over 1-, 2-, 3-way marginals on an evaluation binning of
    ``real_train`` that no synthesizer chose: :func:`.binning.binned_tv`), workload
    errors (the same on ``schema``'s bins, which hide what a synthesizer's own binning loses),
    mean per-column distance, numeric correlation and categorical association
    differences are against ``real_train`` (what the synthesizer saw); TSTR is scored on
    ``real_test`` (needs ``target``); DCR and membership inference compare ``real_train``
    with ``real_test``. Metrics that do not apply (no target, fewer than two numeric or
    categorical columns) are left out.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.random(200), "c": rng.choice(list("ab"), 200)})
    >>> out = measure(df[:100], df[100:], df[100:], evaluation_schema(df), metrics=["workload_1", "mia_auc"])
    >>> sorted(out)
    ['mia_auc', 'workload_1']
    """
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
    numeric = numeric_columns(schema)
    categorical = [c for c in schema.names if c not in numeric]
    out: dict[str, float] = {}
    binning = EvaluationBinning.of(real_train) if any(m.startswith("binned_") for m in metrics) else None
    for k in (1, 2, 3):
        if f"binned_{k}" in metrics:
            out[f"binned_{k}"] = binned_tv(real_train, synthetic, k, binning, seed=seed)
        if f"workload_{k}" in metrics:
            out[f"workload_{k}"] = workload_error(real_train, synthetic, schema, k=k)
    if "column_distance" in metrics:
        out["column_distance"] = float(column_distances(real_train, synthetic, schema).distance.mean())
    if "correlation" in metrics and len(numeric) >= 2:
        out["correlation"] = correlation_difference(real_train, synthetic, numeric)
    if "association" in metrics and len(categorical) >= 2:
        out["association"] = association_difference(real_train, synthetic, categorical)
    if "tstr" in metrics and target is not None:
        out["tstr"] = train_synthetic_test_real(synthetic, real_test, target, schema, seed)
    if "dcr_train_share" in metrics:
        out["dcr_train_share"] = distance_to_closest_record(real_train, synthetic, real_test, schema, max_rows, seed)
    if "mia_auc" in metrics:
        out["mia_auc"] = membership_inference_auc(real_train, real_test, synthetic, schema, max_rows, seed)
    return out


def holdout_floor(
    real_train: pd.DataFrame, real_test: pd.DataFrame, schema: Schema, target: str | None, metrics: Sequence[str]
) -> dict[str, float]:
    """The metrics with the real holdout in the synthetic table's place: what real data scores.

    Fidelity metrics compare ``real_test`` with ``real_train`` (sampling error only); TSTR
    becomes train-on-real test-on-real. The nearest-neighbour metrics are left out (the
    holdout is their reference, so they would say nothing).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.random(400), "c": rng.choice(list("ab"), 400)})
    >>> floor = holdout_floor(df[:200], df[200:], evaluation_schema(df), "c", ["workload_1", "tstr", "mia_auc"])
    >>> floor  # c is independent of x: real data predicts it no better than chance
    {'workload_1': 0.125, 'tstr': 0.475}
    """
    fidelity = [m for m in metrics if m not in ("tstr", "dcr_train_share", "mia_auc")]
    out = measure(real_train, real_test, real_test, schema, None, fidelity)
    if "tstr" in metrics and target is not None:
        out["tstr"] = train_synthetic_test_real(real_train, real_test, target, schema)
    return out


def compare(
    real_train: pd.DataFrame,
    real_test: pd.DataFrame,
    synthesizers: Mapping[str, Any],
    epsilons: Sequence[float] = (1.0,),
    seeds: int = 3,
    target: str | None = None,
    schema: Schema | None = None,
    metrics: Sequence[str] = METRICS,
    n_samples: int | None = None,
    max_rows: int = 1000,
    plot: bool = False,
    progress: bool = True,
    scored_rows: int = SCORED_ROWS,
) -> pd.DataFrame:
    """Fit each synthesizer at each budget and seed on ``real_train``; measure each sample.

    Parameters
    ----------
    real_train, real_test : DataFrame or dask.dataframe.DataFrame
        A split of the real table (same columns). Synthesizers see only ``real_train``.
        A Dask table is fitted whole (synthesizers that take Dask input, such as
        :class:`~dpquilt.MarginalSynthesizer`) and scored on a seeded random share of
        about ``scored_rows`` of its rows (``results.attrs["scored_rows"]`` says how
        many; the metrics read tables in memory).
    synthesizers : mapping of name to synthesizer or function
        An unfitted synthesizer (``dq.MarginalSynthesizer(method="aim")``, ...) is
        cloned with each ``epsilon`` and ``random_state=seed``; a function
        ``(epsilon, seed) -> synthesizer`` is called instead.
    epsilons : sequence of float
        Budgets.
    seeds : int
        Fits per method and budget (seeded runs: for evaluation, not for release).
    target : str, optional
        Column to predict for train-on-synthetic test-on-real.
    schema : Schema, optional
        Public facts to evaluate on; what it leaves open is read from ``real_train``
        (:func:`.columns.evaluation_schema`; evaluation is not private).
    metrics : sequence of str
        Any of :data:`METRICS`.
    n_samples : int, optional
        Rows to sample per fit (default: as many as ``real_train``, or as its scored
        share when it is a Dask table).
    max_rows : int
        Synthetic records (and, for membership inference, real records of each side)
        the nearest-neighbour metrics compare; DCR compares them with equal samples of
        the training and holdout tables as large as the smaller of the two.
    plot : bool
        Draw error against epsilon, per-column distributions and correlation heatmaps
        (matplotlib; the first seed's sample at the largest epsilon per method).
    progress : bool
        A progress bar from the start: the holdout's metrics, then each fit and its metrics.
    scored_rows : int
        How many rows of a Dask table the metrics read (see ``real_train``).

    Returns
    -------
    DataFrame
        Columns ``method, epsilon, seed, metric, value, fit_seconds``. The real holdout
        appears as method :data:`HOLDOUT` with epsilon ``inf``. ``attrs["scored_rows"]``
        holds the rows of ``real_train`` and ``real_test`` the metrics read.

    Examples
    --------
    >>> import dpquilt as dq
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"a": rng.choice(list("xyz"), 400), "b": rng.choice(list("uv"), 400)})
    >>> res = dq.compare(df[:300], df[300:], {"mst": dq.MarginalSynthesizer()}, epsilons=[1.0],
    ...                  seeds=1, metrics=["workload_2"], progress=False)
    >>> res[["method", "epsilon", "metric"]].values.tolist()
    [['real holdout', inf, 'workload_2'], ['mst', 1.0, 'workload_2']]
    """
    from tqdm.auto import tqdm

    if not synthesizers:
        raise ValueError("pass at least one synthesizer, e.g. {'mst': dq.MarginalSynthesizer()}")
    if not (isinstance(scored_rows, (int, np.integer)) and scored_rows >= 1):
        raise ValueError(f"scored_rows must be a positive integer, got {scored_rows!r}")
    for label, table in (("real_train", real_train), ("real_test", real_test)):
        _check_table(table, label)
    if list(real_train.columns) != list(real_test.columns):
        raise ValueError("real_train and real_test must have the same columns in the same order")
    if target is not None and target not in real_train.columns:
        raise ValueError(f"target {target!r} is not a column; choose one of {list(real_train.columns)}")
    if not (isinstance(seeds, (int, np.integer)) and seeds >= 1):
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    makers = {name: _maker(name, s) for name, s in synthesizers.items()}
    # every check done: only now read a Dask table's rows (it is fitted whole and scored on a share)
    fit_rows = real_train
    real_train = _scored_share(real_train, "real_train", scored_rows)
    real_test = _scored_share(real_test, "real_test", scored_rows)
    eval_schema = evaluation_schema(real_train, schema)
    kept: dict[str, pd.DataFrame] = {}
    bar = tqdm(total=1 + len(makers) * len(epsilons) * seeds, desc="compare", unit="step", disable=not progress)
    with bar:
        bar.set_postfix_str("metrics of the real holdout")
        rows = [result_rows(HOLDOUT, np.inf, 0, holdout_floor(real_train, real_test, eval_schema, target, metrics), 0.0)]
        bar.update(1)
        for name, make in makers.items():
            for epsilon in sorted(epsilons):
                for seed in range(seeds):
                    bar.set_postfix_str(f"{name} eps={epsilon:g} seed={seed}: fit")
                    synth = make(float(epsilon), seed)
                    start = time.perf_counter()
                    synth.fit(fit_rows)
                    seconds = time.perf_counter() - start
                    sample = _sample(synth, n_samples if n_samples is not None else len(real_train), seed)
                    if seed == 0:
                        kept[name] = sample
                    bar.set_postfix_str(f"{name} eps={epsilon:g} seed={seed}: metrics")
                    values = measure(real_train, real_test, sample, eval_schema, target, metrics, max_rows, seed)
                    rows.append(result_rows(name, float(epsilon), seed, values, seconds))
                    bar.update(1)
    results = pd.concat(rows, ignore_index=True)
    results.attrs["scored_rows"] = {"real_train": len(real_train), "real_test": len(real_test)}
    if plot:
        plots.error_vs_epsilon(results)
        plots.column_distributions(real_train, kept, eval_schema)
        plots.correlation_heatmaps(real_train, kept, eval_schema)
    return results


def _check_table(table: Any, label: str) -> None:
    if not (isinstance(table, pd.DataFrame) or is_dask_frame(table)):
        raise TypeError(
            f"{label} is a {type(table).__name__}; compare() takes pandas DataFrames or Dask DataFrames "
            f"(for a list of files, dask.dataframe.read_parquet(...); or a random share in memory, "
            f"ddf.sample(frac=0.01, random_state=0).compute())"
        )


def _scored_share(table: Any, label: str, rows: int) -> pd.DataFrame:
    """``table`` itself if in memory; of a Dask table, a seeded random share of about ``rows``
    rows (the whole table when it has no more), in memory."""
    if isinstance(table, pd.DataFrame):
        return table
    total = len(table)  # one pass over the partitions
    share = table.sample(frac=rows / total, random_state=0) if total > rows else table
    scored = share.compute().reset_index(drop=True)
    log.info("compare: scoring %s on %d of its %d rows (a seeded random share)", label, len(scored), total)
    return scored


def _sample(synth: Any, n: int, seed: int) -> pd.DataFrame:
    """``n`` records, seeded where the synthesizer's ``sample`` takes ``random_state`` (seeded runs repeat)."""
    if "random_state" in inspect.signature(synth.sample).parameters:
        return synth.sample(n, random_state=seed)
    return synth.sample(n)


def _maker(name: str, synthesizer: Any) -> Callable[[float, int], Any]:
    if hasattr(synthesizer, "get_params"):
        if hasattr(synthesizer, "accountant_"):
            raise ValueError(f"synthesizer {name!r} is already fitted; pass an unfitted one (it is cloned per budget)")
        return lambda epsilon, seed: clone_with(synthesizer, epsilon=epsilon, random_state=seed, verbose=False)
    if callable(synthesizer):
        return synthesizer
    raise TypeError(f"synthesizer {name!r} must be an unfitted synthesizer or a function (epsilon, seed) -> synthesizer")
