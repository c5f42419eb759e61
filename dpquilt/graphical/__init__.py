"""Private-PGM adapter: estimate a model from measurements and sample codes from it."""

from .model import EstimationOptions, GraphicalModel, estimate
from .sampling import sample_codes

__all__ = ["EstimationOptions", "GraphicalModel", "estimate", "sample_codes"]
