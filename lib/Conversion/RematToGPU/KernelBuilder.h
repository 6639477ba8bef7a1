//===- KernelBuilder.h - the ops of a one-row-per-thread kernel -*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The builder of the attention kernels (AttentionKernels.cpp): constants,
/// loops with iter_args, guards, f32 loads and stores of any float type,
/// tiles staged in shared memory by all threads between barriers, and the
/// attention-specific scalars (a score, the keep factor, exp(x − shift)).
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_CONVERSION_REMATTOGPU_KERNELBUILDER_H
#define REMAT_LIB_CONVERSION_REMATTOGPU_KERNELBUILDER_H

#include "AttentionKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cmath>

namespace mlir {
namespace remat {

/// Builds one kernel's body: loops, guards, shared-memory tiles and the
/// attention arithmetic, all in f32 with the element type's loads extended
/// and stores truncated. (Each statement creates its ops one after the
/// other, never two in one argument list, whose order C++ leaves open: the
/// kernels' IR is the same whichever compiler built remat.)
class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc, const AttentionShape &s,
                int64_t rows)
      : b(b), loc(loc), s(s), rows(rows), f32(b.getF32Type()) {}

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value flt(double v) {
    return arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, int64_t y) {
    Value c = idx(y);
    return arith::MulIOp::create(b, loc, x, c);
  }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fmul(Value x, double y) {
    Value c = flt(y);
    return fmul(x, c);
  }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  /// x < bound (unsigned).
  Value lt(Value x, int64_t bound) {
    Value c = idx(bound);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, c);
  }
  /// The rows of a tile from `start`: min(rows, total − start).
  Value left(int64_t total, Value start) {
    Value all = idx(total);
    Value rest = arith::SubIOp::create(b, loc, all, start);
    Value most = idx(rows);
    return arith::MinUIOp::create(b, loc, most, rest);
  }

  /// memref[indices], extended to f32 when it is a float narrower than f32.
  Value load(Value memref, ValueRange indices) {
    Value v = memref::LoadOp::create(b, loc, memref, indices);
    if (isa<FloatType>(v.getType()) && v.getType() != f32)
      v = arith::ExtFOp::create(b, loc, f32, v);
    return v;
  }
  /// x[ix] · y[iy] in f32.
  Value mulLoads(Value x, ValueRange ix, Value y, ValueRange iy) {
    Value lhs = load(x, ix);
    Value rhs = load(y, iy);
    return fmul(lhs, rhs);
  }
  /// memref[indices] = value, truncated from f32 to its element type.
  void store(Value value, Value memref, ValueRange indices) {
    Type element = cast<MemRefType>(memref.getType()).getElementType();
    if (element != value.getType())
      value = arith::TruncFOp::create(b, loc, element, value);
    memref::StoreOp::create(b, loc, value, memref, indices);
  }
  /// memref[indices] += term.
  void accumulate(Value memref, ValueRange indices, Value term) {
    Value old = load(memref, indices);
    store(fadd(old, term), memref, indices);
  }

  /// for (iv = lower; iv < upper; iv += step) with iter_args; `body`
  /// returns what to yield.
  SmallVector<Value>
  loop(Value lower, Value upper, int64_t step, ValueRange inits,
       function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    Value stepValue = idx(step);
    auto forOp = scf::ForOp::create(
        b, loc, lower, upper, stepValue, inits,
        [&](OpBuilder &nb, Location, Value iv, ValueRange iterArgs) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          scf::YieldOp::create(b, loc, body(iv, iterArgs));
        });
    return SmallVector<Value>(forOp.getResults());
  }
  void forEach(Value lower, Value upper, int64_t step,
               function_ref<void(Value)> body) {
    loop(lower, upper, step, {}, [&](Value iv, ValueRange) {
      body(iv);
      return SmallVector<Value>();
    });
  }
  /// for (c = 0; c < upper; ++c)
  void forEach(Value upper, function_ref<void(Value)> body) {
    Value zero = idx(0);
    forEach(zero, upper, 1, body);
  }
  void forEach(int64_t upper, function_ref<void(Value)> body) {
    forEach(idx(upper), body);
  }
  /// Σ_{c < count} term(c), in f32.
  Value sum(int64_t count, function_ref<Value(Value)> term) {
    Value zero = idx(0);
    Value upper = idx(count);
    Value init = flt(0.0);
    return loop(zero, upper, 1, {init},
                [&](Value c, ValueRange acc) -> SmallVector<Value> {
                  return {fadd(acc[0], term(c))};
                })[0];
  }
  void ifThen(Value cond, function_ref<void()> then) {
    auto ifOp = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    then();
  }
  /// cond ? then() : otherwise, for values of f32 type.
  SmallVector<Value> ifElse(Value cond, unsigned count,
                            function_ref<SmallVector<Value>()> then,
                            ValueRange otherwise) {
    SmallVector<Type> types(count, f32);
    auto ifOp = scf::IfOp::create(b, loc, types, cond, /*withElse=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    scf::YieldOp::create(b, loc, then());
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    scf::YieldOp::create(b, loc, otherwise);
    return SmallVector<Value>(ifOp.getResults());
  }
  /// For each tile of `rows` rows of `total` (from 0): a barrier, then
  /// `stage(start, count)` run by every thread, a barrier, then, in the
  /// threads where `active` holds, `row(start, r)` for each r < count.
  void overTiles(int64_t total, function_ref<void(Value, Value)> stage,
                 Value active, function_ref<void(Value, Value)> row) {
    Value zero = idx(0);
    Value all = idx(total);
    forEach(zero, all, rows, [&](Value start) {
      Value count = left(total, start);
      barrier();
      stage(start, count);
      barrier();
      ifThen(active,
             [&]() { forEach(count, [&](Value r) { row(start, r); }); });
    });
  }
  void barrier() { gpu::BarrierOp::create(b, loc); }

  /// All threads copy rows row0 .. row0 + count of the (bi, hi) matrix of
  /// `source` (4-d, or 3-d for lse and delta) into rows 0 .. count of
  /// `tile`, one element per thread in turn (consecutive threads,
  /// consecutive elements).
  void stage(Value source, Value tile, Value bi, Value hi, Value row0,
             Value count) {
    auto type = cast<MemRefType>(source.getType());
    int64_t cols = type.getRank() == 4 ? type.getDimSize(3) : 1;
    Value width = idx(cols);
    Value total = arith::MulIOp::create(b, loc, count, width);
    forEach(thread, total, rows, [&](Value e) {
      Value r = arith::DivUIOp::create(b, loc, e, width);
      Value c = arith::RemUIOp::create(b, loc, e, width);
      Value row = add(row0, r);
      SmallVector<Value> at = {bi, hi, row};
      if (type.getRank() == 4)
        at.push_back(c);
      Value v = memref::LoadOp::create(b, loc, source, at);
      memref::StoreOp::create(b, loc, v, tile, ValueRange{r, c});
    });
  }

  /// The score of query i (row `qr` of tile `qTile`) and key j (row `kr` of
  /// `kTile`): scale · q · k in f32, −∞ where the mask is set.
  Value score(Value qTile, Value qr, Value kTile, Value kr, Value bi, Value hi,
              Value i, Value j) {
    Value dot = sum(s.depth, [&](Value d) {
      return mulLoads(qTile, {qr, d}, kTile, {kr, d});
    });
    Value scaled = fmul(dot, s.scale);
    if (!s.hasMask)
      return scaled;
    Value indices[4] = {bi, hi, i, j};
    SmallVector<Value> at;
    for (AffineExpr expr : s.maskMap.getResults()) {
      if (auto dim = dyn_cast<AffineDimExpr>(expr))
        at.push_back(indices[dim.getPosition()]);
      else
        at.push_back(idx(0));
    }
    Value masked = memref::LoadOp::create(b, loc, mask, at);
    Value negInf = flt(-INFINITY);
    return arith::SelectOp::create(b, loc, masked, negInf, scaled);
  }
  /// The dropout factor of element (i, j): the keep region's bit times
  /// dropout_scale.
  Value keepFactor(Value bi, Value hi, Value i, Value j) {
    Value bit = cloneKeepRegion(b, *s.keep, {bi, hi, i, j, seedValue});
    Value one = arith::UIToFPOp::create(b, loc, f32, bit);
    return fmul(one, s.dropoutScale);
  }
  /// exp(x − shift), a −∞ shift taken as 0 (a row with every score masked
  /// gives 0s, as the loops of AttentionToLinalg.cpp do).
  Value shiftedExp(Value x, Value shift) {
    Value negInf = flt(-INFINITY);
    Value isInf =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, shift, negInf);
    Value zero = flt(0.0);
    Value finite = arith::SelectOp::create(b, loc, isInf, zero, shift);
    return math::ExpOp::create(b, loc, fsub(x, finite));
  }
  /// Reads the seed (a rank-0 memref) once, when there is dropout.
  void readSeed(Value seed) {
    if (seed)
      seedValue = memref::LoadOp::create(b, loc, seed, ValueRange());
  }

  OpBuilder &b;
  Location loc;
  const AttentionShape &s;
  int64_t rows;
  Type f32;
  Value thread, mask, seedValue;
};

} // namespace remat
} // namespace mlir

#endif // REMAT_LIB_CONVERSION_REMATTOGPU_KERNELBUILDER_H
