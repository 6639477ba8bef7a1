//===- RematToLinalg.cpp - remat's fused ops to loops of linalg ops -------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Lowers remat.linear_cross_entropy and remat.linear_cross_entropy_grad to
/// an scf.for over chunks of tokens whose body is linalg ops on tensors
/// (the contractions as linalg.generic, on the weight as stored: V x H).
/// Each chunk's tensors are fresh (tensor.empty inits), the results are
/// accumulated in the loop's iter_args (tensor.insert_slice, or the weight
/// gradient's matmul into its accumulator), so one-shot bufferization makes
/// one chunk's buffers per iteration and updates the results in place. What
/// a chunk allocates is what getLinearCrossEntropyWorkspace counts.
///
//===----------------------------------------------------------------------===//

#include "remat/Conversion/Passes.h"

#include "LoopBuilder.h"

#include <cmath>

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_CONVERTREMATTOLINALGPASS
#include "remat/Conversion/Passes.h.inc"
} // namespace remat
} // namespace mlir

using namespace mlir;
using namespace mlir::remat;

static void lowerForward(RewriterBase &rewriter, LinearCrossEntropyOp op) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  auto xType = cast<RankedTensorType>(op.getX().getType());
  int64_t tokens = xType.getDimSize(0);
  int64_t classes = cast<RankedTensorType>(op.getW().getType()).getDimSize(0);
  int64_t chunk = op.getChunkSize();
  int64_t ignoreIndex = op.getIgnoreIndex();
  LoopBuilder cb(rewriter, loc, xType.getElementType());
  Type f32 = cb.f32;

  Value sumInit = cb.filled({}, f32, 0.0);
  Value lseInit = cb.empty({tokens}, f32);
  scf::ForOp loop = buildLoop(
      rewriter, loc, tokens, chunk, {sumInit, lseInit},
      [&](Value row, ValueRange iter) -> SmallVector<Value> {
        Value x = cb.rows(op.getX(), row, chunk);
        Value targets = cb.rows(op.getTargets(), row, chunk);
        Value logits = cb.logits(x, op.getW(), chunk, classes);
        AffineMap all = cb.map(2, {0, 1}), rowMap = cb.map(2, {0});
        // Row max.
        Value max = cb.generic({logits}, cb.filled({chunk}, f32, -INFINITY),
                               {all, rowMap}, "pr",
                               [&](OpBuilder &nb, ValueRange a) -> Value {
                                 return arith::MaximumFOp::create(
                                     nb, loc, cb.toF32(nb, a[0]), a[1]);
                               });
        // Sum of exp(logit - max).
        Value sum = cb.generic(
            {logits, max}, cb.filled({chunk}, f32, 0.0), {all, rowMap, rowMap},
            "pr", [&](OpBuilder &nb, ValueRange a) -> Value {
              Value shifted =
                  arith::SubFOp::create(nb, loc, cb.toF32(nb, a[0]), a[1]);
              Value e = math::ExpOp::create(nb, loc, shifted);
              return arith::AddFOp::create(nb, loc, a[2], e);
            });
        // lse = max + log(sum), into this chunk's rows of the result.
        AffineMap id1 = cb.map(1, {0});
        Value lse = cb.generic(
            {max, sum}, cb.rows(iter[1], row, chunk), {id1, id1, id1}, "p",
            [&](OpBuilder &nb, ValueRange a) -> Value {
              Value log = math::LogOp::create(nb, loc, a[1]);
              return arith::AddFOp::create(nb, loc, a[0], log);
            });
        // nll_sum += valid ? lse - logits[n, target] : 0.
        AffineMap scalar = AffineMap::get(1, 0, {}, rewriter.getContext());
        Value nllSum = cb.generic(
            {targets, lse}, iter[0], {id1, id1, scalar}, "r",
            [&](OpBuilder &nb, ValueRange a) -> Value {
              auto [valid, index] = cb.target(nb, a[0], ignoreIndex);
              Value n = linalg::IndexOp::create(nb, loc, 0);
              Value logit = tensor::ExtractOp::create(nb, loc, logits,
                                                      ValueRange{n, index});
              Value nll =
                  arith::SubFOp::create(nb, loc, a[1], cb.toF32(nb, logit));
              Value zero = arith::ConstantOp::create(nb, loc, f32,
                                                     nb.getF32FloatAttr(0.0));
              Value term = arith::SelectOp::create(nb, loc, valid, nll, zero);
              return arith::AddFOp::create(nb, loc, a[2], term);
            });
        return {nllSum, cb.insertRows(lse, iter[1], row)};
      });
  rewriter.replaceOp(op, loop.getResults());
}

static void lowerGradient(RewriterBase &rewriter, LinearCrossEntropyGradOp op) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  auto xType = cast<RankedTensorType>(op.getX().getType());
  int64_t tokens = xType.getDimSize(0), features = xType.getDimSize(1);
  int64_t classes = cast<RankedTensorType>(op.getW().getType()).getDimSize(0);
  int64_t chunk = op.getChunkSize();
  int64_t ignoreIndex = op.getIgnoreIndex();
  Type element = xType.getElementType();
  LoopBuilder cb(rewriter, loc, element);
  Type f32 = cb.f32;

  Value dxInit = cb.empty({tokens, features}, element);
  Value dwInit = cb.filled({classes, features}, element, 0.0);
  scf::ForOp loop = buildLoop(
      rewriter, loc, tokens, chunk, {dxInit, dwInit},
      [&](Value row, ValueRange iter) -> SmallVector<Value> {
        Value x = cb.rows(op.getX(), row, chunk);
        Value targets = cb.rows(op.getTargets(), row, chunk);
        Value lse = cb.rows(op.getLse(), row, chunk);
        Value logits = cb.logits(x, op.getW(), chunk, classes);
        // dlogits = valid * grad / total * (exp(logit - lse) - onehot).
        AffineMap all = cb.map(2, {0, 1}), rowMap = cb.map(2, {0});
        AffineMap scalar = AffineMap::get(2, 0, {}, rewriter.getContext());
        Value dlogits = cb.generic(
            {logits, targets, lse, op.getGrad(), op.getTotalWeight()},
            cb.empty({chunk, classes}, element),
            {all, rowMap, rowMap, scalar, scalar, all}, "pp",
            [&](OpBuilder &nb, ValueRange a) -> Value {
              auto [valid, index] = cb.target(nb, a[1], ignoreIndex);
              Value shifted =
                  arith::SubFOp::create(nb, loc, cb.toF32(nb, a[0]), a[2]);
              Value p = math::ExpOp::create(nb, loc, shifted);
              Value v = linalg::IndexOp::create(nb, loc, 1);
              Value hot = arith::CmpIOp::create(
                  nb, loc, arith::CmpIPredicate::eq, index, v);
              Value one = arith::ConstantOp::create(nb, loc, f32,
                                                    nb.getF32FloatAttr(1.0));
              Value zero = arith::ConstantOp::create(nb, loc, f32,
                                                     nb.getF32FloatAttr(0.0));
              Value target = arith::SelectOp::create(nb, loc, hot, one, zero);
              Value diff = arith::SubFOp::create(nb, loc, p, target);
              Value scale = arith::DivFOp::create(nb, loc, a[3], a[4]);
              Value scaled = arith::MulFOp::create(nb, loc, diff, scale);
              Value d = arith::SelectOp::create(nb, loc, valid, scaled, zero);
              return d.getType() == a[5].getType()
                         ? d
                         : arith::TruncFOp::create(nb, loc, a[5].getType(), d)
                               .getResult();
            });
        // dx rows = dlogits . w, on (n, h, v), computed in the rows of the
        // result.
        Value dxInit = cb.fill(cb.rows(iter[0], row, chunk), 0.0);
        Value dxRows =
            cb.contract(dlogits, op.getW(), dxInit, cb.map(3, {0, 2}),
                        cb.map(3, {2, 1}), cb.map(3, {0, 1}));
        // dw += dlogits^T . x, on (v, h, n).
        Value dw = cb.contract(dlogits, x, iter[1], cb.map(3, {2, 0}),
                               cb.map(3, {2, 1}), cb.map(3, {0, 1}));
        return {cb.insertRows(dxRows, iter[0], row), dw};
      });
  rewriter.replaceOp(op, loop.getResults());
}

namespace {
struct ConvertRematToLinalgPass
    : public remat::impl::ConvertRematToLinalgPassBase<
          ConvertRematToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<LinearCrossEntropyOp, LinearCrossEntropyGradOp, AttentionOp,
              AttentionGradOp>(op))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : ops) {
      if (auto forward = dyn_cast<LinearCrossEntropyOp>(op))
        lowerForward(rewriter, forward);
      else if (auto gradient = dyn_cast<LinearCrossEntropyGradOp>(op))
        lowerGradient(rewriter, gradient);
      else if (auto attention = dyn_cast<AttentionOp>(op))
        lowerAttention(rewriter, attention);
      else
        lowerAttentionGrad(rewriter, cast<AttentionGradOp>(op));
      ++numLowered;
    }
  }
};
} // namespace
