//===- RematRuntime.cpp - tracking heap and printers for remat code -------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Code lowered by `remat-lower-to-llvm{track-allocations=true}` allocates
/// its buffers through `_mlir_memref_to_llvm_alloc` and frees them through
/// `_mlir_memref_to_llvm_free`. This library implements both on top of
/// malloc and records the bytes and buffers live at each moment, so that a
/// run can report its heap high-water mark and hold it against the memory
/// model's prediction.
///
/// Buffers offloaded to host memory (`remat.offload`) are allocated right
/// after a call to `rematHostAllocNext()` and recorded in a host arena of
/// their own, so that the heap's figures are the device's alone.
///
/// It also prints tensors at full float precision, which the integration
/// tests compare against recorded references, loads and saves tensors as raw
/// files (`$REMAT_INPUTS/<id>.bin`, `$REMAT_OUTPUTS/<id>.bin`) and times a
/// step. The CUDA runtime (RematCUDARuntime.cpp) exports the same functions
/// for device memory; RematRuntimeIO.h holds what the two share.
///
//===----------------------------------------------------------------------===//

#include "RematRuntimeIO.h"

#include <cstdlib>

using remat::runtime::HeapStats;

/// The tracking heap of this process.
static HeapStats &stats() {
  static HeapStats heap;
  return heap;
}

/// The host arena: the buffers offloaded to host memory.
static HeapStats &hostStats() {
  static HeapStats heap;
  return heap;
}

/// Set by rematHostAllocNext(): the next allocation goes to the host arena.
static thread_local bool nextOnHost = false;

/// The arena the next allocation goes to.
static HeapStats &takeArena() {
  bool host = nextOnHost;
  nextOnHost = false;
  return host ? hostStats() : stats();
}

/// The step timer of rematTimerStart/rematTimerStop.
static remat::runtime::StepTimer &timer() {
  static remat::runtime::StepTimer stepTimer;
  return stepTimer;
}

// The names below are fixed by MLIR's lowering ABI.
// NOLINTBEGIN(readability-identifier-naming)
extern "C" {

/// Allocation entry point of `finalize-memref-to-llvm{use-generic-functions}`.
MLIR_CRUNNERUTILS_EXPORT void *_mlir_memref_to_llvm_alloc(size_t size) {
  return takeArena().record(std::malloc(size), size);
}

/// Aligned allocation entry point; `size` is rounded up to `alignment` as
/// aligned_alloc requires, but the requested size is what is recorded.
MLIR_CRUNNERUTILS_EXPORT void *
_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  size_t rounded = (size + alignment - 1) / alignment * alignment;
  return takeArena().record(std::aligned_alloc(alignment, rounded), size);
}

/// Deallocation entry point.
MLIR_CRUNNERUTILS_EXPORT void _mlir_memref_to_llvm_free(void *ptr) {
  if (ptr && hostStats().owns(ptr))
    hostStats().release(ptr);
  else
    stats().release(ptr);
  std::free(ptr);
}

/// Sends the next allocation to the host arena (-remat-lower-host-memory
/// calls it before each allocation of an offloaded buffer).
MLIR_CRUNNERUTILS_EXPORT void rematHostAllocNext() { nextOnHost = true; }

/// Returns the highest number of host-arena bytes live at once so far.
MLIR_CRUNNERUTILS_EXPORT int64_t rematHostPeakBytes() {
  return hostStats().peak();
}

/// Returns the highest number of heap bytes live at once so far.
MLIR_CRUNNERUTILS_EXPORT int64_t rematHeapPeakBytes() { return stats().peak(); }

/// Returns the number of heap bytes live now.
MLIR_CRUNNERUTILS_EXPORT int64_t rematHeapLiveBytes() { return stats().live(); }

/// Restarts the high-water mark from the bytes live now, so that a program
/// can measure the peak of each phase separately; `phase_peak_bytes` is the
/// high-water mark above what was live at the reset.
MLIR_CRUNNERUTILS_EXPORT void rematHeapResetPeak() {
  stats().resetPeak();
  hostStats().resetPeak();
}

/// Prints one line with the heap's figures, for FileCheck, and one with the
/// host arena's (`remat-host:`) when it has held buffers.
MLIR_CRUNNERUTILS_EXPORT void rematPrintHeapStats() {
  stats().print();
  if (hostStats().allocations)
    hostStats().print("remat-host");
}

/// Prints `tensor <id>: v0 v1 ...` with every element of an f32 memref of
/// any rank, in row-major order, at full precision (%.9g round-trips f32).
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematPrintTensorF32(int64_t id, UnrankedMemRefType<float> *m) {
  remat::runtime::printTensorF32(id, m);
}

/// Fills an f32 memref with `$REMAT_INPUTS/<id>.bin` (raw little-endian,
/// row-major, exactly numel * 4 bytes); exits with status 1 when the file is
/// missing or has the wrong size.
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematLoadTensorF32(int64_t id, UnrankedMemRefType<float> *m) {
  remat::runtime::loadTensor("rematLoadTensorF32", id, m);
}

/// Fills an i64 memref with `$REMAT_INPUTS/<id>.bin` (numel * 8 bytes).
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematLoadTensorI64(int64_t id, UnrankedMemRefType<int64_t> *m) {
  remat::runtime::loadTensor("rematLoadTensorI64", id, m);
}

/// Fills an i1 memref with `$REMAT_INPUTS/<id>.bin` (one byte, 0 or 1, per
/// element, as MLIR stores i1).
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematLoadTensorI1(int64_t id, UnrankedMemRefType<bool> *m) {
  remat::runtime::loadTensor("rematLoadTensorI1", id, m);
}

/// Prints `tensor <id>: numel=<n> sum=<s> abs_sum=<a>` and, when
/// `$REMAT_OUTPUTS` is set, writes the memref to `$REMAT_OUTPUTS/<id>.bin`.
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematSaveTensorF32(int64_t id, UnrankedMemRefType<float> *m) {
  remat::runtime::saveTensorF32("rematSaveTensorF32", id, m);
}

/// Starts the step timer (a steady clock).
MLIR_CRUNNERUTILS_EXPORT void rematTimerStart() { timer().start(); }

/// Prints `remat-time: step_ms=<ms>`, the time since rematTimerStart().
MLIR_CRUNNERUTILS_EXPORT void rematTimerStop() { timer().stop(); }
}
// NOLINTEND(readability-identifier-naming)
