"""Fidelity metrics (see DESIGN.md, "evaluation")."""

from .fidelity import correlation_difference, mean_wasserstein, wasserstein_distances
from .workload import all_marginals, marginal_tv, workload_error, workload_error_codes

__all__ = [
    "all_marginals",
    "correlation_difference",
    "marginal_tv",
    "mean_wasserstein",
    "wasserstein_distances",
    "workload_error",
    "workload_error_codes",
]
