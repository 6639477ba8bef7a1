//===- PlanContext.cpp - candidates and the evaluation of plans -----------===//
//
// A plan is a set of forward values to save; every residual outside it is
// recomputed in the backward from what is saved (recomputeBackwardInputs).
// The context groups the residuals by the buffer they alias (a view and
// its root are freed together or not at all), prices each set by the ops
// its recomputation clones (PlanCost.cpp), and evaluates its peak: that of
// the rewritten function under the memory analysis (or the bufferized
// program's), which is what the CPU run allocates.
//
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Support/Format.h"

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"
#include "remat/Pipelines/Pipelines.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Threading.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <limits>

#define DEBUG_TYPE "remat-rematerialize"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

std::string mlir::remat::detail::getLabel(Value value) {
  if (auto name = value.getDefiningOp<NameOp>())
    return name.getTag().str();
  if (auto loc = dyn_cast<NameLoc>(value.getLoc()))
    return loc.getName().str();
  if (Operation *def = value.getDefiningOp())
    return def->getName().getStringRef().str();
  return "argument";
}

bool mlir::remat::detail::isViewLike(Operation *op) {
  return isa<NameOp, tensor::CollapseShapeOp, tensor::ExpandShapeOp,
             tensor::ExtractSliceOp, tensor::CastOp, tensor::ReshapeOp>(op);
}

Value mlir::remat::detail::getViewRoot(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (!isViewLike(def))
      break;
    value = def->getOperand(0);
  }
  return value;
}

std::string mlir::remat::getLayerKey(Operation *op) {
  auto loc = dyn_cast<NameLoc>(op->getLoc());
  if (!loc)
    return "";
  StringRef name = loc.getName().strref();
  size_t pos = 0;
  while (pos < name.size()) {
    size_t dot = name.find('.', pos);
    StringRef part = name.slice(pos, dot);
    if (!part.empty() && llvm::all_of(part, llvm::isDigit))
      return name.take_front(dot == StringRef::npos ? name.size() : dot).str();
    if (dot == StringRef::npos)
      break;
    pos = dot + 1;
  }
  return "";
}

/// Bufferizes `module` in place (it holds `function`) and returns the peak
/// of `function` under the memory analysis.
FailureOr<int64_t>
mlir::remat::detail::getBufferizedPeak(ModuleOp module, func::FuncOp function,
                                       std::string *liveAtPeak,
                                       bool fusePointwise) {
  // (The pipeline is built here, not parsed from the pass registry: the
  // planner works whether or not remat's pipelines are registered.)
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  // (The check reads the bufferized program's peak and throws it away; the
  // verifier after each pass would cost a third of it. Lowering the plan
  // for real verifies.)
  pm.enableVerifier(false);
  LowerToLLVMPipelineOptions options;
  options.deallocate = false;
  options.fusePointwise = fusePointwise;
  buildBufferizePipeline(pm, options);
  if (failed(pm.run(module)))
    return failure();
  // Bufferization rewrites the function op in place.
  auto bufferized = module.lookupSymbol<func::FuncOp>(function.getSymName());
  if (!bufferized)
    return failure();
  MemoryProfile profile = analyzeMemory(bufferized);
  if (liveAtPeak)
    *liveAtPeak = describeLiveAtPeak(profile);
  return profile.peakBytes;
}

std::string mlir::remat::detail::describeLiveAtPeak(const MemoryProfile &p) {
  std::vector<std::pair<int64_t, std::string>> live;
  for (unsigned index : p.liveAtPeak) {
    const Buffer &buffer = p.buffers[index];
    live.push_back({buffer.bytes, getLabel(buffer.root)});
  }
  return formatSizeGroups(std::move(live));
}

/// A fresh module holding `owned`, a private declaration of every other
/// function of `symbols`, and a copy of its other ops (globals the step
/// reads, for example), so that the function still verifies there.
OwningOpRef<ModuleOp> mlir::remat::detail::wrapInModule(func::FuncOp owned,
                                                        Operation *symbols) {
  OwningOpRef<ModuleOp> module = ModuleOp::create(owned.getLoc());
  if (symbols && symbols->getNumRegions() == 1 &&
      symbols->getRegion(0).hasOneBlock()) {
    OpBuilder builder = OpBuilder::atBlockEnd(module->getBody());
    for (Operation &op : symbols->getRegion(0).front()) {
      auto f = dyn_cast<func::FuncOp>(op);
      if (f && f.getSymName() == owned.getSymName())
        continue;
      if (!f) {
        if (!op.hasTrait<OpTrait::IsTerminator>())
          builder.clone(op);
        continue;
      }
      auto decl = func::FuncOp::create(builder, f.getLoc(), f.getSymName(),
                                       f.getFunctionType());
      decl.setPrivate();
    }
  }
  module->push_back(owned);
  return module;
}

FailureOr<int64_t> mlir::remat::predictBufferizedPeak(func::FuncOp function,
                                                      std::string *liveAtPeak,
                                                      Operation *symbols,
                                                      bool fusePointwise) {
  if (!symbols)
    symbols = function->getParentOp();
  OwningOpRef<ModuleOp> module = wrapInModule(function.clone(), symbols);
  auto copy = module->lookupSymbol<func::FuncOp>(function.getSymName());
  return getBufferizedPeak(*module, copy, liveAtPeak, fusePointwise);
}

//===----------------------------------------------------------------------===//
// PlanContext
//===----------------------------------------------------------------------===//

SearchLimits::SearchLimits(uint64_t workLimit, double timeLimit)
    : workLimit(workLimit), timeLimit(timeLimit),
      start(std::chrono::steady_clock::now()) {}

double SearchLimits::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

bool SearchLimits::outOfTime() const {
  return timeLimit > 0 && elapsed() > timeLimit;
}

void SearchLimits::recordCut(Cut limit, StringRef where) {
  for (const auto &[l, w] : cuts)
    if (l == limit && w == where)
      return;
  cuts.push_back({limit, where.str()});
}

bool SearchLimits::checkTime(StringRef where) {
  if (!outOfTime())
    return true;
  recordCut(Cut::Time, where);
  return false;
}

bool SearchLimits::spend(uint64_t work, StringRef where) {
  if (spent - freshFrom + work > workLimit) {
    recordCut(Cut::Work, where);
    return false;
  }
  if (!checkTime(where))
    return false;
  spent += work;
  return true;
}

std::string SearchLimits::cutNote() const {
  std::string text;
  llvm::raw_string_ostream os(text);
  for (Cut limit : {Cut::Work, Cut::Time}) {
    SmallVector<StringRef> places;
    for (const auto &[l, where] : cuts)
      if (l == limit)
        places.push_back(where);
    if (places.empty())
      continue;
    if (!text.empty())
      os << "; ";
    if (limit == Cut::Work)
      os << "the work limit (" << workLimit << " op visits) cut ";
    else
      os << "the time limit (" << llvm::format("%g", timeLimit) << " s) cut ";
    for (auto [i, where] : llvm::enumerate(places))
      os << (i == 0 ? "" : i + 1 == places.size() ? " and " : ", ") << where;
    if (limit == Cut::Time)
      os << "; this plan depends on the machine's speed and load";
  }
  return text;
}

PlanContext::PlanContext(func::FuncOp function, BackwardOp backward,
                         const PlanOptions &options, SearchLimits &limits)
    : function(function), backward(backward), options(options), limits(limits) {
  function.walk([&](Operation *) { ++opCount; });
  // Position of each backward body op, for the rewrite's order.
  Block &body = backward.getBody().front();
  llvm::DenseMap<Operation *, unsigned> position;
  for (auto [index, op] : llvm::enumerate(body))
    position[&op] = index;
  llvm::DenseMap<Value, unsigned> groupOfRoot;
  for (auto [index, input] : llvm::enumerate(backward.getInputs())) {
    inputs.insert(input);
    Operation *def = input.getDefiningOp();
    if (!def || !canRecomputeIn(def, backward) ||
        def->hasTrait<OpTrait::ConstantLike>() || groupOf.count(input))
      continue;
    Value root = getViewRoot(input);
    // A view of an argument or of a constant frees nothing.
    // Nor does a view of a buffer that cannot be recomputed.
    Operation *rootDef = root.getDefiningOp();
    if (!rootDef || rootDef->hasTrait<OpTrait::ConstantLike>() ||
        !canRecomputeIn(rootDef, backward))
      continue;
    unsigned first = ~0u;
    for (Operation *user : body.getArgument(index).getUsers())
      if (Operation *a = body.findAncestorOpInBlock(*user))
        first = std::min(first, position.lookup(a));
    candidates.push_back(input);
    firstUse[input] = first;
    auto [it, inserted] = groupOfRoot.try_emplace(root, groups.size());
    if (inserted) {
      Group group;
      group.root = root;
      group.bytes = getStaticSizeInBytes(root.getType()).value_or(0);
      groups.push_back(group);
    }
    groups[it->second].members.push_back(input);
    groupOf[input] = it->second;
  }
  for (Group &group : groups)
    group.label = getLabel(group.members.front());
}

ValueSet PlanContext::savedFor(const llvm::BitVector &recomputed) const {
  ValueSet saved(inputs);
  for (unsigned g : recomputed.set_bits())
    for (Value member : groups[g].members)
      saved.erase(member);
  return saved;
}

llvm::BitVector PlanContext::recomputedFor(const ValueSet &saved) const {
  llvm::BitVector recomputed(groups.size());
  for (auto [g, group] : llvm::enumerate(groups))
    if (llvm::none_of(group.members,
                      [&](Value m) { return saved.contains(m); }))
      recomputed.set(g);
  return recomputed;
}

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
  ValueSet savedCopy = mapValues(mapping, &saved);
  ValueSet duplicatedCopy = mapValues(mapping, duplicated);
  ValueSet offloadedCopy = mapValues(mapping, offloaded);
  auto copyBackward = cast<BackwardOp>(mapping.lookup(backward.getOperation()));
  IRRewriter rewriter(function.getContext());
  recomputeBackwardInputs(
      rewriter, copyBackward, [&](Value v) { return !savedCopy.contains(v); },
      [&](Value v) { return duplicatedCopy.contains(v); }, {},
      [&](Value v) { return offloadedCopy.contains(v); });
  return copy;
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
  // A search that prunes evaluates ahead on a second copy, made beside the
  // first evaluation (a copy costs about three evaluations).
  bool prunes = options.strategy == PlanStrategy::Auto ||
                options.strategy == PlanStrategy::Optimal;
  if (scratches.empty() && prunes && canEvaluateAhead()) {
    scratches.resize(2);
    int64_t p = 0;
    parallelFor(function.getContext(), 0, 2, [&](size_t k) {
      if (k == 0)
        p = peakOn(getScratch(0), saved, liveAtPeak, duplicated, inspect);
      else
        (void)getScratch(1);
    });
    return p;
  }
  return peakOn(getScratch(0), saved, liveAtPeak, duplicated, inspect);
}

PlanContext::Scratch &PlanContext::getScratch(unsigned index) {
  // (peaksAhead sizes the list before its threads start.)
  if (index >= scratches.size())
    scratches.resize(index + 1);
  std::unique_ptr<Scratch> &s = scratches[index];
  if (!s) {
    s = std::make_unique<Scratch>();
    s->function = function.clone(s->mapping);
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
  MemoryProfile profile =
      analyzeMemory(*scratch.function, kAllocationAlignment);
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
  for (unsigned index = 0; index < argCount; ++index) {
    if (keptIndex.test(index))
      continue;
    BlockArgument again =
        body.insertArgument(index, argInfo[index].first, argInfo[index].second);
    for (OpOperand *use : usesBefore[index])
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
  return peakOfSet(recomputed, nullptr);
}

FailureOr<int64_t> PlanContext::peakOfSet(const llvm::BitVector &recomputed,
                                          Inspect inspect) {
  FailureOr<int64_t> p = peak(savedFor(recomputed), nullptr, nullptr, inspect);
  if (succeeded(p))
    peakCache[cacheKey(recomputed)] = *p;
  return p;
}

bool PlanContext::canEvaluateAhead() const {
  MLIRContext *context = backward->getContext();
  return !options.peakModel && options.budgetOn == BudgetOn::Peak &&
         context->isMultithreadingEnabled() && context->getNumThreads() > 1;
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

/// The bytes of the buffer `value` aliases when it is an activation (not an
/// argument or a constant) that `roots` does not hold yet, which it then
/// does; otherwise 0.
int64_t mlir::remat::detail::newActivationBytes(Value value,
                                                llvm::DenseSet<Value> &roots) {
  Value root = getViewRoot(value);
  Operation *def = root.getDefiningOp();
  if (!def || def->hasTrait<OpTrait::ConstantLike>() ||
      !roots.insert(root).second)
    return 0;
  return getStaticSizeInBytes(root.getType()).value_or(0);
}

int64_t PlanContext::activationBytes(const ValueSet &saved,
                                     bool withFrontier) const {
  llvm::DenseSet<Value> roots;
  int64_t bytes = 0;
  auto add = [&](Value v) { bytes += newActivationBytes(v, roots); };
  for (Value v : saved)
    if (inputs.contains(v))
      add(v);
  if (!withFrontier)
    return bytes;
  // The forward values the recompute reads: saved ones outside the
  // backward's inputs (a schedule's), and those it cannot recompute
  // (results of ops with effects). The rewrite passes them in too.
  SmallVector<Value> work;
  for (Value c : candidates)
    if (!saved.contains(c))
      work.push_back(c);
  llvm::DenseSet<Operation *> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *def = v.getDefiningOp();
    if (!def)
      continue;
    if (saved.contains(v) || !canRecomputeIn(def, backward)) {
      add(v);
      continue;
    }
    if (seen.insert(def).second)
      llvm::append_range(work, getRecomputeInputs(def));
  }
  return bytes;
}

FailureOr<int64_t>
PlanContext::capActivations(int64_t bytes, const llvm::BitVector *recomputed,
                            function_ref<FailureOr<int64_t>()> peakOf) {
  if (!peakCap || bytes > capBudget)
    return bytes;
  // (Activations that meet the budget with a peak above the cap miss it.)
  if (recomputed && peakLowerBound(*recomputed) > *peakCap)
    return capBudget + 1;
  FailureOr<int64_t> p = peakOf();
  if (failed(p))
    return failure();
  return *p > *peakCap ? capBudget + 1 : bytes;
}

FailureOr<int64_t> PlanContext::measure(const ValueSet &saved,
                                        std::string *liveAtPeak) {
  if (options.budgetOn == BudgetOn::Peak)
    return peak(saved, liveAtPeak);
  return capActivations(activationBytes(saved), nullptr,
                        [&] { return peak(saved); });
}

FailureOr<int64_t> PlanContext::measure(const llvm::BitVector &recomputed) {
  if (options.budgetOn == BudgetOn::Peak)
    return peak(recomputed);
  return capActivations(activationBytes(savedFor(recomputed)), &recomputed,
                        [&] { return peak(recomputed); });
}
