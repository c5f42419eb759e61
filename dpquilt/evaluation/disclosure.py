"""How close synthetic records come to the real ones: DCR and a membership-inference score.

* **Distance to closest record (DCR)**, SDMetrics' ``DCROverfittingProtection`` (its
  distance, computed here in numpy: :func:`nearest_gower_distance`): the share
  of synthetic records whose nearest real record is in the training table rather than
  in an equally large holdout table. About 0.5 when the synthesizer did not copy its
  training rows; near 1 when it did.
* **Membership inference**, a distance attack in the manner of GAN-Leaks (Chen, Yu, Zhang
  and Fritz, CCS 2020, full black-box): score each candidate by minus its L1 (Gower)
  distance to the nearest synthetic record; the AUC of telling training members from
  holdout non-members by that score. 0.5 is chance.

Both read real data without noise: for the curator's assessment, not for release. An
empirical check, not a proof: differential privacy bounds what any attack can gain
(``tests/privacy/`` audits that bound).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import NumericColumn, Schema
from .record_features import record_features

__all__ = ["distance_to_closest_record", "membership_inference_auc", "nearest_gower_distance"]


def _equal_samples(a: pd.DataFrame, b: pd.DataFrame, max_rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b), max_rows)
    if n < 1:
        raise ValueError("both the training and the holdout table need at least one row")
    pick = lambda df: df.iloc[np.sort(rng.choice(len(df), n, replace=False))]  # noqa: E731
    return pick(a), pick(b)


def distance_to_closest_record(
    real_train: pd.DataFrame,
    synthetic: pd.DataFrame,
    real_holdout: pd.DataFrame,
    schema: Schema,
    max_rows: int = 1000,
    seed: int = 0,
) -> float:
    """Share of synthetic records closer to the training table than to the holdout (SDMetrics).

    Parameters
    ----------
    real_train, real_holdout : DataFrame
        The synthesizer's training rows and real rows it never saw; the larger is
        subsampled to the size of the smaller.
    synthetic : DataFrame
        Subsampled to at most ``max_rows`` records.
    schema : Schema
        Complete evaluation schema (column kinds).
    max_rows, seed : int
        Synthetic records compared, and the subsamples' seed (the cost is
        ``max_rows`` times the real rows).

    Returns
    -------
    float
        In [0, 1]; about 0.5 when nothing was copied.

    Examples
    --------
    >>> from dpquilt.evaluation.columns import evaluation_schema
    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame({"x": rng.random(200), "c": rng.choice(list("abc"), 200)})
    >>> distance_to_closest_record(real[:100], real[:100], real[100:], evaluation_schema(real))  # a copy
    1.0
    """
    cols = list(schema.names)
    train, holdout = _equal_samples(real_train[cols], real_holdout[cols], max(len(real_train), len(real_holdout)), seed)
    synth, _ = _equal_samples(synthetic[cols], synthetic, max_rows, seed + 1)
    to_train = nearest_gower_distance(synth, train, schema)
    to_holdout = nearest_gower_distance(synth, holdout, schema)
    return float(np.mean(to_train < to_holdout))


#: Synthetic records compared with all reference records at once (bounds memory: rows x reference x 8 bytes).
_DCR_CHUNK = 256


def nearest_gower_distance(dataset: pd.DataFrame, reference: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Each record's distance to its closest record of ``reference``, as SDMetrics' DCR measures it.

    The distance is the mean over columns of: for a numeric or datetime column,
    ``min(|x - y| / range, 1)`` with the range of ``reference`` (a zero range counts any
    difference as 1); for any other column, 0 when the values are equal and 1 when not.
    A missing value is 0 from another missing value and 1 from a present one. This is
    ``sdmetrics.single_table.privacy.dcr_utils.calculate_dcr`` (SDMetrics 0.32), computed
    in chunks of numpy arrays instead of a pandas cross join: the same numbers
    (tested against it), about a hundred times faster.

    Examples
    --------
    >>> from dpquilt.evaluation.columns import evaluation_schema
    >>> ref = pd.DataFrame({"x": [0.0, 10.0], "c": ["a", "b"]})
    >>> nearest_gower_distance(pd.DataFrame({"x": [1.0, 9.0], "c": ["b", "b"]}), ref, evaluation_schema(ref)).tolist()
    [0.45, 0.05]
    """
    columns = []
    for name in schema.names:
        if isinstance(schema[name], NumericColumn):
            data, ref = _as_float(dataset[name]), _as_float(reference[name])
            present = ref[~np.isnan(ref)]
            span = float(present.max() - present.min()) if present.size else float("nan")
            columns.append(("numeric", data, ref, span))
        else:
            codes, _ = pd.factorize(pd.concat([dataset[name], reference[name]], ignore_index=True).astype(object))
            columns.append(("label", codes[: len(dataset)], codes[len(dataset) :], None))
    out = np.empty(len(dataset))
    for start in range(0, len(dataset), _DCR_CHUNK):
        stop = min(start + _DCR_CHUNK, len(dataset))
        total = np.zeros((stop - start, len(reference)))
        for kind, data, ref, span in columns:
            a, b = data[start:stop, None], ref[None, :]
            if kind == "label":  # factorize gives missing values the code -1: equal to each other
                total += a != b
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                diff = np.abs(b - a)
                diff = (diff > 0).astype(float) if span == 0 else np.minimum(diff / span, 1.0)
            gap_a, gap_b = np.isnan(a), np.isnan(b)
            diff = np.where(gap_a & gap_b, 0.0, np.where(gap_a | gap_b, 1.0, diff))
            total += diff
        out[start:stop] = total.min(axis=1) / len(columns)
    return out


def _as_float(series: pd.Series) -> np.ndarray:
    """Numbers as floats; datetimes as seconds (missing as NaN)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        seconds = series.astype("int64").to_numpy() / 1e9
        return np.where(series.isna().to_numpy(), np.nan, seconds)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


def membership_inference_auc(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    max_rows: int = 1000,
    seed: int = 0,
) -> float:
    """AUC of the nearest-synthetic-record attack at telling training rows from holdout rows.

    Examples
    --------
    >>> from dpquilt.evaluation.columns import evaluation_schema
    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame({"x": rng.random(400), "c": rng.choice(list("abc"), 400)})
    >>> train, holdout = real[:200], real[200:]
    >>> membership_inference_auc(train, holdout, train, evaluation_schema(real)) > 0.9  # a copy leaks
    True
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.neighbors import NearestNeighbors

    if len(synthetic) == 0:
        raise ValueError("the synthetic table is empty")
    members, others = _equal_samples(real_train, real_holdout, max_rows, seed)
    index = NearestNeighbors(n_neighbors=1, metric="manhattan").fit(record_features(synthetic, schema))
    scores = [-index.kneighbors(record_features(t, schema))[0][:, 0] for t in (members, others)]
    labels = np.r_[np.ones(len(members)), np.zeros(len(others))]
    return float(roc_auc_score(labels, np.concatenate(scores)))
