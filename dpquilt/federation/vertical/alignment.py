"""Silos' tables lined up row by row: the same person on the same row in every silo.

Each silo holds a key column (the shared identifier) and its own columns. With a public
list of keys (a list every silo may know, such as a customer register), each silo keeps
the rows whose key is on the list, in the list's order, and drops the key: row ``i`` of
every silo is then the same person, and the number of rows is the list's length, a
public fact. Nothing here is released: every check runs on one silo's own table (or on
the public list), and a failed check raises :class:`SiloInputError` before any count is
taken. Private set intersection of the keys, for silos that may not publish them, is
not built yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

__all__ = ["MAX_SILOS", "AlignedSilos", "SiloInputError", "align_silo", "align_silos"]

#: silos a synthesis may join (the setting of issue 22: 2-5 organisations)
MAX_SILOS = 5
#: keys an error message shows as examples
SHOWN_KEYS = 3


class SiloInputError(ValueError):
    """A silo's table cannot take part: the message names the silo and the column, and says
    how to fix it. Raised before anything is counted, so nothing is released."""


@dataclass(frozen=True, eq=False)
class AlignedSilos:
    """Every silo's own columns, row ``i`` of each the person with the ``i``-th public key.

    Attributes
    ----------
    tables : mapping of silo name to DataFrame
        Each silo's columns without the key, with a fresh index ``0 .. rows - 1``.
    rows : int
        The number of public keys (a public fact).

    Examples
    --------
    >>> aligned = align_silos({"a": pd.DataFrame({"id": [1], "x": [5]}), "b": pd.DataFrame({"id": [1], "y": [7]})}, "id", [1])
    >>> aligned.rows, aligned.columns, aligned.owner("y")
    (1, {'a': ('x',), 'b': ('y',)}, 'b')
    """

    tables: Mapping[str, pd.DataFrame]
    rows: int

    @property
    def columns(self) -> dict[str, tuple[str, ...]]:
        """Each silo's columns, in its table's order."""
        return {name: tuple(table.columns) for name, table in self.tables.items()}

    def owner(self, column: str) -> str:
        """The silo that holds ``column``."""
        for name, table in self.tables.items():
            if column in table.columns:
                return name
        raise KeyError(f"no silo holds column {column!r}; the columns are {self.columns}")


def align_silos(silos: Mapping[str, pd.DataFrame], key: str, keys: Sequence | pd.Index) -> AlignedSilos:
    """Check each silo's table and line the silos' rows up in the order of the public ``keys``.

    Parameters
    ----------
    silos : mapping of silo name to DataFrame
        Between 2 and :data:`MAX_SILOS` silos, each with the ``key`` column and at least
        one column of its own; no column (other than the key) may be in two silos.
    key : str
        The shared identifier's column.
    keys : sequence
        The public list of keys, without repeats or missing values. Every silo must hold
        a row for every key on it; a silo's rows whose key is not on it are dropped.

    Returns
    -------
    AlignedSilos

    Raises
    ------
    SiloInputError
        Naming the silo and the column: too few or too many silos, a missing key column,
        missing or repeated keys in a silo or in the public list, a column in two silos,
        a silo with no column of its own, or public keys a silo has no row for.

    Examples
    --------
    >>> bank = pd.DataFrame({"id": ["c", "a", "b"], "balance": [3, 1, 2]})
    >>> insurer = pd.DataFrame({"id": ["a", "b", "z"], "claims": [0, 1, 9]})
    >>> aligned = align_silos({"bank": bank, "insurer": insurer}, key="id", keys=["a", "b"])
    >>> aligned.tables["bank"]["balance"].tolist(), aligned.tables["insurer"]["claims"].tolist()
    ([1, 2], [0, 1])
    >>> align_silos({"bank": bank, "insurer": insurer}, key="id", keys=["a", "c"])
    Traceback (most recent call last):
    ...
    dpquilt.federation.vertical.alignment.SiloInputError: silo 'insurer' has no row for 1 of the 2 public keys (for example 'c'); every silo must hold every public key: take the keys all silos share, or add the missing people's rows
    """
    if not 2 <= len(silos) <= MAX_SILOS:
        raise SiloInputError(
            f"cross-silo synthesis joins 2 to {MAX_SILOS} silos, got {len(silos)}; "
            "for a single table use MarginalSynthesizer directly"
        )
    public = _public_keys(keys)
    owners: dict[str, str] = {}
    for name, table in silos.items():  # every table checked before any is aligned
        _check_silo(name, table, key)
        for column in table.columns:
            if column == key:
                continue
            if column in owners:
                raise SiloInputError(
                    f"column {column!r} is in silo {owners[column]!r} and in silo {name!r}; each column must belong "
                    "to one silo: drop it from one of them or rename it"
                )
            owners[column] = name
    return AlignedSilos({name: _aligned(name, table, key, public) for name, table in silos.items()}, len(public))


def align_silo(name: str, table: pd.DataFrame, key: str, keys: Sequence | pd.Index) -> pd.DataFrame:
    """One silo's own table checked and lined up in the order of the public ``keys``, without the key.

    What each silo runs on its own machine in a deployment (:mod:`.deploy`); the checks
    are :func:`align_silos`' for one silo.

    Examples
    --------
    >>> align_silo("bank", pd.DataFrame({"id": ["b", "a"], "balance": [2, 1]}), "id", ["a", "b"])["balance"].tolist()
    [1, 2]
    """
    public = _public_keys(keys)
    _check_silo(name, table, key)
    return _aligned(name, table, key, public)


def _public_keys(keys: Sequence | pd.Index) -> pd.Index:
    public = pd.Index(keys)
    if len(public) == 0:
        raise SiloInputError("the public list of keys is empty; pass the keys every silo holds")
    if public.hasnans:
        raise SiloInputError("the public list of keys has missing values; drop them")
    if not public.is_unique:
        repeated = public[public.duplicated()].unique()[:SHOWN_KEYS].tolist()
        raise SiloInputError(f"the public list of keys repeats keys (for example {', '.join(map(repr, repeated))}); pass each key once")
    return public


def _check_silo(name: str, table: pd.DataFrame, key: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise SiloInputError(f"silo {name!r} is a {type(table).__name__}; pass a pandas DataFrame")
    if key not in table.columns:
        raise SiloInputError(f"silo {name!r} has no key column {key!r}; its columns are {list(table.columns)}")
    if len(table.columns) < 2:
        raise SiloInputError(f"silo {name!r} holds only the key column {key!r}; leave it out or add its columns")
    ids = table[key]
    if ids.isna().any():
        raise SiloInputError(
            f"silo {name!r} has {int(ids.isna().sum())} rows without a key in {key!r}; drop them or fill in the keys"
        )
    if not ids.is_unique:
        raise SiloInputError(
            f"silo {name!r} has {int(ids.duplicated().sum())} repeated keys in {key!r}; a person must have one row "
            "in each silo: aggregate their rows or drop the repeats"
        )


def _aligned(name: str, table: pd.DataFrame, key: str, public: pd.Index) -> pd.DataFrame:
    by_key = table.set_index(key)
    missing = public.difference(by_key.index, sort=False)
    if len(missing):
        shown = ", ".join(map(repr, missing[:SHOWN_KEYS].tolist()))
        raise SiloInputError(
            f"silo {name!r} has no row for {len(missing)} of the {len(public)} public keys (for example {shown}); "
            "every silo must hold every public key: take the keys all silos share, or add the missing people's rows"
        )
    return by_key.loc[public].reset_index(drop=True)
