"""Counting, measurements and selection mechanisms (see docs/design.md)."""

from ..schema.codec import decode, encode
from ..schema.dataset import Dataset
from .counting import count
from .measurement import Measurement
from .mst import mst

__all__ = ["Dataset", "Measurement", "count", "decode", "encode", "mst"]
