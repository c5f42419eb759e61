"""A federated run's config survives Flower's TOML both ways: the app project's defaults and --run-config."""

import tomllib

import pytest

from dpquilt.federation.run_config import UNSET, RunConfig


def test_the_app_projects_defaults_read_back_as_the_defaults():
    parsed = tomllib.loads(RunConfig.toml_defaults())
    assert RunConfig.from_wire(parsed) == RunConfig(schema="", schema_sha256="")
    assert parsed["rows"] == UNSET and parsed["max-dropouts"] == 0


@pytest.mark.parametrize("config", [
    RunConfig("/tmp/a schema.json", "f" * 64, "diffusion", 3.0, 1e-7, 5, 1, 1, 2**20, 30.0, "/tmp/out.parquet", 100, 7, 12),
    RunConfig("s.json", "ab", method="mst"),
    RunConfig("s.json", "ab", method="diffusion", rounds=100, algorithm="fedsgd"),
])
def test_run_config_round_trips_through_flowers_toml(config):
    wire = config.to_wire()
    parsed = tomllib.loads("\n".join(f"{key} = {value}" for key, value in wire.items()))  # as flwr run parses it
    assert RunConfig.from_wire(parsed) == config
