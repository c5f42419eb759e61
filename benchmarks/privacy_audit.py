"""Privacy audits in full: empirical epsilon lower bounds next to the claimed epsilon.

Primitive audits (noise mechanisms on neighbouring inputs, many draws) and end-to-end
canary audits of MST and AIM (fit + sample with and without a canary unique in every
marginal, scored by the canary's cells); Clopper-Pearson bounds at 95% joint confidence
(``dpquilt.evaluation.audit``). The slow tests in ``tests/privacy/`` run the same audits
with fewer repetitions.

    python benchmarks/privacy_audit.py --trials 1000 --epsilons 1 4 16
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import dpquilt as dq  # noqa: E402
from dpquilt.evaluation.audit import canary_audit, canary_table, epsilon_lower_bound  # noqa: E402
from dpquilt.graphical.model import EstimationOptions  # noqa: E402
from dpquilt.privacy.conversions import epsilon_from_rho, rho_of_gaussian  # noqa: E402
from dpquilt.privacy.noise import SecureNoise, SeededNoise  # noqa: E402

DELTA_PRIMITIVE = 1e-6


def primitive_rows(draws: int) -> list[list[str]]:
    rows = []
    for name, source in (("seeded", SeededNoise(np.random.default_rng(0))), ("OpenDP", SecureNoise())):
        for sigma in (1.0, 3.0):
            a = source.discrete_gaussian(np.zeros(draws, dtype=np.int64), sigma)
            b = source.discrete_gaussian(np.ones(draws, dtype=np.int64), sigma)
            claim = epsilon_from_rho(rho_of_gaussian(sigma, 1.0), DELTA_PRIMITIVE)
            rows.append([f"discrete Gaussian counts ({name}), sigma={sigma:g}", f"{draws:,} per side",
                         f"{DELTA_PRIMITIVE:g}", f"{claim:.2f}", f"{epsilon_lower_bound(a, b, DELTA_PRIMITIVE):.2f}"])
    return rows


def canary_rows(trials: int, epsilons: list[float], rows: int) -> list[list[str]]:
    base, canary, domain = canary_table(rows, 4, 3, np.random.default_rng(0))
    schema = dq.Schema.from_domain(domain)
    out = []
    for method in ("mst", "aim"):
        for epsilon in epsilons:
            def fit_sample(table, seed, method=method, epsilon=epsilon):
                syn = dq.MarginalSynthesizer(epsilon=epsilon, method=method, schema=schema, random_state=seed,
                                             verbose=False, estimation=EstimationOptions(iters=500),
                                             **({"rounds": 8} if method == "aim" else {}))
                return syn.fit(table).sample(10 * rows)

            start = time.perf_counter()
            result = canary_audit(fit_sample, base, canary, epsilon, 1e-9, trials)
            out.append([f"{method.upper()} end to end, canary unique in every marginal ({rows} rows)",
                        f"{trials:,} fits per side", "1e-09", f"{epsilon:g}", f"{result.epsilon_lower_bound:.2f}"])
            print(f"  {method} eps={epsilon:g}: bound {result.epsilon_lower_bound:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=1000, help="fits per side in the canary audits")
    parser.add_argument("--draws", type=int, default=400_000, help="noise draws per side in the primitive audits")
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 4.0, 16.0])
    parser.add_argument("--rows", type=int, default=500)
    args = parser.parse_args()
    table = primitive_rows(args.draws) + canary_rows(args.trials, args.epsilons, args.rows)
    print("| audit | repetitions | delta | claimed epsilon | empirical lower bound (95%) |")
    print("|---|---|---|---|---|")
    for row in table:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
