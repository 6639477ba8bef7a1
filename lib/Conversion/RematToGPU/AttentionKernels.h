//===- AttentionKernels.h - fused attention as GPU kernels ------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The kernels that run remat.attention and remat.attention_grad on a GPU
/// (FlashAttention-2's algorithm): one `gpu.func` per launch, with the
/// blocks of Q, K and V it works on staged in workgroup (shared) memory,
/// and scores and probabilities one row of one tile at a time. The host
/// side (which buffers, which launches) is RematToGPU.cpp.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_CONVERSION_REMATTOGPU_ATTENTIONKERNELS_H
#define REMAT_LIB_CONVERSION_REMATTOGPU_ATTENTIONKERNELS_H

#include "remat/Dialect/Remat/IR/Remat.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <array>

namespace mlir {
namespace remat {

/// The static shared memory a block may hold (48 KiB on every NVIDIA GPU
/// since sm_20; more needs the dynamic, opt-in kind).
constexpr int64_t kSharedMemoryBytes = 48 << 10;

/// What an attention op computes, read from the op.
struct AttentionShape {
  int64_t batch, heads, queries, keys, depth, valueDepth;
  Type element;
  double scale, dropoutScale = 1.0;
  /// The mask's map from (b, h, i, j) (null without a mask).
  AffineMap maskMap;
  /// The keep region (empty without dropout).
  Region *keep;
  bool hasMask, hasSeed;

  template <typename OpTy>
  static AttentionShape get(OpTy op) {
    AttentionShape s;
    ArrayRef<int64_t> q = op.getQ().getType().getShape();
    s.batch = q[0];
    s.heads = q[1];
    s.queries = q[2];
    s.depth = q[3];
    s.keys = op.getK().getType().getDimSize(2);
    s.valueDepth = op.getV().getType().getDimSize(3);
    s.element = op.getQ().getType().getElementType();
    s.scale = op.getScale().convertToDouble();
    if (auto dropout = op.getDropoutScale())
      s.dropoutScale = dropout->convertToDouble();
    if (auto map = op.getMaskMap())
      s.maskMap = *map;
    s.keep = &op.getKeep();
    s.hasMask = static_cast<bool>(op.getMask());
    s.hasSeed = static_cast<bool>(op.getSeed());
    return s;
  }
};

/// The kernels of one op and how to launch them.
enum class AttentionKernel {
  /// out, lse = attention(q, k, v): a block per `rows` queries of one head.
  Forward,
  /// delta[i] = Σ_n dout[i, n] · out[i, n]: a thread per query.
  Delta,
  /// dk, dv: a block per `rows` keys of one head, looping over queries.
  KeyGrad,
  /// dq: a block per `rows` queries of one head, looping over keys.
  QueryGrad,
};

/// A kernel built into a gpu.module: the function, its grid and its block.
struct KernelLaunch {
  gpu::GPUFuncOp func;
  std::array<int64_t, 3> grid, block;
};

/// The rows (threads) per block of `kind` for `shape`: the largest power of
/// two up to `maxRows` (and no more than the rows there are) whose staged
/// tiles fit in kSharedMemoryBytes; 0 if not even one row fits.
int64_t getAttentionKernelRows(AttentionKernel kind,
                               const AttentionShape &shape, int64_t maxRows);

/// Builds the kernel `kind` of `shape` with `rows` threads per block,
/// named `name`, at the end of `module`. Its arguments are the memrefs
/// `argTypes` (the order is RematToGPU.cpp's; see there).
KernelLaunch buildAttentionKernel(OpBuilder &b, Location loc,
                                  gpu::GPUModuleOp module, StringRef name,
                                  AttentionKernel kind,
                                  const AttentionShape &shape, int64_t rows,
                                  TypeRange argTypes);

} // namespace remat
} // namespace mlir

#endif // REMAT_LIB_CONVERSION_REMATTOGPU_ATTENTIONKERNELS_H
