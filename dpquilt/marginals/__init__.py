"""Codes, counting, measurements and selection mechanisms (see DESIGN.md, "marginals")."""

from .counting import count
from .dataset import Dataset
from .encoding import decode, encode
from .measurement import Measurement
from .mst import mst

__all__ = ["Dataset", "Measurement", "count", "decode", "encode", "mst"]
