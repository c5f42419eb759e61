"""The server side of a federated fit: MST/AIM on a FederatedOracle over SecAgg+."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..schema import Schema
from ..synthesizers.marginal import MarginalSynthesizer
from .masks import install_secure_masks
from .federated_oracle import FederatedOracle
from .secure_sum import SecureSum, SecureSumSettings

__all__ = ["run_federated_fit"]

log = logging.getLogger(__name__)


def run_federated_fit(
    grid,
    context,
    settings: SecureSumSettings,
    synthesizer: MarginalSynthesizer,
    schema: Schema,
    columns: Sequence[str],
) -> MarginalSynthesizer:
    """Inside a ``ServerApp`` main: connect to the clients and fit ``synthesizer`` from secure sums.

    The synthesizer spends its own budget (:meth:`~dpquilt.synthesizers.marginal.MarginalSynthesizer.fit_oracle`);
    its ``privacy_report()`` holds every expenditure and notes how the sums were formed.
    ``synthesizer.secure_sum_seconds_`` lists the wall time of each secure sum.

    Examples
    --------
    >>> import dpquilt as dq
    >>> from flwr.serverapp import ServerApp
    >>> schema = dq.Schema.from_domain({"a": 2, "b": 3})
    >>> synthesizer = dq.MarginalSynthesizer(epsilon=1.0, method="mst", schema=schema)
    >>> app = ServerApp()
    >>> @app.main()
    ... def main(grid, context):  # Flower calls this with its grid once the run starts
    ...     run_federated_fit(grid, context, SecureSumSettings(clients=3), synthesizer, schema, list(schema.names))
    """
    install_secure_masks()
    notes = (
        f"federated over {settings.clients} clients with SecAgg+ (threshold {settings.threshold}, "
        f"{settings.honest_shares} honest noise shares assumed: max_dropouts={settings.max_dropouts}, "
        f"max_colluders={settings.max_colluders})",
        "selection uses noisy sums of clients' local scores (Gaussian release of all scores, then argmax)",
    )
    with SecureSum(grid, context, settings) as secure_sum:
        oracle = FederatedOracle(secure_sum, schema.domain(), settings.honest_shares)
        synthesizer.fit_oracle(oracle, schema, columns, notes)
    synthesizer.secure_sum_seconds_ = list(secure_sum.seconds)
    synthesizer.secure_sum_stage_seconds_ = list(secure_sum.stage_seconds)
    log.info("federated fit done: %d secure sums, %.2f s each on average", len(secure_sum.seconds),
             sum(secure_sum.seconds) / max(len(secure_sum.seconds), 1))
    return synthesizer
