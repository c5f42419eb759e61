"""Run one peer synthesizer on one table, inside the peer's own environment (not dpquilt's).

``benchmarks/raw_tables.py`` calls it with the Python of an environment where the peer is
installed, e.g. ``python -m venv /tmp/peers/dpmm && /tmp/peers/dpmm/bin/pip install
dpmm==0.1.9``, then ``--peer-python dpmm-mst=/tmp/peers/dpmm/bin/python``:

    PEER_PYTHON benchmarks/peer_run.py dpmm-mst real.csv synth.csv --epsilon 10 --seed 0

Each peer gets the same total budget as dpquilt, a tenth of it for its preprocessing
(dpquilt's default ``schema_share``): dpmm 0.1.9's MST with PrivTree binning
(``proc_epsilon``; its AIM likewise), smartnoise-synth 1.0.8's MST with ``preprocessor_eps``.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

PREPROCESSING_SHARE = 0.1


def dpmm_mst(df: pd.DataFrame, epsilon: float, delta: float, seed: int) -> pd.DataFrame:
    from dpmm.pipelines import MSTPipeline

    pipeline = MSTPipeline(epsilon=epsilon * (1 - PREPROCESSING_SHARE), delta=delta,
                           proc_epsilon=epsilon * PREPROCESSING_SHARE)
    pipeline.fit(df, random_state=seed)
    return pipeline.generate(n_records=len(df), random_state=seed)


def dpmm_aim(df: pd.DataFrame, epsilon: float, delta: float, seed: int) -> pd.DataFrame:
    from dpmm.pipelines import AIMPipeline

    pipeline = AIMPipeline(epsilon=epsilon * (1 - PREPROCESSING_SHARE), delta=delta,
                           proc_epsilon=epsilon * PREPROCESSING_SHARE)
    pipeline.fit(df, random_state=seed)
    return pipeline.generate(n_records=len(df), random_state=seed)


def smartnoise_mst(df: pd.DataFrame, epsilon: float, delta: float, seed: int) -> pd.DataFrame:
    from snsynth import Synthesizer

    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and df[c].nunique() > 20]
    categorical = [c for c in df.columns if c not in numeric]
    synth = Synthesizer.create("mst", epsilon=epsilon, delta=delta)
    synth.fit(df, categorical_columns=categorical, continuous_columns=numeric, nullable=True,
              preprocessor_eps=epsilon * PREPROCESSING_SHARE)
    return synth.sample(len(df))


PEERS = {"dpmm-aim": dpmm_aim, "dpmm-mst": dpmm_mst, "smartnoise-mst": smartnoise_mst}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", choices=sorted(PEERS))
    parser.add_argument("real")
    parser.add_argument("out")
    parser.add_argument("--epsilon", type=float, required=True)
    parser.add_argument("--delta", type=float, default=1e-9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    df = pd.read_csv(args.real)
    PEERS[args.peer](df, args.epsilon, args.delta, args.seed).to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
