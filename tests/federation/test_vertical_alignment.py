"""Cross-silo row alignment: the same person on the same row in every silo, or a clear error."""

import numpy as np
import pandas as pd
import pytest

from dpquilt.federation.vertical import MAX_SILOS, SiloInputError, align_silos


@pytest.fixture
def people(rng):
    """A joined table of 200 people and its split into three silos, each shuffled on its own."""
    n = 200
    joined = pd.DataFrame(
        {
            "id": [f"p{k:03d}" for k in range(n)],
            "balance": rng.integers(0, 1000, n),
            "segment": rng.choice(["retail", "private"], n),
            "claims": rng.integers(0, 5, n),
            "age": rng.integers(18, 90, n),
            "region": rng.choice(list("NSEW"), n),
        }
    )
    columns = {"bank": ["balance", "segment"], "insurer": ["claims"], "registry": ["age", "region"]}
    silos = {name: joined[["id", *cols]].sample(frac=1.0, random_state=k).reset_index(drop=True) for k, (name, cols) in enumerate(columns.items())}
    return joined, silos


def test_rows_line_up_in_the_order_of_the_public_keys(people, rng):
    joined, silos = people
    keys = list(rng.permutation(joined["id"].to_numpy())[:150])
    aligned = align_silos(silos, key="id", keys=keys)
    expected = joined.set_index("id").loc[keys].reset_index(drop=True)
    assert aligned.rows == 150
    for name, table in aligned.tables.items():
        assert "id" not in table.columns
        pd.testing.assert_frame_equal(table, expected[list(table.columns)])
    assert aligned.columns == {"bank": ("balance", "segment"), "insurer": ("claims",), "registry": ("age", "region")}
    assert aligned.owner("region") == "registry"


def test_the_silos_tables_are_left_as_they_were(people):
    joined, silos = people
    before = {name: table.copy() for name, table in silos.items()}
    align_silos(silos, key="id", keys=joined["id"].tolist())
    for name, table in silos.items():
        pd.testing.assert_frame_equal(table, before[name])


def test_rows_off_the_public_list_are_dropped(people):
    joined, silos = people
    silos["bank"] = pd.concat([silos["bank"], pd.DataFrame({"id": ["stranger"], "balance": [1], "segment": ["retail"]})])
    aligned = align_silos(silos, key="id", keys=joined["id"].tolist())
    assert aligned.rows == len(joined) == len(aligned.tables["bank"])


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda s: s["bank"].drop(columns="id"), "silo 'bank' has no key column 'id'"),
        (lambda s: pd.concat([s["bank"], s["bank"].iloc[:2]]), "silo 'bank' has 2 repeated keys in 'id'"),
        (lambda s: s["bank"].assign(id=s["bank"]["id"].where(s["bank"].index != 0)), "silo 'bank' has 1 rows without a key"),
        (lambda s: s["bank"].assign(claims=0), "column 'claims' is in silo 'bank' and in silo 'insurer'"),
        (lambda s: s["bank"][["id"]], "silo 'bank' holds only the key column"),
        (lambda s: s["bank"].iloc[5:], "silo 'bank' has no row for 5 of the 200 public keys"),
        (lambda s: s["bank"].to_numpy(), "silo 'bank' is a ndarray"),
    ],
)
def test_a_spoiled_silo_is_named_with_the_fix(people, spoil, message):
    joined, silos = people
    silos["bank"] = spoil(silos)
    with pytest.raises(SiloInputError, match=message):
        align_silos(silos, key="id", keys=joined["id"].tolist())


@pytest.mark.parametrize(
    "keys, message",
    [([], "empty"), (["p000", "p000"], "repeats keys"), (["p000", None], "missing values")],
)
def test_a_bad_public_list_is_refused(people, keys, message):
    _, silos = people
    with pytest.raises(SiloInputError, match=message):
        align_silos(silos, key="id", keys=keys)


def test_one_silo_or_too_many_are_refused(people):
    joined, silos = people
    with pytest.raises(SiloInputError, match="joins 2 to 5 silos, got 1"):
        align_silos({"bank": silos["bank"]}, key="id", keys=joined["id"].tolist())
    many = {f"s{k}": pd.DataFrame({"id": joined["id"], f"c{k}": np.zeros(len(joined))}) for k in range(MAX_SILOS + 1)}
    with pytest.raises(SiloInputError, match=f"got {MAX_SILOS + 1}"):
        align_silos(many, key="id", keys=joined["id"].tolist())
