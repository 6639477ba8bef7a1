#!/usr/bin/env bash
# Runs -remat-rematerialize several times on the same inputs while busy
# loops keep every core loaded, and counts the distinct outputs (IR and
# remarks, byte for byte) of each command: 1 means deterministic.
#
# Inputs: the 12-layer GPT of issue 14 (hidden 768, 12 heads, sequence 1024,
# batch 4, vocab 50257, bf16) with auto, optimal and greedy at 50%, and the
# four corpus fixtures with auto at 90%, 70% and 50%.
#
# Usage: bash bench/determinism.sh [build-dir] [runs] [busy-loops]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
runs="${2:-8}"
busy="${3:-$(nproc)}"
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

PYTHONPATH="$root/python" /usr/bin/python3 -m remat emit gpt --layers 12 \
  --hidden 768 --heads 12 --seq 1024 --batch 4 --vocab 50257 --dtype bf16 \
  -o "$tmp/gpt12.mlir"

for _ in $(seq "$busy"); do
  (while :; do :; done) &
  pids+=($!)
done
echo "$busy busy loops running; $runs runs per command"

check() {
  local input="$1" options="$2"
  local sums=()
  local start end
  start=$(date +%s.%N)
  for i in $(seq "$runs"); do
    rm -f "$tmp/out.mlir"
    "$build/bin/remat-opt" "$input" "-remat-rematerialize=$options" \
      -o "$tmp/out.mlir" 2> "$tmp/err.txt" || true
    touch "$tmp/out.mlir" # (none is written when the pass fails)
    sums+=("$(cat "$tmp/out.mlir" "$tmp/err.txt" | md5sum | cut -c1-12)")
  done
  end=$(date +%s.%N)
  local distinct
  distinct=$(printf '%s\n' "${sums[@]}" | sort -u | wc -l)
  local summary
  summary=$(grep -o "predicted peak [0-9]* bytes.*plan [a-z-]*" "$tmp/err.txt" \
    | head -1 | sed 's/; saved activations.*; plan/; plan/' || true)
  [ -n "$summary" ] ||
    summary=$(grep -o "error: .\{0,90\}" "$tmp/err.txt" | head -1 || true)
  printf "%-14s %-46s %2d distinct of %d (%.1f s/run)  %s\n" \
    "$(basename "$input" .mlir)" "$options" "$distinct" "$runs" \
    "$(echo "($end - $start) / $runs" | bc -l)" "$summary"
}

for strategy in auto optimal greedy; do
  check "$tmp/gpt12.mlir" "budget=50% strategy=$strategy remarks=true"
done
check "$tmp/gpt12.mlir" "budget=60% verify=false remarks=true"
for model in gpt llama bert vit; do
  for budget in 90% 70% 50%; do
    check "$root/test/Fixtures/$model.mlir" "budget=$budget remarks=true"
  done
done
