//===- AttentionToLinalg.cpp - fused attention to blocks of linalg ops ----===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Lowers remat.attention and remat.attention_grad to FlashAttention-2's
/// loops, on tensors:
///
/// - forward: for each batch, head and block of `block_q` queries, an
///   scf.for over blocks of `block_k` keys carries the running row max,
///   the running sum of exponentials and the f32 accumulator of the output
///   (the online softmax); the block's output and log-sum-exp are inserted
///   into the results;
/// - gradient: for each batch and head, the row dot products
///   `Σ_n dout · out`, then for each block of keys and each block of
///   queries the probabilities recomputed from `lse`, accumulating the
///   key block's `dk` and `dv` and all rows' `dq` in f32.
///
/// Scores, probabilities and their gradients exist one block at a time
/// (`block_q × block_k` f32); the dropout keep bits are recomputed from the
/// op's keep region inside the generics that use them, so no mask exists
/// at all. What an iteration allocates is what getAttentionWorkspace
/// counts.
///
//===----------------------------------------------------------------------===//

#include "LoopBuilder.h"

#include <cmath>

using namespace mlir;
using namespace mlir::remat;

namespace {
/// The blocks of one attention op, on top of LoopBuilder.
class AttentionBuilder : public LoopBuilder {
public:
  template <typename OpTy>
  AttentionBuilder(OpBuilder &b, OpTy op)
      : LoopBuilder(b, op.getLoc(), op.getQ().getType().getElementType()),
        keep(op.getKeep()), mask(op.getMask()), seed(op.getSeed()),
        scale(op.getScale().convertToDouble()) {
    if (auto map = op.getMaskMap())
      maskMap = *map;
    if (auto dropout = op.getDropoutScale())
      dropoutScale = dropout->convertToDouble();
    ArrayRef<int64_t> q = op.getQ().getType().getShape();
    batch = q[0];
    heads = q[1];
    queries = q[2];
    depth = q[3];
    keys = op.getK().getType().getDimSize(2);
    valueDepth = op.getV().getType().getDimSize(3);
    blockQ = op.getBlockQ();
    blockK = op.getBlockK();
  }

  /// `count` rows of the (b, h) matrix of a 4-d (or 3-d) `source` from row
  /// `row`, as a 2-d (or 1-d) tensor.
  Value slice(Value source, Value bi, Value hi, Value row, int64_t count) {
    auto type = cast<RankedTensorType>(source.getType());
    SmallVector<OpFoldResult> offsets = {bi, hi, row};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                       b.getIndexAttr(count)};
    SmallVector<int64_t> shape = {count};
    if (type.getRank() == 4) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(type.getDimSize(3)));
      shape.push_back(type.getDimSize(3));
    }
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    auto resultType = RankedTensorType::get(shape, type.getElementType());
    return tensor::ExtractSliceOp::create(b, loc, resultType, source, offsets,
                                          sizes, strides);
  }
  /// Inserts the rows `block` into the (b, h) matrix of `dest` from `row`.
  Value insert(Value block, Value dest, Value bi, Value hi, Value row) {
    auto type = cast<RankedTensorType>(block.getType());
    SmallVector<OpFoldResult> offsets = {bi, hi, row};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                       b.getIndexAttr(type.getDimSize(0))};
    if (type.getRank() == 2) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(type.getDimSize(1)));
    }
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    return tensor::InsertSliceOp::create(b, loc, block, dest, offsets, sizes,
                                         strides);
  }
  /// `acc` (f32) truncated to the element type; itself on f32.
  Value toElement(Value acc) {
    if (element == f32)
      return acc;
    auto type = cast<RankedTensorType>(acc.getType());
    SmallVector<unsigned> dims;
    for (unsigned d = 0; d < type.getRank(); ++d)
      dims.push_back(d);
    AffineMap id = map(type.getRank(), dims);
    return generic({acc}, empty(type.getShape(), element), {id, id},
                   std::string(type.getRank(), 'p'),
                   [&](OpBuilder &nb, ValueRange a) -> Value {
                     return arith::TruncFOp::create(nb, loc, element, a[0]);
                   });
  }
  /// C += A . B in f32 on (m, n, k), the operands extended to f32.
  Value contractF32(Value lhs, Value rhs, Value init, AffineMap lhsMap,
                    AffineMap rhsMap, AffineMap outMap,
                    StringRef kinds = "ppr") {
    return generic({lhs, rhs}, init, {lhsMap, rhsMap, outMap}, kinds,
                   [&](OpBuilder &nb, ValueRange a) -> Value {
                     Value product = arith::MulFOp::create(
                         nb, loc, toF32(nb, a[0]), toF32(nb, a[1]));
                     return arith::AddFOp::create(nb, loc, a[2], product);
                   });
  }
  /// The global query and key indices of the element of a (query, key)
  /// block generic.
  std::pair<Value, Value> globalIndices(OpBuilder &nb, Value i0, Value j0) {
    Value i =
        arith::AddIOp::create(nb, loc, i0, linalg::IndexOp::create(nb, loc, 0));
    Value j =
        arith::AddIOp::create(nb, loc, j0, linalg::IndexOp::create(nb, loc, 1));
    return {i, j};
  }
  /// The block's scores: scale · Qi · Kjᵀ, −∞ where the mask is set.
  Value scores(Value qi, Value kj, Value bi, Value hi, Value i0, Value j0) {
    Value dot = contractF32(qi, kj, filled({blockQ, blockK}, f32, 0.0),
                            map(3, {0, 2}), map(3, {1, 2}), map(3, {0, 1}));
    AffineMap all = map(2, {0, 1});
    return generic(
        {dot}, empty({blockQ, blockK}, f32), {all, all}, "pp",
        [&](OpBuilder &nb, ValueRange a) -> Value {
          Value s = arith::MulFOp::create(nb, loc, a[0], constant(nb, scale));
          if (!mask)
            return s;
          auto [i, j] = globalIndices(nb, i0, j0);
          Value indices[4] = {bi, hi, i, j};
          SmallVector<Value> at;
          for (AffineExpr expr : maskMap.getResults()) {
            if (auto dim = dyn_cast<AffineDimExpr>(expr))
              at.push_back(indices[dim.getPosition()]);
            else
              at.push_back(arith::ConstantIndexOp::create(nb, loc, 0));
          }
          Value masked = tensor::ExtractOp::create(nb, loc, mask, at);
          return arith::SelectOp::create(nb, loc, masked,
                                         constant(nb, -INFINITY), s);
        });
  }
  /// The dropout factor of the block's element (0 or dropout_scale),
  /// computed by the keep region.
  Value keepFactor(OpBuilder &nb, Value seedValue, Value bi, Value hi, Value i0,
                   Value j0) {
    auto [i, j] = globalIndices(nb, i0, j0);
    Value bit = cloneKeepRegion(nb, keep, {bi, hi, i, j, seedValue});
    Value one = arith::UIToFPOp::create(nb, loc, f32, bit);
    return arith::MulFOp::create(nb, loc, one, constant(nb, dropoutScale));
  }
  /// `x` if it is not −∞, else 0 (a row with every score masked).
  Value finite(OpBuilder &nb, Value x) {
    Value isInf = arith::CmpFOp::create(nb, loc, arith::CmpFPredicate::OEQ, x,
                                        constant(nb, -INFINITY));
    return arith::SelectOp::create(nb, loc, isInf, constant(nb, 0.0), x);
  }
  /// exp(x − shift), with a −∞ shift taken as 0 (see `finite`).
  Value shiftedExp(OpBuilder &nb, Value x, Value shift) {
    Value d = arith::SubFOp::create(nb, loc, x, finite(nb, shift));
    return math::ExpOp::create(nb, loc, d);
  }
  /// The block's probabilities against a per-row shift (the running max
  /// in the forward, the log-sum-exp in the gradient): exp(s − shift).
  Value probabilities(Value s, Value shift) {
    AffineMap all = map(2, {0, 1}), row = map(2, {0});
    return generic({s, shift}, empty({blockQ, blockK}, f32), {all, row, all},
                   "pp", [&](OpBuilder &nb, ValueRange a) -> Value {
                     return shiftedExp(nb, a[0], a[1]);
                   });
  }
  Value constant(OpBuilder &nb, double value) {
    return arith::ConstantOp::create(nb, loc, f32, nb.getF32FloatAttr(value));
  }

  Region &keep;
  Value mask, seed;
  AffineMap maskMap;
  double scale, dropoutScale = 1.0;
  int64_t batch, heads, queries, depth, keys, valueDepth, blockQ, blockK;
};
} // namespace

/// Nested loops over batches and heads around `body(b, h, iterArgs)`.
static scf::ForOp buildHeadLoops(
    AttentionBuilder &ab, ValueRange inits,
    function_ref<SmallVector<Value>(Value, Value, ValueRange)> body) {
  return buildLoop(ab.b, ab.loc, ab.batch, 1, inits,
                   [&](Value bi, ValueRange outer) -> SmallVector<Value> {
                     scf::ForOp heads =
                         buildLoop(ab.b, ab.loc, ab.heads, 1, outer,
                                   [&](Value hi, ValueRange inner) {
                                     return body(bi, hi, inner);
                                   });
                     return SmallVector<Value>(heads.getResults());
                   });
}

void mlir::remat::lowerAttention(RewriterBase &rewriter, AttentionOp op) {
  rewriter.setInsertionPoint(op);
  AttentionBuilder ab(rewriter, op);
  Location loc = ab.loc;
  Type f32 = ab.f32;
  int64_t bq = ab.blockQ, bk = ab.blockK, dv = ab.valueDepth;
  AffineMap all = ab.map(2, {0, 1}), row = ab.map(2, {0});
  AffineMap id1 = ab.map(1, {0});
  AffineMap scalar = AffineMap::get(2, 0, {}, rewriter.getContext());

  Value outInit = ab.empty({ab.batch, ab.heads, ab.queries, dv}, ab.element);
  Value lseInit = ab.empty({ab.batch, ab.heads, ab.queries}, f32);
  scf::ForOp loops = buildHeadLoops(
      ab, {outInit, lseInit},
      [&](Value bi, Value hi, ValueRange results) -> SmallVector<Value> {
        scf::ForOp queryLoop = buildLoop(
            rewriter, loc, ab.queries, bq, results,
            [&](Value i0, ValueRange iter) -> SmallVector<Value> {
              Value qi = ab.slice(op.getQ(), bi, hi, i0, bq);
              Value m0 = ab.filled({bq}, f32, -INFINITY);
              Value l0 = ab.filled({bq}, f32, 0.0);
              Value acc0 = ab.filled({bq, dv}, f32, 0.0);
              scf::ForOp keyLoop = buildLoop(
                  rewriter, loc, ab.keys, bk, {m0, l0, acc0},
                  [&](Value j0, ValueRange run) -> SmallVector<Value> {
                    Value m = run[0], l = run[1], acc = run[2];
                    Value kj = ab.slice(op.getK(), bi, hi, j0, bk);
                    Value vj = ab.slice(op.getV(), bi, hi, j0, bk);
                    Value s = ab.scores(qi, kj, bi, hi, i0, j0);
                    // The block's row max; alpha = exp(m - mNew) rescales
                    // what came before. (m, l and acc are then updated in
                    // place: after bufferization the loop reuses their
                    // buffers.)
                    Value blockMax = ab.generic(
                        {s}, ab.filled({bq}, f32, -INFINITY), {all, row}, "pr",
                        [&](OpBuilder &nb, ValueRange a) -> Value {
                          return arith::MaximumFOp::create(nb, loc, a[0], a[1]);
                        });
                    Value alpha = ab.generic(
                        {m, blockMax}, ab.empty({bq}, f32), {id1, id1, id1},
                        "p", [&](OpBuilder &nb, ValueRange a) -> Value {
                          Value mNew =
                              arith::MaximumFOp::create(nb, loc, a[0], a[1]);
                          return ab.shiftedExp(nb, a[0], mNew);
                        });
                    Value mNew = ab.generic(
                        {blockMax}, m, {id1, id1}, "p",
                        [&](OpBuilder &nb, ValueRange a) -> Value {
                          return arith::MaximumFOp::create(nb, loc, a[1], a[0]);
                        });
                    Value p = ab.probabilities(s, mNew);
                    Value lScaled = ab.generic(
                        {alpha}, l, {id1, id1}, "p",
                        [&](OpBuilder &nb, ValueRange a) -> Value {
                          return arith::MulFOp::create(nb, loc, a[1], a[0]);
                        });
                    Value lNew = ab.generic(
                        {p}, lScaled, {all, row}, "pr",
                        [&](OpBuilder &nb, ValueRange a) -> Value {
                          return arith::AddFOp::create(nb, loc, a[1], a[0]);
                        });
                    if (ab.seed)
                      p = ab.generic(
                          {p, ab.seed}, ab.empty({bq, bk}, f32),
                          {all, scalar, all}, "pp",
                          [&](OpBuilder &nb, ValueRange a) -> Value {
                            Value kept =
                                ab.keepFactor(nb, a[1], bi, hi, i0, j0);
                            return arith::MulFOp::create(nb, loc, a[0], kept);
                          });
                    Value accScaled = ab.generic(
                        {alpha}, acc, {row, all}, "pp",
                        [&](OpBuilder &nb, ValueRange a) -> Value {
                          return arith::MulFOp::create(nb, loc, a[1], a[0]);
                        });
                    Value accNew =
                        ab.contractF32(p, vj, accScaled, ab.map(3, {0, 2}),
                                       ab.map(3, {2, 1}), ab.map(3, {0, 1}));
                    return {mNew, lNew, accNew};
                  });
              Value m = keyLoop.getResult(0), l = keyLoop.getResult(1);
              Value acc = keyLoop.getResult(2);
              Value out = ab.generic(
                  {acc, l}, ab.empty({bq, dv}, f32), {all, row, all}, "pp",
                  [&](OpBuilder &nb, ValueRange a) -> Value {
                    return arith::DivFOp::create(nb, loc, a[0], a[1]);
                  });
              Value lse =
                  ab.generic({m, l}, ab.empty({bq}, f32), {id1, id1, id1}, "p",
                             [&](OpBuilder &nb, ValueRange a) -> Value {
                               Value log = math::LogOp::create(nb, loc, a[1]);
                               return arith::AddFOp::create(nb, loc, a[0], log);
                             });
              return {ab.insert(ab.toElement(out), iter[0], bi, hi, i0),
                      ab.insert(lse, iter[1], bi, hi, i0)};
            });
        return SmallVector<Value>(queryLoop.getResults());
      });
  rewriter.replaceOp(op, loops.getResults());
}

void mlir::remat::lowerAttentionGrad(RewriterBase &rewriter,
                                     AttentionGradOp op) {
  rewriter.setInsertionPoint(op);
  AttentionBuilder ab(rewriter, op);
  Location loc = ab.loc;
  Type f32 = ab.f32;
  int64_t bq = ab.blockQ, bk = ab.blockK, d = ab.depth, dv = ab.valueDepth;
  AffineMap all = ab.map(2, {0, 1}), row = ab.map(2, {0});
  AffineMap scalar = AffineMap::get(2, 0, {}, rewriter.getContext());

  Value dqInit = ab.empty(op.getQ().getType().getShape(), ab.element);
  Value dkInit = ab.empty(op.getK().getType().getShape(), ab.element);
  Value dvInit = ab.empty(op.getV().getType().getShape(), ab.element);
  scf::ForOp loops = buildHeadLoops(
      ab, {dqInit, dkInit, dvInit},
      [&](Value bi, Value hi, ValueRange results) -> SmallVector<Value> {
        // delta[i] = Σ_n dout[i, n] · out[i, n].
        Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
        Value outRows = ab.slice(op.getOut(), bi, hi, zero, ab.queries);
        Value doutRows = ab.slice(op.getDout(), bi, hi, zero, ab.queries);
        Value delta = ab.contractF32(
            doutRows, outRows, ab.filled({ab.queries}, f32, 0.0),
            ab.map(2, {0, 1}), ab.map(2, {0, 1}), ab.map(2, {0}), "pr");
        Value dqAcc0 = ab.filled({ab.queries, d}, f32, 0.0);
        scf::ForOp keyLoop = buildLoop(
            rewriter, loc, ab.keys, bk, {dqAcc0, results[1], results[2]},
            [&](Value j0, ValueRange iter) -> SmallVector<Value> {
              Value kj = ab.slice(op.getK(), bi, hi, j0, bk);
              Value vj = ab.slice(op.getV(), bi, hi, j0, bk);
              Value dk0 = ab.filled({bk, d}, f32, 0.0);
              Value dv0 = ab.filled({bk, dv}, f32, 0.0);
              scf::ForOp queryLoop = buildLoop(
                  rewriter, loc, ab.queries, bq, {iter[0], dk0, dv0},
                  [&](Value i0, ValueRange acc) -> SmallVector<Value> {
                    Value qi = ab.slice(op.getQ(), bi, hi, i0, bq);
                    Value doi = ab.slice(op.getDout(), bi, hi, i0, bq);
                    Value lsei = ab.slice(op.getLse(), bi, hi, i0, bq);
                    Value deltai = ab.rows(delta, i0, bq);
                    Value s = ab.scores(qi, kj, bi, hi, i0, j0);
                    Value p = ab.probabilities(s, lsei);
                    Value kept;
                    Value pd = p;
                    if (ab.seed) {
                      kept = ab.generic(
                          {ab.seed}, ab.empty({bq, bk}, f32), {scalar, all},
                          "pp", [&](OpBuilder &nb, ValueRange a) -> Value {
                            return ab.keepFactor(nb, a[0], bi, hi, i0, j0);
                          });
                      pd = ab.generic(
                          {p, kept}, ab.empty({bq, bk}, f32), {all, all, all},
                          "pp", [&](OpBuilder &nb, ValueRange a) -> Value {
                            return arith::MulFOp::create(nb, loc, a[0], a[1]);
                          });
                    }
                    // dv_j += pdᵀ · dout_i on (j, n, i).
                    Value dvNew =
                        ab.contractF32(pd, doi, acc[2], ab.map(3, {2, 0}),
                                       ab.map(3, {2, 1}), ab.map(3, {0, 1}));
                    // dpd = dout_i · v_jᵀ on (i, j, n).
                    Value dpd =
                        ab.contractF32(doi, vj, ab.filled({bq, bk}, f32, 0.0),
                                       ab.map(3, {0, 2}), ab.map(3, {1, 2}),
                                       ab.map(3, {0, 1}));
                    // ds = p · (dpd · keep − delta) · scale.
                    SmallVector<Value> dsInputs = {p, dpd, deltai};
                    SmallVector<AffineMap> dsMaps = {all, all, row};
                    if (kept) {
                      dsInputs.push_back(kept);
                      dsMaps.push_back(all);
                    }
                    dsMaps.push_back(all);
                    Value ds = ab.generic(
                        dsInputs, ab.empty({bq, bk}, f32), dsMaps, "pp",
                        [&](OpBuilder &nb, ValueRange a) -> Value {
                          Value dp = a[1];
                          if (kept)
                            dp = arith::MulFOp::create(nb, loc, dp, a[3]);
                          Value diff = arith::SubFOp::create(nb, loc, dp, a[2]);
                          Value g = arith::MulFOp::create(nb, loc, a[0], diff);
                          return arith::MulFOp::create(
                              nb, loc, g, ab.constant(nb, ab.scale));
                        });
                    // dq_i += ds · k_j on (i, d, j); dk_j += dsᵀ · q_i on
                    // (j, d, i).
                    Value dqRows = ab.contractF32(
                        ds, kj, ab.rows(acc[0], i0, bq), ab.map(3, {0, 2}),
                        ab.map(3, {2, 1}), ab.map(3, {0, 1}));
                    Value dkNew =
                        ab.contractF32(ds, qi, acc[1], ab.map(3, {2, 0}),
                                       ab.map(3, {2, 1}), ab.map(3, {0, 1}));
                    return {ab.insertRows(dqRows, acc[0], i0), dkNew, dvNew};
                  });
              Value dk = ab.insert(ab.toElement(queryLoop.getResult(1)),
                                   iter[1], bi, hi, j0);
              Value dvOut = ab.insert(ab.toElement(queryLoop.getResult(2)),
                                      iter[2], bi, hi, j0);
              return {queryLoop.getResult(0), dk, dvOut};
            });
        Value dq = ab.insert(ab.toElement(keyLoop.getResult(0)), results[0], bi,
                             hi, zero);
        return {dq, keyLoop.getResult(1), keyLoop.getResult(2)};
      });
  rewriter.replaceOp(op, loops.getResults());
}
