"""Model sizes in megabytes: AIM's cap on the junction tree of the measured cliques plus a candidate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .elimination import tree_size
from .extension_sizes import ExtensionSizes, SizeReuse

__all__ = ["ExtensionSizesMB", "extension_sizes_mb", "model_size_mb"]


def model_size_mb(domain: Mapping[str, int], cliques: Sequence[tuple[str, ...]]) -> float:
    """Size in MB (float64) of the junction tree of ``cliques``: AIM's model-size measure.

    Examples
    --------
    >>> model_size_mb({"a": 1024, "b": 128}, [("a", "b")])  # 131,072 float64 cells
    1.0
    """
    return tree_size(domain, cliques) * 8 / 2**20


def extension_sizes_mb(domain: Mapping[str, int], cliques: Sequence[tuple[str, ...]], reuse: SizeReuse | None = None) -> ExtensionSizesMB:
    """``sizes(r)``: :func:`model_size_mb` of ``cliques + [r]``, for many ``r`` from one
    shared elimination; ``sizes.many(rs)`` sizes a list of them at once.

    ``reuse`` (optional): one :class:`~dpquilt.graphical.extension_sizes.SizeReuse` passed to every call of a growing sequence of graphs
    (AIM's rounds), so that candidates whose components did not change keep their
    growth (:class:`~dpquilt.graphical.extension_sizes.ExtensionSizes`).

    Examples
    --------
    >>> sizes = extension_sizes_mb({"a": 1024, "b": 128, "c": 2}, [("a", "b")])
    >>> sizes(("b", "c")) == model_size_mb({"a": 1024, "b": 128, "c": 2}, [("a", "b"), ("b", "c")])
    True
    >>> sizes.many([("b", "c"), ("a",)]) == [sizes(("b", "c")), sizes(("a",))]
    True
    """
    return ExtensionSizesMB(ExtensionSizes(domain, cliques, reuse))


@dataclass(frozen=True)
class ExtensionSizesMB:
    """:class:`~dpquilt.graphical.extension_sizes.ExtensionSizes` in megabytes (float64
    cells): see :func:`extension_sizes_mb`, which makes one."""

    cells: ExtensionSizes

    def __call__(self, clique: tuple[str, ...]) -> float:
        return self.cells(clique) * 8 / 2**20

    def many(self, cliques: Sequence[tuple[str, ...]]) -> list[float]:
        """Each clique's size, all at once (:meth:`ExtensionSizes.many <dpquilt.graphical.extension_sizes.ExtensionSizes.many>`)."""
        return [cells * 8 / 2**20 for cells in self.cells.many(cliques)]
