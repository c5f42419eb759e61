"""Train on synthetic, test on real (TSTR): does a model fitted on the synthetic table predict real rows?

A scikit-learn histogram gradient-boosting model (classifier for a categorical target,
regressor for a numeric one) is fitted on the synthetic table and scored on a real
test table the synthesizer never saw: accuracy for classification, R^2 for regression
(Esteban, Hyland and Rätsch 2017 introduced the protocol for synthetic data). The same
model trained on the real training table gives the ceiling (TRTR).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import NumericColumn, Schema
from .columns import as_labels
from .record_features import record_features

__all__ = ["train_synthetic_test_real"]


def train_synthetic_test_real(
    train: pd.DataFrame, real_test: pd.DataFrame, target: str, schema: Schema, seed: int = 0
) -> float:
    """Score on ``real_test`` of a model fitted on ``train`` (synthetic for TSTR, real for TRTR).

    Parameters
    ----------
    train : DataFrame
        The table to learn from.
    real_test : DataFrame
        Real rows held out from every synthesizer.
    target : str
        The column to predict; the others are the features.
    schema : Schema
        Complete evaluation schema (:func:`.columns.evaluation_schema`).
    seed : int
        The model's random state.

    Returns
    -------
    float
        Accuracy (categorical target) or R^2 (numeric target) on ``real_test``.

    Examples
    --------
    >>> from dpquilt.evaluation.columns import evaluation_schema
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.random(400)})
    >>> df["y"] = np.where(df.x > 0.5, "hi", "lo")
    >>> train_synthetic_test_real(df[:300], df[300:], "y", evaluation_schema(df)) > 0.9
    True
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, r2_score

    if target not in schema:
        raise ValueError(f"target {target!r} is not a column of the table; choose one of {list(schema.names)}")
    features = [c for c in schema.names if c != target]
    numeric = isinstance(schema[target], NumericColumn)
    y_train, y_test = _target(train[target], numeric), _target(real_test[target], numeric)
    keep_train, keep_test = pd.notna(y_train), pd.notna(y_test)
    if keep_train.sum() < 2:
        raise ValueError(f"the training table has fewer than two rows with a {target!r} value")
    x_train = record_features(train, schema, features)[keep_train]
    x_test = record_features(real_test, schema, features)[keep_test]
    if numeric:
        model = HistGradientBoostingRegressor(random_state=seed).fit(x_train, y_train[keep_train])
        return float(r2_score(y_test[keep_test], model.predict(x_test)))
    labels = y_train[keep_train]
    if len(np.unique(labels)) < 2:  # one class only: the model predicts it everywhere
        return float(np.mean(y_test[keep_test] == labels[0]))
    model = HistGradientBoostingClassifier(random_state=seed).fit(x_train, labels)
    return float(accuracy_score(y_test[keep_test], model.predict(x_test)))


def _target(series: pd.Series, numeric: bool) -> np.ndarray:
    if numeric:
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    return as_labels(series).where(series.notna(), None).to_numpy(dtype=object)
