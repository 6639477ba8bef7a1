//===- Rematerialize.cpp - recompute residuals in the backward -----------===//
//
// The rematerialization rewrite on remat.backward, and manual mode: applying
// the save policies of remat.checkpoint regions.
//
//===----------------------------------------------------------------------===//

#include "remat/Analysis/Cost.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlir::remat;

bool mlir::remat::canRecomputeIn(Operation *def, BackwardOp backward) {
  return def->getBlock() == backward->getBlock() && isMemoryEffectFree(def);
}

SmallVector<Value> mlir::remat::getRecomputeInputs(Operation *def) {
  SmallVector<Value> inputs(def->getOperands());
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(def->getRegions(), captured);
  inputs.append(captured.begin(), captured.end());
  return inputs;
}

namespace {
/// Clones forward computations into one backward body. Values that stay
/// saved must be mapped (to their block arguments) before materializing.
class Recomputer {
public:
  Recomputer(RewriterBase &rewriter, BackwardOp backward,
             function_ref<bool(Value)> shouldRecompute,
             function_ref<bool(Value)> shouldDuplicate,
             function_ref<void(Value, Value)> onClone,
             function_ref<bool(Value)> shouldOffload, RecomputeStats &stats)
      : rewriter(rewriter), backward(backward),
        shouldRecompute(shouldRecompute), shouldDuplicate(shouldDuplicate),
        onClone(onClone), shouldOffload(shouldOffload), stats(stats) {}

  /// Returns the value standing for forward value `value` inside the body
  /// at the current insertion point: a clone or a block argument.
  Value materialize(Value value) {
    if (Value mapped = mapping.lookupOrNull(value))
      return mapped;
    Operation *def = value.getDefiningOp();
    if (def && shouldOffload && shouldOffload(value) &&
        def->getBlock() == backward->getBlock())
      return offload(value);
    bool clone =
        def && canRecomputeIn(def, backward) &&
        (shouldRecompute(value) || def->hasTrait<OpTrait::ConstantLike>());
    if (!clone)
      return addOperand(value);
    // A fresh mapping per clone: `mapping` holds only forward values, so a
    // clone made again for another residual maps nothing of the first.
    IRMapping local;
    for (Value input : getRecomputeInputs(def))
      local.map(input, materialize(input));
    // A second clone of an op reads its operands through a barrier of its
    // own, so CSE cannot merge it with the first (unless an operand is a
    // second clone already).
    unsigned &copies = cloneCount[def];
    bool distinct = llvm::any_of(def->getOperands(), [&](Value operand) {
      Operation *producer = local.lookup(operand).getDefiningOp();
      return producer && secondClones.contains(producer);
    });
    if (copies > 0 && def->getNumOperands() > 0 && !distinct) {
      SmallVector<Value> operands;
      for (Value operand : def->getOperands())
        operands.push_back(local.lookup(operand));
      auto barrier = BarrierOp::create(rewriter, def->getLoc(), operands);
      barrier->setAttr("copy", rewriter.getI64IntegerAttr(copies));
      for (auto [operand, result] :
           llvm::zip(def->getOperands(), barrier.getResults()))
        local.map(operand, result);
      secondClones.insert(barrier);
      ++stats.duplicated;
    }
    Operation *copy = rewriter.clone(*def, local);
    if (copies++ > 0)
      secondClones.insert(copy);
    mapping.map(def->getResults(), copy->getResults());
    if (onClone)
      for (auto [result, cloned] :
           llvm::zip(def->getResults(), copy->getResults()))
        onClone(result, cloned);
    ++stats.cloned;
    if (shouldDuplicate && llvm::any_of(def->getResults(), [&](Value r) {
          return shouldDuplicate(r);
        }))
      perResidual.push_back(def);
    return mapping.lookup(value);
  }

  /// Ends the recomputation of one residual: the values cloned once per
  /// residual are forgotten, so the next residual that needs them clones
  /// them again.
  void endResidual() {
    for (Operation *def : perResidual)
      for (Value r : def->getResults())
        mapping.erase(r);
    perResidual.clear();
  }

  void map(Value from, Value to) { mapping.map(from, to); }

private:
  /// Offloads `value`: a `remat.offload` after its definition, its host
  /// copy a new operand, and a `remat.reload` of it at the insertion point.
  Value offload(Value value) {
    OpBuilder::InsertPoint here = rewriter.saveInsertionPoint();
    rewriter.setInsertionPointAfterValue(value);
    auto host = OffloadOp::create(rewriter, value.getLoc(), value);
    rewriter.restoreInsertionPoint(here);
    Value arg = addOperand(host.getResult());
    Value reloaded = ReloadOp::create(rewriter, value.getLoc(), arg);
    mapping.map(value, reloaded);
    ++stats.offloaded;
    return reloaded;
  }

  /// Saves `value`: a new operand and block argument. (Existing operands
  /// are already mapped.)
  Value addOperand(Value value) {
    backward.getInputsMutable().append(value);
    BlockArgument arg =
        backward.getBody().front().addArgument(value.getType(), value.getLoc());
    mapping.map(value, arg);
    ++stats.added;
    return arg;
  }

  RewriterBase &rewriter;
  BackwardOp backward;
  function_ref<bool(Value)> shouldRecompute;
  function_ref<bool(Value)> shouldDuplicate;
  function_ref<void(Value, Value)> onClone;
  function_ref<bool(Value)> shouldOffload;
  RecomputeStats &stats;
  IRMapping mapping;
  /// The ops cloned for the current residual that each residual clones
  /// for itself.
  SmallVector<Operation *> perResidual;
  /// How many times each forward op was cloned.
  llvm::DenseMap<Operation *, unsigned> cloneCount;
  /// The clones of ops cloned before, and the barriers they read.
  llvm::DenseSet<Operation *> secondClones;
};
} // namespace

void mlir::remat::eraseBackwardInputs(BackwardOp backward,
                                      const llvm::BitVector &erased) {
  if (erased.none())
    return;
  backward->eraseOperands(erased);
  backward.getBody().front().eraseArguments(erased);
}

/// Returns the op of `block` that contains the first use of `arg`, or null.
static Operation *getFirstUser(Block &block, BlockArgument arg) {
  Operation *first = nullptr;
  for (Operation *user : arg.getUsers()) {
    Operation *ancestor = block.findAncestorOpInBlock(*user);
    if (ancestor && (!first || ancestor->isBeforeInBlock(first)))
      first = ancestor;
  }
  return first;
}

RecomputeStats
mlir::remat::recomputeBackwardInputs(RewriterBase &rewriter,
                                     BackwardOp backward,
                                     function_ref<bool(Value)> shouldRecompute,
                                     function_ref<bool(Value)> shouldDuplicate,
                                     function_ref<void(Value, Value)> onClone,
                                     function_ref<bool(Value)> shouldOffload) {
  RecomputeStats stats;
  Block &body = backward.getBody().front();
  // The residuals to drop, by the position of their first use.
  SmallVector<std::pair<unsigned, Operation *>> dropped;
  for (auto [index, input] : llvm::enumerate(backward.getInputs())) {
    Operation *def = input.getDefiningOp();
    bool offloaded = def && shouldOffload && shouldOffload(input) &&
                     def->getBlock() == backward->getBlock();
    if (!offloaded &&
        (!def || !shouldRecompute(input) || !canRecomputeIn(def, backward)))
      continue;
    dropped.push_back({static_cast<unsigned>(index),
                       getFirstUser(body, body.getArgument(index))});
  }
  // Unused residuals (no first user) go last; ties keep operand order.
  llvm::sort(dropped, [](const auto &a, const auto &b) {
    if (a.second != b.second) {
      if (!a.second || !b.second)
        return b.second == nullptr;
      return a.second->isBeforeInBlock(b.second);
    }
    return a.first < b.first;
  });

  Recomputer recomputer(rewriter, backward, shouldRecompute, shouldDuplicate,
                        onClone, shouldOffload, stats);
  // Residuals that stay saved map to their own block arguments.
  llvm::BitVector erased(backward->getNumOperands());
  for (const auto &d : dropped)
    erased.set(d.first);
  for (auto [index, input] : llvm::enumerate(backward.getInputs()))
    if (!erased.test(index))
      recomputer.map(input, body.getArgument(index));

  OpBuilder::InsertionGuard guard(rewriter);
  for (auto [index, firstUser] : dropped) {
    BlockArgument arg = body.getArgument(index);
    if (!firstUser)
      continue;
    rewriter.setInsertionPoint(firstUser);
    Value clone = recomputer.materialize(backward.getInputs()[index]);
    recomputer.endResidual();
    rewriter.replaceAllUsesWith(arg, clone);
  }
  // Drop the recomputed operands, all at once: erasing them one by one
  // shifts the operand list each time, quadratic in a large step. (The
  // inputs recomputing appended, values it could not recompute, stay.)
  erased.resize(backward->getNumOperands());
  eraseBackwardInputs(backward, erased);
  stats.recomputed += erased.count();
  return stats;
}

/// Returns the forward value `value` transposes back to when it is a
/// `linalg.transpose` of a `linalg.transpose` by the inverse permutation.
static Value getTransposeSource(linalg::TransposeOp outer, Value input) {
  while (auto name = input.getDefiningOp<NameOp>())
    input = name.getInput();
  auto inner = input.getDefiningOp<linalg::TransposeOp>();
  if (!inner)
    return Value();
  ArrayRef<int64_t> p = inner.getPermutation(), q = outer.getPermutation();
  if (p.size() != q.size())
    return Value();
  for (size_t i = 0; i < p.size(); ++i)
    if (p[q[i]] != static_cast<int64_t>(i))
      return Value();
  return inner.getInput();
}

Value mlir::remat::getOrAddBackwardInput(BackwardOp backward, Value value) {
  Block &body = backward.getBody().front();
  for (auto [input, arg] : llvm::zip(backward.getInputs(), body.getArguments()))
    if (input == value)
      return arg;
  backward.getInputsMutable().append(value);
  return body.addArgument(value.getType(), value.getLoc());
}

unsigned mlir::remat::foldBackwardTransposes(RewriterBase &rewriter,
                                             BackwardOp backward) {
  Block &body = backward.getBody().front();
  unsigned folded = 0;
  for (linalg::TransposeOp outer :
       llvm::make_early_inc_range(body.getOps<linalg::TransposeOp>())) {
    auto arg = dyn_cast<BlockArgument>(outer.getInput());
    if (!arg || arg.getOwner() != &body)
      continue;
    Value source =
        getTransposeSource(outer, backward.getInputs()[arg.getArgNumber()]);
    if (!source || source.getType() != outer.getResult()[0].getType())
      continue;
    // Read the source as a saved value of its own.
    rewriter.replaceOp(outer, getOrAddBackwardInput(backward, source));
    ++folded;
  }
  // Drop the operands nothing reads any more.
  llvm::BitVector unread(body.getNumArguments());
  for (BlockArgument arg : body.getArguments())
    if (arg.use_empty())
      unread.set(arg.getArgNumber());
  eraseBackwardInputs(backward, unread);
  return folded;
}

/// Returns true if `policy` saves inner value `value`.
static bool policySaves(PolicyAttr policy, Value value) {
  switch (policy.getKind()) {
  case PolicyKind::Everything:
    return true;
  case PolicyKind::Nothing:
    return false;
  case PolicyKind::Dots: {
    Operation *def = value.getDefiningOp();
    while (auto name = dyn_cast_or_null<NameOp>(def))
      def = name.getInput().getDefiningOp();
    return def && isContraction(def);
  }
  case PolicyKind::Names:
    if (auto name = value.getDefiningOp<NameOp>())
      return policy.savesName(name.getTag());
    return llvm::any_of(value.getUsers(), [&](Operation *user) {
      auto name = dyn_cast<NameOp>(user);
      return name && policy.savesName(name.getTag());
    });
  }
  return false;
}

ApplyCheckpointsStats
mlir::remat::applyCheckpointPolicies(RewriterBase &rewriter, Operation *root) {
  ApplyCheckpointsStats stats;
  // Collect, before inlining, the inner values each policy leaves unsaved.
  llvm::DenseSet<Value> recomputable;
  SmallVector<CheckpointOp> checkpoints;
  root->walk([&](CheckpointOp checkpoint) {
    checkpoints.push_back(checkpoint);
    PolicyAttr policy = checkpoint.getEffectivePolicy();
    for (Operation &op : checkpoint.getBody().front().without_terminator())
      for (Value result : op.getResults())
        if (!policySaves(policy, result))
          recomputable.insert(result);
  });
  // Post-order walk: nested checkpoints are inlined before their parents.
  for (CheckpointOp checkpoint : checkpoints) {
    inlineCheckpoint(rewriter, checkpoint);
    ++stats.checkpoints;
  }
  root->walk([&](BackwardOp backward) {
    RecomputeStats s = recomputeBackwardInputs(
        rewriter, backward, [&](Value v) { return recomputable.contains(v); });
    stats.recompute.recomputed += s.recomputed;
    stats.recompute.cloned += s.cloned;
    stats.recompute.added += s.added;
  });
  return stats;
}
