//===- RematRuntimeIO.h - code shared by the CPU and CUDA runtimes --------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The CPU runtime (RematRuntime.cpp) and the CUDA runtime
/// (RematCUDARuntime.cpp) export the same `rematHeap*`, `rematPrint*`,
/// `rematLoad*`, `rematSave*` and `rematTimer*` functions with the same output
/// formats; the CPU one measures the host heap, the CUDA one device memory.
/// This header holds what they share: the allocation accounting, the tensor
/// printer, the loading and saving of tensors from `$REMAT_INPUTS` and to
/// `$REMAT_OUTPUTS`, and the step timer. Everything here is inline and in
/// `remat::runtime`; only the .cpp files export symbols.
///
/// Tensors travel as raw little-endian row-major files named `<id>.bin`,
/// holding exactly numel * sizeof(element) bytes.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_RUNTIME_REMATRUNTIMEIO_H
#define REMAT_RUNTIME_REMATRUNTIMEIO_H

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace remat {
namespace runtime {

/// Live-byte accounting of a heap: the tracking allocator of the CPU runtime
/// and the device allocations of the CUDA runtime. Sizes are the requested
/// ones, which is what the memory model predicts.
struct HeapStats {
  std::mutex mutex;
  std::unordered_map<const void *, size_t> sizes;
  int64_t liveBytes = 0;
  int64_t peakBytes = 0;
  int64_t liveBuffers = 0;
  int64_t peakBuffers = 0;
  int64_t allocations = 0;
  /// Bytes live when the peak was last reset: the peak of a phase is
  /// peakBytes - baselineBytes.
  int64_t baselineBytes = 0;

  /// Records a new buffer of `size` bytes at `ptr`; a null `ptr` (a failed
  /// or empty allocation) is not recorded. Returns `ptr`.
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

  /// Forgets the buffer at `ptr`; null is ignored. A pointer that was never
  /// recorded is a bug in the caller: it is reported and the process aborts.
  void release(const void *ptr) {
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

  int64_t peak() {
    std::lock_guard<std::mutex> lock(mutex);
    return peakBytes;
  }

  /// True when the buffer at `ptr` is recorded here.
  bool owns(const void *ptr) {
    std::lock_guard<std::mutex> lock(mutex);
    return sizes.count(ptr) != 0;
  }

  int64_t live() {
    std::lock_guard<std::mutex> lock(mutex);
    return liveBytes;
  }

  /// Restarts the high-water mark from the bytes live now, so that a program
  /// can measure the peak of each phase separately.
  void resetPeak() {
    std::lock_guard<std::mutex> lock(mutex);
    peakBytes = liveBytes;
    peakBuffers = liveBuffers;
    baselineBytes = liveBytes;
  }

  /// Prints the `remat-heap:` line that the tests check (`prefix` names
  /// another arena: `remat-host`).
  void print(const char *prefix = "remat-heap") {
    std::lock_guard<std::mutex> lock(mutex);
    std::printf("%s: peak_bytes=%" PRId64 " peak_buffers=%" PRId64
                " live_bytes=%" PRId64 " live_buffers=%" PRId64
                " allocations=%" PRId64 " phase_peak_bytes=%" PRId64 "\n",
                prefix, peakBytes, peakBuffers, liveBytes, liveBuffers,
                allocations, peakBytes - baselineBytes);
    std::fflush(stdout);
  }
};

/// Number of elements of a memref of any rank.
template <typename T>
int64_t numElements(const DynamicMemRefType<T> &memref) {
  int64_t numel = 1;
  for (int64_t dim = 0; dim < memref.rank; ++dim)
    numel *= memref.sizes[dim];
  return numel;
}

/// Whether the memref is laid out row-major without gaps, so that its
/// elements are data[offset .. offset + numel).
template <typename T>
bool isContiguous(const DynamicMemRefType<T> &memref) {
  int64_t expected = 1;
  for (int64_t dim = memref.rank - 1; dim >= 0; --dim) {
    if (memref.sizes[dim] != 1 && memref.strides[dim] != expected)
      return false;
    expected *= memref.sizes[dim];
  }
  return true;
}

/// Prints `tensor <id>: v0 v1 ...` with every element of an f32 memref of
/// any rank, in row-major order, at full precision (%.9g round-trips f32).
inline void printTensorF32(int64_t id, UnrankedMemRefType<float> *m) {
  DynamicMemRefType<float> memref(*m);
  std::printf("tensor %" PRId64 ":", id);
  if (numElements(memref) != 0)
    for (float value : memref)
      std::printf(" %.9g", static_cast<double>(value));
  std::printf("\n");
  std::fflush(stdout);
}

/// Reports a fatal I/O error of `rematLoadTensor*`/`rematSaveTensor*` and
/// exits with status 1.
[[noreturn]] inline void ioError(const char *function, const std::string &msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "remat-runtime: %s: %s\n", function, msg.c_str());
  std::exit(1);
}

/// `<$variable>/<id>.bin`; exits when the variable is unset and `required`,
/// and returns an empty string when it is unset and not required.
inline std::string tensorPath(const char *function, const char *variable,
                              int64_t id, bool required) {
  const char *dir = std::getenv(variable);
  if (!dir || !*dir) {
    if (!required)
      return std::string();
    ioError(function, std::string("environment variable ") + variable +
                          " is not set; it must name the directory that "
                          "holds tensor " +
                          std::to_string(id) + " as " + std::to_string(id) +
                          ".bin");
  }
  std::string path(dir);
  if (path.back() != '/')
    path += '/';
  return path + std::to_string(id) + ".bin";
}

/// Fills the memref `*m` with `$REMAT_INPUTS/<id>.bin`, which must hold
/// exactly numel * sizeof(T) bytes of row-major little-endian elements.
/// Strided memrefs are filled element by element in row-major order.
template <typename T>
void loadTensor(const char *function, int64_t id, UnrankedMemRefType<T> *m) {
  DynamicMemRefType<T> memref(*m);
  std::string path = tensorPath(function, "REMAT_INPUTS", id, true);
  int64_t numel = numElements(memref);
  int64_t expected = numel * static_cast<int64_t>(sizeof(T));
  std::FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    ioError(function, "cannot open " + path + " (" + std::strerror(errno) +
                          "); expected " + std::to_string(expected) +
                          " bytes for tensor " + std::to_string(id));
  int64_t actual = -1;
  if (std::fseek(file, 0, SEEK_END) == 0)
    actual = std::ftell(file);
  std::rewind(file);
  if (actual != expected) {
    std::fclose(file);
    ioError(function, path + " has " + std::to_string(actual) +
                          " bytes, expected " + std::to_string(expected) +
                          " (" + std::to_string(numel) + " elements of " +
                          std::to_string(sizeof(T)) + " bytes)");
  }
  bool ok = true;
  if (isContiguous(memref)) {
    ok = std::fread(memref.data + memref.offset, sizeof(T), numel, file) ==
         static_cast<size_t>(numel);
  } else if (numel != 0) {
    // (A plain buffer: std::vector<bool> has no data().)
    std::unique_ptr<T[]> values(new T[numel]);
    ok = std::fread(values.get(), sizeof(T), numel, file) ==
         static_cast<size_t>(numel);
    int64_t i = 0;
    for (T &element : memref)
      element = values[i++];
  }
  std::fclose(file);
  if (!ok)
    ioError(function,
            "cannot read " + std::to_string(expected) + " bytes from " + path);
}

/// Prints `tensor <id>: numel=<n> sum=<s> abs_sum=<a>` for an f32 memref and,
/// when `$REMAT_OUTPUTS` is set, writes its elements to
/// `$REMAT_OUTPUTS/<id>.bin` in the format that loadTensor reads.
inline void saveTensorF32(const char *function, int64_t id,
                          UnrankedMemRefType<float> *m) {
  DynamicMemRefType<float> memref(*m);
  int64_t numel = numElements(memref);
  std::vector<float> values;
  values.reserve(numel);
  if (numel != 0)
    for (float value : memref)
      values.push_back(value);
  double sum = 0.0;
  double absSum = 0.0;
  for (float value : values) {
    sum += static_cast<double>(value);
    absSum += std::fabs(static_cast<double>(value));
  }
  std::string path = tensorPath(function, "REMAT_OUTPUTS", id, false);
  if (!path.empty()) {
    std::FILE *file = std::fopen(path.c_str(), "wb");
    if (!file)
      ioError(function,
              "cannot create " + path + " (" + std::strerror(errno) + ")");
    bool ok = std::fwrite(values.data(), sizeof(float), values.size(), file) ==
              values.size();
    ok = std::fclose(file) == 0 && ok;
    if (!ok)
      ioError(function, "cannot write " +
                            std::to_string(numel * sizeof(float)) +
                            " bytes to " + path);
  }
  std::printf("tensor %" PRId64 ": numel=%" PRId64 " sum=%.9g abs_sum=%.9g\n",
              id, numel, sum, absSum);
  std::fflush(stdout);
}

/// Wall-clock timer of one training step, on a steady clock.
struct StepTimer {
  std::chrono::steady_clock::time_point begin;

  void start() { begin = std::chrono::steady_clock::now(); }

  /// Prints `remat-time: step_ms=<ms>` with the time since start().
  void stop() {
    std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - begin;
    std::printf("remat-time: step_ms=%.3f\n", elapsed.count());
    std::fflush(stdout);
  }
};

} // namespace runtime
} // namespace remat

#endif // REMAT_RUNTIME_REMATRUNTIMEIO_H
