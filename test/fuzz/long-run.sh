#!/usr/bin/env bash
# The fuzzers' long run (docs/Reliability.md): 20,000 mutants of the lit
# suite's inputs through every pass and pipeline, 500 mutants of the corpus
# fixtures through 3 pipelines each in turn, and 2,000 random training steps
# through every strategy on the CPU. Seed 2 (the CI slices use seed 1).
# A long piece can be resumed: diff_fuzz.py --first N --steps M runs steps
# N .. N+M-1 alone.
# Prints each fuzzer's summary; exits 1 if any found a bug. Takes about 4 to
# 5 hours on 2 cores.
#
# Usage: bash test/fuzz/long-run.sh [build-dir] [output-dir]
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
out="${2:-$root/build/fuzz-long}"
llvm_lib=/usr/lib/llvm-22/lib
mkdir -p "$out"
status=0

mapfile -t seeds < <(find "$root/test" "$root/examples" -name '*.mlir' \
  -not -path '*/Fixtures/*' | sort)
"$build/bin/remat-fuzz" "${seeds[@]}" --mutants 20000 --seed 2 --jobs 2 \
  --timeout 120 --save-dir "$out/mutation-bugs" > "$out/mutation.txt" ||
  status=1
grep "^remat-fuzz:" "$out/mutation.txt"

"$build/bin/remat-fuzz" "$root"/test/Fixtures/*.mlir --mutants 500 --seed 2 \
  --per-mutant 3 --jobs 2 --timeout 300 --save-dir "$out/fixture-bugs" \
  > "$out/fixtures.txt" || status=1
grep "^remat-fuzz:" "$out/fixtures.txt"

/usr/bin/python3 "$root/test/fuzz/diff_fuzz.py" \
  --remat-opt "$build/bin/remat-opt" \
  --mlir-runner /usr/lib/llvm-22/bin/mlir-runner \
  --shared-libs "$llvm_lib/libmlir_runner_utils.so" \
  "$llvm_lib/libmlir_c_runner_utils.so" "$build/lib/libRematRuntime.so" \
  --steps 2000 --seed 2 --jobs 2 -q --keep "$out/differential-failing" \
  > "$out/differential.txt" || status=1
tail -n 25 "$out/differential.txt"
exit $status
