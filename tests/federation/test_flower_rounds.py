"""Secure sums over Flower's SecAgg+ in simulation: exact integers, dropouts at every stage,
too few clients, malformed replies. One simulation runs every scenario (Ray starts once)."""

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.serverapp import ServerApp  # noqa: E402
from flwr.simulation import run_simulation  # noqa: E402

from dpquilt.federation.client import make_client_app  # noqa: E402
from dpquilt.federation.masks import install_secure_masks  # noqa: E402
from dpquilt.federation.protocol import Request  # noqa: E402
from dpquilt.federation.secure_sum import (  # noqa: E402
    MalformedReplyError,
    SecureAggregationError,
    SecureSum,
    SecureSumSettings,
)
from tests.federation.test_federated_oracle import split  # noqa: E402

CLIENTS = 4
LENGTH = 7  # six values and the check entry
#: attempt number (Flower group id) -> (stage, nodes that drop there); scenarios start at multiples of 10
FAULTS = {
    20: ("setup", {0}),
    30: ("share_keys", {1}),
    40: ("collect_masked_vectors", {2}),
    50: ("unmask", {3}),
    60: ("setup", {0, 1}),
    61: ("setup", {0, 1}),
}
WRONG_LENGTH_LABEL = "wrong length"


def known_vector(node: int) -> np.ndarray:
    """Large and negative entries: SecAgg+'s default clipping (8) would destroy them."""
    return np.array([1000 * (node + 1), -777 * node, 123456, 0, -(node + 1), 2**20 + node, 1], dtype=np.int64)


def drop_mod(msg, context, call_next):
    stage = msg.content.config_records.get("secaggplus_configs", {}).get("stage")
    plan = FAULTS.get(int(msg.metadata.group_id or 0))
    if plan and stage == plan[0] and int(context.node_config["partition-id"]) in plan[1]:
        raise RuntimeError(f"simulated dropout at {stage}")
    return call_next(msg, context)


def hook(vector, request, node):
    if request.label.startswith(WRONG_LENGTH_LABEL) and node == 0:
        return np.append(known_vector(node), 5)
    return known_vector(node)


def run_scenarios():
    outcomes = {}
    server = ServerApp()

    @server.main()
    def main(grid, context):
        install_secure_masks()
        settings = SecureSumSettings(CLIENTS, max_dropouts=1, retries=1, wait_for_clients=60)
        request = Request("measure", (("a",),), 1.0, "r")
        with SecureSum(grid, context, settings) as secure_sum:
            for start, name in [(10, "plain"), (20, "setup"), (30, "share_keys"), (40, "collect"), (50, "unmask"),
                                (60, "two drop"), (70, WRONG_LENGTH_LABEL)]:
                secure_sum._attempts = start - 1  # the fault plan is keyed by attempt number
                charges = []
                try:
                    total, contributors = secure_sum(
                        Request("measure", (("a",),), 1.0, name), LENGTH, on_retry=lambda: charges.append(1)
                    )
                    outcomes[name] = (total, contributors, secure_sum._attempts - start + 1)
                except SecureAggregationError as exc:
                    outcomes[name] = exc
                outcomes[name + " charges"] = len(charges)
        try:
            with SecureSum(grid, context, SecureSumSettings(CLIENTS + 1, wait_for_clients=2)):
                pass
        except SecureAggregationError as exc:
            outcomes["too few"] = exc
        del request

    clients = split(k=CLIENTS)
    app = make_client_app(lambda ctx: clients[int(ctx.node_config["partition-id"])], seed=0, mods=[drop_mod],
                          reply_hook=hook)
    run_simulation(server_app=server, client_app=app, num_supernodes=CLIENTS,
                   backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}})
    return outcomes


@pytest.fixture(scope="module")
def outcomes():
    return run_scenarios()


def expected_sum(nodes):
    return sum(known_vector(n) for n in nodes)[:-1]


def test_integer_vectors_sum_exactly(outcomes):
    total, contributors, attempts = outcomes["plain"]
    assert contributors == CLIENTS and attempts == 1
    assert np.array_equal(total, expected_sum(range(CLIENTS)))


@pytest.mark.parametrize("name,node", [("setup", 0), ("share_keys", 1), ("collect", 2), ("unmask", 3)])
def test_one_dropout_at_any_stage_gives_an_exact_sum_or_a_retry(outcomes, name, node):
    result = outcomes[name]
    assert not isinstance(result, Exception), result
    total, contributors, attempts = result
    # either the round survived without the client, or it halted and the retry had everyone
    survivors = [n for n in range(CLIENTS) if n != node] if contributors == CLIENTS - 1 else list(range(CLIENTS))
    assert contributors >= CLIENTS - 1
    assert np.array_equal(total, expected_sum(survivors)), (name, contributors, attempts)
    # Flower halts a round that lost a client before key sharing finished, in the unmask
    # stage: the server then held the survivors' shares, so the retry is paid again.
    assert outcomes[name + " charges"] == attempts - 1


def test_a_round_halted_before_unmasking_is_retried_for_free(outcomes):
    assert outcomes["two drop charges"] == 0


def test_too_many_dropouts_release_nothing_and_say_why(outcomes):
    exc = outcomes["two drop"]
    assert isinstance(exc, SecureAggregationError) and not isinstance(exc, MalformedReplyError)
    msg = str(exc)
    assert "failed 2 time(s) and released nothing" in msg
    assert "simulated dropout at setup" in msg and "at least 3 of 4 clients" in msg


def test_a_reply_of_the_wrong_length_is_rejected_before_unmasking(outcomes):
    exc = outcomes[WRONG_LENGTH_LABEL]
    assert isinstance(exc, MalformedReplyError)
    assert "shapes [(1,), (8,)]" in str(exc) and "expected [(1,), (7,)]" in str(exc)


def test_too_few_clients_is_a_clear_error(outcomes):
    exc = outcomes["too few"]
    assert isinstance(exc, SecureAggregationError)
    assert "only 4 of 5 clients connected" in str(exc)
