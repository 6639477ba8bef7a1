//===- PlanPeaks.cpp - a plan's peak, on a scratch copy of the step ------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A plan's peak is that of the step rewritten by it under the memory
/// analysis, which is what the CPU run allocates. The plan is applied to a
/// scratch copy of the function (made once), analyzed and undone; a search
/// that prunes evaluates ahead on further copies, side by side. Its first
/// two copies are made on a thread of their own while it starts
/// (BackgroundCopies.h); the plan that recomputes nothing is the function
/// as it is, analyzed in place. Each evaluation is counted and memoized by
/// the groups it recomputes.
///
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Threading.h"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// `values` through `mapping` (into a copy of the function).
static ValueSet mapValues(const IRMapping &mapping, const ValueSet *values) {
  ValueSet mapped;
  if (values)
    for (Value v : *values)
      mapped.insert(mapping.lookupOrDefault(v));
  return mapped;
}

/// A copy of `function` in which every residual of `backward` outside
/// `saved` is recomputed (the plan applied to the copy).
OwningOpRef<func::FuncOp> mlir::remat::detail::cloneWithPlan(
    func::FuncOp function, BackwardOp backward, const ValueSet &saved,
    const ValueSet *duplicated, const ValueSet *offloaded,
    IRMapping *mappingOut) {
  IRMapping local;
  IRMapping &mapping = mappingOut ? *mappingOut : local;
  OwningOpRef<func::FuncOp> copy = function.clone(mapping);
  applyPlanToCopy(mapping, backward, saved, duplicated, offloaded);
  return copy;
}

void mlir::remat::detail::applyPlanToCopy(const IRMapping &mapping,
                                          BackwardOp backward,
                                          const ValueSet &saved,
                                          const ValueSet *duplicated,
                                          const ValueSet *offloaded) {
  ValueSet savedCopy = mapValues(mapping, &saved);
  ValueSet duplicatedCopy = mapValues(mapping, duplicated);
  ValueSet offloadedCopy = mapValues(mapping, offloaded);
  auto copyBackward = cast<BackwardOp>(mapping.lookup(backward.getOperation()));
  IRRewriter rewriter(backward.getContext());
  recomputeBackwardInputs(
      rewriter, copyBackward, [&](Value v) { return !savedCopy.contains(v); },
      [&](Value v) { return duplicatedCopy.contains(v); }, {},
      [&](Value v) { return offloadedCopy.contains(v); });
}

namespace {
/// Collects the ops a rewrite inserts into one block (not the ops nested in
/// them).
struct InsertedOps : RewriterBase::Listener {
  explicit InsertedOps(Block *block) : block(block) {}
  void notifyOperationInserted(Operation *op,
                               OpBuilder::InsertPoint previous) override {
    if (op->getBlock() == block)
      ops.push_back(op);
  }
  Block *block;
  SmallVector<Operation *> ops;
};
} // namespace

FailureOr<int64_t> PlanContext::peak(const ValueSet &saved,
                                     std::string *liveAtPeak,
                                     const ValueSet *duplicated,
                                     Inspect inspect) {
  ++evaluations;
  if (options.peakModel) {
    assert(!inspect && "a peak model shows no memory profile");
    OwningOpRef<func::FuncOp> copy =
        cloneWithPlan(function, backward, saved, duplicated);
    return options.peakModel(*copy);
  }
  startCopies();
  return peakOn(getScratch(0), saved, liveAtPeak, duplicated, inspect);
}

PlanContext::~PlanContext() = default;

void PlanContext::startCopies() {
  // A search that prunes evaluates ahead on the second copy. (A copy costs
  // about three evaluations: on a deep model, greedy's ranking and the
  // baseline's analysis overlap the first.)
  bool prunes = options.strategy == PlanStrategy::Auto ||
                options.strategy == PlanStrategy::Optimal;
  if (!scratches.empty() || !prunes || !canEvaluateAhead())
    return;
  scratches.resize(2);
  copies = std::make_unique<BackgroundCopies>(function, scratches.size());
}

PlanContext::Scratch &PlanContext::getScratch(unsigned index) {
  // (peaksAhead sizes the list before its threads start.)
  if (index >= scratches.size())
    scratches.resize(index + 1);
  std::unique_ptr<Scratch> &s = scratches[index];
  if (!s) {
    s = std::make_unique<Scratch>();
    BackgroundCopies::Copy made;
    if (copies)
      made = copies->take(index);
    if (made.function) {
      s->function = std::move(made.function);
      s->mapping = std::move(made.mapping);
    } else {
      s->function = function.clone(s->mapping);
    }
    s->backward = cast<BackwardOp>(s->mapping.lookup(backward.getOperation()));
  }
  return *s;
}

int64_t PlanContext::peakOn(Scratch &scratch, const ValueSet &saved,
                            std::string *liveAtPeak, const ValueSet *duplicated,
                            Inspect inspect) {
  // The plan is applied to a scratch copy of the function (made once),
  // analyzed, and undone: cloning the whole function per evaluation cost
  // half of it.
  BackwardOp scratchBackward = scratch.backward;
  Block &body = scratchBackward.getBody().front();
  SmallVector<Value> inputsBefore(scratchBackward.getInputs());
  // Each block argument's index, type, location and uses, to make the
  // dropped ones again.
  unsigned argCount = body.getNumArguments();
  llvm::DenseMap<BlockArgument, unsigned> indexBefore;
  SmallVector<std::pair<Type, Location>> argInfo;
  SmallVector<SmallVector<OpOperand *>> usesBefore;
  for (BlockArgument arg : body.getArguments()) {
    indexBefore[arg] = arg.getArgNumber();
    argInfo.push_back({arg.getType(), arg.getLoc()});
    SmallVector<OpOperand *> &uses = usesBefore.emplace_back();
    for (OpOperand &use : arg.getUses())
      uses.push_back(&use);
  }
  ValueSet savedCopy = mapValues(scratch.mapping, &saved);
  ValueSet duplicatedCopy = mapValues(scratch.mapping, duplicated);
  InsertedOps inserted(&body);
  IRRewriter rewriter(function.getContext(), &inserted);
  llvm::DenseMap<Value, Value> firstClone;
  recomputeBackwardInputs(
      rewriter, scratchBackward,
      [&](Value v) { return !savedCopy.contains(v); },
      [&](Value v) { return duplicatedCopy.contains(v); },
      [&](Value forward, Value clone) {
        if (inspect)
          firstClone.try_emplace(forward, clone);
      });
  const MemoryProfile &profile =
      scratch.analyzer.analyze(*scratch.function, kAllocationAlignment);
  if (liveAtPeak)
    *liveAtPeak = describeLiveAtPeak(profile);
  if (inspect)
    inspect(profile, firstClone, inserted.ops);
  // Undo. The kept arguments are still in their order, followed by those
  // the rewrite appended: each dropped one is made again at its index and
  // its uses move back to it; then the clones go (users first), then the
  // appended arguments, and the operands are restored.
  // (An argument the rewrite appended was made while every original one
  // was alive: no address is shared.)
  llvm::BitVector keptIndex(argCount);
  for (BlockArgument arg : body.getArguments())
    if (auto it = indexBefore.find(arg); it != indexBefore.end())
      keptIndex.set(it->second);
  // (Each use is set in reverse, as setting puts it first in the use
  // list: the list is as before, and the copy as the function.)
  for (unsigned index = 0; index < argCount; ++index) {
    if (keptIndex.test(index))
      continue;
    BlockArgument again =
        body.insertArgument(index, argInfo[index].first, argInfo[index].second);
    for (OpOperand *use : llvm::reverse(usesBefore[index]))
      use->set(again);
  }
  for (Operation *op : llvm::reverse(inserted.ops))
    op->erase();
  while (body.getNumArguments() > argCount)
    body.eraseArgument(body.getNumArguments() - 1);
  scratchBackward.getInputsMutable().assign(inputsBefore);
  return profile.peakBytes;
}

std::string PlanContext::cacheKey(const llvm::BitVector &recomputed) {
  std::string key;
  key.reserve(recomputed.size());
  for (unsigned i = 0, e = recomputed.size(); i < e; ++i)
    key.push_back(recomputed.test(i) ? '1' : '0');
  return key;
}

FailureOr<int64_t> PlanContext::peak(const llvm::BitVector &recomputed) {
  std::string key = cacheKey(recomputed);
  auto it = peakCache.find(key);
  if (it != peakCache.end())
    return it->second;
  // The plan that recomputes nothing is the function as it is: analyzed in
  // place (the lower bound's analysis, which the search makes anyway),
  // with no copy to wait for, and counted as an evaluation.
  if (recomputed.none() && !options.peakModel) {
    ++evaluations;
    if (!boundReady)
      computeBound();
    return peakCache[key] = boundPeak;
  }
  return peakOfSet(recomputed, nullptr);
}

FailureOr<int64_t> PlanContext::peakOfSet(const llvm::BitVector &recomputed,
                                          Inspect inspect) {
  FailureOr<int64_t> p = peak(savedFor(recomputed), nullptr, nullptr, inspect);
  if (succeeded(p))
    peakCache[cacheKey(recomputed)] = *p;
  return p;
}

bool PlanContext::hasSpareCopy() const {
  // (A copy still being made counts.)
  return scratches.size() > 1 && (scratches.back() || copies);
}

OwningOpRef<func::FuncOp> PlanContext::takeSpareCopy(IRMapping &mapping) {
  if (!hasSpareCopy())
    return nullptr;
  (void)getScratch(scratches.size() - 1);
  std::unique_ptr<Scratch> spare = std::move(scratches.back());
  scratches.pop_back();
  mapping = std::move(spare->mapping);
  return std::move(spare->function);
}

bool PlanContext::canEvaluateAhead() const {
  MLIRContext *context = backward->getContext();
  return !options.peakModel && options.budgetOn == BudgetOn::Peak &&
         !besideCheck && context->isMultithreadingEnabled() &&
         context->getNumThreads() > 1;
}

SmallVector<FailureOr<int64_t>>
PlanContext::peaksAhead(ArrayRef<llvm::BitVector> recomputed) {
  size_t n = recomputed.size();
  SmallVector<FailureOr<int64_t>> peaks(n, failure());
  // (Plans evaluated already are looked up; the others get a copy each.)
  SmallVector<std::pair<size_t, ValueSet>> todo;
  for (auto [i, r] : llvm::enumerate(recomputed)) {
    auto it = peakCache.find(cacheKey(r));
    if (it != peakCache.end())
      peaks[i] = it->second;
    else
      todo.push_back({i, savedFor(r)});
  }
  if (scratches.size() < todo.size())
    scratches.resize(todo.size());
  parallelFor(function.getContext(), 0, todo.size(), [&](size_t k) {
    auto &[i, saved] = todo[k];
    peaks[i] = peakOn(getScratch(k), saved, nullptr, nullptr);
  });
  return peaks;
}

llvm::BitVector PlanContext::heldAtPeak(const ValueSet &saved,
                                        const ValueSet *duplicated,
                                        ArrayRef<Value> values) {
  llvm::BitVector held(values.size());
  Scratch &scratch = getScratch(0);
  (void)peakOn(scratch, saved, nullptr, duplicated,
               [&](const MemoryProfile &profile,
                   const llvm::DenseMap<Value, Value> &firstClone,
                   ArrayRef<Operation *>) {
                 // The first and last points at the peak.
                 unsigned firstPeak = profile.peakPoint, lastPeak = 0;
                 for (auto [point, bytes] : llvm::enumerate(profile.timeline))
                   if (bytes == profile.peakBytes)
                     lastPeak = point;
                 for (auto [i, v] : llvm::enumerate(values)) {
                   Value clone =
                       firstClone.lookup(scratch.mapping.lookupOrNull(v));
                   auto it = profile.bufferOf.find(clone);
                   if (!clone || it == profile.bufferOf.end())
                     continue;
                   const Buffer &buffer = profile.buffers[it->second];
                   if (buffer.start <= firstPeak && lastPeak <= buffer.end)
                     held.set(i);
                 }
               });
  return held;
}

FailureOr<int64_t> PlanContext::peakAndPoint(const llvm::BitVector &recomputed,
                                             HeldPoint &point,
                                             HeldPoint &clonePoint) {
  // (peak evaluates on the first scratch copy.)
  Scratch &scratch = getScratch(0);
  point = HeldPoint{0, SmallVector<int64_t>(groups.size(), 0)};
  clonePoint = HeldPoint{0, SmallVector<int64_t>(groups.size(), 0)};
  return peakOfSet(
      recomputed, [&](const MemoryProfile &profile,
                      const llvm::DenseMap<Value, Value> &firstClone,
                      ArrayRef<Operation *> inserted) {
        llvm::DenseSet<Operation *> clones(inserted.begin(), inserted.end());
        auto heldAt = [&](unsigned at, HeldPoint &into) {
          into.bytes = profile.timeline[at];
          for (auto [g, group] : llvm::enumerate(groups)) {
            if (recomputed.test(g))
              continue;
            auto it =
                profile.bufferOf.find(scratch.mapping.lookupOrNull(group.root));
            if (it == profile.bufferOf.end())
              continue;
            const Buffer &buffer = profile.buffers[it->second];
            if (buffer.start <= at && at <= buffer.end)
              into.held[g] = static_cast<int64_t>(
                  llvm::alignTo(std::max<int64_t>(buffer.bytes, group.bytes),
                                kAllocationAlignment));
          }
        };
        std::optional<unsigned> at;
        for (auto [index, op] : llvm::enumerate(profile.points))
          if (!clones.contains(op) &&
              (!at || profile.timeline[index] > profile.timeline[*at]))
            at = index;
        if (at)
          heldAt(*at, point);
        Operation *peakOp = profile.points[profile.peakPoint];
        if (!clones.contains(peakOp))
          return;
        // The clone's forward op, and the op of the step it was inserted
        // before, both in the function (not the scratch copy).
        llvm::DenseMap<Operation *, Operation *> &original = scratch.original;
        if (original.empty())
          for (auto [from, to] : scratch.mapping.getOperationMap())
            original[to] = from;
        Operation *anchor = nullptr;
        for (auto [forward, clone] : firstClone)
          if (clone.getDefiningOp() == peakOp)
            anchor = original.lookup(forward.getDefiningOp());
        Operation *before = peakOp->getNextNode();
        while (before && clones.contains(before))
          before = before->getNextNode();
        if (!anchor || !before || !original.lookup(before))
          return;
        heldAt(profile.peakPoint, clonePoint);
        clonePoint.anchor = anchor;
        clonePoint.before = original.lookup(before);
      });
}

void PlanContext::usePeak(const llvm::BitVector &recomputed, int64_t peak) {
  if (peakCache.try_emplace(cacheKey(recomputed), peak).second)
    ++evaluations;
}

/// Per group, the first point of `profile` where an op of the backward's
/// `body` (or an op nested in one) reads it: a residual (a block argument
/// of `body`, the backward's input `inputs` at its index) or a recompute
/// clone (`forwardOf`: a clone's forward value), each mapped to its group
/// by `groupOf`. A point is moved back over the run of recompute clones
/// (`clones`) just before it, which the rewrite inserted for that op.
static void findFirstReads(const MemoryProfile &profile, Block *body,
                           ValueRange inputs,
                           const llvm::DenseMap<Value, unsigned> &groupOf,
                           const llvm::DenseMap<Value, Value> &forwardOf,
                           const llvm::DenseSet<Operation *> &clones,
                           SmallVectorImpl<unsigned> &useAt) {
  std::optional<unsigned> runStart;
  for (auto [point, op] : llvm::enumerate(profile.points)) {
    if (op->getBlock() != body) {
      runStart.reset();
      continue;
    }
    if (clones.contains(op)) {
      if (!runStart)
        runStart = point;
      continue;
    }
    unsigned at = runStart.value_or(point);
    runStart.reset();
    op->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands()) {
        Value forward;
        if (auto arg = dyn_cast<BlockArgument>(operand)) {
          if (arg.getOwner() == body && arg.getArgNumber() < inputs.size())
            forward = inputs[arg.getArgNumber()];
        } else if (!forwardOf.empty()) {
          forward = forwardOf.lookup(operand);
        }
        if (!forward)
          continue;
        auto it = groupOf.find(forward);
        if (it != groupOf.end())
          useAt[it->second] = std::min(useAt[it->second], at);
      }
    });
  }
}

FailureOr<int64_t> PlanContext::peakAndUses(const llvm::BitVector &recomputed,
                                            SmallVectorImpl<int64_t> &timeline,
                                            SmallVectorImpl<unsigned> &useAt) {
  // Each residual and its members, in the function (`mapping` null) or
  // the scratch copy, to its group.
  auto groupsIn = [&](const IRMapping *mapping) {
    llvm::DenseMap<Value, unsigned> groupOf;
    for (auto [g, group] : llvm::enumerate(groups)) {
      auto map = [&](Value v) {
        return mapping ? mapping->lookupOrDefault(v) : v;
      };
      groupOf[map(group.root)] = g;
      for (Value m : group.members)
        groupOf[map(m)] = g;
    }
    return groupOf;
  };
  if (recomputed.none()) {
    // The function as it is, analyzed in place.
    MemoryProfile profile = analyzeMemory(function, kAllocationAlignment);
    timeline.assign(profile.timeline.begin(), profile.timeline.end());
    useAt.assign(groups.size(), timeline.size());
    findFirstReads(profile, &backward.getBody().front(), backward.getInputs(),
                   groupsIn(nullptr), llvm::DenseMap<Value, Value>(),
                   llvm::DenseSet<Operation *>(), useAt);
    return peak(recomputed);
  }
  Scratch &scratch = getScratch(0);
  llvm::DenseMap<Value, unsigned> groupOf = groupsIn(&scratch.mapping);
  // (Evaluated again for its timeline where memoized, but counted once, as
  // `peak` counts it.)
  bool counted = peakCache.count(cacheKey(recomputed));
  FailureOr<int64_t> result =
      peakOfSet(recomputed, [&](const MemoryProfile &profile,
                                const llvm::DenseMap<Value, Value> &firstClone,
                                ArrayRef<Operation *> inserted) {
        timeline.assign(profile.timeline.begin(), profile.timeline.end());
        useAt.assign(groups.size(), timeline.size());
        llvm::DenseSet<Operation *> clones(inserted.begin(), inserted.end());
        llvm::DenseMap<Value, Value> forwardOf;
        for (auto [forward, clone] : firstClone)
          forwardOf[clone] = forward;
        findFirstReads(profile, &scratch.backward.getBody().front(),
                       scratch.backward.getInputs(), groupOf, forwardOf, clones,
                       useAt);
      });
  if (counted)
    --evaluations;
  return result;
}
