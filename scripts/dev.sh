#!/usr/bin/env bash
#===- scripts/dev.sh - install, build, demo and test remat ----------------===#
#
# Usage: scripts/dev.sh <command>
#   demo   install dependencies, build, and run the bundled example: print
#          its saved-set report and the finalized IR, then run it on CPU
#   test   install dependencies, build, and run the whole lit suite
#   test-sanitized
#          build the compiler with ASan and UBSan (into build-sanitized/,
#          or $REMAT_SANITIZED_BUILD_DIR) and run the lit suite, fuzz slices
#          included, with it
#   deps   only install the Debian packages
#   build  only configure and build (into build/, or $REMAT_BUILD_DIR)
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${REMAT_BUILD_DIR:-$ROOT/build}"
LLVM_BIN=/usr/lib/llvm-22/bin
LLVM_LIB=/usr/lib/llvm-22/lib
JOBS="${REMAT_JOBS:-2}"

PACKAGES=(
  cmake ninja-build ccache g++
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  clang-format-22 clang-tidy-22
  python3 python3-numpy python3-pytest python3-torch python3-jsonschema
  python3-matplotlib python3-networkx
  # remat-opt's allocator (REMAT_MALLOC in CMakeLists.txt).
  libtcmalloc-minimal4
)

log() { printf '==> %s\n' "$*" >&2; }

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all Debian packages present"
    return
  fi
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log "installing: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
  log "configuring and building in $BUILD"
  cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BUILD" -j"$JOBS"
}

demo() {
  local example="$ROOT/examples/transformer-mlp-step.mlir"
  log "remat-opt $example -remat-report -remat-finalize -canonicalize -cse"
  "$BUILD/bin/remat-opt" "$example" \
    -remat-report=report-file="$BUILD/demo-report.json" \
    -remat-finalize -canonicalize -cse 2>"$BUILD/demo-report.txt"
  log "summary (peak memory, saved set, recompute costs; JSON in $BUILD/demo-report.json)"
  cat "$BUILD/demo-report.txt"
  log "running it on CPU (remat-lower-to-llvm | mlir-runner)"
  "$BUILD/bin/remat-opt" "$example" -remat-lower-to-llvm |
    "$LLVM_BIN/mlir-runner" -e main -entry-point-result=void \
      -shared-libs="$LLVM_LIB/libmlir_runner_utils.so,$LLVM_LIB/libmlir_c_runner_utils.so,$BUILD/lib/libRematRuntime.so"
}

# Sanitizer settings for the sanitized suite: any report fails the run.
# Leaks are not checked: MLIR's registries live until exit by design.
SANITIZER_ENV=(
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0
  UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
)

run_tests() {
  local build="${1:-$BUILD}"
  log "running the lit suite of $build"
  local out rc=0
  out="$(mktemp)"
  "$LLVM_BIN/lit" -sv "$build/test" 2>&1 | tee "$out" || rc=$?
  local passed failed
  passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$out" | head -n1)
  failed=$(sed -n 's/^ *Failed *: *\([0-9]*\).*/\1/p' "$out" | head -n1)
  rm -f "$out"
  echo "lit: ${passed:-0} passed, ${failed:-0} failed"
  [ "${passed:-0}" -gt 0 ] || { echo "error: no test ran" >&2; return 1; }
  return "$rc"
}

sanitized() {
  local build="${REMAT_SANITIZED_BUILD_DIR:-$ROOT/build-sanitized}"
  log "configuring and building the sanitized compiler in $build"
  cmake -G Ninja -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DREMAT_SANITIZE=ON >/dev/null
  ninja -C "$build" -j"$JOBS"
  (export "${SANITIZER_ENV[@]}" && run_tests "$build")
}

case "${1:-}" in
  deps) deps ;;
  build) deps; build ;;
  demo) deps; build; demo ;;
  test) deps; build; run_tests ;;
  test-sanitized) deps; sanitized ;;
  *) sed -n '4,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
