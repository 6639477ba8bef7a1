#!/usr/bin/env bash
# The peer benchmark on a GPU machine (PyTorch 2.x with CUDA, no LLVM):
# remat plans with build/bin/remat-plan, the statically linked planner built
# here (REMAT_BUILD_STATIC_PLANNER, on by default) and carried with the
# working tree; PyTorch runs every variant. Writes peers-cuda.{json,md,png}
# and the log to $OUT (default: bench/results). Runs the development
# machine's small shapes first (seconds), then the device shapes, for at most
# 4 minutes (what was measured by then is kept).
# Usage: bash bench/torch/device.sh [--device cpu]   (cpu: a dry run here)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${OUT:-$root/bench/results}"
device=cuda
[ "${1:-}" = "--device" ] && device="${2:?--device needs cpu or cuda}"
export PYTHONPATH="$root/python"
export REMAT_PLANNER="${REMAT_PLANNER:-$root/build/bin/remat-plan}"
[ -x "$REMAT_PLANNER" ] || {
  echo "device.sh: no planner at $REMAT_PLANNER (build remat here first)" >&2
  exit 2
}
python="${PYTHON:-python3}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total \
  --format=csv,noheader | tee "$out/peers-$device.log"
"$python" - <<'PY' | tee -a "$out/peers-$device.log"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda)
PY
if [ "$device" = cpu ]; then
  "$python" "$root/bench/torch/peers.py" --device cpu --quick --repeats 1 \
    --json "$out/peers-$device.json" --markdown "$out/peers-$device.md" \
    --plot "$out/peers-$device.png" 2>&1 | tee -a "$out/peers-$device.log"
  exit 0
fi
"$python" "$root/bench/torch/peers.py" --device cuda --shapes cpu \
  --repeats 10 --json "$out/peers-cuda-small.json" \
  --markdown "$out/peers-cuda-small.md" 2>&1 | tee -a "$out/peers-cuda.log"
# (Cut at 4 minutes: the outputs are rewritten after each shape.)
if ! timeout 240 "$python" "$root/bench/torch/peers.py" --device cuda \
    --shapes gpu --repeats 10 --json "$out/peers-cuda.json" \
    --markdown "$out/peers-cuda.md" --plot "$out/peers-cuda.png" 2>&1 |
    tee -a "$out/peers-cuda.log"; then
  echo "device.sh: the device shapes stopped early (cut at 4 minutes or" \
    "failed); the outputs hold the shapes measured" | tee -a "$out/peers-cuda.log"
fi
