"""Federated synthesis across clients under secure aggregation (not built yet; see issue 4)."""
