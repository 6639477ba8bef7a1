//===- ChunkLoss.cpp - a linear layer's cross-entropy, chunk by chunk -----===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Finds the language-model loss the importer emits, PyTorch's
/// `cross_entropy(head(x).float(), targets)`:
///
///   forward:  logits = matmul(x, wt) -> [extf] -> max, sub, exp, sum,
///             log-sub (log_softmax) -> the target's entry, negated and
///             masked by ignore_index (nll) -> sum -> / count
///   backward: nll_loss_backward (the one-hot of -grad/count) -> its row
///             sum -> log_softmax_backward_data -> [truncf] -> the two
///             matmuls that make the gradients of x and of the weight
///
/// and replaces it with remat.linear_cross_entropy and
/// remat.linear_cross_entropy_grad, which never hold the N x V logits: the
/// forward keeps only the row log-sum-exp, and the gradient recomputes each
/// chunk's logits. Anything that does not match exactly is left alone, with
/// a remark that says what did not match.
///
//===----------------------------------------------------------------------===//

#include "remat/Analysis/Cost.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"
#include "remat/Support/Format.h"

#include "MatchUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::remat;

//===----------------------------------------------------------------------===//
// Matching helpers
//===----------------------------------------------------------------------===//

/// Returns true if `generic` is an element-wise cast (`castOp` of its one
/// input) on identity maps.
static bool isCast(linalg::GenericOp generic, StringRef castOp) {
  return generic && matchGeneric(generic, 1, "pp", {castOp}) == generic &&
         llvm::all_of(generic.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); });
}

/// Returns the integer constant operand of the first arith.cmpi of a body.
static std::optional<int64_t> getIgnoreIndex(linalg::GenericOp generic) {
  for (Operation &op : generic.getBody()->without_terminator())
    if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
      APInt value;
      if (cmp.getPredicate() == arith::CmpIPredicate::ne &&
          matchPattern(cmp.getRhs(), m_ConstantInt(&value)))
        return value.getSExtValue();
      return std::nullopt;
    }
  return std::nullopt;
}

/// Returns true if `matmul` is a plain linalg.matmul into a zero fill.
static bool isPlainMatmul(linalg::MatmulOp matmul) {
  if (!matmul || matmul.hasUserDefinedMaps())
    return false;
  auto fill = matmul.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
  return fill && matchPattern(fill.getInputs()[0], m_AnyZeroFloat());
}

namespace {
/// The forward half of a matched loss.
struct ForwardLoss {
  Value x, wt, targets;
  linalg::MatmulOp matmul;
  int64_t ignoreIndex = 0;
  /// The log-softmax, and the sum of the nll that becomes the op's result.
  Value logSoftmax;
  linalg::GenericOp nll, nllSum;
};

/// The backward half: what the gradient op replaces and reads.
struct BackwardLoss {
  BackwardOp backward;
  /// The entry argument that carries the log-softmax.
  BlockArgument logSoftmaxArg;
  Value grad, totalWeight, targets;
  /// The first op of the chain (the nll_loss_backward generic).
  Operation *first = nullptr;
  linalg::MatmulOp dxMatmul, dwMatmul;
  /// The body value standing for x.
  Value x;
};
} // namespace

/// Matches the forward from the nll generic up. On failure, `why` says what
/// did not match.
static std::optional<ForwardLoss> matchForward(linalg::GenericOp nll,
                                               std::string &why) {
  ForwardLoss loss;
  loss.nll = nll;
  Value targets = nll.getDpsInputs()[0];
  auto targetsType = dyn_cast<RankedTensorType>(targets.getType());
  if (!targetsType || targetsType.getRank() != 1 ||
      !targetsType.getElementType().isSignlessInteger())
    return why = "the nll's targets are not a 1-d integer tensor", std::nullopt;
  loss.targets = targets;
  std::optional<int64_t> ignore = getIgnoreIndex(nll);
  if (!ignore)
    return why = "the nll has no ignore_index", std::nullopt;
  loss.ignoreIndex = *ignore;
  tensor::ExtractOp extract;
  nll.getBody()->walk([&](tensor::ExtractOp op) { extract = op; });
  loss.logSoftmax = extract.getTensor();

  // nll -> sum.
  if (!nll->hasOneUse())
    return why = "the nll has other users than its sum", std::nullopt;
  loss.nllSum = matchGeneric(*nll->user_begin(), 1, "r", {"arith.addf"});
  if (!loss.nllSum)
    return why = "the nll is not summed", std::nullopt;

  // The log-softmax: (logits - max) - log(sum(exp(logits - max))).
  Value lsm = stripNames(loss.logSoftmax);
  linalg::GenericOp logSub = matchDef(lsm, 2, "pp", {"math.log", "arith.subf"});
  if (!logSub)
    return why = "the nll does not read a log-softmax", std::nullopt;
  Value shifted = logSub.getDpsInputs()[0];
  Value sumExp = getExpandSource(logSub.getDpsInputs()[1]);
  linalg::GenericOp sum =
      sumExp ? matchDef(sumExp, 1, "pr", {"arith.addf"}) : nullptr;
  linalg::GenericOp exp =
      sum ? matchDef(sum.getDpsInputs()[0], 1, "pp", {"math.exp"}) : nullptr;
  linalg::GenericOp sub = matchDef(shifted, 2, "pp", {"arith.subf"});
  Value max = sub ? getExpandSource(sub.getDpsInputs()[1]) : nullptr;
  linalg::GenericOp maxOp =
      max ? matchDef(max, 1, "pr", {"arith.maximumf"}) : nullptr;
  if (!exp || exp.getDpsInputs()[0] != shifted || !maxOp ||
      maxOp.getDpsInputs()[0] != sub.getDpsInputs()[0])
    return why = "the log-softmax is not the importer's", std::nullopt;

  // The f32 logits, through views and an optional extension, from the
  // matmul.
  Value logits = sub.getDpsInputs()[0];
  while (true) {
    Operation *def = logits.getDefiningOp();
    if (def && isView(def)) {
      logits = def->getOperand(0);
      continue;
    }
    auto generic = dyn_cast_or_null<linalg::GenericOp>(def);
    if (isCast(generic, "arith.extf")) {
      logits = generic.getDpsInputs()[0];
      continue;
    }
    break;
  }
  loss.matmul = logits.getDefiningOp<linalg::MatmulOp>();
  if (!isPlainMatmul(loss.matmul)) {
    Operation *def = logits.getDefiningOp();
    why = "the logits are not a matmul's result but " +
          (def ? "a " + def->getName().getStringRef().str() +
                     " (a head with a bias is not supported)"
               : std::string("an argument"));
    return std::nullopt;
  }
  loss.x = loss.matmul.getDpsInputs()[0];
  loss.wt = loss.matmul.getDpsInputs()[1];
  auto xType = cast<RankedTensorType>(loss.x.getType());
  if (!xType.hasStaticShape() ||
      xType.getDimSize(0) != targetsType.getDimSize(0))
    return why = "the logits' rows are not the targets", std::nullopt;
  return loss;
}

/// Collects `value` and everything reached from it through views and at
/// most one element-wise truncation: the forms of the logits' gradient.
static void collectForms(Value value, SetVector<Value> &forms,
                         bool &unknownUser) {
  forms.insert(value);
  for (Operation *user : value.getUsers()) {
    if (isView(user)) {
      collectForms(user->getResult(0), forms, unknownUser);
      continue;
    }
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (isCast(generic, "arith.truncf")) {
      collectForms(generic->getResult(0), forms, unknownUser);
      continue;
    }
    if (!isa<linalg::MatmulOp, linalg::TransposeOp>(user))
      unknownUser = true;
  }
}

/// Returns true if `transpose` swaps the two dims of a matrix.
static bool isMatrixTranspose(linalg::TransposeOp transpose) {
  return transpose && transpose.getPermutation() == ArrayRef<int64_t>{1, 0};
}

/// Matches the backward half of `fwd` in `backward`.
static std::optional<BackwardLoss>
matchBackward(BackwardOp backward, const ForwardLoss &fwd, std::string &why) {
  BackwardLoss loss;
  loss.backward = backward;
  Block &body = backward.getBody().front();
  Value lsm = stripNames(fwd.logSoftmax);
  for (auto [index, input] : llvm::enumerate(backward.getInputs()))
    if (stripNames(input) == lsm) {
      if (loss.logSoftmaxArg)
        return why = "the backward reads the log-softmax twice", std::nullopt;
      loss.logSoftmaxArg = body.getArgument(index);
    }
  if (!loss.logSoftmaxArg)
    return why = "no backward reads the log-softmax", std::nullopt;
  if (!loss.logSoftmaxArg.hasOneUse())
    return why = "the backward reads the log-softmax more than once",
           std::nullopt;

  // log_softmax_backward_data: g - exp(lsm) * rowsum(g).
  linalg::GenericOp lsmBackward =
      matchGeneric(*loss.logSoftmaxArg.user_begin(), 3, "pp",
                   {"math.exp", "arith.mulf", "arith.subf"});
  if (!lsmBackward || lsmBackward.getDpsInputs()[1] != loss.logSoftmaxArg)
    return why = "the backward of the log-softmax is not the importer's",
           std::nullopt;
  Value oneHot = lsmBackward.getDpsInputs()[0];
  Value rowSum = getExpandSource(lsmBackward.getDpsInputs()[2]);
  linalg::GenericOp rowSumOp =
      rowSum ? matchDef(rowSum, 1, "pr", {"arith.addf"}) : nullptr;
  linalg::GenericOp nllBackward =
      matchDef(oneHot, 3, "pp",
               {"arith.cmpi", "arith.index_cast", "linalg.index", "arith.cmpi",
                "arith.andi", "arith.divf", "arith.negf", "arith.select"});
  if (!rowSumOp || rowSumOp.getDpsInputs()[0] != oneHot || !nllBackward)
    return why = "the backward of the nll is not the importer's", std::nullopt;
  if (getIgnoreIndex(nllBackward) != fwd.ignoreIndex)
    return why = "the backward's ignore_index differs", std::nullopt;
  loss.targets = nllBackward.getDpsInputs()[0];
  loss.grad = nllBackward.getDpsInputs()[1];
  loss.totalWeight = nllBackward.getDpsInputs()[2];
  if (getForwardValue(backward, loss.targets) != stripNames(fwd.targets))
    return why = "the backward's targets are not the forward's", std::nullopt;
  Type f32 = Float32Type::get(backward.getContext());
  for (Value scalar : {loss.grad, loss.totalWeight})
    if (scalar.getType() != RankedTensorType::get({}, f32))
      return why = "the loss gradient is not a 0-d f32 tensor", std::nullopt;
  loss.first = nllBackward;
  // Nothing else may read the one-hot or its row sum.
  for (Operation *user : oneHot.getUsers())
    if (user != lsmBackward && user != rowSumOp)
      return why = "the nll's gradient has other users", std::nullopt;

  // The gradient of the logits, in its forms, feeds exactly the two
  // matmuls.
  SetVector<Value> forms;
  bool unknownUser = false;
  collectForms(lsmBackward->getResult(0), forms, unknownUser);
  if (unknownUser)
    return why = "the logits' gradient has users other than two matmuls",
           std::nullopt;
  Value x = stripNames(fwd.x), wt = stripNames(fwd.wt);
  for (Value form : forms)
    for (Operation *user : form.getUsers()) {
      if (auto transpose = dyn_cast<linalg::TransposeOp>(user)) {
        if (!isMatrixTranspose(transpose))
          return why = "the logits' gradient is permuted", std::nullopt;
        for (Operation *tUser : transpose->getResult(0).getUsers()) {
          auto matmul = dyn_cast<linalg::MatmulOp>(tUser);
          // dw = dlogits^T . x
          if (!isPlainMatmul(matmul) ||
              matmul.getDpsInputs()[0] != transpose->getResult(0) ||
              getForwardValue(backward, matmul.getDpsInputs()[1]) != x ||
              loss.dwMatmul)
            return why = "the weight's gradient is not dlogits^T . x",
                   std::nullopt;
          loss.dwMatmul = matmul;
          loss.x = stripNames(matmul.getDpsInputs()[1]);
        }
        continue;
      }
      auto matmul = dyn_cast<linalg::MatmulOp>(user);
      if (!matmul)
        continue; // (A view or cast: its result is a form too.)
      // dx = dlogits . wt^T: the transpose of a saved wt, or the weight
      // itself once foldBackwardTransposes has folded that transpose.
      Value rhs = stripNames(matmul.getDpsInputs()[1]);
      auto rhsTranspose = rhs.getDefiningOp<linalg::TransposeOp>();
      auto wtTranspose = wt.getDefiningOp<linalg::TransposeOp>();
      bool isWeight =
          (isMatrixTranspose(rhsTranspose) &&
           getForwardValue(backward, rhsTranspose.getInput()) == wt) ||
          (isMatrixTranspose(wtTranspose) &&
           getForwardValue(backward, rhs) ==
               stripNames(wtTranspose.getInput()));
      if (!isPlainMatmul(matmul) || matmul.getDpsInputs()[0] != form ||
          !isWeight || loss.dxMatmul)
        return why = "the input's gradient is not dlogits . wt^T", std::nullopt;
      loss.dxMatmul = matmul;
    }
  if (!loss.dxMatmul || !loss.dwMatmul)
    return why = "the logits' gradient does not make both gradients",
           std::nullopt;
  // The gradients' types are those of x and of the weight.
  auto xType = cast<RankedTensorType>(fwd.x.getType());
  auto wtType = cast<RankedTensorType>(fwd.wt.getType());
  if (loss.dxMatmul.getResultTypes()[0] != xType ||
      loss.dwMatmul.getResultTypes()[0] !=
          RankedTensorType::get({wtType.getDimSize(1), wtType.getDimSize(0)},
                                wtType.getElementType()))
    return why = "the gradients' types are not those of x and the weight",
           std::nullopt;
  return loss;
}

//===----------------------------------------------------------------------===//
// Rewriting
//===----------------------------------------------------------------------===//

/// The modeled time of the chunked forward and gradient on `target`.
static double getLossSeconds(LinearCrossEntropyShape shape, int64_t chunk,
                             Type element, const TargetModel &target) {
  shape.chunk = chunk;
  return getRooflineSeconds(getLinearCrossEntropyCost(shape, false), element,
                            /*contraction=*/true, target) +
         getRooflineSeconds(getLinearCrossEntropyCost(shape, true), element,
                            /*contraction=*/true, target);
}

/// The smallest chunk (a divisor of the token count) whose forward and
/// gradient take at most `budgetSeconds` more modeled time on `target`
/// than `wholeSeconds`, their time in one chunk. (Every chunk reads the
/// whole weight again, so small chunks turn the matmuls memory-bound.)
static int64_t chooseChunk(const LinearCrossEntropyShape &shape, Type element,
                           const TargetModel &target, double wholeSeconds,
                           double budgetSeconds) {
  for (int64_t chunk = 1; chunk < shape.tokens; ++chunk)
    if (shape.tokens % chunk == 0 &&
        getLossSeconds(shape, chunk, element, target) - wholeSeconds <=
            budgetSeconds)
      return chunk;
  return shape.tokens;
}

ChunkLossStats
mlir::remat::chunkLinearCrossEntropy(RewriterBase &rewriter,
                                     Operation *function,
                                     const ChunkLossOptions &options) {
  ChunkLossStats stats;
  // (A function without a backward is not a training step.)
  SmallVector<BackwardOp> backwards;
  function->walk([&](BackwardOp op) { backwards.push_back(op); });
  if (backwards.empty())
    return stats;
  // The candidates: nll generics (a 1-d gather from a 2-d tensor).
  SmallVector<linalg::GenericOp> nlls;
  function->walk([&](linalg::GenericOp generic) {
    if (matchGeneric(generic, 1, "p",
                     {"arith.cmpi", "arith.select", "linalg.index",
                      "arith.index_cast", "tensor.extract", "arith.negf",
                      "arith.select"}))
      nlls.push_back(generic);
  });
  if (nlls.empty()) {
    mlir::emitRemark(function->getLoc())
        << "remat-chunk-loss: no cross-entropy found (no negative "
           "log-likelihood of a log-softmax); nothing changed";
    return stats;
  }
  for (linalg::GenericOp nll : nlls) {
    std::string why;
    std::optional<ForwardLoss> fwd = matchForward(nll, why);
    std::optional<BackwardLoss> bwd;
    if (fwd) {
      for (BackwardOp backward : backwards) {
        std::string backwardWhy;
        bwd = matchBackward(backward, *fwd, backwardWhy);
        if (bwd)
          break;
        why = backwardWhy;
      }
    }
    // The logits and log-softmax may feed nothing but the loss and its
    // backward.
    if (fwd && bwd) {
      Value lsm = stripNames(fwd->logSoftmax);
      for (Operation *user : lsm.getUsers()) {
        bool ok = user == nll.getOperation() || isa<NameOp>(user) ||
                  user->getParentOfType<linalg::GenericOp>() == nll;
        if (auto name = dyn_cast<NameOp>(user))
          ok = llvm::all_of(name->getUsers(), [&](Operation *u) {
            return u == bwd->backward.getOperation() ||
                   u->getParentOfType<linalg::GenericOp>() == nll;
          });
        if (!ok) {
          why = "the log-softmax has other users";
          bwd.reset();
          break;
        }
      }
    }
    if (!fwd || !bwd) {
      mlir::emitRemark(nll.getLoc())
          << "remat-chunk-loss: not chunked: " << why;
      ++stats.skipped;
      continue;
    }

    auto xType = cast<RankedTensorType>(fwd->x.getType());
    auto wtType = cast<RankedTensorType>(fwd->wt.getType());
    LinearCrossEntropyShape shape;
    shape.tokens = xType.getDimSize(0);
    shape.features = xType.getDimSize(1);
    shape.classes = wtType.getDimSize(1);
    shape.elementBytes =
        getStaticSizeInBytes(xType.getElementType()).value_or(4);
    Type element = xType.getElementType();
    double stepSeconds = getStepSeconds(function, options.target);
    double wholeSeconds =
        getLossSeconds(shape, shape.tokens, element, options.target);
    int64_t chunk =
        options.chunkSize > 0
            ? largestDivisorAtMost(shape.tokens, options.chunkSize)
            : chooseChunk(shape, element, options.target, wholeSeconds,
                          options.overhead / 100 * stepSeconds);
    shape.chunk = chunk;
    double added =
        getLossSeconds(shape, chunk, element, options.target) - wholeSeconds;

    // The ops read the weight as stored (V x H): the source of the
    // forward's transpose, else a transpose made here.
    Location loc = fwd->nll.getLoc();
    rewriter.setInsertionPoint(fwd->nll);
    Value weight;
    auto transpose = stripNames(fwd->wt).getDefiningOp<linalg::TransposeOp>();
    if (isMatrixTranspose(transpose)) {
      weight = transpose.getInput();
    } else {
      Value init = tensor::EmptyOp::create(rewriter, loc,
                                           {shape.classes, shape.features},
                                           xType.getElementType());
      weight = linalg::TransposeOp::create(rewriter, loc, fwd->wt, init,
                                           ArrayRef<int64_t>{1, 0})
                   .getResult()[0];
    }

    // Forward: the op where the nll was; its sum replaces the nll's.
    Type f32 = rewriter.getF32Type();
    auto forward = LinearCrossEntropyOp::create(
        rewriter, loc, RankedTensorType::get({}, f32),
        RankedTensorType::get({shape.tokens}, f32), fwd->x, weight,
        fwd->targets, rewriter.getI64IntegerAttr(chunk),
        rewriter.getI64IntegerAttr(fwd->ignoreIndex));

    // Backward: the op before the first of the two matmuls.
    BackwardOp backward = bwd->backward;
    SmallVector<BlockArgument> readBefore = getReadArguments(backward);
    Value x = bwd->x;
    Value w = getOrAddBackwardInput(backward, weight);
    Value lse = getOrAddBackwardInput(backward, forward.getLse());
    Operation *first = bwd->dxMatmul->isBeforeInBlock(bwd->dwMatmul)
                           ? bwd->dxMatmul.getOperation()
                           : bwd->dwMatmul.getOperation();
    rewriter.setInsertionPoint(first);
    auto gradient = LinearCrossEntropyGradOp::create(
        rewriter, bwd->first->getLoc(), bwd->dxMatmul.getResultTypes()[0],
        bwd->dwMatmul.getResultTypes()[0], x, w, bwd->targets, lse, bwd->grad,
        bwd->totalWeight, rewriter.getI64IntegerAttr(chunk),
        rewriter.getI64IntegerAttr(fwd->ignoreIndex));
    SmallVector<Operation *> replaced = {bwd->dxMatmul, bwd->dwMatmul};
    SmallVector<Operation *> chain = {bwd->first};
    for (Operation *matmul : replaced)
      for (Value operand : matmul->getOperands())
        if (Operation *def = operand.getDefiningOp())
          chain.push_back(def);
    rewriter.replaceOp(bwd->dxMatmul, gradient.getDx());
    rewriter.replaceOp(bwd->dwMatmul, gradient.getDw());
    eraseDeadChain(rewriter, chain,
                   {x, w, bwd->targets, bwd->grad, bwd->totalWeight});
    // (Only the arguments this rewrite stopped reading.)
    eraseInputsNoLongerRead(backward, readBefore);

    Operation *sumInit = fwd->nllSum.getDpsInits()[0].getDefiningOp();
    rewriter.replaceOp(fwd->nllSum, forward.getNllSum());
    SmallVector<Operation *> forwardChain = {fwd->nll};
    if (sumInit)
      forwardChain.push_back(sumInit);
    eraseDeadChain(rewriter, forwardChain, {fwd->x, weight, fwd->targets});

    int64_t logitsBytes =
        mulSaturated(mulSaturated(shape.tokens, shape.classes), 4);
    int64_t chunkBytes =
        mulSaturated(mulSaturated(chunk, shape.classes), shape.elementBytes);
    mlir::emitRemark(loc) << llvm::formatv(
        "remat-chunk-loss: chunked the cross-entropy of {0} tokens over {1} "
        "classes into {2} chunk{3} of {4} token{5}{6}; the largest logits "
        "buffer goes from {7} (f32) to {8}, for {9} more modeled time than "
        "one chunk ({10} of the step's, on {11})",
        shape.tokens, shape.classes, shape.tokens / chunk,
        shape.tokens / chunk == 1 ? "" : "s", chunk, chunk == 1 ? "" : "s",
        options.chunkSize > 0 && chunk != options.chunkSize
            ? llvm::formatv(" (chunk-size={0} does not divide {1}: the "
                            "largest divisor below it)",
                            options.chunkSize, shape.tokens)
                  .str()
            : std::string(),
        formatBytes(logitsBytes), formatBytes(chunkBytes),
        llvm::formatv("{0}", llvm::format("%.4g us", added * 1e6)).str(),
        formatPercent(added, stepSeconds), options.target.name);
    ++stats.chunked;
    stats.chunks.push_back(chunk);
  }
  return stats;
}
