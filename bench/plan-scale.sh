#!/usr/bin/env bash
# How long -remat-rematerialize takes to plan a GPT joint graph (hidden 1024,
# 16 heads, sequence 2048, bf16) as layers grow from 12 to 96. Prints one
# line per (layers, strategy, verify): the pass's own wall time from
# -mlir-timing, the peak evaluations, and the plan (or the error).
# Usage: bash bench/plan-scale.sh [build-dir] [budget] [layers]
# (layers: a quoted list, "12 24 48 96" by default)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
budget="${2:-80%}"
layer_counts="${3:-12 24 48 96}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf "%-7s %-8s %-7s %10s %6s  %s\n" layers strategy verify "plan s" evals plan
for layers in $layer_counts; do
  PYTHONPATH="$root/python" /usr/bin/python3 -m remat emit gpt --layers "$layers" \
    --hidden 1024 --heads 16 --seq 2048 --batch 1 --vocab 50257 --dtype bf16 \
    --dropout 0 -o "$tmp/gpt$layers.mlir"
  for strategy in greedy auto; do
    for verify in false true; do
      "$build/bin/remat-opt" "$tmp/gpt$layers.mlir" -mlir-timing \
        "-remat-rematerialize=budget=$budget strategy=$strategy verify=$verify remarks=true" \
        -o /dev/null 2> "$tmp/log" || true
      seconds=$(grep -E "RematRematerializePass|remat-rematerialize" "$tmp/log" | head -1 | awk '{print $1}' || true)
      # (The summary remark, not a remark on a value recomputed twice,
      # whose text has "predicted peak falls from".)
      summary=$(grep -o "remat: predicted peak [0-9].*" "$tmp/log" | head -1 | sed 's/^remat: //' || true)
      [ -n "$summary" ] || summary=$(grep -o "error: .\{0,160\}" "$tmp/log" | head -1 || true)
      evals=$(echo "$summary" | grep -o "[0-9]* peak evaluations" | awk '{print $1}' || true)
      printf "%-7s %-8s %-7s %10s %6s  %s\n" "$layers" "$strategy" "$verify" "$seconds" "${evals:--}" "$summary"
    done
  done
done
