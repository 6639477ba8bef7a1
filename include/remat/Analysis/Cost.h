//===- Cost.h - op costs and the roofline target model ----------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The cost model: what an op costs (FLOPs, transcendental ops, bytes moved)
/// and how long that takes on a target, under a roofline:
///
///   time = max((flops + kTranscendentalWeight * transcendentals) / peak,
///              (bytesRead + bytesWritten) / bandwidth)
///
/// where `peak` is the target's dense rate for the op's element type.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_ANALYSIS_COST_H
#define REMAT_ANALYSIS_COST_H

#include "mlir/IR/OpDefinition.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir {
class DialectRegistry;

namespace remat {

/// A transcendental op (exp, tanh, log, rsqrt, ...) counts as this many
/// FLOPs in the roofline's compute term.
constexpr int64_t kTranscendentalWeight = 8;

/// The work of one execution of an op.
struct OpCost {
  /// Arithmetic operations, transcendental ones included.
  int64_t flops = 0;
  /// The transcendental operations among `flops`.
  int64_t transcendentals = 0;
  /// The element-wise operations among `flops` of a fused contraction
  /// (remat.attention's softmax and dropout bits): they run on the vector
  /// units at the target's f32 rate, not at the contraction's, and so do
  /// the transcendentals. 0 for other ops.
  int64_t vectorFlops = 0;
  /// Bytes of operands read.
  int64_t bytesRead = 0;
  /// Bytes of results written.
  int64_t bytesWritten = 0;
  /// True when no model knew the op and this is a conservative estimate.
  bool estimated = false;

  /// FLOPs with transcendental ops weighted by kTranscendentalWeight.
  int64_t weightedFlops() const;
  /// Adds `other`, each field saturating at INT64_MAX.
  OpCost &operator+=(const OpCost &other);
};

/// Dense peak rates and memory bandwidth of a target. Rates are FLOP/s,
/// bandwidth bytes/s.
struct TargetModel {
  std::string name;
  double f32 = 0;  ///< FP32 (non-tensor-core) rate.
  double tf32 = 0; ///< TF32 tensor-core rate, used for f32 contractions.
  double bf16 = 0; ///< BF16/FP16 dense rate.
  double fp8 = 0;  ///< FP8 dense rate (0 if the target has none: bf16 used).
  double bandwidth = 0;

  /// Returns the preset named `name` (h100, h200, a100, cpu), if any.
  static std::optional<TargetModel> getPreset(llvm::StringRef name);
  /// Returns the peak rate for ops on `elementType`; `contraction` selects
  /// the TF32 rate for f32 matmul-like ops.
  double getPeakFlops(Type elementType, bool contraction) const;
};

/// The link between device and host memory that offloaded values cross.
struct HostLink {
  std::string name;
  /// Bytes per second in each direction.
  double bandwidth = 0;
};

/// Parses `pcie4` (PCIe 4.0 x16, 32 GB/s each way), `pcie5` (PCIe 5.0 x16,
/// 64 GB/s), `c2c` (NVLink-C2C, 450 GB/s) or a bandwidth in GB/s (`25`,
/// `25GB/s`). Returns nullopt, with the reason in `error`, otherwise.
std::optional<HostLink> parseHostLink(llvm::StringRef text,
                                      std::string *error = nullptr);

/// Returns the size in bytes of a value of static shaped or scalar `type`
/// (element count times the bytes the LLVM lowering allocates per element:
/// the bit width rounded up to whole bytes and then to a power of two, so
/// an `i1` takes a byte), or std::nullopt when the size is not static or
/// does not fit in int64_t.
std::optional<int64_t> getStaticSizeInBytes(Type type);

/// Returns the element count of a static shaped type (1 for a scalar), or
/// std::nullopt when the shape is not static or the count does not fit in
/// int64_t.
std::optional<int64_t> getStaticElementCount(Type type);

/// `a + b` and `a * b` of non-negative sizes and counts, saturating at
/// INT64_MAX instead of overflowing.
int64_t addSaturated(int64_t a, int64_t b);
int64_t mulSaturated(int64_t a, int64_t b);

/// The largest tensor remat plans with (256 TiB), and the most that all the
/// tensors of a step may add up to (4 EiB): within them, the sums of sizes,
/// peaks and budgets cannot overflow int64_t.
constexpr int64_t kMaxModeledBytes = int64_t(1) << 48;
constexpr int64_t kMaxModeledTotalBytes = int64_t(1) << 62;

/// Checks that every static tensor of `root` (results and block arguments,
/// nested ones included) is at most kMaxModeledBytes and that they add up
/// to at most kMaxModeledTotalBytes; otherwise emits "tensor of N elements
/// (...) is too large to plan" at the first one over and fails.
LogicalResult checkModeledSizes(Operation *root);

/// Explicit rates that override a preset's; zero keeps the preset's value.
struct TargetOverrides {
  double f32 = 0, tf32 = 0, bf16 = 0, fp8 = 0, bandwidth = 0;
};

/// Returns the preset `name` with `overrides` applied, or failure with a
/// message naming the presets when `name` is unknown.
FailureOr<TargetModel> resolveTarget(llvm::StringRef name,
                                     const TargetOverrides &overrides,
                                     std::string &error);

/// Returns the seconds `cost` takes for an op on `elementType` under the
/// roofline of `target`.
double getRooflineSeconds(const OpCost &cost, Type elementType,
                          bool contraction, const TargetModel &target);

/// Returns the element type that sets an op's compute rate: that of its
/// first shaped result, else of its first shaped operand, else f32.
Type getComputeElementType(Operation *op);

/// Returns true if `op` is a contraction (matmul-like).
bool isContraction(Operation *op);

/// Returns the conservative estimate used for ops without a model: one FLOP
/// per result element, every operand read and every result written, and
/// `estimated` set. Failure when a size is not static.
FailureOr<OpCost> estimateUnmodeledCost(Operation *op);

/// Returns the cost of `op`: through CostOpInterface when the op
/// implements it, else the conservative estimate. `modeled` is set to
/// whether a model was used.
FailureOr<OpCost> getOpCost(Operation *op, bool *modeled = nullptr);

/// Returns the modeled time of a training step on `target`: the roofline
/// seconds of every op of `function`'s body and of its `remat.backward`
/// bodies (the backward ops themselves, terminators and constants left
/// out; an op with regions counts whole). The planner's time without remat
/// and -remat-chunk-loss's overhead share are of this figure.
double getStepSeconds(Operation *function, const TargetModel &target);

/// The shape of a chunked linear cross-entropy (remat.linear_cross_entropy
/// and its gradient): `tokens` rows of `features` times a `features` x
/// `classes` classifier, in chunks of `chunk` rows, on elements of
/// `elementBytes` bytes.
struct LinearCrossEntropyShape {
  int64_t tokens = 0, features = 0, classes = 0, chunk = 0, elementBytes = 0;
};

/// The work of the chunked forward (`gradient` false) or of the gradient,
/// as their lowering (-convert-remat-to-linalg) does it: every chunk reads
/// the whole classifier again, and the gradient recomputes the chunk's
/// logits and accumulates into the classifier's gradient.
OpCost getLinearCrossEntropyCost(const LinearCrossEntropyShape &shape,
                                 bool gradient);

/// The temporary buffers that lowering holds at once: one chunk's logits
/// and two row vectors (forward), or one chunk's logits and their gradient.
SmallVector<int64_t>
getLinearCrossEntropyWorkspace(const LinearCrossEntropyShape &shape,
                               bool gradient);

/// The shape of a fused attention (remat.attention and its gradient):
/// `groups` (batch × heads) of `queries` × `keys` scores over a `depth`
/// (and `valueDepth` for the values), in blocks of `blockQ` × `blockK`, on
/// elements of `elementBytes` bytes. `maskBytes` is the mask tensor's size
/// (0 without one) and `keepOps` the ops of the dropout keep region per
/// element (0 without dropout).
struct AttentionShape {
  int64_t groups = 0, queries = 0, keys = 0, depth = 0, valueDepth = 0;
  int64_t blockQ = 0, blockK = 0, elementBytes = 0, maskBytes = 0, keepOps = 0;
};

/// The work of the fused forward (`gradient` false) or gradient as their
/// lowering does it: the scores exist block by block and never reach
/// memory; each block of queries reads every key and value block, and the
/// gradient reads the queries again for every block of keys and
/// accumulates `dq` in f32. The mask is read once (it stays in cache).
/// The element-wise work (softmax, mask, the dropout generator's integer
/// ops) is `vectorFlops`: it runs at the f32 rate, the matmuls at the
/// contraction's.
OpCost getAttentionCost(const AttentionShape &shape, bool gradient);

/// The temporary buffers the lowering holds at once: a few blocks of f32
/// scores and the row statistics and accumulators.
SmallVector<int64_t> getAttentionWorkspace(const AttentionShape &shape,
                                           bool gradient);

/// Attaches the cost and workspace models of remat's fused attention ops.
void registerAttentionCostModels(MLIRContext *context);

/// Attaches CostOpInterface models to the upstream ops that transformer
/// training graphs use: linalg, arith, math and tensor ops.
void registerCostModelExternalModels(DialectRegistry &registry);

} // namespace remat
} // namespace mlir

#include "remat/Analysis/CostInterface.h.inc"

#endif // REMAT_ANALYSIS_COST_H
