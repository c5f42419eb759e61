"""Column specifications: what is publicly known about each column of a table.

A :class:`Schema` lists one spec per column. A spec is *complete* when every fact
the encoder needs (category list, bounds, bin edges) is known; facts the user did not
supply are learned from the data with DP by :mod:`dpquilt.schema.learning`, and paid
for from the budget. Nothing here reads private data.

Codes, per column, are ``0 .. size - 1``:

* categorical: one code per listed category, then ``other`` (values not listed),
  then ``missing``;
* numeric / integer / datetime: one code per bin, then one per point mass (a value
  that holds a large share of the rows and decodes exactly), then ``missing``.

The pandas dtype of each column (``dtype``) is treated as public metadata, like the
column names: it says how to decode, not what values occur.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

__all__ = ["CategoricalColumn", "DAY_SECONDS", "DEFAULT_BINS", "NumericColumn", "UntypedColumn", "ColumnSpec", "Schema"]

#: Bins per numeric column when the user gives none (the AIM paper's preprocessing).
DEFAULT_BINS = 32

NumericKind = Literal["float", "integer", "datetime"]

#: Resolutions a datetime column's values can be at ("auto": learn it with DP).
TimeUnit = Literal["day", "month", "year", "auto"]

#: A day, in seconds: the grain of a datetime column at a unit of a day or coarser.
DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class CategoricalColumn:
    """A column of labels.

    Parameters
    ----------
    name : str
    categories : tuple or None
        The public list of values. ``None`` means: learn it with DP (thresholded
        noisy counts; rare values go to ``other``).
    missing : bool, default True
        Reserve a code for missing values.
    other : bool, default True
        Reserve a code for values not in ``categories``. Always on for learned lists.
    dtype : str or None
        pandas dtype to decode to (``None``: object).
    other_label : str, default "__other__"
        How the ``other`` code decodes.

    Examples
    --------
    >>> CategoricalColumn("sex", categories=("F", "M")).size
    4
    """

    name: str
    categories: tuple | None = None
    missing: bool = True
    other: bool = True
    dtype: str | None = None
    other_label: str = "__other__"

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.categories is not None:
            cats = tuple(self.categories)
            if len(set(cats)) != len(cats):
                raise ValueError(f"column {self.name!r}: categories contain duplicates; list each value once")
            if len(cats) == 0 and not (self.other or self.missing):
                raise ValueError(f"column {self.name!r}: no categories, no other and no missing code; list its values")
            object.__setattr__(self, "categories", cats)

    @property
    def complete(self) -> bool:
        return self.categories is not None

    @property
    def size(self) -> int:
        if self.categories is None:
            raise ValueError(f"column {self.name!r}: categories are not known yet; fit or pass them")
        return len(self.categories) + int(self.other) + int(self.missing)

    @property
    def other_code(self) -> int | None:
        return len(self.categories) if self.other else None

    @property
    def missing_code(self) -> int | None:
        return self.size - 1 if self.missing else None


@dataclass(frozen=True)
class NumericColumn:
    """A numeric, integer or datetime column, encoded as bins.

    Parameters
    ----------
    name : str
    kind : {"float", "integer", "datetime"}
    lower, upper : float or None
        Public bounds (for datetimes, seconds since 1970-01-01 UTC, or anything
        ``pandas.Timestamp`` accepts). ``None`` means: learn with DP quantiles.
        Values outside are clipped.
    bins : int or None
        Number of equal-width bins between the bounds (integers with fewer distinct
        values get one bin per value). ``None``: chosen where the bounds are learned,
        from the noisy row count and the noise of the marginals to be measured
        (:func:`~dpquilt.schema.bounds.bins_for_rows`); :data:`DEFAULT_BINS` otherwise.
    edges : tuple of float or None
        Explicit, increasing bin edges; overrides ``lower``, ``upper`` and ``bins``.
    missing : bool, default True
        Reserve a code for missing values.
    dtype : str or None
        pandas dtype to decode to.
    points : tuple of float or None, default ()
        Point masses: values with a code of their own that decode exactly (the zeros of
        a zero-inflated amount, the 36 and 60 of a loan term, the years of a year
        column). A value equal to a point takes the point's code whatever the bins.
        ``None`` means: learn them with DP (the stability histogram over exact values;
        what synthesizers do for columns without a public spec). Datetime points are
        in seconds since 1970-01-01 UTC.
    unit : {"day", "month", "year", "auto"} or None, default None
        Datetimes only: the resolution of the values. With a unit, bins hold whole
        days and every value decodes to the start of its day, month or year (in the
        column's time zone); ``None``: instants, to the second. ``"auto"``: learn it
        with DP (what synthesizers do for datetime columns without a public spec).

    Examples
    --------
    >>> NumericColumn("age", kind="integer", lower=0, upper=9, bins=32).bin_edges()
    (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)
    >>> NumericColumn("debt", lower=0, upper=1000, bins=4, points=(0,)).size  # 4 bins, the point 0, missing
    6
    """

    name: str
    kind: NumericKind = "float"
    lower: float | None = None
    upper: float | None = None
    bins: int | None = DEFAULT_BINS
    edges: tuple[float, ...] | None = None
    missing: bool = True
    dtype: str | None = None
    points: tuple[float, ...] | None = ()
    unit: TimeUnit | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.unit is not None:
            if self.kind != "datetime":
                raise ValueError(f"column {self.name!r}: unit={self.unit!r} is for datetime columns; remove it")
            if self.unit not in ("day", "month", "year", "auto"):
                raise ValueError(
                    f"column {self.name!r}: unit must be 'day', 'month', 'year', 'auto' or None, got {self.unit!r}"
                )
        if self.points is not None:
            convert = _to_epoch_seconds if self.kind == "datetime" else float
            points = tuple(sorted({float(p) if isinstance(p, (int, float, np.number)) else convert(p) for p in self.points}))
            if not all(np.isfinite(points)):
                raise ValueError(f"column {self.name!r}: points must be finite numbers, got {self.points!r}")
            object.__setattr__(self, "points", points)
        if self.kind not in ("float", "integer", "datetime"):
            raise ValueError(f"column {self.name!r}: kind must be 'float', 'integer' or 'datetime', got {self.kind!r}")
        if self.kind == "datetime":
            for attr in ("lower", "upper"):
                value = getattr(self, attr)
                if value is not None and not isinstance(value, (int, float, np.number)):
                    object.__setattr__(self, attr, _to_epoch_seconds(value))
        if self.bins is not None and not (isinstance(self.bins, (int, np.integer)) and self.bins >= 1):
            raise ValueError(f"column {self.name!r}: bins must be a positive integer or None, got {self.bins!r}")
        if self.edges is not None:
            edges = tuple(float(e) for e in self.edges)
            if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
                raise ValueError(f"column {self.name!r}: edges must be at least two increasing numbers, got {edges!r}")
            object.__setattr__(self, "edges", edges)
        if self.lower is not None and self.upper is not None and not self.lower <= self.upper:
            raise ValueError(
                f"column {self.name!r}: lower bound {self.lower!r} exceeds upper bound {self.upper!r}; swap them"
            )

    @property
    def complete(self) -> bool:
        bounded = self.edges is not None or (self.lower is not None and self.upper is not None)
        return bounded and self.points is not None and self.unit != "auto"

    @property
    def grain(self) -> float | None:
        """The distance between neighbouring values when they lie on a grid (integers: 1; dated: a day), else None.

        Examples
        --------
        >>> NumericColumn("d", kind="datetime", unit="month").grain, NumericColumn("x").grain
        (86400.0, None)
        """
        if self.kind == "integer":
            return 1.0
        if self.kind == "datetime" and self.unit in ("day", "month", "year"):
            return DAY_SECONDS
        return None

    @property
    def n_bins(self) -> int:
        return len(self.bin_edges()) - 1

    @property
    def size(self) -> int:
        if self.points is None:
            raise ValueError(f"column {self.name!r}: its point masses are not known yet; fit or pass points=")
        return self.n_bins + len(self.points) + int(self.missing)

    @property
    def missing_code(self) -> int | None:
        return self.size - 1 if self.missing else None

    @property
    def clip_range(self) -> tuple[float, float]:
        edges = self.bin_edges()
        if self.kind == "integer":
            return edges[0], edges[-1] - 1.0
        if self.grain is not None:  # the last day runs up to its last second
            return edges[0], edges[-1] - 1.0
        return edges[0], edges[-1]

    def bin_edges(self) -> tuple[float, ...]:
        """The bin edges: bin ``i`` is ``[e_i, e_{i+1})``, the last bin closed on the right.

        Integer columns have integer edges and bin ``i`` holds the integers
        ``e_i .. e_{i+1} - 1``; datetime columns with a unit have edges at midnights
        (UTC) and bins of whole days.
        """
        if self.edges is not None:
            return self.edges
        if self.lower is None or self.upper is None:
            raise ValueError(f"column {self.name!r}: bounds are not known yet; fit or pass lower= and upper=")
        lo, hi = float(self.lower), float(self.upper)
        bins = self.bins or DEFAULT_BINS
        grain = self.grain
        if grain is not None:
            lo, hi = np.floor(lo / grain), np.floor(hi / grain)
            if hi - lo + 1 <= bins:
                steps = np.arange(lo, hi + 2)
            else:
                steps = np.unique(np.round(np.linspace(lo, hi + 1, bins + 1)))
            return tuple(float(v) * grain for v in steps)
        if hi == lo:
            hi = lo + 1.0
        return tuple(float(v) for v in np.linspace(lo, hi, bins + 1))


@dataclass(frozen=True)
class UntypedColumn:
    """A column of text whose kind is not public: learned with DP at fit time.

    What a CSV file gives without a schema: strings. The share of values that parse as
    integers, non-integer numbers, ISO 8601 dates or neither is released with noise
    and decides the kind (:func:`~dpquilt.schema.kinds.kind_from_noisy_classes`);
    values that do not parse as the learned kind become missing.
    ``Schema.from_public({"x": {"kind": "auto"}})`` makes one.

    Parameters
    ----------
    name : str
    missing : bool, default True
        Reserve a code for missing values.
    numbers : bool, default True
        Whether text of numbers becomes a numeric column. ``False`` for a DataFrame's
        text columns: their dtype says labels, and only dates are told apart.
    dtype : str or None
        The dtype to decode to whatever the kind (``None``: the learned kind's own).
        A DataFrame's text column keeps its dtype: its dates come back as ISO 8601 text.

    Examples
    --------
    >>> UntypedColumn("income").complete
    False
    """

    name: str
    missing: bool = True
    numbers: bool = True
    dtype: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def complete(self) -> bool:
        return False

    @property
    def size(self) -> int:
        raise ValueError(f"column {self.name!r}: its kind is not known yet; fit or declare kind= in the schema")


ColumnSpec = CategoricalColumn | NumericColumn | UntypedColumn


@dataclass(frozen=True)
class Schema:
    """The public description of a table: one spec per column, in order.

    Build it with :meth:`from_public` (facts you know), :meth:`from_domain` (an
    integer-coded table), or let :class:`~dpquilt.MarginalSynthesizer` learn what is
    missing with DP.

    Examples
    --------
    >>> s = Schema.from_public({"sex": {"categories": ["F", "M"], "missing": False},
    ...                         "age": {"kind": "integer", "lower": 18, "upper": 99}})
    >>> s.domain()
    {'sex': 3, 'age': 33}
    """

    columns: tuple[ColumnSpec, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        cols = tuple(self.columns)
        names = [c.name for c in cols]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"schema lists column(s) {dupes} more than once; give each column one spec")
        object.__setattr__(self, "columns", cols)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def complete(self) -> bool:
        return all(c.complete for c in self.columns)

    def __getitem__(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"column {name!r} is not in the schema; known columns: {list(self.names)}")

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def domain(self) -> dict[str, int]:
        """Number of codes per column."""
        return {c.name: c.size for c in self.columns}

    def replace_column(self, spec: ColumnSpec) -> Schema:
        """A copy with the column named ``spec.name`` replaced by ``spec`` (same position).

        Examples
        --------
        >>> s = Schema.from_domain({"a": 3, "b": 2})
        >>> s.replace_column(CategoricalColumn("b", ("x", "y", "z"), missing=False)).domain()
        {'a': 3, 'b': 4}
        """
        self[spec.name]  # an unknown name raises KeyError listing the known columns
        return Schema(tuple(spec if c.name == spec.name else c for c in self.columns))

    def select(self, names: Sequence[str]) -> Schema:
        """A schema of the named columns, in the order given.

        Examples
        --------
        >>> Schema.from_domain({"a": 3, "b": 2, "c": 4}).select(["c", "a"]).domain()
        {'c': 4, 'a': 3}
        """
        return Schema(tuple(self[n] for n in names))

    @classmethod
    def from_public(cls, facts: Mapping[str, Mapping[str, Any] | ColumnSpec]) -> Schema:
        """A schema from public facts, spending nothing.

        Each value is a spec, or a dict of its fields. A dict with ``categories``
        (or ``kind="categorical"``) makes a :class:`CategoricalColumn`; one with
        ``kind`` in {"float", "integer", "datetime"}, ``lower``/``upper`` or
        ``edges`` makes a :class:`NumericColumn`; ``kind="auto"`` makes an
        :class:`UntypedColumn` (the kind is learned with DP). Facts left out are
        learned with DP at fit time.
        """
        return cls(tuple(_spec_from_facts(name, f) for name, f in facts.items()))

    @classmethod
    def from_domain(cls, domain: Mapping[str, int]) -> Schema:
        """A schema for an integer-coded table: column ``c`` takes codes ``0 .. domain[c]-1``.

        Every column is categorical with public categories, no ``other`` and no
        ``missing`` code, so the codes are the values. Spends nothing.

        Examples
        --------
        >>> Schema.from_domain({"a": 3, "b": 2}).domain()
        {'a': 3, 'b': 2}
        """
        cols = []
        for name, size in domain.items():
            if not (isinstance(size, (int, np.integer)) and size >= 1):
                raise ValueError(f"column {name!r}: domain size must be a positive integer, got {size!r}")
            cols.append(
                CategoricalColumn(name, tuple(range(int(size))), missing=False, other=False, dtype="int64")
            )
        return cls(tuple(cols))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The schema as plain data (JSON-friendly), the inverse of :meth:`from_public`."""
        out = {}
        for c in self.columns:
            d = {k: v for k, v in c.__dict__.items() if k != "name"}
            if isinstance(c, UntypedColumn):
                out[c.name] = {"kind": "auto", **d}
                continue
            d["kind"] = "categorical" if isinstance(c, CategoricalColumn) else c.kind
            if d.get("categories") is not None:
                d["categories"] = [_jsonable(v) for v in d["categories"]]
            if d.get("edges") is not None:
                d["edges"] = list(d["edges"])
            if d.get("points") is not None:
                d["points"] = list(d["points"])
            out[c.name] = d
        return out


def _spec_from_facts(name: str, facts: Mapping[str, Any] | ColumnSpec) -> ColumnSpec:
    if isinstance(facts, (CategoricalColumn, NumericColumn, UntypedColumn)):
        return replace(facts, name=name) if facts.name != name else facts
    if not isinstance(facts, Mapping):
        raise TypeError(f"column {name!r}: give a dict of facts or a column spec, got {type(facts).__name__}")
    facts = dict(facts)
    kind = facts.pop("kind", None)
    if kind == "auto":
        return UntypedColumn(name, **facts)
    if kind == "categorical" or (kind is None and "categories" in facts):
        return CategoricalColumn(name, **facts)
    if kind is None and not ({"lower", "upper", "edges", "bins"} & facts.keys()):
        raise ValueError(
            f"column {name!r}: cannot tell its kind from {sorted(facts)}; add kind='categorical', "
            f"'float', 'integer' or 'datetime'"
        )
    return NumericColumn(name, kind=kind or "float", **facts)


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"column names must be non-empty strings, got {name!r}; rename the column")


def _to_epoch_seconds(value: Any) -> float:
    import pandas as pd

    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return (ts - pd.Timestamp(0)).total_seconds()


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
