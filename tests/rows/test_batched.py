"""Readers run side by side: their tallies share passes, in one order, and errors surface."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpquilt.rows import InMemoryRows
from dpquilt.rows.batched import run_side_by_side


class CountingRows(InMemoryRows):
    """Rows that count the passes made over them."""

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__(frame)
        self.passes = 0

    def tally(self, job, columns=None):
        self.passes += 1
        return super().tally(job, columns)


def reader(name: str, steps: int, events: list, fail_at: int | None = None):
    def read(rows):
        seen = []
        for step in range(steps):
            if step == fail_at:
                raise ValueError(f"{name} failed at step {step}")
            total = rows.tally(lambda part, s=step: np.array([int((part[name] > s).sum())]), [name])
            events.append((name, step))  # what a mechanism would do with the answer: in a fixed order
            seen.append(int(total[0]))
        return seen
    return read


def test_tallies_asked_together_share_one_pass_and_answers_equal_reading_alone():
    df = pd.DataFrame({"a": np.arange(10), "b": np.arange(10) % 4, "c": np.ones(10, dtype=int)})
    alone = [reader(name, steps, [])(InMemoryRows(df)) for name, steps in (("a", 3), ("b", 2), ("c", 1))]
    rows, events = CountingRows(df), []
    together = run_side_by_side(rows, [reader("a", 3, events), reader("b", 2, events), reader("c", 1, events)])
    assert together == alone
    assert rows.passes == 3  # the longest reader's tallies, not 3 + 2 + 1
    assert events == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("a", 2)]  # reader order, round by round


def test_the_order_of_effects_does_not_depend_on_thread_timing():
    df = pd.DataFrame({f"x{k}": np.arange(50) for k in range(6)})
    orders = []
    for _ in range(5):
        events = []
        run_side_by_side(InMemoryRows(df), [reader(f"x{k}", 1 + k % 3, events) for k in range(6)])
        orders.append(events)
    assert all(order == orders[0] for order in orders)


def test_a_reader_error_is_raised_and_the_other_readers_stop():
    df = pd.DataFrame({"a": np.arange(5), "b": np.arange(5)})
    with pytest.raises(ValueError, match="b failed at step 1"):
        run_side_by_side(InMemoryRows(df), [reader("a", 4, []), reader("b", 3, [], fail_at=1)])


def test_a_failed_pass_is_raised():
    class FailingRows(InMemoryRows):
        def tally(self, job, columns=None):
            raise RuntimeError("partition 3 is unreadable")

    with pytest.raises(RuntimeError, match="partition 3"):
        run_side_by_side(FailingRows(pd.DataFrame({"a": [1], "b": [2]})), [reader("a", 1, []), reader("b", 1, [])])
