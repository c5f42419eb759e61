"""Fidelity metrics (see DESIGN.md, "evaluation")."""

from .workload import all_marginals, marginal_tv, workload_error, workload_error_codes

__all__ = ["all_marginals", "marginal_tv", "workload_error", "workload_error_codes"]
