"""Where the private rows live (in memory, or in Dask partitions) and the one pass that counts them.

See :mod:`dpquilt.rows.engine`; the Dask engine is :mod:`dpquilt.rows.dask_rows`
(``pip install 'dpquilt[scale]'``).
"""

from .engine import ColumnValues, InMemoryRows, RowEngine, Tally, TallyJob, ValueCounts, add_tallies, sorted_counts
from .inputs import as_row_engine

__all__ = ["ColumnValues", "InMemoryRows", "RowEngine", "Tally", "TallyJob", "ValueCounts", "add_tallies", "as_row_engine", "sorted_counts"]
