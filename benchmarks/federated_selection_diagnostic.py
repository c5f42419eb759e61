"""Where federated AIM loses to central AIM: selection noise or local-score bias?

Runs federated AIM in-process (client replies summed directly, no Flower, same noise and
accounting as ``dq.federation.simulate``) on adult split over k clients, once as is and
once with the clients' noise switched off for *scoring* requests only (measurements keep
theirs). If the noiseless-selection run matches central AIM, the local scores are not
biased enough to matter and the gap is the noise of releasing all scores.

    python benchmarks/federated_selection_diagnostic.py --clients 2 10 --seeds 3
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dpquilt as dq  # noqa: E402
from dpquilt.federation.federated_oracle import FederatedOracle  # noqa: E402
from dpquilt.federation.protocol import client_reply  # noqa: E402
from dpquilt.schema.dataset import Dataset  # noqa: E402
from dpquilt.schema.codec import encode  # noqa: E402
from dpquilt.privacy.noise import SeededNoise  # noqa: E402
from mst_vs_reference import errors, load, mean_se  # noqa: E402


class _NoNoise:
    secure = False

    def discrete_gaussian(self, values, sigma):
        return np.asarray(values, dtype=np.int64)


def three_way_error(table: str, k: int, seed: int, noiseless_scores: bool, eps: float, rounds: int) -> float:
    df, domain = load(table)
    schema = dq.Schema.from_domain(domain)
    shuffled = df.sample(frac=1.0, random_state=seed)
    clients = [encode(shuffled.iloc[i::k], schema).data for i in range(k)]

    def secure_sum(request, length, on_retry=None):
        replies = []
        for i, data in enumerate(clients):
            quiet = noiseless_scores and request.kind == "scores"
            rng = np.random.default_rng([seed, i, zlib.crc32(request.label.encode())])
            replies.append(client_reply(request, data, _NoNoise() if quiet else SeededNoise(rng), 2**26))
        total = np.sum(replies, axis=0)
        return total[:-1], k

    syn = dq.MarginalSynthesizer(epsilon=eps, method="aim", schema=schema, rounds=rounds, random_state=seed,
                                 verbose=False)
    syn.fit_oracle(FederatedOracle(secure_sum, schema.domain(), k), schema, list(domain))
    out = syn.sample(random_state=seed)
    real = Dataset({c: df[c].to_numpy() for c in domain}, domain)
    return errors(real, Dataset({c: out[c].to_numpy() for c in domain}, domain))[2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", default="adult")
    p.add_argument("--clients", nargs="+", type=int, default=[2, 10])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epsilon", type=float, default=1.0)
    p.add_argument("--rounds-per-column", type=int, default=2)
    args = p.parse_args()
    rounds = args.rounds_per_column * len(load(args.table)[1])
    print(f"# federated AIM 3-way error on {args.table}, eps={args.epsilon:g}, rounds={rounds}, "
          f"mean±SE over {args.seeds} seeds")
    print("| clients | as released | scores without noise (diagnostic, not DP) |")
    print("|---|---|---|")
    for k in args.clients:
        cells = [mean_se([three_way_error(args.table, k, s, quiet, args.epsilon, rounds) for s in range(args.seeds)])
                 for quiet in (False, True)]
        print(f"| {k} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
