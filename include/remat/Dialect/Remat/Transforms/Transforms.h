//===- Transforms.h - remat transformations as free functions ---*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Entry points of the remat transformations for embedders that do not use a
/// pass manager. Each pass in Passes.td is a thin wrapper over one of these.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_DIALECT_REMAT_TRANSFORMS_TRANSFORMS_H
#define REMAT_DIALECT_REMAT_TRANSFORMS_TRANSFORMS_H

#include "remat/Analysis/Cost.h"

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <optional>

namespace mlir {
class DialectRegistry;
class RewriterBase;

namespace remat {

/// Options of finalizeRematOps.
struct FinalizeOptions {
  /// Route the inputs of each inlined `remat.backward` through one
  /// `remat.barrier`, so CSE cannot merge recomputed values with their
  /// forward originals.
  bool barriers = true;
};

/// What finalizeRematOps did.
struct FinalizeStats {
  unsigned names = 0;       ///< remat.name ops removed.
  unsigned checkpoints = 0; ///< remat.checkpoint regions inlined.
  unsigned backwards = 0;   ///< remat.backward regions inlined.
  unsigned barriers = 0;    ///< remat.barrier ops created.
  /// tensor.empty ops of backward bodies turned into alloc_tensor.
  unsigned allocTensors = 0;
};

/// Lowers `remat.name`, `remat.checkpoint` and `remat.backward` ops nested
/// under `root` to plain upstream IR, inlining region bodies at their op's
/// position (program order is kept).
FinalizeStats finalizeRematOps(RewriterBase &rewriter, Operation *root,
                               const FinalizeOptions &options = {});

/// Replaces every `remat.barrier` under `root` by its operands. Returns the
/// number of barriers removed.
unsigned stripBarriers(RewriterBase &rewriter, Operation *root);

class CheckpointOp;
class BackwardOp;

/// Inlines the body of `checkpoint` at its position: block arguments become
/// the inputs, results the yielded values. The body's ops are moved, so
/// their result values keep their identity.
void inlineCheckpoint(RewriterBase &rewriter, CheckpointOp checkpoint);

/// Returns true if the rewrite below may clone `def` into `backward`: it is
/// in the backward's block and free of memory effects.
bool canRecomputeIn(Operation *def, BackwardOp backward);

/// The values an op needs to be recomputed: its operands, then the values
/// its regions use from above.
SmallVector<Value> getRecomputeInputs(Operation *def);

struct RecomputeStats {
  unsigned recomputed = 0; ///< residuals dropped from the operand list.
  unsigned cloned = 0;     ///< forward ops cloned into the backward body.
  unsigned added = 0;      ///< operands added (what the clones read).
  /// Clones of forward ops cloned before (recomputed once per residual);
  /// each reads its operands through a `remat.barrier {copy = k}`.
  unsigned duplicated = 0;
  unsigned offloaded = 0; ///< values offloaded to host memory.
};

/// The rematerialization rewrite on one `remat.backward`. Every operand `v`
/// with `shouldRecompute(v)` is dropped from the operand list (the saved
/// set); the forward ops that compute it are cloned into the body, each
/// clone just before its first use, and the clones read:
/// - other clones, when `shouldRecompute` holds for their operands too (a
///   value is cloned once however many residuals need it, unless
///   `shouldDuplicate` holds for it: then each residual that needs it
///   clones it afresh, just before that residual, and the earlier clone
///   dies after its last use instead of being held for a later residual);
/// - otherwise saved values: existing operands, or new operands added to
///   the list (function arguments are always read as saved).
/// Constants are always cloned. Ops that are not free of memory effects or
/// that are not in the backward's block are never cloned: their results
/// stay saved. Values used inside a cloned op's regions are materialized
/// like operands. `onClone`, when set, is called with each cloned forward
/// value and its clone.
///
/// A value with `shouldOffload` (checked before `shouldRecompute`) is
/// offloaded instead: a `remat.offload` right after its definition copies
/// it to host memory, the backward reads that copy, and a `remat.reload`
/// just before the first use that needs it brings it back (once, however
/// many residuals need it). An offloaded operand is dropped like a
/// recomputed one.
RecomputeStats
recomputeBackwardInputs(RewriterBase &rewriter, BackwardOp backward,
                        llvm::function_ref<bool(Value)> shouldRecompute,
                        llvm::function_ref<bool(Value)> shouldDuplicate = {},
                        llvm::function_ref<void(Value, Value)> onClone = {},
                        llvm::function_ref<bool(Value)> shouldOffload = {});

/// Returns the entry argument of `backward` that carries `value`: that of
/// an operand equal to it, else of one appended for it.
Value getOrAddBackwardInput(BackwardOp backward, Value value);

/// Erases the operands of `backward` set in `erased` and the body's
/// arguments for them (which must be unused).
void eraseBackwardInputs(BackwardOp backward, const llvm::BitVector &erased);

/// Folds, in the body of `backward`, each `linalg.transpose` of a saved
/// value that is itself a transpose by the inverse permutation (autograd's
/// `t(t(W))`): the body reads the source (a new operand if needed), and
/// operands nothing reads any more are dropped. This is the fold the
/// canonicalizer makes after finalize, made before planning so that the
/// planner neither keeps nor recomputes a value the backward does not need.
/// Returns the number of transposes folded.
unsigned foldBackwardTransposes(RewriterBase &rewriter, BackwardOp backward);

struct ApplyCheckpointsStats {
  unsigned checkpoints = 0; ///< remat.checkpoint regions applied.
  RecomputeStats recompute;
};

/// Applies the policy of every `remat.checkpoint` under `root` (manual
/// mode, `torch.utils.checkpoint` semantics): inner values the policy does
/// not save become recomputable, the checkpoints are inlined, and every
/// `remat.backward` recomputes its recomputable operands from what is saved
/// (the checkpoint inputs and the values the policy saves).
ApplyCheckpointsStats applyCheckpointPolicies(RewriterBase &rewriter,
                                              Operation *root);

/// What placeDeallocsAfterLastUse did.
struct PlaceDeallocsStats {
  unsigned moved = 0; ///< deallocs moved up to the last use.
  unsigned kept = 0;  ///< deallocs left where they were.
};

/// Moves every `memref.dealloc` under `root` to just after the last use of
/// its buffer and of all the buffer's aliases within the dealloc's block.
PlaceDeallocsStats placeDeallocsAfterLastUse(Operation *root);

/// Writes the remat report of every function under `root` that has a
/// `remat.backward`: its peak and the buffers that hold it, and each
/// backward's saved set with bytes and recompute cost on `target`. The
/// human summary goes to `os`; when `jsonOs` is set, the same as JSON
/// (schema `remat-report/1`, docs/report.schema.json) goes to it.
void printRematReport(Operation *root, const TargetModel &target,
                      llvm::raw_ostream &os, llvm::raw_ostream *jsonOs);

/// Options of chunkLinearCrossEntropy.
struct ChunkLossOptions {
  /// Tokens per chunk (rounded down to a divisor of the token count); 0
  /// chooses the smallest chunk that adds at most `overhead` percent of the
  /// step's modeled time on `target` to the loss's time in one chunk.
  int64_t chunkSize = 0;
  double overhead = 1.0;
  TargetModel target;
};

/// What chunkLinearCrossEntropy did.
struct ChunkLossStats {
  unsigned chunked = 0;        ///< losses rewritten.
  unsigned skipped = 0;        ///< nll ops found but not rewritten.
  SmallVector<int64_t> chunks; ///< the chunk of each loss rewritten.
};

/// Replaces each cross-entropy of a linear layer under `function` (the
/// importer's matmul, log-softmax and nll, and their backward in a
/// `remat.backward`) by `remat.linear_cross_entropy` and
/// `remat.linear_cross_entropy_grad`, which hold one chunk's logits at a
/// time. A remark at each loss says what was done, or why not.
ChunkLossStats chunkLinearCrossEntropy(RewriterBase &rewriter,
                                       Operation *function,
                                       const ChunkLossOptions &options);

/// Options of fuseAttention.
struct FuseAttentionOptions {
  /// Queries and keys per block, rounded down to a divisor of each
  /// sequence length.
  int64_t blockSize = 64;
};

/// What fuseAttention did.
struct FuseAttentionStats {
  unsigned fused = 0;   ///< attentions rewritten.
  unsigned skipped = 0; ///< attention candidates not rewritten.
};

/// Replaces each scaled dot-product attention under `function` (the
/// importer's batch matmuls, scale, optional mask, softmax and optional
/// dropout, and their gradient in a `remat.backward`) by `remat.attention`
/// and `remat.attention_grad`, which keep no S x S tensor: the backward
/// recomputes the probabilities block by block. A remark at each attention
/// says what was done, or why not.
FuseAttentionStats fuseAttention(RewriterBase &rewriter, Operation *function,
                                 const FuseAttentionOptions &options);

/// Registers the BufferizableOpInterface models of remat ops: a
/// `remat.barrier` result is an alias of its operand, with no copy.
void registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry);

} // namespace remat
} // namespace mlir

#endif // REMAT_DIALECT_REMAT_TRANSFORMS_TRANSFORMS_H
