"""Every public name of dpquilt.federation resolves (the Flower-backed ones on first use)."""

import pytest

pytest.importorskip("flwr")

import dpquilt as dq  # noqa: E402


@pytest.mark.parametrize("name", dq.federation.__all__)
def test_every_public_name_resolves(name):
    assert getattr(dq.federation, name) is not None
