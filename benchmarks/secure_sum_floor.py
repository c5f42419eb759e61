"""The least a secure sum costs here: SecAgg+ rounds whose clients have almost nothing to do.

Each client holds 100 rows of one binary column and answers a 1-way measurement (a
reply of 3 integers), so the time is Flower's: the four SecAgg+ stages on the
simulation engine and the server's Shamir reconstruction. Printed per number of
clients: the median and p90 wall time of a sum after the first (which waits for Ray),
each stage's median, and PyCryptodome's time to reconstruct one client's seed from
its shares (what the server does for every client in the unmask stage). The AIM round
of the issue's target is two such sums (scores, then a measurement) plus their work.

    python benchmarks/secure_sum_floor.py --clients 2 5 10 --sums 12
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
import warnings
from datetime import date

import numpy as np

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)


def run_one(clients: int, sums: int) -> dict:
    """Run ``sums`` secure sums over ``clients`` simulated clients; their seconds and stage seconds."""
    from flwr.serverapp import ServerApp

    from dpquilt.federation.client import make_client_app
    from dpquilt.federation.masks import install_secure_masks
    from dpquilt.federation.protocol import Request, reply_length
    from dpquilt.federation.secure_sum import SecureSum, SecureSumSettings
    from dpquilt.federation.simulation import _run
    from dpquilt.schema.dataset import Dataset

    domain = {"a": 2}
    settings = SecureSumSettings(clients)
    result: dict = {}
    server = ServerApp()

    @server.main()
    def main(grid, context) -> None:
        install_secure_masks()
        with SecureSum(grid, context, settings) as secure_sum:
            for i in range(sums):
                request = Request("measure", (("a",),), 10.0, f"floor #{i}")
                secure_sum(request, reply_length(request, domain))
        result["seconds"] = list(secure_sum.seconds)
        result["stages"] = list(secure_sum.stage_seconds)

    rows = [Dataset({"a": np.random.default_rng(k).integers(0, 2, 100)}, domain) for k in range(clients)]
    client = make_client_app(lambda context: rows[int(context.node_config["partition-id"])], seed=0)
    _run(server, client, clients, verbose=False)
    return result


def shamir_seconds(clients: int, repeats: int = 20) -> float:
    """Seconds Flower's ``combine_shares`` takes for one 32-byte seed shared among ``clients``."""
    from flwr.common.secure_aggregation.crypto.shamir import combine_shares, create_shares

    shares = create_shares(os.urandom(32), clients, clients)
    start = time.perf_counter()
    for _ in range(repeats):
        combine_shares(shares)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", nargs="+", type=int, default=[2, 5, 10])
    p.add_argument("--sums", type=int, default=12)
    p.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    print(f"# Secure-sum floor ({date.today()}, {platform.machine()}, {len(os.sched_getaffinity(0))} cores, CPU): "
          f"1-way measurement of 3 integers, {args.sums} sums per run, the first excluded")
    print("| clients | s per sum (median) | p90 | setup | share keys | masked vectors | unmask | "
          "server Shamir (clients x one seed) |")
    print("|---|---|---|---|---|---|---|---|")
    for k in args.clients:
        out = subprocess.run([sys.executable, __file__, "--one", str(k), str(args.sums)], capture_output=True,
                             text=True, check=True)
        run = json.loads(out.stdout.strip().splitlines()[-1])
        seconds = np.array(run["seconds"][1:])
        stages = {name: np.median([s.get(name, 0.0) for s in run["stages"][1:]])
                  for name in ("setup", "share_keys", "collect_masked_vectors", "unmask")}
        shamir = k * shamir_seconds(k)
        print(f"| {k} | {np.median(seconds):.2f} | {np.percentile(seconds, 90):.2f} | {stages['setup']:.2f} | "
              f"{stages['share_keys']:.2f} | {stages['collect_masked_vectors']:.2f} | {stages['unmask']:.2f} | "
              f"{shamir:.2f} |", flush=True)


if __name__ == "__main__":
    main()
