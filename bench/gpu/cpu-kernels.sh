#!/usr/bin/env bash
# Builds each corpus model's GPU step (2 layers, hidden 64, 4 heads, seq 32,
# vocab 128) per strategy with bench/gpu/build.py --cpu-kernels, and runs
# bench/gpu/run.py on it here, the kernels on the CPU under the fake
# libcuda: every variant's loss and gradients against PyTorch's float64
# autograd, and its device peak against the prediction. Writes
# OUT/<model>/results/gpu-cpu.{md,json,txt}; prints each model's table.
# Usage: bench/gpu/cpu-kernels.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=${2:-/tmp/remat-cpu-kernels}
py=${PYTHON:-python3}
status=0
for model in gpt llama bert vit; do
  rm -rf "$out/$model"
  "$py" "$root/bench/gpu/build.py" --build "$build" --model "$model" \
    --out "$out/$model" --layers 2 --hidden 64 --heads 4 --seq 32 --vocab 128 \
    --strategies none,selective,full --auto-budgets selective \
    --matmul 96 --matmul-mma none --cpu-kernels >/dev/null
  LD_LIBRARY_PATH="$build/lib/fake-cuda" \
  REMAT_FAKE_CUDA_KERNELS="$out/$model/cpu-kernels" \
    "$py" "$root/bench/gpu/run.py" --build "$out/$model" \
      --results "$out/$model/results" --skip-peer --device cpu --repeat 1 \
      --matmul-repeat 1 --matmul-iters 1 -q || status=1
  echo "== $model"
  grep '^|' "$out/$model/results/gpu-cpu.md"
done
exit $status
