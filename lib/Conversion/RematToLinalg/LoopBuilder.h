//===- LoopBuilder.h - linalg ops in loops of blocks ------------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The builder the lowerings of remat's fused ops share: tensor.empty and
/// fills, row slices, linalg.generic with compact maps and iterator kinds,
/// contractions, and an scf.for whose body returns the values it yields.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_CONVERSION_REMATTOLINALG_LOOPBUILDER_H
#define REMAT_LIB_CONVERSION_REMATTOLINALG_LOOPBUILDER_H

#include "remat/Dialect/Remat/IR/Remat.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace remat {

/// Builds the linalg ops of one chunk or block.
class LoopBuilder {
public:
  LoopBuilder(OpBuilder &b, Location loc, Type element)
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

/// The loop from 0 to `upper` by `step`: `body(iv, iterArgs)` returns the
/// values to yield.
inline scf::ForOp
buildLoop(OpBuilder &b, Location loc, int64_t upper, int64_t step,
          ValueRange inits,
          function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  Value lower = arith::ConstantIndexOp::create(b, loc, 0);
  Value ub = arith::ConstantIndexOp::create(b, loc, upper);
  Value st = arith::ConstantIndexOp::create(b, loc, step);
  return scf::ForOp::create(
      b, loc, lower, ub, st, inits,
      [&](OpBuilder &nb, Location, Value iv, ValueRange iterArgs) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToEnd(nb.getInsertionBlock());
        scf::YieldOp::create(b, loc, body(iv, iterArgs));
      });
}

/// Lowers remat.attention and remat.attention_grad (AttentionToLinalg.cpp).
void lowerAttention(RewriterBase &rewriter, AttentionOp op);
void lowerAttentionGrad(RewriterBase &rewriter, AttentionGradOp op);

} // namespace remat
} // namespace mlir

#endif // REMAT_LIB_CONVERSION_REMATTOLINALG_LOOPBUILDER_H
