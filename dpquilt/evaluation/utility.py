"""Train on synthetic, test on real (TSTR): does a model fitted on the synthetic table predict real rows?

A scikit-learn histogram gradient-boosting model (classifier for a categorical target,
regressor for a numeric one) is fitted on the synthetic table and scored on a real
test table the synthesizer never saw: accuracy for classification, R^2 for regression
(Esteban, Hyland and Rätsch 2017 introduced the protocol for synthetic data). The same
model trained on the real training table gives the ceiling (TRTR). The model reads one
input per column, categorical columns as categories (:func:`model_inputs`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..schema import NumericColumn, Schema
from .columns import as_labels, as_numbers

__all__ = ["model_inputs", "train_synthetic_test_real"]

#: below this many training rows the model is fitted on one OpenMP thread: on small tables the
#: threads' start-up outweighs the work (titanic's 652 rows: 0.31-0.39 s on two threads, 0.27-0.32 s
#: on one; 10,000 rows about even; from 40,000 rows two threads were 1.5-1.8 times faster)
THREADED_TRAINING_ROWS = 10_000
#: most categories the model splits as categories (scikit-learn's limit: its 255 bins); a
#: longer public list enters as ordered codes
NATIVE_CATEGORIES = 255


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
    x_train, categorical = model_inputs(train, schema, features)
    x_test, _ = model_inputs(real_test, schema, features)
    x_train, x_test = x_train[keep_train], x_test[keep_test]
    threads = 1 if len(x_train) < THREADED_TRAINING_ROWS else None  # None: as many as OpenMP would use
    with threadpool_limits(limits=threads, user_api="openmp"):
        if numeric:
            model = HistGradientBoostingRegressor(categorical_features=categorical, random_state=seed).fit(x_train, y_train[keep_train])
            return float(r2_score(y_test[keep_test], model.predict(x_test)))
        labels = y_train[keep_train]
        if len(np.unique(labels)) < 2:  # one class only: the model predicts it everywhere
            return float(np.mean(y_test[keep_test] == labels[0]))
        model = HistGradientBoostingClassifier(categorical_features=categorical, random_state=seed).fit(x_train, labels)
        return float(accuracy_score(y_test[keep_test], model.predict(x_test)))


def model_inputs(frame: pd.DataFrame, schema: Schema, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The model's ``(n, d)`` inputs, one column each, and which are categorical.

    Numeric columns enter as numbers (datetimes as seconds); categorical ones as their
    position in the schema's public list, which the gradient-boosting model splits as
    categories (up to ``NATIVE_CATEGORIES`` of them; longer lists as ordered codes).
    Missing values and labels outside the list are NaN, which the model routes as
    missing. One column per input keeps the model's work at the number of columns: one-hot
    inputs of a coded table (hundreds of indicators) made TSTR 15 times slower.

    Examples
    --------
    >>> from dpquilt.evaluation.columns import evaluation_schema
    >>> df = pd.DataFrame({"x": [0.0, 2.0, None], "c": ["a", "b", "a"]})
    >>> inputs, categorical = model_inputs(df, evaluation_schema(df), ["x", "c"])
    >>> inputs.tolist(), categorical.tolist()
    ([[0.0, 0.0], [2.0, 1.0], [nan, 0.0]], [False, True])
    """
    blocks, categorical = [], []
    for name in columns:
        spec, col = schema[name], frame[name]
        if isinstance(spec, NumericColumn):
            blocks.append(as_numbers(col))
            categorical.append(False)
        else:
            position = {str(c): float(k) for k, c in enumerate(spec.categories)}
            blocks.append(as_labels(col).map(position).to_numpy(dtype=np.float64))  # unmapped: NaN
            categorical.append(len(position) <= NATIVE_CATEGORIES)
    inputs = np.column_stack(blocks) if blocks else np.zeros((len(frame), 0))
    return inputs, np.asarray(categorical, dtype=bool)


def _target(series: pd.Series, numeric: bool) -> np.ndarray:
    if numeric:
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    return as_labels(series).where(series.notna(), None).to_numpy(dtype=object)
