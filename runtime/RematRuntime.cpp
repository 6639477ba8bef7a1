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
/// It also prints tensors at full float precision, which the integration
/// tests compare against recorded references.
///
//===----------------------------------------------------------------------===//

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace {
/// Live-byte accounting of the tracking heap.
struct HeapStats {
  std::mutex mutex;
  std::unordered_map<void *, size_t> sizes;
  int64_t liveBytes = 0;
  int64_t peakBytes = 0;
  int64_t liveBuffers = 0;
  int64_t peakBuffers = 0;
  int64_t allocations = 0;
  /// Bytes live when the peak was last reset: the peak of a phase is
  /// peakBytes - baselineBytes.
  int64_t baselineBytes = 0;

  void *record(void *ptr, size_t size) {
    if (!ptr)
      return ptr;
    std::lock_guard<std::mutex> lock(mutex);
    sizes[ptr] = size;
    liveBytes += static_cast<int64_t>(size);
    ++liveBuffers;
    ++allocations;
    if (liveBytes > peakBytes)
      peakBytes = liveBytes;
    if (liveBuffers > peakBuffers)
      peakBuffers = liveBuffers;
    return ptr;
  }

  void release(void *ptr) {
    if (!ptr)
      return;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = sizes.find(ptr);
    if (it == sizes.end()) {
      std::fprintf(stderr, "remat-runtime: free of untracked pointer %p\n",
                   ptr);
      std::abort();
    }
    liveBytes -= static_cast<int64_t>(it->second);
    --liveBuffers;
    sizes.erase(it);
  }
};

} // namespace

static HeapStats &stats() {
  static HeapStats heap;
  return heap;
}

// The names below are fixed by MLIR's lowering ABI.
// NOLINTBEGIN(readability-identifier-naming)
extern "C" {

/// Allocation entry point of `finalize-memref-to-llvm{use-generic-functions}`.
MLIR_CRUNNERUTILS_EXPORT void *_mlir_memref_to_llvm_alloc(size_t size) {
  return stats().record(std::malloc(size), size);
}

/// Aligned allocation entry point; `size` is rounded up to `alignment` as
/// aligned_alloc requires, but the requested size is what is recorded.
MLIR_CRUNNERUTILS_EXPORT void *
_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  size_t rounded = (size + alignment - 1) / alignment * alignment;
  return stats().record(std::aligned_alloc(alignment, rounded), size);
}

/// Deallocation entry point.
MLIR_CRUNNERUTILS_EXPORT void _mlir_memref_to_llvm_free(void *ptr) {
  stats().release(ptr);
  std::free(ptr);
}

/// Returns the highest number of heap bytes live at once so far.
MLIR_CRUNNERUTILS_EXPORT int64_t rematHeapPeakBytes() {
  std::lock_guard<std::mutex> lock(stats().mutex);
  return stats().peakBytes;
}

/// Returns the number of heap bytes live now.
MLIR_CRUNNERUTILS_EXPORT int64_t rematHeapLiveBytes() {
  std::lock_guard<std::mutex> lock(stats().mutex);
  return stats().liveBytes;
}

/// Restarts the high-water mark from the bytes live now, so that a program
/// can measure the peak of each phase separately; `phase_peak_bytes` is the
/// high-water mark above what was live at the reset.
MLIR_CRUNNERUTILS_EXPORT void rematHeapResetPeak() {
  HeapStats &heap = stats();
  std::lock_guard<std::mutex> lock(heap.mutex);
  heap.peakBytes = heap.liveBytes;
  heap.peakBuffers = heap.liveBuffers;
  heap.baselineBytes = heap.liveBytes;
}

/// Prints one line with the heap's figures, for FileCheck.
MLIR_CRUNNERUTILS_EXPORT void rematPrintHeapStats() {
  HeapStats &heap = stats();
  std::lock_guard<std::mutex> lock(heap.mutex);
  std::printf("remat-heap: peak_bytes=%" PRId64 " peak_buffers=%" PRId64
              " live_bytes=%" PRId64 " live_buffers=%" PRId64
              " allocations=%" PRId64 " phase_peak_bytes=%" PRId64 "\n",
              heap.peakBytes, heap.peakBuffers, heap.liveBytes,
              heap.liveBuffers, heap.allocations,
              heap.peakBytes - heap.baselineBytes);
  std::fflush(stdout);
}

/// Prints `tensor <id>: v0 v1 ...` with every element of an f32 memref of
/// any rank, in row-major order, at full precision (%.9g round-trips f32).
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematPrintTensorF32(int64_t id, UnrankedMemRefType<float> *m) {
  DynamicMemRefType<float> memref(*m);
  std::printf("tensor %" PRId64 ":", id);
  for (float value : memref)
    std::printf(" %.9g", static_cast<double>(value));
  std::printf("\n");
  std::fflush(stdout);
}
}
// NOLINTEND(readability-identifier-naming)
