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

#include "remat/Dialect/Remat/IR/Remat.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_CONVERTREMATTOLINALGPASS
#include "remat/Conversion/Passes.h.inc"
} // namespace remat
} // namespace mlir

using namespace mlir;
using namespace mlir::remat;

namespace {
/// Builds the linalg ops of one chunk.
class ChunkBuilder {
public:
  ChunkBuilder(OpBuilder &b, Location loc, Type element)
      : b(b), loc(loc), element(element), f32(b.getF32Type()) {}

  /// A tensor.empty of `shape` and `type`.
  Value empty(ArrayRef<int64_t> shape, Type type) {
    return tensor::EmptyOp::create(b, loc, shape, type);
  }
  /// `dest` filled with `value` (of its element type).
  Value fill(Value dest, double value) {
    Type type = cast<RankedTensorType>(dest.getType()).getElementType();
    Value scalar =
        arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
    return linalg::FillOp::create(b, loc, scalar, dest).getResult(0);
  }
  /// A tensor of `shape` and `type` filled with `value`.
  Value filled(ArrayRef<int64_t> shape, Type type, double value) {
    return fill(empty(shape, type), value);
  }
  /// Offsets, sizes and strides of `count` rows of `type` from row `row`
  /// (all of the other dims).
  struct Rows {
    SmallVector<OpFoldResult> offsets, sizes, strides;
  };
  Rows rowsOf(RankedTensorType type, Value row, int64_t count) {
    Rows r;
    r.offsets.assign(type.getRank(), b.getIndexAttr(0));
    r.offsets[0] = row;
    for (int64_t dim : type.getShape())
      r.sizes.push_back(b.getIndexAttr(dim));
    r.sizes[0] = b.getIndexAttr(count);
    r.strides.assign(type.getRank(), b.getIndexAttr(1));
    return r;
  }
  /// `count` rows of `source` from row `row`.
  Value rows(Value source, Value row, int64_t count) {
    Rows r = rowsOf(cast<RankedTensorType>(source.getType()), row, count);
    return tensor::ExtractSliceOp::create(b, loc, source, r.offsets, r.sizes,
                                          r.strides);
  }
  /// Inserts `chunk` into `dest` from row `row`.
  Value insertRows(Value chunk, Value dest, Value row) {
    auto type = cast<RankedTensorType>(chunk.getType());
    Rows r = rowsOf(type, row, type.getDimSize(0));
    return tensor::InsertSliceOp::create(b, loc, chunk, dest, r.offsets,
                                         r.sizes, r.strides);
  }
  /// Extends a logit to f32 (a no-op on f32).
  Value toF32(OpBuilder &nb, Value value) {
    return value.getType() == f32
               ? value
               : arith::ExtFOp::create(nb, loc, f32, value).getResult();
  }
  /// A generic over `maps` (the last is the init's) with the given
  /// iterator kinds ('p', 'r').
  Value generic(ValueRange inputs, Value init, ArrayRef<AffineMap> maps,
                StringRef kinds,
                function_ref<Value(OpBuilder &, ValueRange)> body) {
    SmallVector<utils::IteratorType> iterators;
    for (char kind : kinds)
      iterators.push_back(kind == 'r' ? utils::IteratorType::reduction
                                      : utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, init.getType(), inputs, init, maps, iterators,
               [&](OpBuilder &nb, Location, ValueRange args) {
                 linalg::YieldOp::create(nb, loc, body(nb, args));
               })
        .getResult(0);
  }
  /// The map (d_i, d_j, ...) in a space of `dims` dims.
  AffineMap map(unsigned dims, ArrayRef<unsigned> results) {
    SmallVector<AffineExpr> exprs;
    for (unsigned r : results)
      exprs.push_back(b.getAffineDimExpr(r));
    return AffineMap::get(dims, 0, exprs, b.getContext());
  }
  /// C = A . B on (m, n, k) with the operands' maps given: mulf and addf in
  /// the element type, accumulated into `init`.
  Value contract(Value lhs, Value rhs, Value init, AffineMap lhsMap,
                 AffineMap rhsMap, AffineMap outMap) {
    return generic({lhs, rhs}, init, {lhsMap, rhsMap, outMap}, "ppr",
                   [&](OpBuilder &nb, ValueRange args) -> Value {
                     Value product =
                         arith::MulFOp::create(nb, loc, args[0], args[1]);
                     return arith::AddFOp::create(nb, loc, args[2], product);
                   });
  }
  /// The chunk's logits, x_c . w^T on (n, v, h), into a zero fill.
  Value logits(Value xChunk, Value w, int64_t chunk, int64_t classes) {
    return contract(xChunk, w, filled({chunk, classes}, element, 0.0),
                    map(3, {0, 2}), map(3, {1, 2}), map(3, {0, 1}));
  }
  /// `valid` = target != ignore_index, and the target clamped to 0 when
  /// not valid, as an index.
  std::pair<Value, Value> target(OpBuilder &nb, Value value,
                                 int64_t ignoreIndex) {
    Value ignore = arith::ConstantOp::create(
        nb, loc, value.getType(),
        nb.getIntegerAttr(value.getType(), ignoreIndex));
    Value valid =
        arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::ne, value, ignore);
    Value zero = arith::ConstantOp::create(
        nb, loc, value.getType(), nb.getIntegerAttr(value.getType(), 0));
    Value clamped = arith::SelectOp::create(nb, loc, valid, value, zero);
    Value index =
        arith::IndexCastOp::create(nb, loc, nb.getIndexType(), clamped);
    return {valid, index};
  }

  OpBuilder &b;
  Location loc;
  Type element, f32;
};
} // namespace

/// The loop over chunks: `body(row, iterArgs)` returns the values to yield.
static scf::ForOp
buildChunkLoop(OpBuilder &b, Location loc, int64_t tokens, int64_t chunk,
               ValueRange inits,
               function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  Value lower = arith::ConstantIndexOp::create(b, loc, 0);
  Value upper = arith::ConstantIndexOp::create(b, loc, tokens);
  Value step = arith::ConstantIndexOp::create(b, loc, chunk);
  return scf::ForOp::create(
      b, loc, lower, upper, step, inits,
      [&](OpBuilder &nb, Location, Value row, ValueRange iterArgs) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToEnd(nb.getInsertionBlock());
        scf::YieldOp::create(b, loc, body(row, iterArgs));
      });
}

static void lowerForward(RewriterBase &rewriter, LinearCrossEntropyOp op) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  auto xType = cast<RankedTensorType>(op.getX().getType());
  int64_t tokens = xType.getDimSize(0);
  int64_t classes = cast<RankedTensorType>(op.getW().getType()).getDimSize(0);
  int64_t chunk = op.getChunkSize();
  int64_t ignoreIndex = op.getIgnoreIndex();
  ChunkBuilder cb(rewriter, loc, xType.getElementType());
  Type f32 = cb.f32;

  Value sumInit = cb.filled({}, f32, 0.0);
  Value lseInit = cb.empty({tokens}, f32);
  scf::ForOp loop = buildChunkLoop(
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
  ChunkBuilder cb(rewriter, loc, element);
  Type f32 = cb.f32;

  Value dxInit = cb.empty({tokens, features}, element);
  Value dwInit = cb.filled({classes, features}, element, 0.0);
  scf::ForOp loop = buildChunkLoop(
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
      if (isa<LinearCrossEntropyOp, LinearCrossEntropyGradOp>(op))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : ops) {
      if (auto forward = dyn_cast<LinearCrossEntropyOp>(op))
        lowerForward(rewriter, forward);
      else
        lowerGradient(rewriter, cast<LinearCrossEntropyGradOp>(op));
      ++numLowered;
    }
  }
};
} // namespace
