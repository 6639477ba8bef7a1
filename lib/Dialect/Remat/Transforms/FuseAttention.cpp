//===- FuseAttention.cpp - attention with its probabilities recomputed ----===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Finds scaled dot-product attention as the importer emits it:
///
///   forward:  s = batch_matmul(q', kᵀ') -> expand -> · scale ->
///             [masked_fill −∞] -> softmax (max, sub, exp, sum, div) ->
///             [· keep (the Philox generic) · 1/(1−p)] -> collapse ->
///             batch_matmul(·, v')
///   backward: batch_matmul(transpose(p'), dout) (dv'),
///             batch_matmul(dout, transpose(v')) (dp), the element-wise
///             chain from dp to ds (dropout, softmax, mask and scale
///             gradients), batch_matmul(ds, transpose(kᵀ')) (dq') and
///             batch_matmul(transpose(q'), ds) (dkᵀ')
///
/// and replaces it with remat.attention and remat.attention_grad on the
/// B x H x S x D forms of q, k and v. The dropout generic's body becomes
/// the ops' keep region. The forward's scores, probabilities and mask then
/// die, and the backward reads q, k, v, the output and the log-sum-exp.
///
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"
#include "remat/Support/Format.h"

#include "MatchUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace mlir::remat;

namespace {
/// What the forward matcher found.
struct ForwardAttention {
  linalg::BatchMatmulOp scoresMatmul, outputMatmul;
  /// The batch matmuls' operands: q' (G×Sq×D), kᵀ' (G×D×Sk), the
  /// (dropped) probabilities p' (G×Sq×Sk) and v' (G×Sk×Dv).
  Value q, kt, p, v;
  /// The softmax's result (B×H×Sq×Sk), before dropout.
  Value probs;
  int64_t batch = 0, heads = 0;
  double scale = 1.0;
  Value mask;
  AffineMap maskMap;
  /// With dropout: the keep generic, its seed and the scale of the kept.
  linalg::GenericOp keep;
  Value seed;
  double dropoutScale = 1.0;
};

/// What the backward matcher found.
struct BackwardAttention {
  BackwardOp backward;
  linalg::BatchMatmulOp dv, dp, dq, dkt;
  Value dout;
};
} // namespace

/// Returns true if `matmul` is a plain linalg.batch_matmul into a zero fill.
static bool isPlainBatchMatmul(linalg::BatchMatmulOp matmul) {
  if (!matmul || matmul.hasUserDefinedMaps())
    return false;
  auto fill = matmul.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
  return fill && matchPattern(fill.getInputs()[0], m_AnyZeroFloat());
}

/// The float constant a one-op body combines its input with (as in
/// `mulf %in, %c`), if any.
static std::optional<double> getBodyConstant(linalg::GenericOp generic) {
  for (Operation &op : generic.getBody()->without_terminator())
    for (Value operand : op.getOperands()) {
      FloatAttr attr;
      if (matchPattern(operand, m_Constant(&attr)))
        return attr.getValueAsDouble();
    }
  return std::nullopt;
}

/// Returns true if every indexing map of `generic` is the identity.
static bool isIdentityElementwise(linalg::GenericOp generic) {
  return llvm::all_of(generic.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); });
}

/// Returns the source of a collapse of the two leading dims of a 4-d
/// tensor (B×H×S×D into G×S×D), names stripped, or null.
static Value getHeadsSource(Value value) {
  auto collapse = stripNames(value).getDefiningOp<tensor::CollapseShapeOp>();
  if (!collapse || collapse.getSrcType().getRank() != 4 ||
      collapse.getReassociationIndices() !=
          SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}})
    return nullptr;
  return collapse.getSrc();
}

/// Matches the softmax the importer emits on `value` (B×H×Sq×Sk) and
/// returns its input.
static Value matchSoftmax(Value value) {
  linalg::GenericOp div = matchDef(value, 2, "pppp", {"arith.divf"});
  if (!div)
    return nullptr;
  Value exp = div.getDpsInputs()[0];
  Value sumSource = getExpandSource(div.getDpsInputs()[1]);
  linalg::GenericOp sum =
      sumSource ? matchDef(sumSource, 1, "pppr", {"arith.addf"}) : nullptr;
  linalg::GenericOp expGen = matchDef(exp, 1, "pppp", {"math.exp"});
  if (!sum || sum.getDpsInputs()[0] != exp || !expGen)
    return nullptr;
  linalg::GenericOp sub =
      matchDef(expGen.getDpsInputs()[0], 2, "pppp", {"arith.subf"});
  if (!sub)
    return nullptr;
  Value input = sub.getDpsInputs()[0];
  Value maxSource = getExpandSource(sub.getDpsInputs()[1]);
  linalg::GenericOp max =
      maxSource ? matchDef(maxSource, 1, "pppr", {"arith.maximumf"}) : nullptr;
  if (!max || max.getDpsInputs()[0] != input)
    return nullptr;
  return input;
}

/// Matches the dropout on the softmax's result: `(p · float(keep)) ·
/// scale`, `keep` a generic of the 0-d i64 seed alone. Fills `fwd`'s
/// dropout fields and returns p, or returns null.
static Value matchDropout(Value value, ForwardAttention &fwd) {
  linalg::GenericOp scaled = matchDef(value, 1, "pppp", {"arith.mulf"});
  if (!scaled || !isIdentityElementwise(scaled))
    return nullptr;
  std::optional<double> dropoutScale = getBodyConstant(scaled);
  linalg::GenericOp kept = matchDef(scaled.getDpsInputs()[0], 2, "pppp",
                                    {"arith.uitofp", "arith.mulf"});
  if (!dropoutScale || !kept || !isIdentityElementwise(kept))
    return nullptr;
  Value keep = stripNames(kept.getDpsInputs()[1]);
  auto generic = keep.getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 || generic.getNumReductionLoops() != 0)
    return nullptr;
  Value seed = generic.getDpsInputs()[0];
  auto seedType = dyn_cast<RankedTensorType>(seed.getType());
  if (!seedType || seedType.getRank() != 0 ||
      !seedType.getElementType().isInteger(64) ||
      !generic.getIndexingMapsArray()[1].isIdentity())
    return nullptr;
  fwd.keep = generic;
  fwd.seed = seed;
  fwd.dropoutScale = *dropoutScale;
  return kept.getDpsInputs()[0];
}

/// Matches the attention whose output is `matmul`'s result.
static std::optional<ForwardAttention>
matchForward(linalg::BatchMatmulOp matmul, std::string &why) {
  ForwardAttention fwd;
  fwd.outputMatmul = matmul;
  if (!isPlainBatchMatmul(matmul))
    return std::nullopt;
  fwd.p = matmul.getDpsInputs()[0];
  fwd.v = matmul.getDpsInputs()[1];
  Value dropped = getHeadsSource(fwd.p);
  if (!dropped)
    return std::nullopt;
  auto type = cast<RankedTensorType>(dropped.getType());
  fwd.batch = type.getDimSize(0);
  fwd.heads = type.getDimSize(1);
  Value probs = matchDropout(stripNames(dropped), fwd);
  if (!probs)
    probs = dropped;
  fwd.probs = stripNames(probs);
  Value input = matchSoftmax(fwd.probs);
  if (!input) {
    // A softmax a step or two above: dropout with a mask from elsewhere.
    Value up = fwd.probs;
    for (int step = 0; step < 2; ++step) {
      auto generic = up.getDefiningOp<linalg::GenericOp>();
      if (!generic || generic.getNumDpsInputs() == 0)
        break;
      up = stripNames(generic.getDpsInputs()[0]);
      if (matchSoftmax(up)) {
        why = "the dropout mask is not made from the seed alone (a mask "
              "passed in; import with --dropout-rng)";
        break;
      }
    }
    return std::nullopt; // (Else not attention: no softmax.)
  }
  // From here on it is attention; say why when it does not match.
  if (linalg::GenericOp masked = matchDef(input, 2, "pppp", {"arith.select"})) {
    auto select = *masked.getBody()->getOps<arith::SelectOp>().begin();
    FloatAttr fill;
    Block *body = masked.getBody();
    if (select.getCondition() != body->getArgument(1) ||
        select.getFalseValue() != body->getArgument(0) ||
        !matchPattern(select.getTrueValue(), m_Constant(&fill)) ||
        !std::isinf(fill.getValueAsDouble()) || fill.getValueAsDouble() > 0 ||
        !masked.getIndexingMapsArray()[0].isIdentity()) {
      why = "the mask is not a masked_fill with -inf";
      return std::nullopt;
    }
    fwd.mask = masked.getDpsInputs()[1];
    fwd.maskMap = masked.getIndexingMapsArray()[1];
    input = masked.getDpsInputs()[0];
  }
  linalg::GenericOp scale = matchDef(input, 1, "pppp", {"arith.mulf"});
  bool divide = false;
  if (!scale) {
    scale = matchDef(input, 1, "pppp", {"arith.divf"});
    divide = true;
  }
  std::optional<double> factor =
      scale ? getBodyConstant(scale) : std::optional<double>();
  if (!factor || !isIdentityElementwise(scale)) {
    why = "the scores are not scaled by a constant";
    return std::nullopt;
  }
  fwd.scale = divide ? 1.0 / *factor : *factor;
  Value scores = getExpandSource(scale.getDpsInputs()[0]);
  fwd.scoresMatmul = scores ? scores.getDefiningOp<linalg::BatchMatmulOp>()
                            : linalg::BatchMatmulOp();
  if (!isPlainBatchMatmul(fwd.scoresMatmul)) {
    why = "the scores are not a batch matmul of the queries and keys";
    return std::nullopt;
  }
  fwd.q = fwd.scoresMatmul.getDpsInputs()[0];
  fwd.kt = fwd.scoresMatmul.getDpsInputs()[1];
  if (fwd.keep) {
    // The keep region is the generic's body: it may read nothing else.
    bool closed = true;
    fwd.keep.getBody()->walk([&](Operation *op) {
      for (Value operand : op->getOperands())
        if (!fwd.keep->isProperAncestor(
                operand.getParentBlock()->getParentOp()) &&
            operand.getParentBlock() != fwd.keep.getBody())
          closed = false;
    });
    if (!closed) {
      why = "the dropout mask's generator reads values from outside it";
      return std::nullopt;
    }
  }
  return fwd;
}

/// Returns the forward value `value` (in `backward`) transposes by
/// [0, 2, 1], or null.
static Value getTransposed(BackwardOp backward, Value value) {
  auto transpose = value.getDefiningOp<linalg::TransposeOp>();
  if (!transpose || transpose.getPermutation() != ArrayRef<int64_t>{0, 2, 1})
    return nullptr;
  return getForwardValue(backward, transpose.getInput());
}

/// Checks that `ds` is computed from `dp` by element-wise and reduction
/// generics and reshapes whose other inputs are the forward's
/// probabilities, dropout mask and attention mask (or constants).
static bool isGradientChain(BackwardOp backward, Value ds, Value dp,
                            const ForwardAttention &fwd) {
  Block &body = backward.getBody().front();
  SmallVector<Value> worklist = {ds};
  llvm::SmallPtrSet<Value, 16> seen;
  bool reached = false;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (!seen.insert(value).second)
      continue;
    if (value == dp) {
      reached = true;
      continue;
    }
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      if (arg.getOwner() != &body)
        return false;
      Value forward = getForwardValue(backward, arg);
      if (forward != fwd.probs &&
          (!fwd.keep || forward != fwd.keep->getResult(0)) &&
          (!fwd.mask || forward != stripNames(fwd.mask)))
        return false;
      continue;
    }
    Operation *def = value.getDefiningOp();
    if (!def || def->getBlock() != &body)
      return false;
    if (!isa<linalg::GenericOp, linalg::FillOp, tensor::EmptyOp,
             tensor::ExpandShapeOp, tensor::CollapseShapeOp, NameOp,
             arith::ConstantOp>(def))
      return false;
    for (Value operand : def->getOperands())
      worklist.push_back(operand);
  }
  return reached;
}

/// Matches the gradient of `fwd` in `backward`.
static std::optional<BackwardAttention>
matchBackward(BackwardOp backward, const ForwardAttention &fwd,
              std::string &why) {
  BackwardAttention bwd;
  bwd.backward = backward;
  Value p = stripNames(fwd.p), v = stripNames(fwd.v);
  Value q = stripNames(fwd.q), kt = stripNames(fwd.kt);
  Value doutV, doutP, dsQ, dsK;
  for (auto matmul :
       backward.getBody().front().getOps<linalg::BatchMatmulOp>()) {
    if (!isPlainBatchMatmul(matmul))
      continue;
    Value lhs = matmul.getDpsInputs()[0], rhs = matmul.getDpsInputs()[1];
    if (getTransposed(backward, lhs) == p) {
      bwd.dv = matmul;
      doutV = rhs;
    } else if (getTransposed(backward, rhs) == v) {
      bwd.dp = matmul;
      doutP = lhs;
    } else if (getTransposed(backward, rhs) == kt) {
      bwd.dq = matmul;
      dsQ = lhs;
    } else if (getTransposed(backward, lhs) == q) {
      bwd.dkt = matmul;
      dsK = rhs;
    }
  }
  if (!bwd.dv || !bwd.dp || !bwd.dq || !bwd.dkt || doutV != doutP ||
      dsQ != dsK) {
    why = "its gradient in the backward is not the four batch matmuls of "
          "attention's backward";
    return std::nullopt;
  }
  if (!isGradientChain(backward, dsQ, bwd.dp.getResult(0), fwd)) {
    why = "the gradient of the scores reads more than the probabilities, "
          "the masks and the gradient of the probabilities";
    return std::nullopt;
  }
  bwd.dout = doutV;
  return bwd;
}

//===----------------------------------------------------------------------===//
// Rewriting
//===----------------------------------------------------------------------===//

/// The B×H×S×D form of `value` (G×S×D): the source of its collapse when it
/// has one, else an expand_shape made here.
static Value getHeadsForm(RewriterBase &rewriter, Location loc, Value value,
                          int64_t batch, int64_t heads) {
  if (Value source = getHeadsSource(value))
    return source;
  auto type = cast<RankedTensorType>(value.getType());
  auto expanded = RankedTensorType::get(
      {batch, heads, type.getDimSize(1), type.getDimSize(2)},
      type.getElementType());
  return tensor::ExpandShapeOp::create(
      rewriter, loc, expanded, value,
      SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
}

/// A 4-d transpose of the last two dims of `value`.
static Value transposeLast(RewriterBase &rewriter, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape(type.getShape());
  std::swap(shape[2], shape[3]);
  Value init =
      tensor::EmptyOp::create(rewriter, loc, shape, type.getElementType());
  return linalg::TransposeOp::create(rewriter, loc, value, init,
                                     ArrayRef<int64_t>{0, 1, 3, 2})
      .getResult()[0];
}

/// The B×H×Sk×D keys: the source of kᵀ' = collapse(transpose(k, [0, 1, 3,
/// 2])) when it has that form, else a transpose made here.
static Value getKeys(RewriterBase &rewriter, Location loc,
                     const ForwardAttention &fwd) {
  if (Value source = getHeadsSource(fwd.kt)) {
    auto transpose = source.getDefiningOp<linalg::TransposeOp>();
    if (transpose &&
        transpose.getPermutation() == ArrayRef<int64_t>{0, 1, 3, 2})
      return transpose.getInput();
  }
  return transposeLast(
      rewriter, loc, getHeadsForm(rewriter, loc, fwd.kt, fwd.batch, fwd.heads));
}

/// Collapses B×H×S×D into G×S×D.
static Value collapseHeads(RewriterBase &rewriter, Location loc, Value value) {
  return tensor::CollapseShapeOp::create(
      rewriter, loc, value,
      SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
}

/// Fills `keep` (an empty region) with the keep generic's body: its
/// linalg.index ops become the block's index arguments and its seed
/// element the i64 argument.
static void buildKeepRegion(RewriterBase &rewriter, Location loc, Region &keep,
                            linalg::GenericOp generic) {
  OpBuilder::InsertionGuard guard(rewriter);
  Type index = rewriter.getIndexType();
  SmallVector<Type> types(4, index);
  types.push_back(rewriter.getI64Type());
  SmallVector<Location> locs(5, loc);
  Block *block = rewriter.createBlock(&keep, {}, types, locs);
  IRMapping mapping;
  Block *body = generic.getBody();
  mapping.map(body->getArgument(0), block->getArgument(4));
  for (Operation &op : body->without_terminator()) {
    if (auto indexOp = dyn_cast<linalg::IndexOp>(op)) {
      mapping.map(indexOp.getResult(), block->getArgument(indexOp.getDim()));
      continue;
    }
    rewriter.clone(op, mapping);
  }
  Value bit = mapping.lookup(body->getTerminator()->getOperand(0));
  YieldOp::create(rewriter, loc, ValueRange{bit});
}

FuseAttentionStats
mlir::remat::fuseAttention(RewriterBase &rewriter, Operation *function,
                           const FuseAttentionOptions &options) {
  FuseAttentionStats stats;
  SmallVector<BackwardOp> backwards;
  function->walk([&](BackwardOp op) { backwards.push_back(op); });
  if (backwards.empty())
    return stats; // (A function without a backward is not a training step.)
  // Match every forward first: a rewrite erases the scores' batch matmul.
  SmallVector<std::pair<linalg::BatchMatmulOp, std::string>> unmatched;
  SmallVector<ForwardAttention> matched;
  for (Region &region : function->getRegions())
    for (Block &block : region)
      for (auto matmul : block.getOps<linalg::BatchMatmulOp>()) {
        std::string why;
        if (std::optional<ForwardAttention> fwd = matchForward(matmul, why))
          matched.push_back(*fwd);
        else if (!why.empty())
          unmatched.push_back({matmul, why});
      }
  if (matched.empty() && unmatched.empty())
    mlir::emitRemark(function->getLoc())
        << "remat-fuse-attention: no attention found (no softmax between two "
           "batch matmuls); nothing changed";
  for (auto &[matmul, why] : unmatched) {
    mlir::emitRemark(matmul.getLoc())
        << "remat-fuse-attention: not fused: " << why;
    ++stats.skipped;
  }
  for (ForwardAttention &fwd : matched) {
    linalg::BatchMatmulOp matmul = fwd.outputMatmul;
    std::string why;
    std::optional<BackwardAttention> bwd;
    for (BackwardOp backward : backwards)
      if ((bwd = matchBackward(backward, fwd, why)))
        break;
    if (!bwd) {
      mlir::emitRemark(matmul.getLoc())
          << "remat-fuse-attention: not fused: " << why;
      ++stats.skipped;
      continue;
    }

    // Forward: the op where the output's batch matmul was.
    Location loc = matmul.getLoc();
    rewriter.setInsertionPoint(matmul);
    Value q = getHeadsForm(rewriter, loc, fwd.q, fwd.batch, fwd.heads);
    Value k = getKeys(rewriter, loc, fwd);
    Value v = getHeadsForm(rewriter, loc, fwd.v, fwd.batch, fwd.heads);
    auto qType = cast<RankedTensorType>(q.getType());
    auto kType = cast<RankedTensorType>(k.getType());
    auto vType = cast<RankedTensorType>(v.getType());
    int64_t queries = qType.getDimSize(2), keys = kType.getDimSize(2);
    int64_t blockQ = largestDivisorAtMost(queries, options.blockSize);
    int64_t blockK = largestDivisorAtMost(keys, options.blockSize);
    auto outType = RankedTensorType::get(
        {fwd.batch, fwd.heads, queries, vType.getDimSize(3)},
        qType.getElementType());
    auto lseType = RankedTensorType::get({fwd.batch, fwd.heads, queries},
                                         rewriter.getF32Type());
    FloatAttr dropoutScale =
        fwd.keep ? rewriter.getF64FloatAttr(fwd.dropoutScale) : FloatAttr();
    AffineMapAttr maskMap =
        fwd.mask ? AffineMapAttr::get(fwd.maskMap) : AffineMapAttr();
    auto attention = AttentionOp::create(
        rewriter, loc, outType, lseType, q, k, v, fwd.mask, fwd.seed,
        rewriter.getF64FloatAttr(fwd.scale), maskMap, dropoutScale,
        rewriter.getI64IntegerAttr(blockQ), rewriter.getI64IntegerAttr(blockK));
    if (fwd.keep)
      buildKeepRegion(rewriter, fwd.keep.getLoc(), attention.getKeep(),
                      fwd.keep);

    // Backward: the op before the first of the four batch matmuls.
    BackwardOp backward = bwd->backward;
    SmallVector<BlockArgument> readBefore = getReadArguments(backward);
    SmallVector<Value> inputs;
    for (Value value :
         SmallVector<Value>{q, k, v, attention.getOut(), attention.getLse()})
      inputs.push_back(getOrAddBackwardInput(backward, value));
    Value mask = fwd.mask ? getOrAddBackwardInput(backward, fwd.mask) : Value();
    Value seed = fwd.seed ? getOrAddBackwardInput(backward, fwd.seed) : Value();
    SmallVector<Operation *> replaced = {bwd->dv, bwd->dp, bwd->dq, bwd->dkt};
    Operation *first =
        *llvm::min_element(replaced, [](Operation *a, Operation *b) {
          return a->isBeforeInBlock(b);
        });
    rewriter.setInsertionPoint(first);
    Location bloc = bwd->dp.getLoc();
    Value dout = getHeadsForm(rewriter, bloc, bwd->dout, fwd.batch, fwd.heads);
    auto gradient = AttentionGradOp::create(
        rewriter, bloc, qType, kType, vType, inputs[0], inputs[1], inputs[2],
        inputs[3], inputs[4], dout, mask, seed,
        rewriter.getF64FloatAttr(fwd.scale), maskMap, dropoutScale,
        rewriter.getI64IntegerAttr(blockQ), rewriter.getI64IntegerAttr(blockK));
    if (fwd.keep) {
      IRMapping mapping;
      attention.getKeep().cloneInto(&gradient.getKeep(), mapping);
    }
    SmallVector<Operation *> chain;
    for (Operation *op : replaced)
      for (Value operand : op->getOperands())
        if (Operation *def = operand.getDefiningOp())
          chain.push_back(def);
    Value dq = collapseHeads(rewriter, bloc, gradient.getDq());
    Value dkt = collapseHeads(rewriter, bloc,
                              transposeLast(rewriter, bloc, gradient.getDk()));
    Value dv = collapseHeads(rewriter, bloc, gradient.getDv());
    rewriter.replaceOp(bwd->dv, dv);
    rewriter.replaceOp(bwd->dq, dq);
    rewriter.replaceOp(bwd->dkt, dkt);
    // (dp dies with the chain from it to ds.)
    chain.push_back(bwd->dp);
    SmallVector<Value> stops = {bwd->dout};
    stops.append(inputs.begin(), inputs.end());
    eraseDeadChain(rewriter, chain, stops);
    eraseInputsNoLongerRead(backward, readBefore);

    rewriter.setInsertionPoint(matmul);
    Value out = collapseHeads(rewriter, loc, attention.getOut());
    SmallVector<Operation *> forwardChain = {matmul};
    rewriter.replaceAllUsesWith(matmul.getResult(0), out);
    eraseDeadChain(rewriter, forwardChain, {q, k, v});

    int64_t scoresBytes =
        mulSaturated(mulSaturated(mulSaturated(fwd.batch, fwd.heads),
                                  mulSaturated(queries, keys)),
                     4);
    int64_t blockBytes = mulSaturated(mulSaturated(blockQ, blockK), 4);
    mlir::emitRemark(loc) << llvm::formatv(
        "remat-fuse-attention: fused the attention of {0}x{1} heads over "
        "{2} queries and {3} keys{4}{5} into blocks of {6}x{7}; each {8} "
        "(f32) scores-sized tensor becomes a {9} block, and the backward "
        "recomputes the probabilities instead of reading them",
        fwd.batch, fwd.heads, queries, keys, fwd.mask ? " (masked)" : "",
        fwd.keep ? " with regenerated dropout" : "", blockQ, blockK,
        formatBytes(scoresBytes), formatBytes(blockBytes));
    ++stats.fused;
  }
  return stats;
}
