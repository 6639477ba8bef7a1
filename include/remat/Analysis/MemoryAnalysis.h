//===- MemoryAnalysis.h - program-order liveness and peak -------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The memory model of a training step on tensors. Ops are numbered in
/// program order, nested regions flattened where they run. Each tensor value
/// either materializes a buffer or aliases one (views, region arguments and
/// results, and the in-place updates that bufferization makes). A buffer is
/// live from its definition to the last use of any of its aliases; the peak
/// is the largest sum of live bytes over the program points. Function
/// arguments are resident for the whole step and reported apart.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_ANALYSIS_MEMORYANALYSIS_H
#define REMAT_ANALYSIS_MEMORYANALYSIS_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/DenseMap.h"

#include <cstdint>
#include <memory>

namespace mlir {
namespace remat {

/// How a buffer comes to exist.
enum class BufferKind {
  Allocated, ///< a heap buffer the step allocates.
  Resident,  ///< a function argument: live for the whole step.
  Constant,  ///< a constant, global or stack buffer: not on the heap.
  Host,      ///< a host copy (remat.offload): in the host arena, not on the
             ///< device heap.
};

/// One buffer of the step.
struct Buffer {
  /// The value that materializes it.
  Value root;
  BufferKind kind = BufferKind::Allocated;
  /// Size in bytes (0 when not static).
  int64_t bytes = 0;
  /// First and last program point at which it is live.
  unsigned start = 0, end = 0;
};

/// The memory model's result for one function.
struct MemoryProfile {
  /// The op at each program point.
  SmallVector<Operation *> points;
  /// All buffers, in order of definition.
  SmallVector<Buffer> buffers;
  /// The buffer each tensor value lives in (index into `buffers`).
  llvm::DenseMap<Value, unsigned> bufferOf;
  /// Live heap bytes at each program point.
  SmallVector<int64_t> timeline;
  /// The highest entry of `timeline` and the first point that reaches it.
  int64_t peakBytes = 0;
  unsigned peakPoint = 0;
  /// Allocated buffers live at `peakPoint`, largest first.
  SmallVector<unsigned> liveAtPeak;
  /// Bytes of the resident function arguments.
  int64_t residentBytes = 0;
  /// The highest number of bytes live at once in host buffers (offloaded
  /// values), which `timeline` does not count, and their total.
  int64_t hostPeakBytes = 0;
  int64_t hostBytes = 0;
  /// The values `remat.backward` ops read that the step allocates (the
  /// residuals), and the bytes of their distinct buffers.
  SmallVector<Value> residuals;
  int64_t activationBytes = 0;
  /// Values whose size is not static; they count 0 bytes.
  SmallVector<Value> unsized;

  /// Empties the profile, keeping its memory.
  void clear();
};

/// The byte alignment of every heap allocation the CPU pipeline makes
/// (`memref.alloc {alignment = 64}`): the planner's peak model and the
/// report round each buffer up to it.
constexpr int64_t kAllocationAlignment = 64;

/// Computes the memory profile of `function`, a function on tensors or, after
/// bufferization, on memrefs. Each heap buffer of a tensor value counts its
/// size rounded up to `tensorAlignment` bytes, as the aligned allocations of
/// bufferization do (1: exact sizes).
MemoryProfile analyzeMemory(Operation *function, int64_t tensorAlignment = 1);

/// Analyzes functions one after another (as analyzeMemory), keeping its
/// tables between them: a search that analyzes one large step many times
/// allocates them, and faults their pages in, once.
class MemoryAnalyzer {
public:
  MemoryAnalyzer();
  ~MemoryAnalyzer();
  MemoryAnalyzer(const MemoryAnalyzer &) = delete;
  MemoryAnalyzer &operator=(const MemoryAnalyzer &) = delete;

  /// The profile of `function`, valid until the next call.
  const MemoryProfile &analyze(Operation *function,
                               int64_t tensorAlignment = 1);

  /// The model's tables beyond the profile.
  struct Tables;

private:
  MemoryProfile profile;
  std::unique_ptr<Tables> tables;
};

} // namespace remat
} // namespace mlir

#endif // REMAT_ANALYSIS_MEMORYANALYSIS_H
