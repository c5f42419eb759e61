"""Reading and writing tables in files."""

from .files import load, report_path_for, save

__all__ = ["load", "report_path_for", "save"]
