"""Python's cycle collector during long model-fitting loops: full collections deferred.

AIM's rounds make and drop hundreds of thousands of small objects (projection plans,
their steps and keys) that refcounting frees: a 33-column fit left about 1,000 objects in
cycles in all. CPython's collector still walks every tracked object each time the
survivors grow by a quarter; on a 47-column table that was 121 full collections, 60 s of
a 7-10 minute fit, and it found almost nothing. While the loop runs, full collections are
deferred (the youngest two generations are still collected, so short-lived cycles still
go); the thresholds are restored afterwards and the next full collection comes on the
collector's own schedule.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["full_collections_deferred"]

#: the oldest generation's threshold while deferred: never reached in one fit
DEFERRED = 2**30


@contextlib.contextmanager
def full_collections_deferred() -> Iterator[None]:
    """Defer the collector's full (oldest-generation) collections for the duration.

    Restores the thresholds it found on exit; does nothing when the collector is off or
    already deferred (a nested or concurrent fit).

    Examples
    --------
    >>> before = gc.get_threshold()
    >>> with full_collections_deferred():
    ...     gc.get_threshold()[2] == DEFERRED
    True
    >>> gc.get_threshold() == before
    True
    """
    before = gc.get_threshold()
    if not gc.isenabled() or before[2] >= DEFERRED:
        yield
        return
    gc.set_threshold(before[0], before[1], DEFERRED)
    try:
        yield
    finally:
        gc.set_threshold(*before)
