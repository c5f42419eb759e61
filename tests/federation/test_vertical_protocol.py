"""The cross-silo protocol in separate processes: exact counts under the noise, nothing in the clear, faults."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mpyc")

from dpquilt.federation.vertical import SiloInputError  # noqa: E402
from dpquilt.federation.vertical.cross_silo import FIELD_PRIME  # noqa: E402
from dpquilt.federation.vertical.party import SiloRequest  # noqa: E402
from dpquilt.federation.vertical.simulation import run_requests, simulate  # noqa: E402
from dpquilt.schema import Schema  # noqa: E402

CLOSED = {"missing": False, "other": False}
N = 600


def _silos(seed: int = 0, three: bool = False):
    rng = np.random.default_rng(seed)
    ids = rng.permutation(10_000)[:N]
    x = rng.integers(0, 3, N)
    y = (x + (rng.random(N) < 0.2)) % 3
    bank = pd.DataFrame({"id": ids, "x": x, "z": rng.choice(["p", "q"], N)})
    insurer = pd.DataFrame({"id": ids, "y": y}).sample(frac=1.0, random_state=1)  # other row order
    silos = {"bank": bank, "insurer": insurer}
    facts = {"x": {"categories": [0, 1, 2], **CLOSED}, "z": {"categories": ["p", "q"], **CLOSED},
             "y": {"categories": [0, 1, 2], **CLOSED}}
    if three:
        silos["registry"] = pd.DataFrame({"id": ids, "w": rng.choice(["u", "v", "t", "s"], N)})
        facts["w"] = {"categories": ["s", "t", "u", "v"], **CLOSED}
    return silos, ids, Schema.from_public(facts)


def _joined(silos, ids):
    frames = [df.set_index("id").loc[ids].reset_index(drop=True) for df in silos.values()]
    return pd.concat(frames, axis=1)


def _codes(joined, schema, column):
    return np.searchsorted(np.asarray(schema[column].categories), joined[column].to_numpy())


def _exact(joined, schema, clique):
    codes = [_codes(joined, schema, c) for c in clique]
    shape = [schema.domain()[c] for c in clique]
    return np.bincount(np.ravel_multi_index(codes, shape), minlength=int(np.prod(shape)))


def test_cross_silo_counts_are_the_joined_tables_counts_under_noise_of_the_stated_scale():
    silos, ids, schema = _silos(three=True)
    joined = _joined(silos, ids)
    clique = ("y", "x", "w", "z")  # columns of three silos, out of the silos' order
    copies, share = 12, 2.0
    run = run_requests(silos, "id", ids, schema, [SiloRequest("cross", (clique,) * copies, share)], random_state=3)
    exact = _exact(joined, schema, clique)
    noise = run.answers[0].reshape(copies, -1) - exact
    assert noise.shape == (copies, exact.size)
    parties = 4
    assert abs(noise.mean()) < 0.2
    assert abs(noise.std() / (share * np.sqrt(parties)) - 1.0) < 0.15  # every party's share is in the total
    assert np.abs(noise).max() < 12 * share * np.sqrt(parties)  # no cell misplaced: counts are up to ~50


def test_a_local_request_is_answered_by_its_silo_with_its_noise():
    silos, ids, schema = _silos()
    joined = _joined(silos, ids)
    run = run_requests(silos, "id", ids, schema, [SiloRequest("local", (("x", "z"),) * 20, 1.5, silo=1)], random_state=4)
    noise = run.answers[0].reshape(20, -1) - _exact(joined, schema, ("x", "z"))
    assert abs(noise.std() / 1.5 - 1.0) < 0.2 and abs(noise.mean()) < 0.3


def _plaintext_found(stream: bytes, codes: np.ndarray) -> list[str]:
    """Encodings of ``codes`` (the first 48 rows) or of their indicators that appear in ``stream``."""
    head = np.asarray(codes[:48])
    found = []
    for name, pattern in {
        "codes as bytes": head.astype(np.uint8).tobytes(),
        "codes as int64": head.astype("<i8").tobytes(),
        "codes as field elements": head.astype("<u4").tobytes(),
        "indicator as field elements": (head == head[0]).astype("<u4").tobytes(),
        "indicator as bytes": (head == head[0]).astype(np.uint8).tobytes(),
    }.items():
        if pattern in stream:
            found.append(name)
    return found


def test_the_detector_finds_a_plaintext_column():
    codes = np.random.default_rng(0).integers(0, 3, 500)
    assert _plaintext_found(b"xx" + (codes == codes[0]).astype("<u4").tobytes() + b"yy", codes)
    assert not _plaintext_found(np.random.default_rng(1).integers(0, FIELD_PRIME, 4000).astype("<u4").tobytes(), codes)


def test_no_party_receives_another_silos_values(tmp_path):
    silos, ids, schema = _silos()
    joined = _joined(silos, ids)
    run_requests(silos, "id", ids, schema, [SiloRequest("cross", (("x", "y"), ("z", "y")), 2.0)],
                 random_state=5, transcripts=tmp_path)
    received = {pid: (tmp_path / f"party{pid}.bin").read_bytes() for pid in range(3)}
    assert all(len(stream) > 1000 for stream in received.values())  # shares did flow to everyone
    for column, holder in [("x", 1), ("z", 1), ("y", 2)]:
        codes = _codes(joined, schema, column)
        for pid, stream in received.items():
            if pid != holder:
                assert not _plaintext_found(stream, codes), (column, pid)


def _leftover_parties() -> str:
    """This test process's party children still running."""
    out = subprocess.run(["pgrep", "-P", str(os.getpid()), "-af", "dpquilt.federation.vertical.party"],
                         capture_output=True, text=True)
    return out.stdout.strip()


def test_a_failing_party_stops_every_party_and_nothing_is_returned():
    silos, ids, schema = _silos()
    with pytest.raises(RuntimeError, match=r"exited with code .*nothing was released"):
        run_requests(silos, "id", ids, schema, [SiloRequest("cross", (("x", "nowhere"),), 2.0)], timeout=60)
    assert _leftover_parties() == ""


def test_simulate_fits_mst_across_silos_with_one_table_and_one_ledger():
    silos, ids, schema = _silos()
    syn = simulate(silos, "id", ids, schema, epsilon=3.0, random_state=0)
    sample = syn.sample(3000, random_state=1)
    assert list(sample.columns) == ["x", "z", "y"]  # every silo's columns, no key
    agreement = (sample["x"].astype(int) == sample["y"].astype(int)).mean()
    assert agreement > 0.6  # y follows x in 80% of rows; independent columns would agree in a third
    report = syn.privacy_report()
    assert report.epsilon_spent <= 3.0 + 1e-9
    text = str(report)
    assert "across silos" in text and "(silo 1)" in text and "semi-honest" in text
    again = simulate(silos, "id", ids, schema, epsilon=3.0, random_state=0).sample(3000, random_state=1)
    pd.testing.assert_frame_equal(sample, again)


def test_simulate_refuses_a_schema_of_columns_no_silo_holds_before_any_process_starts():
    silos, ids, schema = _silos()
    facts = {**schema.to_dict(), "salary": {"kind": "float", "lower": 0, "upper": 10}}
    with pytest.raises(SiloInputError, match=r"names column\(s\) \['salary'\] that no silo holds"):
        simulate(silos, "id", ids, facts, epsilon=1.0)
    with pytest.raises(ValueError, match="AIM over silos is not offered"):
        simulate(silos, "id", ids, schema, method="aim")


def test_columns_without_public_facts_are_learned_by_their_silo_and_charged_to_the_one_ledger():
    silos, ids, schema = _silos()
    rng = np.random.default_rng(7)
    silos["insurer"]["paid"] = np.round(rng.gamma(2.0, 300.0, N), 2)  # a raw float column, no facts given
    syn = simulate(silos, "id", ids, schema.select(["x", "z"]), epsilon=2.0, random_state=0)
    report = syn.privacy_report()
    learned = [e.what for e in report.expenditures if "'y'" in e.what or "'paid'" in e.what]
    assert any("paid" in w for w in learned) and any("'y'" in w for w in learned)  # the insurer's columns only
    assert not any("'x'" in e.what and "marginal" not in e.what for e in report.expenditures)  # x's facts were public
    assert report.epsilon_spent <= 2.0 + 1e-9
    assert "within-bin histogram of 'paid' (silo 2)" in [e.what for e in report.expenditures]  # refined by its silo
    assert type(syn.refiner_).__name__ == "HistogramRefiner"
    sample = syn.sample(500, random_state=0)
    assert list(sample.columns) == ["x", "z", "y", "paid"]
    assert sample["paid"].dtype.kind == "f" and sample["paid"].min() >= 0
