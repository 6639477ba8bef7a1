//===- AttentionCost.cpp - cost of remat's fused attention ----------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The cost and workspace models of remat.attention and
/// remat.attention_grad, following their lowering
/// (lib/Conversion/RematToLinalg/AttentionToLinalg.cpp) block by block.
///
//===----------------------------------------------------------------------===//

#include "remat/Analysis/Cost.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Support/Format.h"

#include "FusedOpModels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::remat;

OpCost mlir::remat::getAttentionCost(const AttentionShape &shape,
                                     bool gradient) {
  int64_t g = shape.groups, sq = shape.queries, sk = shape.keys,
          d = shape.depth, dv = shape.valueDepth, t = shape.elementBytes;
  int64_t qBlocks = shape.blockQ > 0 ? sq / shape.blockQ : 0;
  int64_t kBlocks = shape.blockK > 0 ? sk / shape.blockK : 0;
  int64_t scores = mulSaturated(g, mulSaturated(sq, sk));
  int64_t rows = mulSaturated(g, sq);
  int64_t dropout = shape.keepOps > 0 ? addSaturated(shape.keepOps, 3) : 0;
  auto perScore = [&](int64_t ops) { return mulSaturated(scores, ops); };
  OpCost cost;
  if (!gradient) {
    // Per score: the q·k dot (2d), scale and mask, max, the shifted exp
    // (3), the row sum, the keep bit and its product, the p·v product
    // (2dv). Per row and key block: alpha and the rescales.
    cost.flops = perScore(addSaturated(2 * d + 2 * dv + 8, dropout));
    cost.flops = addSaturated(
        cost.flops, mulSaturated(mulSaturated(rows, kBlocks), 6 + dv));
    cost.transcendentals =
        addSaturated(scores, mulSaturated(rows, addSaturated(kBlocks, 1)));
    // q once; k and v once per block of queries; the mask once.
    cost.bytesRead =
        mulSaturated(addSaturated(mulSaturated(rows, d),
                                  mulSaturated(mulSaturated(g, qBlocks),
                                               mulSaturated(sk, d + dv))),
                     t);
    cost.bytesRead = addSaturated(cost.bytesRead, shape.maskBytes);
    cost.bytesWritten = addSaturated(mulSaturated(mulSaturated(rows, dv), t),
                                     mulSaturated(rows, 4));
    cost.vectorFlops = cost.flops - perScore(2 * d + 2 * dv);
    return cost;
  }
  // Per score: the dot again (2d), scale and mask, exp(s − lse) (3), the
  // keep bit, dv (2dv), dp (2dv), ds (4), dq (2d) and dk (2d). Per row:
  // Σ dout·out (2dv).
  cost.flops = perScore(addSaturated(6 * d + 4 * dv + 9, dropout));
  cost.flops = addSaturated(cost.flops, mulSaturated(rows, 2 * dv));
  cost.transcendentals = scores;
  // k and v once; q, dout, lse and delta once per block of keys, with the
  // f32 dq accumulator read and written; out and dout once for delta.
  int64_t perKeyBlock = addSaturated(
      mulSaturated(mulSaturated(rows, d + dv), t),
      addSaturated(mulSaturated(rows, 8), mulSaturated(rows, 8 * d)));
  cost.bytesRead =
      addSaturated(mulSaturated(mulSaturated(mulSaturated(g, sk), d + dv), t),
                   mulSaturated(perKeyBlock, kBlocks));
  cost.bytesRead =
      addSaturated(cost.bytesRead, mulSaturated(mulSaturated(rows, 2 * dv), t));
  cost.bytesRead = addSaturated(cost.bytesRead, shape.maskBytes);
  cost.bytesWritten =
      mulSaturated(addSaturated(mulSaturated(mulSaturated(g, sk), d + dv),
                                mulSaturated(rows, d)),
                   t);
  cost.bytesWritten = addSaturated(
      cost.bytesWritten, mulSaturated(mulSaturated(rows, 4 * d), kBlocks));
  cost.vectorFlops = cost.flops - perScore(6 * d + 4 * dv);
  return cost;
}

SmallVector<int64_t>
mlir::remat::getAttentionWorkspace(const AttentionShape &shape, bool gradient) {
  int64_t bq = shape.blockQ, bk = shape.blockK;
  int64_t block = mulSaturated(mulSaturated(bq, bk), 4);
  int64_t row = mulSaturated(bq, 4);
  if (!gradient) {
    // The scores (and their dot product), the probabilities and the kept
    // ones; the output accumulator and the row max, sum, block max and
    // alpha.
    SmallVector<int64_t> buffers = {
        block, block, mulSaturated(row, shape.valueDepth), row, row, row, row};
    if (shape.keepOps > 0)
      buffers.push_back(block);
    return buffers;
  }
  // Per head: delta and the f32 dq accumulator; per key block, its dk and
  // dv accumulators; per query block, the scores, probabilities, dp and
  // ds (and the keep factors and the kept probabilities).
  SmallVector<int64_t> buffers = {
      mulSaturated(shape.queries, 4),
      mulSaturated(mulSaturated(shape.queries, shape.depth), 4),
      mulSaturated(mulSaturated(bk, shape.depth), 4),
      mulSaturated(mulSaturated(bk, shape.valueDepth), 4),
      block,
      block,
      block,
      block};
  if (shape.keepOps > 0)
    buffers.append({block, block});
  return buffers;
}

namespace {
/// remat.attention and its gradient, for FusedOpModels.h.
struct AttentionModels {
  template <typename OpTy>
  static AttentionShape getShape(OpTy op) {
    ArrayRef<int64_t> q = op.getQ().getType().getShape();
    AttentionShape shape;
    shape.groups = mulSaturated(q[0], q[1]);
    shape.queries = q[2];
    shape.depth = q[3];
    shape.keys = op.getK().getType().getDimSize(2);
    shape.valueDepth = op.getV().getType().getDimSize(3);
    shape.blockQ = op.getBlockQ();
    shape.blockK = op.getBlockK();
    shape.elementBytes =
        getStaticSizeInBytes(op.getQ().getType().getElementType()).value_or(4);
    if (Value mask = op.getMask())
      shape.maskBytes = getStaticSizeInBytes(mask.getType()).value_or(0);
    if (!op.getKeep().empty())
      for (Operation &inner : op.getKeep().front().without_terminator())
        if (!isa<arith::ConstantOp>(inner))
          ++shape.keepOps;
    return shape;
  }
  static OpCost getCost(const AttentionShape &shape, bool gradient) {
    return getAttentionCost(shape, gradient);
  }
  static SmallVector<int64_t> getWorkspace(const AttentionShape &shape,
                                           bool gradient) {
    return getAttentionWorkspace(shape, gradient);
  }
};
} // namespace

void mlir::remat::registerAttentionCostModels(MLIRContext *context) {
  attachFusedOpModels<AttentionModels, AttentionOp, AttentionGradOp>(context);
}
