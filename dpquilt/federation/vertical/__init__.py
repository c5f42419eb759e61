"""Cross-silo synthesis: organisations that hold different columns of the same people.

A bank holds account columns and an insurer claims columns for the same customers,
linked by an identifier, and neither may see the other's columns. The privacy unit is
one person: their row across every silo. Built so far: the silos' row alignment
(:func:`align_silos`), which checks each silo's table and lines its rows up in the order
of a public list of keys. The cross-silo marginals, under homomorphic encryption, and the
synthesizer on top of them are not built yet (issue 22).

Examples
--------
>>> import pandas as pd
>>> from dpquilt.federation.vertical import align_silos
>>> bank = pd.DataFrame({"id": [2, 1], "balance": [50, 10]})
>>> insurer = pd.DataFrame({"id": [1, 2], "claims": [0, 3]})
>>> aligned = align_silos({"bank": bank, "insurer": insurer}, key="id", keys=[1, 2])
>>> aligned.tables["bank"]["balance"].tolist(), aligned.tables["insurer"]["claims"].tolist()
([10, 50], [0, 3])
"""

from .alignment import MAX_SILOS, AlignedSilos, SiloInputError, align_silos

__all__ = ["MAX_SILOS", "AlignedSilos", "SiloInputError", "align_silos"]
