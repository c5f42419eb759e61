"""dpquilt: differentially private synthetic tables, stitched from noisy marginals.

>>> import dpquilt as dq
>>> syn = dq.MarginalSynthesizer(epsilon=1.0, delta=1e-9, method="mst")  # doctest: +SKIP
"""

from . import evaluation, federation, graphical
from .datasets import load
from .privacy import Accountant, PrivacyReport
from .schema import CategoricalColumn, NumericColumn, Schema
from .synthesizer import MarginalSynthesizer, NotFittedError

__all__ = [
    "Accountant",
    "CategoricalColumn",
    "MarginalSynthesizer",
    "NotFittedError",
    "NumericColumn",
    "PrivacyReport",
    "Schema",
    "evaluation",
    "federation",
    "load",
]
__version__ = "0.1.0"
