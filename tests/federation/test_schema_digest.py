"""Server and clients compare schemas by digest: equal schemas agree, any changed fact does not."""

import pytest

pytest.importorskip("flwr")

from dpquilt.federation.fedavg import schema_digest  # noqa: E402
from dpquilt.schema import CategoricalColumn, NumericColumn, Schema  # noqa: E402


def schema(categories=("x", "y"), upper=10.0):
    return Schema([CategoricalColumn("c", categories=list(categories)), NumericColumn("n", lower=0.0, upper=upper, bins=8)])


def test_a_schema_and_its_json_round_trip_share_a_digest():
    s = schema()
    assert schema_digest(s) == schema_digest(Schema.from_public(s.to_dict()))
    assert len(schema_digest(s)) == 64


@pytest.mark.parametrize("changed", [schema(categories=("x", "y", "z")), schema(upper=11.0), schema(categories=("y", "x"))])
def test_any_changed_fact_changes_the_digest(changed):
    assert schema_digest(changed) != schema_digest(schema())
