"""Measuring synthetic tables against real ones (see docs/design.md).

Fidelity (workload error, per-column distances, correlation and association
differences), utility (train on synthetic, test on real), disclosure (distance to
closest record, membership inference), :func:`compare` over methods and budgets, and
plots. Evaluation reads real data without noise: it is for the curator, not for release.
The metrics beyond workload error and numeric fidelity need the ``evaluation`` extra
(scikit-learn, SDMetrics, matplotlib).
"""

from .association import association_difference, cramers_v
from .binning import ColumnBins, EvaluationBinning, binned_tv, independent_columns
from .columns import column_distances, evaluation_schema
from .compare import HOLDOUT, METRICS, compare, holdout_floor, measure
from .disclosure import distance_to_closest_record, membership_inference_auc
from .record_features import record_features
from .fidelity import correlation_difference, mean_wasserstein, wasserstein_distances
from .utility import train_synthetic_test_real
from .workload_error import all_marginals, marginal_tv, workload_error, workload_error_codes

__all__ = [
    "ColumnBins",
    "EvaluationBinning",
    "HOLDOUT",
    "METRICS",
    "all_marginals",
    "association_difference",
    "binned_tv",
    "column_distances",
    "compare",
    "correlation_difference",
    "cramers_v",
    "distance_to_closest_record",
    "evaluation_schema",
    "holdout_floor",
    "independent_columns",
    "marginal_tv",
    "measure",
    "mean_wasserstein",
    "membership_inference_auc",
    "record_features",
    "train_synthetic_test_real",
    "wasserstein_distances",
    "workload_error",
    "workload_error_codes",
]
