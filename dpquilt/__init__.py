"""dpquilt: differentially private synthetic tables, stitched from noisy marginals.

>>> import dpquilt as dq
>>> syn = dq.MarginalSynthesizer(epsilon=1.0, delta=1e-9, method="mst")  # doctest: +SKIP
"""

from . import evaluation, federation, graphical, refiners, synthesizers
from .evaluation import compare
from .io.files import load
from .privacy import Accountant, PrivacyReport
from .schema import CategoricalColumn, NumericColumn, Schema
from .synthesizers import DiffusionSynthesizer, MarginalSynthesizer, NotFittedError

__all__ = [
    "Accountant",
    "CategoricalColumn",
    "DiffusionSynthesizer",
    "MarginalSynthesizer",
    "NotFittedError",
    "NumericColumn",
    "PrivacyReport",
    "Schema",
    "compare",
    "evaluation",
    "federation",
    "load",
    "refiners",
    "synthesizers",
]
__version__ = "0.1.0"
