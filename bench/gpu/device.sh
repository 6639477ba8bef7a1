#!/usr/bin/env bash
# The device checks in one command, for a GPU machine (CUDA driver, PyTorch
# 2.x, no LLVM) that receives the working tree with bench/gpu/out (built
# here by bench/gpu/build.py) and build/bin/remat-plan carried:
#   1. bench/gpu/run.py: remat's AOT steps on the GPU against a float64
#      PyTorch reference, device peak against prediction and budget, and
#      PyTorch eager with and without torch.utils.checkpoint;
#   2. bench/torch/device.sh: PyTorch running remat's plans (peers.py).
# Each part has a time limit of its own (GPU_RUN_SECONDS, PEERS_SECONDS);
# what a part measured before its limit is kept. Writes to $OUT (default
# bench/results).
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${OUT:-$root/bench/results}"
mkdir -p "$out"
python="${PYTHON:-python3}"
export PYTHONPATH="$root/python"
{
  date -u
  command -v nvidia-smi >/dev/null &&
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} 2>&1 | tee "$out/device.log"
timeout "${GPU_RUN_SECONDS:-200}" "$python" "$root/bench/gpu/run.py" \
  --build "$root/bench/gpu/out" --results "$out" --work /tmp/remat-gpu-work \
  --ref-device cuda --timeout 90 --peer-iters 5 2>&1 | tee -a "$out/device.log"
echo "run.py: exit ${PIPESTATUS[0]}" | tee -a "$out/device.log"
OUT="$out" timeout "${PEERS_SECONDS:-130}" bash "$root/bench/torch/device.sh" \
  2>&1 | tail -40 | tee -a "$out/device.log"
echo "bench/torch/device.sh: exit ${PIPESTATUS[0]}" | tee -a "$out/device.log"
