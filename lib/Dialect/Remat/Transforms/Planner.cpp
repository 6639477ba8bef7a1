//===- Planner.cpp - choose what to recompute under a memory budget -------===//
//
// A plan is a set of forward values to save; every residual outside it is
// recomputed in the backward from what is saved (recomputeBackwardInputs).
// The fixed schedules of the field (PlanSchedules.cpp) give such sets
// directly. The searching strategies work on candidates: the residuals
// grouped by the buffer they alias (a view and its root are freed together
// or not at all), and price each subset by the ops its recomputation
// clones. Peaks are those of the rewritten function under the memory
// analysis, which is what the CPU run allocates.
//
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/Transforms/Planner.h"
#include "PlannerImpl.h"

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <queue>

#define DEBUG_TYPE "remat-rematerialize"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

static const std::pair<PlanStrategy, StringLiteral> kStrategyNames[] = {
    {PlanStrategy::None, "none"},
    {PlanStrategy::Full, "full"},
    {PlanStrategy::EveryN, "every-n"},
    {PlanStrategy::Sqrt, "sqrt"},
    {PlanStrategy::Selective, "selective"},
    {PlanStrategy::MinCut, "mincut"},
    {PlanStrategy::Greedy, "greedy"},
    {PlanStrategy::Optimal, "optimal"},
    {PlanStrategy::Exhaustive, "exhaustive"},
    {PlanStrategy::Auto, "auto"},
};

std::optional<PlanStrategy> mlir::remat::parsePlanStrategy(StringRef name) {
  for (auto [strategy, text] : kStrategyNames)
    if (text == name)
      return strategy;
  return std::nullopt;
}

StringRef mlir::remat::stringifyPlanStrategy(PlanStrategy strategy) {
  for (auto [s, text] : kStrategyNames)
    if (s == strategy)
      return text;
  return "?";
}

std::optional<Budget> mlir::remat::parseBudget(StringRef text,
                                               std::string *error) {
  std::string original = text.str();
  auto fail = [&](const Twine &why) -> std::optional<Budget> {
    if (error)
      *error = ("budget '" + original + "' " + why).str();
    return std::nullopt;
  };
  text = text.trim();
  Budget budget;
  bool percent = text.consume_back("%");
  static const std::pair<StringRef, int64_t> units[] = {
      {"GiB", int64_t(1) << 30},
      {"MiB", int64_t(1) << 20},
      {"KiB", int64_t(1) << 10},
      {"GB", 1000000000},
      {"MB", 1000000},
      {"KB", 1000},
      {"B", 1}};
  int64_t scale = 1;
  if (!percent)
    for (auto [suffix, factor] : units)
      if (text.consume_back(suffix)) {
        scale = factor;
        break;
      }
  double value;
  if (text.trim().getAsDouble(value))
    return fail("is malformed (expected e.g. 512MiB, 6GiB, 4096 or 40%)");
  // (NaN fails every comparison.)
  if (!(value > 0) || !std::isfinite(value))
    return fail("must be a positive, finite size or percentage");
  if (percent) {
    budget.fraction = value / 100.0;
    return budget;
  }
  double bytes = value * static_cast<double>(scale);
  if (!(bytes <= static_cast<double>(kMaxModeledTotalBytes)))
    return fail("is larger than remat plans for (at most " +
                Twine(kMaxModeledTotalBytes >> 60) + " EiB)");
  budget.bytes = static_cast<int64_t>(bytes);
  return budget;
}

int64_t mlir::remat::scaleBytes(double fraction, int64_t bytes) {
  double scaled = fraction * static_cast<double>(bytes);
  // (2^63 is exactly representable; anything at or above it saturates.)
  if (!(scaled < 9223372036854775808.0))
    return std::numeric_limits<int64_t>::max();
  return scaled > 0 ? static_cast<int64_t>(scaled) : 0;
}

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
static FailureOr<int64_t> getBufferizedPeak(ModuleOp module,
                                            func::FuncOp function,
                                            std::string *liveAtPeak,
                                            bool fusePointwise) {
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (failed(parsePassPipeline(
          fusePointwise
              ? "remat-bufferize{deallocate=false fuse-pointwise=true}"
              : "remat-bufferize{deallocate=false}",
          pm, os)))
    return mlir::emitError(function.getLoc(), "remat: the planner's peak model "
                                              "needs the "
                                              "remat-bufferize pipeline: ")
           << errors;
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
  std::string text;
  llvm::raw_string_ostream live(text);
  llvm::interleaveComma(p.liveAtPeak, live, [&](unsigned index) {
    const Buffer &buffer = p.buffers[index];
    live << getLabel(buffer.root) << " (" << buffer.bytes << ")";
  });
  return text;
}

/// A fresh module holding `owned`, a private declaration of every other
/// function of `symbols`, and a copy of its other ops (globals the step
/// reads, for example), so that the function still verifies there.
static OwningOpRef<ModuleOp> wrapInModule(func::FuncOp owned,
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
  if (spent + work > workLimit) {
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

std::pair<OpCost, double> PlanContext::getCost(Operation *op) {
  auto it = opCosts.find(op);
  if (it != opCosts.end())
    return it->second;
  std::pair<OpCost, double> cost;
  if (FailureOr<OpCost> c = getOpCost(op); succeeded(c)) {
    cost.first = *c;
    cost.second = getRooflineSeconds(*c, getComputeElementType(op),
                                     isContraction(op), options.target);
  }
  opCosts[op] = cost;
  return cost;
}

double PlanContext::objective(const OpCost &cost, double seconds) const {
  return options.cost == PlanCost::Time
             ? seconds
             : static_cast<double>(cost.weightedFlops());
}

PlanCostSum PlanContext::closure(Value value, const ValueSet &saved,
                                 llvm::DenseSet<Operation *> &done,
                                 const llvm::DenseSet<Operation *> *already,
                                 SmallVectorImpl<Operation *> *added,
                                 function_ref<void(Value)> onReuse) {
  PlanCostSum sum;
  llvm::DenseSet<Operation *> mine;
  SmallVector<Value> work{value};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *def = v.getDefiningOp();
    if (!def || saved.contains(v) || !canRecomputeIn(def, backward) ||
        (already && already->contains(def)))
      continue;
    if (!done.insert(def).second) {
      if (onReuse && !mine.contains(def))
        onReuse(v);
      continue;
    }
    if (onReuse)
      mine.insert(def);
    if (added)
      added->push_back(def);
    auto [cost, seconds] = getCost(def);
    sum.cost += cost;
    sum.seconds += seconds;
    work.append(getRecomputeInputs(def));
  }
  return sum;
}

SmallVector<Value> PlanContext::droppedInOrder(const ValueSet &saved) const {
  SmallVector<Value> dropped;
  for (Value c : candidates)
    if (!saved.contains(c))
      dropped.push_back(c);
  llvm::stable_sort(dropped, [&](Value a, Value b) {
    return firstUse.lookup(a) < firstUse.lookup(b);
  });
  return dropped;
}

void PlanContext::forEachRecomputed(
    const ValueSet &saved, const ValueSet *duplicated,
    function_ref<void(Value, const PlanCostSum &)> fn,
    SmallVectorImpl<Value> *reused) {
  auto isDuplicated = [&](Operation *def) {
    return duplicated && llvm::any_of(def->getResults(), [&](Value r) {
             return duplicated->contains(r);
           });
  };
  llvm::DenseSet<Operation *> done;
  llvm::DenseSet<Value> reusedSeen;
  auto onReuse = [&](Value u) {
    if (reusedSeen.insert(u).second)
      reused->push_back(u);
  };
  for (Value v : droppedInOrder(saved)) {
    SmallVector<Operation *> mine;
    PlanCostSum sum =
        closure(v, saved, done, /*already=*/nullptr, &mine,
                reused ? function_ref<void(Value)>(onReuse) : nullptr);
    // The rewrite forgets these clones once the residual is recomputed.
    for (Operation *def : mine)
      if (isDuplicated(def))
        done.erase(def);
    fn(v, sum);
  }
}

PlanCostSum PlanContext::cost(const ValueSet &saved,
                              const ValueSet *duplicated) {
  PlanCostSum total;
  forEachRecomputed(saved, duplicated, [&](Value, const PlanCostSum &c) {
    total.cost += c.cost;
    total.seconds += c.seconds;
  });
  return total;
}

ValueSet PlanContext::savedFor(const llvm::BitVector &recomputed) const {
  ValueSet saved(inputs);
  for (unsigned g : recomputed.set_bits())
    for (Value member : groups[g].members)
      saved.erase(member);
  return saved;
}

/// A copy of `function` in which every residual of `backward` outside
/// `saved` is recomputed (the plan applied to the copy).
static OwningOpRef<func::FuncOp>
cloneWithPlan(func::FuncOp function, BackwardOp backward, const ValueSet &saved,
              const ValueSet *duplicated = nullptr,
              llvm::DenseMap<Value, Value> *firstClone = nullptr) {
  IRMapping mapping;
  OwningOpRef<func::FuncOp> copy = function.clone(mapping);
  ValueSet savedCopy, duplicatedCopy;
  for (Value v : saved)
    savedCopy.insert(mapping.lookupOrDefault(v));
  if (duplicated)
    for (Value v : *duplicated)
      duplicatedCopy.insert(mapping.lookupOrDefault(v));
  auto copyBackward = cast<BackwardOp>(mapping.lookup(backward.getOperation()));
  IRRewriter rewriter(function.getContext());
  // The copy's forward values back to the function's.
  llvm::DenseMap<Value, Value> original;
  if (firstClone)
    for (auto [from, to] : mapping.getValueMap())
      original[to] = from;
  recomputeBackwardInputs(
      rewriter, copyBackward, [&](Value v) { return !savedCopy.contains(v); },
      [&](Value v) { return duplicatedCopy.contains(v); },
      [&](Value forward, Value clone) {
        if (firstClone)
          firstClone->try_emplace(original.lookup(forward), clone);
      });
  return copy;
}

FailureOr<int64_t> PlanContext::peak(const ValueSet &saved,
                                     std::string *liveAtPeak,
                                     const ValueSet *duplicated) {
  ++evaluations;
  OwningOpRef<func::FuncOp> copy =
      cloneWithPlan(function, backward, saved, duplicated);
  if (options.peakModel)
    return options.peakModel(*copy);
  MemoryProfile profile = analyzeMemory(*copy, kAllocationAlignment);
  if (liveAtPeak)
    *liveAtPeak = describeLiveAtPeak(profile);
  return profile.peakBytes;
}

FailureOr<int64_t> PlanContext::peak(const llvm::BitVector &recomputed) {
  std::string key;
  key.reserve(recomputed.size());
  for (unsigned i = 0, e = recomputed.size(); i < e; ++i)
    key.push_back(recomputed.test(i) ? '1' : '0');
  auto it = peakCache.find(key);
  if (it != peakCache.end())
    return it->second;
  FailureOr<int64_t> p = peak(savedFor(recomputed));
  if (succeeded(p))
    peakCache[key] = *p;
  return p;
}

/// The bytes of the buffer `value` aliases when it is an activation (not an
/// argument or a constant) that `roots` does not hold yet, which it then
/// does; otherwise 0.
static int64_t newActivationBytes(Value value, llvm::DenseSet<Value> &roots) {
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

FailureOr<int64_t> PlanContext::measure(const ValueSet &saved,
                                        std::string *liveAtPeak) {
  if (options.budgetOn == BudgetOn::Activations)
    return activationBytes(saved);
  return peak(saved, liveAtPeak);
}

FailureOr<int64_t> PlanContext::measure(const llvm::BitVector &recomputed) {
  if (options.budgetOn == BudgetOn::Activations)
    return activationBytes(savedFor(recomputed));
  return peak(recomputed);
}

void PlanContext::computeBound() {
  boundReady = true;
  MemoryProfile profile = analyzeMemory(function, kAllocationAlignment);
  boundTimeline = profile.timeline;
  llvm::DenseMap<Operation *, unsigned> pointOf;
  for (auto [index, op] : llvm::enumerate(profile.points))
    pointOf[op] = index;
  // Values in each buffer, for the uses outside the backward.
  llvm::DenseMap<unsigned, SmallVector<Value>> valuesOf;
  for (auto &[value, buffer] : profile.bufferOf)
    valuesOf[buffer].push_back(value);
  Block *block = backward->getBlock();
  for (Group &group : groups) {
    auto it = profile.bufferOf.find(group.root);
    if (it == profile.bufferOf.end()) {
      heldForBackward.push_back({1, 0}); // Empty range.
      continue;
    }
    const Buffer &buffer = profile.buffers[it->second];
    unsigned lastForward = buffer.start;
    for (Value v : valuesOf[it->second])
      for (Operation *user : v.getUsers()) {
        Operation *ancestor = block->findAncestorOpInBlock(*user);
        if (!ancestor || ancestor == backward.getOperation())
          continue;
        lastForward = std::max(lastForward, pointOf.lookup(ancestor));
      }
    heldForBackward.push_back({lastForward + 1, buffer.end});
  }
}

int64_t PlanContext::lowerBound(const llvm::BitVector &mayRecompute) {
  if (options.budgetOn == BudgetOn::Activations)
    return activationBytes(savedFor(mayRecompute), /*withFrontier=*/false);
  if (!boundReady)
    computeBound();
  SmallVector<int64_t> freed(boundTimeline.size() + 1, 0);
  for (unsigned g : mayRecompute.set_bits()) {
    auto [first, last] = heldForBackward[g];
    if (first > last || first >= boundTimeline.size())
      continue;
    freed[first] += groups[g].bytes;
    freed[std::min<size_t>(last + 1, boundTimeline.size())] -= groups[g].bytes;
  }
  int64_t bound = 0, running = 0;
  for (auto [point, live] : llvm::enumerate(boundTimeline)) {
    running += freed[point];
    bound = std::max(bound, live - running);
  }
  return bound;
}

double PlanContext::objective(const llvm::BitVector &recomputed) {
  PlanCostSum c = cost(savedFor(recomputed));
  return objective(c.cost, c.seconds);
}

//===----------------------------------------------------------------------===//
// Searching strategies
//===----------------------------------------------------------------------===//

namespace {
/// A candidate plan: the groups recomputed, and its figures.
struct Incumbent {
  llvm::BitVector recomputed;
  int64_t peak = 0;
  double cost = 0;
  bool valid = false;
};
} // namespace

/// The greedy order: repeatedly the group with the most bytes per marginal
/// recompute cost, against what is already recomputed (lazy re-scoring: a
/// popped group whose score went stale is re-queued).
static SmallVector<unsigned> rankGroups(PlanContext &ctx) {
  size_t n = ctx.groups.size();
  ValueSet saved(ctx.inputs);
  llvm::DenseSet<Operation *> cloned;
  // The group's marginal cost: its members dropped from `saved` for the
  // walk, ops already cloned for earlier groups not counted again.
  auto score = [&](unsigned g) {
    ArrayRef<Value> members = ctx.groups[g].members;
    for (Value m : members)
      saved.erase(m);
    llvm::DenseSet<Operation *> done;
    OpCost cost;
    double seconds = 0;
    for (Value m : members) {
      PlanCostSum c = ctx.closure(m, saved, done, &cloned);
      cost += c.cost;
      seconds += c.seconds;
    }
    saved.insert(members.begin(), members.end());
    return static_cast<double>(ctx.groups[g].bytes) /
           std::max(ctx.objective(cost, seconds), 1e-30);
  };
  using Entry = std::pair<double, unsigned>;
  std::priority_queue<Entry> queue;
  for (unsigned g = 0; g < n; ++g)
    queue.push({score(g), g});
  SmallVector<unsigned> order;
  while (!queue.empty()) {
    auto [stale, g] = queue.top();
    queue.pop();
    double fresh = score(g);
    if (!queue.empty() && fresh < queue.top().first) {
      queue.push({fresh, g});
      continue;
    }
    order.push_back(g);
    for (Value m : ctx.groups[g].members) {
      saved.erase(m);
      ctx.closure(m, saved, cloned);
    }
  }
  return order;
}

static llvm::BitVector prefixSet(PlanContext &ctx, ArrayRef<unsigned> order,
                                 size_t k) {
  llvm::BitVector set(ctx.groups.size());
  for (size_t i = 0; i < k && i < order.size(); ++i)
    set.set(order[i]);
  return set;
}

/// Greedy: the shortest prefix of the ranking whose peak meets `budget`.
/// Peaks do not fall monotonically along the ranking (a value shared by
/// several residuals is recomputed once, at the first use, and held), so
/// up to 64 groups every prefix is tried in order; beyond, prefixes on a
/// geometric grid, then a binary search between the last one that missed
/// and the first one that met the budget. When none meets it, `lowest` is
/// the lowest peak seen and `lowestPrefix` its length.
static FailureOr<Incumbent> planGreedy(PlanContext &ctx, int64_t budget,
                                       SmallVectorImpl<unsigned> &order,
                                       int64_t &lowest, size_t &lowestPrefix) {
  order = rankGroups(ctx);
  size_t n = order.size();
  Incumbent result;
  lowest = std::numeric_limits<int64_t>::max();
  auto at = [&](size_t k) -> FailureOr<int64_t> {
    FailureOr<int64_t> p = ctx.measure(prefixSet(ctx, order, k));
    if (succeeded(p) && *p < lowest) {
      lowest = *p;
      lowestPrefix = k;
    }
    return p;
  };
  size_t found = 0, missed = 0;
  bool met = false;
  int64_t peakFound = 0;
  for (size_t k = 1; k <= n; k = n <= 64 ? k + 1 : std::max(k + 1, k + k / 2)) {
    FailureOr<int64_t> p = at(k);
    if (failed(p))
      return failure();
    if (*p <= budget) {
      found = k;
      peakFound = *p;
      met = true;
      break;
    }
    missed = k;
    if (n > 64 && k < n && std::max(k + 1, k + k / 2) > n)
      k = n - 1; // The last step tries the whole ranking.
  }
  if (!met)
    return result;
  size_t lo = missed + 1, hi = found;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    FailureOr<int64_t> p = at(mid);
    if (failed(p))
      return failure();
    if (*p <= budget) {
      hi = mid;
      peakFound = *p;
    } else {
      lo = mid + 1;
    }
  }
  result.recomputed = prefixSet(ctx, order, hi);
  result.peak = peakFound;
  result.cost = ctx.objective(result.recomputed);
  result.valid = true;
  return result;
}

/// Tries to keep each recomputed group saved again, latest-ranked first,
/// while the budget still holds and the limits allow.
static LogicalResult pruneGreedy(PlanContext &ctx, int64_t budget,
                                 ArrayRef<unsigned> order, Incumbent &plan) {
  for (unsigned g : llvm::reverse(order)) {
    if (!plan.recomputed.test(g))
      continue;
    if (!ctx.spendEvaluation("pruning the greedy plan"))
      break;
    llvm::BitVector trial = plan.recomputed;
    trial.reset(g);
    FailureOr<int64_t> p = ctx.measure(trial);
    if (failed(p))
      return failure();
    if (*p <= budget) {
      plan.recomputed = trial;
      plan.peak = *p;
      plan.cost = ctx.objective(trial);
    }
  }
  return success();
}

/// Makes `set` (of cost `cost`) the incumbent if its peak meets `budget`;
/// returns whether it does.
static FailureOr<bool> offer(PlanContext &ctx, const llvm::BitVector &set,
                             double cost, int64_t budget, Incumbent &best) {
  FailureOr<int64_t> p = ctx.measure(set);
  if (failed(p))
    return failure();
  if (*p > budget)
    return false;
  best.recomputed = set;
  best.peak = *p;
  best.cost = cost;
  best.valid = true;
  return true;
}

namespace {
/// Branch and bound over the groups, largest first. A node fixes groups
/// [0, i) as recomputed or saved. It is pruned when its recompute cost
/// already reaches the incumbent's (cost only grows with the set), or when
/// the peak's lower bound with every undecided group recomputed misses the
/// budget. A node that meets the budget is a leaf: adding groups only
/// costs more. A node's own peak is evaluated only when the lower bound
/// for its set alone meets the budget.
class ExactSearch {
public:
  ExactSearch(PlanContext &ctx, int64_t budget) : ctx(ctx), budget(budget) {
    order.resize(ctx.groups.size());
    for (unsigned g = 0; g < order.size(); ++g)
      order[g] = g;
    llvm::stable_sort(order, [&](unsigned a, unsigned b) {
      return ctx.groups[a].bytes > ctx.groups[b].bytes;
    });
  }

  LogicalResult run(Incumbent &best) {
    llvm::BitVector set(ctx.groups.size());
    if (failed(visit(0, set, 0.0, best)))
      return failure();
    return success();
  }

  bool complete() const { return !aborted; }

private:
  bool pruneByCost(double cost, const Incumbent &best) const {
    return best.valid && cost >= best.cost * (1 - 1e-12);
  }

  LogicalResult visit(unsigned i, llvm::BitVector &set, double cost,
                      Incumbent &best) {
    if (aborted || pruneByCost(cost, best))
      return success();
    // A node's bounds walk the timeline twice: a 32nd of an evaluation.
    if (!ctx.limits.spend(ctx.evaluationWork() / 32 + 1, "the exact search")) {
      aborted = true;
      return success();
    }
    // The set's own peak is evaluated only when its bound allows it to
    // meet the budget (the bound is cheap, the evaluation is not).
    bool mayMeet = ctx.lowerBound(set) <= budget;
    if (mayMeet && !ctx.spendEvaluation("the exact search")) {
      aborted = true;
      return success();
    }
    FailureOr<bool> met =
        mayMeet ? offer(ctx, set, cost, budget, best) : FailureOr<bool>(false);
    if (failed(met))
      return failure();
    if (*met || i == order.size())
      return success();
    llvm::BitVector all = set;
    for (unsigned j = i; j < order.size(); ++j)
      all.set(order[j]);
    if (ctx.lowerBound(all) > budget)
      return success();
    unsigned g = order[i];
    set.set(g);
    double withCost = ctx.objective(set);
    if (failed(visit(i + 1, set, withCost, best)))
      return failure();
    set.reset(g);
    return visit(i + 1, set, cost, best);
  }

  PlanContext &ctx;
  int64_t budget;
  SmallVector<unsigned> order;
  bool aborted = false;
};
} // namespace

/// Every subset of the groups (for verification; at most
/// kExhaustiveGroupLimit groups).
static FailureOr<Incumbent> planExhaustive(PlanContext &ctx, int64_t budget,
                                           bool &complete) {
  size_t n = ctx.groups.size();
  Incumbent best;
  complete = true;
  for (uint64_t mask = 0; mask < (uint64_t(1) << n); ++mask) {
    // The reference enumeration is not bounded by work, only by the time
    // limit (checked every 1024 subsets).
    if (mask % 1024 == 1023 && !ctx.limits.checkTime("the enumeration")) {
      complete = false;
      break;
    }
    llvm::BitVector set(n);
    for (unsigned g = 0; g < n; ++g)
      if (mask & (uint64_t(1) << g))
        set.set(g);
    double cost = ctx.objective(set);
    if (best.valid && cost >= best.cost)
      continue;
    if (failed(offer(ctx, set, cost, budget, best)))
      return failure();
  }
  return best;
}

//===----------------------------------------------------------------------===//
// Plans and decisions
//===----------------------------------------------------------------------===//

/// The values `plan` recomputes once per residual that needs them.
static ValueSet duplicatedSet(const RematPlan &plan) {
  ValueSet set;
  for (const PlanDuplicate &dup : plan.duplicated)
    set.insert(dup.chain.begin(), dup.chain.end());
  return set;
}

/// Fills `plan`'s decisions and totals for saving `saved`. `reason` explains
/// each residual's fate; `extraReason` each newly saved value's.
static void describePlan(PlanContext &ctx, const ValueSet &saved,
                         RematPlan &plan,
                         function_ref<std::string(Value, bool)> reason) {
  plan.decisions.clear();
  plan.recomputed.clear();
  plan.saved.clear();
  plan.recomputeFlops = 0;
  plan.recomputeSeconds = 0;
  // Recomputed residuals in rewrite order, each with its marginal cost.
  ValueSet duplicated = duplicatedSet(plan);
  ctx.forEachRecomputed(saved, &duplicated, [&](Value v, const PlanCostSum &c) {
    PlanDecision d;
    d.value = v;
    d.label = getLabel(v);
    const Group &group = ctx.groups[ctx.groupOf.lookup(v)];
    d.bytes = group.members.front() == v ? group.bytes : 0;
    d.flops = c.cost.weightedFlops();
    d.seconds = c.seconds;
    d.recompute = true;
    d.reason = reason(v, true);
    plan.recomputeFlops += d.flops;
    plan.recomputeSeconds += d.seconds;
    plan.recomputed.push_back(v);
    plan.decisions.push_back(std::move(d));
  });
  // Saved values: the candidates kept, then forward values newly saved.
  llvm::DenseSet<Value> roots;
  auto addSaved = [&](Value v) {
    plan.saved.push_back(v);
    return newActivationBytes(v, roots);
  };
  auto decideSaved = [&](Value v, std::string why) {
    PlanDecision d;
    d.value = v;
    d.label = getLabel(v);
    d.bytes = addSaved(v);
    d.reason = std::move(why);
    plan.decisions.push_back(std::move(d));
  };
  // Inputs that are not candidates: arguments and constants, and
  // activations that cannot be recomputed, which are explained.
  llvm::DenseSet<Value> seenInputs;
  for (Value v : ctx.backward.getInputs()) {
    if (!saved.contains(v) || ctx.groupOf.count(v) ||
        !seenInputs.insert(v).second)
      continue;
    Operation *rootDef = getViewRoot(v).getDefiningOp();
    if (!rootDef || rootDef->hasTrait<OpTrait::ConstantLike>()) {
      addSaved(v);
      continue;
    }
    decideSaved(v, "the backward reads it and it cannot be recomputed ('" +
                       rootDef->getName().getStringRef().str() +
                       "' may have effects or is outside the step's block)");
  }
  for (Value v : ctx.candidates)
    if (saved.contains(v))
      decideSaved(v, reason(v, false));
  SmallVector<Value> extra;
  for (Value v : saved)
    if (!ctx.inputs.contains(v) && v.getDefiningOp())
      extra.push_back(v);
  llvm::sort(extra, [](Value a, Value b) {
    return a.getDefiningOp()->isBeforeInBlock(b.getDefiningOp()) ||
           (a.getDefiningOp() == b.getDefiningOp() &&
            cast<OpResult>(a).getResultNumber() <
                cast<OpResult>(b).getResultNumber());
  });
  for (Value v : extra) {
    // Only values the recomputation reads become residuals.
    bool read = llvm::any_of(v.getUsers(), [&](Operation *user) {
      return llvm::any_of(user->getResults(), [&](Value r) {
        return !saved.contains(r) && user->getBlock() == v.getParentBlock();
      });
    });
    if (read)
      decideSaved(v, reason(v, false));
  }
  // What the rewrite passes in, as the search measured it.
  plan.activationBytes = ctx.activationBytes(saved);
}

/// Recomputes values shared by several recomputed residuals once for each
/// of them where that lowers the peak of saving `saved` (`peak` now), the
/// largest first (at most 32 tries), until the peak is at most `stopAt`. Each
/// kept value is appended to `plan.duplicated`. Returns the peak reached.
static FailureOr<int64_t> recomputeTwice(PlanContext &ctx,
                                         const ValueSet &saved, int64_t peak,
                                         std::optional<int64_t> stopAt,
                                         RematPlan &plan) {
  constexpr unsigned kMaxTrials = 32;
  plan.duplicated.clear();
  SmallVector<Value> shared;
  ctx.forEachRecomputed(
      saved, nullptr, [](Value, const PlanCostSum &) {}, &shared);
  auto bytesOf = [](Value v) {
    return getStaticSizeInBytes(v.getType()).value_or(0);
  };
  llvm::stable_sort(shared,
                    [&](Value a, Value b) { return bytesOf(a) > bytesOf(b); });
  ValueSet duplicated;
  PlanCostSum before = ctx.cost(saved, &duplicated);
  // A second recompute frees a clone only where it was held for a later
  // residual, so only the clones live at every peak point of the memory
  // analysis are tried.
  OwningOpRef<func::FuncOp> copy;
  llvm::DenseMap<Value, Value> firstClone;
  MemoryProfile profile;
  // The first and last points at the peak.
  unsigned firstPeak = 0, lastPeak = 0;
  auto analyze = [&] {
    firstClone.clear();
    copy = cloneWithPlan(ctx.function, ctx.backward, saved, &duplicated,
                         &firstClone);
    profile = analyzeMemory(*copy, kAllocationAlignment);
    firstPeak = profile.peakPoint;
    for (auto [point, bytes] : llvm::enumerate(profile.timeline))
      if (bytes == profile.peakBytes)
        lastPeak = point;
  };
  auto heldAtPeak = [&](Value v) {
    auto it = profile.bufferOf.find(firstClone.lookup(v));
    if (it == profile.bufferOf.end())
      return false;
    const Buffer &buffer = profile.buffers[it->second];
    return buffer.start <= firstPeak && lastPeak <= buffer.end;
  };
  if (!shared.empty())
    analyze();
  unsigned trials = 0;
  for (Value v : shared) {
    if ((stopAt && peak <= *stopAt) || trials == kMaxTrials)
      break;
    if (!heldAtPeak(v))
      continue;
    // A value is recomputed with the values whose buffer it writes or
    // views: a destination-style op's inits (its result is computed in
    // place, so one init shared by two clones would hold one buffer from
    // the first to the second) and a view's source.
    SmallVector<Value> chain;
    SmallVector<Value> work{v};
    while (!work.empty()) {
      Value u = work.pop_back_val();
      Operation *def = u.getDefiningOp();
      if (!def || saved.contains(u) || duplicated.contains(u) ||
          !canRecomputeIn(def, ctx.backward) || llvm::is_contained(chain, u))
        continue;
      chain.push_back(u);
      if (isViewLike(def))
        work.push_back(def->getOperand(0));
      else if (auto dps = dyn_cast<DestinationStyleOpInterface>(def))
        llvm::append_range(work, dps.getDpsInits());
    }
    if (chain.empty())
      continue;
    // A trial evaluates the plan, and analyzes it again when kept.
    if (!ctx.limits.spend(2 * ctx.evaluationWork(),
                          "recomputing shared values once per residual"))
      break;
    duplicated.insert(chain.begin(), chain.end());
    ++trials;
    FailureOr<int64_t> p = ctx.peak(saved, nullptr, &duplicated);
    if (failed(p))
      return failure();
    if (*p >= peak) {
      for (Value u : chain)
        duplicated.erase(u);
      continue;
    }
    PlanCostSum after = ctx.cost(saved, &duplicated);
    plan.duplicated.push_back(
        {v, chain, getLabel(v), bytesOf(v), peak, *p,
         after.cost.weightedFlops() - before.cost.weightedFlops(),
         after.seconds - before.seconds});
    peak = *p;
    before = after;
    analyze();
  }
  return peak;
}

static std::string costUnit(const PlanOptions &options) {
  return options.cost == PlanCost::Time ? "second" : "FLOP";
}

/// Emits the infeasible-budget error.
static LogicalResult emitInfeasible(PlanContext &ctx, int64_t budget,
                                    int64_t baseline, StringRef strategy,
                                    int64_t reached, StringRef how,
                                    StringRef live) {
  if (ctx.options.budgetOn == BudgetOn::Activations)
    return mlir::emitError(ctx.function.getLoc(),
                           "remat: activation budget of ")
           << budget << " bytes is infeasible: the fewest activation bytes "
           << "the " << strategy << " planner reaches is "
           << std::min(reached, baseline) << " (" << how
           << "; without remat: " << baseline << ")";
  return mlir::emitError(ctx.function.getLoc(), "remat: budget of ")
         << budget << " bytes is infeasible: the lowest peak the " << strategy
         << " planner reaches is " << std::min(reached, baseline) << " bytes ("
         << how << "; without remat: " << baseline
         << " bytes); at that peak live: " << live;
}

/// One search with the search model at `searchBudget` (the user's budget,
/// or a tighter one when an earlier plan missed it on the bufferized
/// program); a percentage is of the search model's baseline.
static FailureOr<RematPlan>
planOnce(func::FuncOp function, BackwardOp backward, const PlanOptions &options,
         std::optional<Budget> searchBudget, bool checkFixed,
         SearchLimits &limits,
         std::optional<int64_t> *lowestReached = nullptr) {
  RematPlan plan;
  plan.strategy = options.strategy;
  PlanContext ctx(function, backward, options, limits);
  FailureOr<int64_t> baseline = ctx.peak(ctx.inputs);
  if (failed(baseline))
    return failure();
  // What the budget bounds, without remat: the peak or the activations.
  bool onPeak = options.budgetOn == BudgetOn::Peak;
  int64_t unplanned = onPeak ? *baseline : ctx.activationBytes(ctx.inputs);
  plan.budgetOn = options.budgetOn;
  plan.baselinePeak = plan.predictedPeak = *baseline;
  plan.budgetBytes = unplanned;
  if (searchBudget && searchBudget->bytes)
    plan.budgetBytes = *searchBudget->bytes;
  else if (searchBudget)
    plan.budgetBytes = scaleBytes(*searchBudget->fraction, unplanned);
  int64_t budget = plan.budgetBytes;
  // `measured` is what the budget bounds, for `saved`. Shared values are
  // recomputed twice as options.recomputeTwice says (already done, into
  // plan.duplicated, when `twiceDone`).
  auto finish = [&](const ValueSet &saved, int64_t measured,
                    function_ref<std::string(Value, bool)> reason,
                    bool twiceDone = false) -> FailureOr<RematPlan> {
    FailureOr<int64_t> peak = onPeak ? measured : ctx.peak(saved);
    if (failed(peak))
      return failure();
    // (Within the work limit: auto at scale spends it on the search.)
    if (!twiceDone && options.recomputeTwice == RecomputeTwice::Peak)
      peak = recomputeTwice(ctx, saved, *peak, std::nullopt, plan);
    if (failed(peak))
      return failure();
    plan.predictedPeak = *peak;
    plan.candidates = ctx.candidates.size();
    describePlan(ctx, saved, plan, reason);
    plan.evaluations = ctx.evaluations;
    plan.planSeconds = limits.elapsed();
    return plan;
  };
  auto keepAll = [&](StringRef why) {
    return finish(ctx.inputs, *baseline,
                  [&](Value, bool) { return why.str(); });
  };

  PlanStrategy strategy = options.strategy;
  // The fixed schedules (and none): their plan, whatever the budget; a
  // budget is only checked.
  if (strategy == PlanStrategy::None || isFixedSchedule(strategy)) {
    std::string error;
    FailureOr<Schedule> schedule =
        strategy == PlanStrategy::None
            ? FailureOr<Schedule>(
                  Schedule{ctx.inputs,
                           [](Value, bool) {
                             return std::string(
                                 "strategy none keeps autograd's saved set");
                           }})
            : buildSchedule(ctx, strategy, error);
    if (failed(schedule))
      return mlir::emitError(function.getLoc(), error);
    std::string live;
    FailureOr<int64_t> p = ctx.measure(schedule->saved, &live);
    if (failed(p))
      return failure();
    // (Activation bytes do not depend on the peak model: checked now.)
    bool overBudget = (checkFixed || !onPeak) && searchBudget && *p > budget;
    if (overBudget && onPeak &&
        options.recomputeTwice != RecomputeTwice::Never) {
      FailureOr<int64_t> twice =
          recomputeTwice(ctx, schedule->saved, *p, budget, plan);
      if (failed(twice))
        return failure();
      if (*twice <= budget)
        return finish(schedule->saved, *twice, schedule->reason,
                      /*twiceDone=*/true);
      ValueSet duplicated = duplicatedSet(plan);
      p = ctx.peak(schedule->saved, &live, &duplicated);
      if (failed(p))
        return failure();
    }
    if (overBudget) {
      InFlightDiagnostic diag =
          mlir::emitError(function.getLoc(), "remat: budget of ");
      diag << budget << " bytes is infeasible for strategy "
           << stringifyPlanStrategy(strategy);
      if (onPeak)
        diag << ": its plan peaks at " << *p
             << " bytes (without remat: " << *baseline
             << " bytes); at that peak live: " << live;
      else
        diag << ": its plan saves " << *p
             << " activation bytes (without remat: " << unplanned << ")";
      return diag;
    }
    return finish(schedule->saved, *p, schedule->reason);
  }

  // The searching strategies.
  if (budget >= unplanned)
    return keepAll("the peak without remat already meets the budget");
  if (strategy == PlanStrategy::Exhaustive &&
      ctx.groups.size() > kExhaustiveGroupLimit)
    return mlir::emitError(function.getLoc(),
                           "remat: strategy exhaustive enumerates at most ")
           << kExhaustiveGroupLimit << " candidate groups, found "
           << ctx.groups.size();

  SmallVector<unsigned> order;
  llvm::DenseMap<unsigned, unsigned> rank;
  Incumbent best;
  std::string source;
  // Set when auto chose a fixed schedule.
  std::optional<Schedule> bestSchedule;
  PlanStrategy bestScheduleKind = PlanStrategy::None;
  // The lowest peak seen, for the infeasible-budget error.
  int64_t lowest = std::numeric_limits<int64_t>::max();
  ValueSet lowestSaved;
  std::string lowestHow;
  if (strategy != PlanStrategy::Exhaustive) {
    int64_t greedyLowest = 0;
    size_t lowestPrefix = 0;
    FailureOr<Incumbent> greedy =
        planGreedy(ctx, budget, order, greedyLowest, lowestPrefix);
    if (failed(greedy))
      return failure();
    for (auto [i, g] : llvm::enumerate(order))
      rank[g] = i + 1;
    lowest = greedyLowest;
    lowestSaved = ctx.savedFor(prefixSet(ctx, order, lowestPrefix));
    lowestHow = "recomputing the first " + std::to_string(lowestPrefix) +
                " of " + std::to_string(order.size()) +
                " residual groups of the greedy ranking";
    if (greedy->valid) {
      best = *greedy;
      source = "greedy";
    }
  }
  if ((strategy == PlanStrategy::Auto || strategy == PlanStrategy::Optimal) &&
      best.valid && failed(pruneGreedy(ctx, budget, order, best)))
    return failure();
  // Auto: the fixed schedules that meet the budget are incumbents too.
  if (strategy == PlanStrategy::Auto) {
    for (PlanStrategy s : {PlanStrategy::Selective, PlanStrategy::MinCut,
                           PlanStrategy::Full, PlanStrategy::Sqrt}) {
      std::string error;
      FailureOr<Schedule> schedule = buildSchedule(ctx, s, error);
      if (failed(schedule))
        continue; // Not applicable to this function.
      FailureOr<int64_t> p = ctx.measure(schedule->saved);
      if (failed(p))
        return failure();
      if (*p < lowest) {
        lowest = *p;
        lowestSaved = schedule->saved;
        lowestHow = "with the " + stringifyPlanStrategy(s).str() + " schedule";
      }
      PlanCostSum c = ctx.cost(schedule->saved);
      double cost = ctx.objective(c.cost, c.seconds);
      if (*p <= budget && (!best.valid || cost < best.cost * (1 - 1e-12))) {
        bestSchedule = std::move(*schedule);
        bestScheduleKind = s;
        best.peak = *p;
        best.cost = cost;
        best.valid = true;
        source = stringifyPlanStrategy(s).str();
      }
    }
  }
  if (strategy == PlanStrategy::Auto &&
      ctx.groups.size() > options.exactCandidateLimit) {
    plan.searchComplete = false;
    plan.searchNote =
        "auto ran no exact search: " + std::to_string(ctx.groups.size()) +
        " candidate groups, above exact-limit=" +
        std::to_string(options.exactCandidateLimit);
  }
  if (strategy == PlanStrategy::Optimal ||
      (strategy == PlanStrategy::Auto &&
       ctx.groups.size() <= options.exactCandidateLimit)) {
    Incumbent exact = best;
    ExactSearch search(ctx, budget);
    if (failed(search.run(exact)))
      return failure();
    if (exact.valid && (!best.valid || exact.cost < best.cost * (1 - 1e-12))) {
      best = exact;
      bestSchedule.reset();
      source = "exact search";
    }
    plan.provenOptimal = search.complete() && best.valid;
  }
  if (strategy == PlanStrategy::Exhaustive) {
    bool complete = true;
    FailureOr<Incumbent> exhaustive = planExhaustive(ctx, budget, complete);
    if (failed(exhaustive))
      return failure();
    if (exhaustive->valid) {
      best = *exhaustive;
      source = "exhaustive";
      plan.provenOptimal = complete;
    } else {
      llvm::BitVector all(ctx.groups.size(), true);
      lowestSaved = ctx.savedFor(all);
      lowestHow = "recomputing all " + std::to_string(ctx.groups.size()) +
                  " residual groups; no subset meets the budget";
    }
  }
  if (!best.valid) {
    std::string live;
    FailureOr<int64_t> p = ctx.measure(lowestSaved, &live);
    if (failed(p))
      return failure();
    // The lowest-peak plan, or recomputing everything, may meet the budget
    // with shared values recomputed once per residual.
    if (onPeak && options.recomputeTwice != RecomputeTwice::Never) {
      std::string prefix = strategy == PlanStrategy::Auto ? "auto: " : "";
      std::pair<ValueSet, std::string> bases[] = {
          {lowestSaved, lowestHow},
          {ctx.savedFor(llvm::BitVector(ctx.groups.size(), true)),
           "recomputing all " + std::to_string(ctx.groups.size()) +
               " residual groups"}};
      // The base with the lowest peak reached, and its second recomputes.
      std::optional<std::pair<unsigned, int64_t>> lowestTwice;
      SmallVector<PlanDuplicate> lowestDuplicated;
      for (auto [i, base] : llvm::enumerate(bases)) {
        FailureOr<int64_t> p0 = ctx.peak(base.first);
        if (failed(p0))
          return failure();
        FailureOr<int64_t> twice =
            recomputeTwice(ctx, base.first, *p0, budget, plan);
        if (failed(twice))
          return failure();
        std::string how = base.second;
        if (*twice <= budget)
          return finish(
              base.first, *twice,
              [&](Value, bool recompute) {
                return prefix + (recompute ? "recomputed" : "saved") +
                       " in the plan " + how +
                       ", which meets the budget only with shared values "
                       "recomputed once per residual";
              },
              /*twiceDone=*/true);
        if (!plan.duplicated.empty() && *twice < *p &&
            (!lowestTwice || *twice < lowestTwice->second)) {
          lowestTwice = {static_cast<unsigned>(i), *twice};
          lowestDuplicated = plan.duplicated;
        }
      }
      if (lowestTwice) {
        auto &[base, how] = bases[lowestTwice->first];
        plan.duplicated = std::move(lowestDuplicated);
        ValueSet duplicated = duplicatedSet(plan);
        p = ctx.peak(base, &live, &duplicated);
        if (failed(p))
          return failure();
        lowestHow = how + ", with " + std::to_string(plan.duplicated.size()) +
                    " shared values recomputed once per residual";
      }
    }
    if (lowestReached)
      *lowestReached = std::min(*p, unplanned);
    return emitInfeasible(ctx, budget, unplanned,
                          stringifyPlanStrategy(strategy), *p, lowestHow, live);
  }

  std::string unit = costUnit(options);
  if (bestSchedule) {
    plan.strategy = bestScheduleKind;
    return finish(bestSchedule->saved, best.peak, [&](Value v, bool recompute) {
      return "auto: the " + source +
             " schedule is the cheapest plan found that meets the budget; " +
             bestSchedule->reason(v, recompute);
    });
  }
  if (strategy == PlanStrategy::Auto)
    plan.strategy =
        source == "greedy" ? PlanStrategy::Greedy : PlanStrategy::Optimal;
  ValueSet saved = ctx.savedFor(best.recomputed);
  std::string prefix = strategy == PlanStrategy::Auto ? "auto: " : "";
  return finish(saved, best.peak, [&](Value v, bool recompute) {
    unsigned g = ctx.groupOf.lookup(v);
    if (source == "greedy" && !plan.provenOptimal) {
      if (recompute)
        return prefix + "rank " + std::to_string(rank.lookup(g)) +
               " by bytes per recompute " + unit + " among the saved residuals";
      if (rank.lookup(g) == 0)
        return prefix + "frees no bytes";
      return prefix + "rank " + std::to_string(rank.lookup(g)) +
             ": the budget is met without it";
    }
    std::string what =
        plan.provenOptimal
            ? " of the least-cost plan meeting the budget (proven: the "
              "branch and bound completed)"
            : " of the least-cost plan found before a limit cut the search";
    if (source == "exhaustive")
      what = plan.provenOptimal ? " of the least-cost plan meeting the budget "
                                  "(every subset tried)"
                                : " of the least-cost plan among the subsets "
                                  "enumerated before the time limit";
    if (source == "greedy")
      what += "; the greedy ranking found it first (rank " +
              std::to_string(rank.lookup(g)) + ")";
    return prefix + (recompute ? "recomputed as part" : "saved as part") + what;
  });
}

/// The bufferized peak of `function` with `plan` applied. (`plan.saved`
/// holds every backward input it keeps.)
static FailureOr<int64_t> verifyPlan(func::FuncOp function, BackwardOp backward,
                                     const RematPlan &plan, bool fusePointwise,
                                     std::string *live = nullptr) {
  ValueSet saved(plan.saved.begin(), plan.saved.end());
  ValueSet duplicated = duplicatedSet(plan);
  OwningOpRef<func::FuncOp> copy =
      cloneWithPlan(function, backward, saved, &duplicated);
  func::FuncOp owned = copy.release();
  OwningOpRef<ModuleOp> module = wrapInModule(owned, function->getParentOp());
  return getBufferizedPeak(*module, owned, live, fusePointwise);
}

/// The error of a search that found nothing: no single search's error, but
/// the first of `held` (the user's search) with a note on what was checked.
static void emitHeld(MLIRContext *context, SmallVectorImpl<Diagnostic> &held,
                     std::optional<int64_t> lowestVerified,
                     StringRef lowestVerifiedBy, const SearchLimits &limits) {
  if (held.empty())
    return;
  if (lowestVerified)
    held.front().attachNote()
        << "on the bufferized program, the lowest peak of the plans checked "
           "is "
        << *lowestVerified << " bytes (" << lowestVerifiedBy << ")";
  if (limits.wasCut())
    held.front().attachNote() << limits.cutNote();
  for (Diagnostic &d : held)
    context->getDiagEngine().emit(std::move(d));
}

FailureOr<RematPlan>
mlir::remat::planRematerialization(func::FuncOp function,
                                   const PlanOptions &options) {
  BackwardOp backward;
  unsigned count = 0;
  function.walk([&](BackwardOp op) {
    backward = op;
    ++count;
  });
  if (!backward)
    return RematPlan();
  if (count > 1)
    return mlir::emitError(function.getLoc(),
                           "remat: the planner handles one remat.backward "
                           "per function, found ")
           << count;
  if (failed(checkModeledSizes(function)))
    return failure();
  MLIRContext *context = function.getContext();
  SearchLimits limits(options.workLimit, options.timeLimit);
  uint64_t opCount = 0;
  function.walk([&](Operation *) { ++opCount; });
  const uint64_t bufferizedWork = kBufferizedWorkFactor * opCount;
  // The search's own figures, once a plan is chosen.
  auto done = [&](FailureOr<RematPlan> plan) -> FailureOr<RematPlan> {
    if (failed(plan))
      return plan;
    plan->planSeconds = limits.elapsed();
    plan->work = limits.getSpent();
    if (limits.wasCut()) {
      plan->searchComplete = false;
      plan->searchNote +=
          (plan->searchNote.empty() ? "" : "; ") + limits.cutNote();
    }
    return plan;
  };
  if (!options.verify || options.peakModel)
    return done(
        planOnce(function, backward, options, options.budget, true, limits));
  // The search runs on the memory analysis of the rewritten function; the
  // plan's peak comes from the bufferized program. (The baseline, and so a
  // percentage budget, is the analysis's: bufferizing the unplanned step as
  // well would double the check's cost. The two can differ by a few percent
  // on small steps, which matters only near the baseline; see below.)
  std::optional<Budget> searchBudget = options.budget;
  std::optional<int64_t> budget;
  unsigned evaluations = 0;
  bool fixed = options.strategy == PlanStrategy::None ||
               isFixedSchedule(options.strategy);
  // Near the model's baseline, where its error matters, a budget the model
  // says needs recomputation may already be met without it: then nothing is
  // recomputed.
  if (options.budget && options.budget->bytes &&
      options.budgetOn == BudgetOn::Peak && !fixed) {
    int64_t bytes = *options.budget->bytes;
    // The model's baseline: the unplanned function, analyzed in place.
    int64_t modelBaseline =
        analyzeMemory(function, kAllocationAlignment).peakBytes;
    if (modelBaseline > bytes && bytes >= modelBaseline - modelBaseline / 10) {
      PlanOptions keep = options;
      keep.strategy = PlanStrategy::None;
      FailureOr<RematPlan> none =
          planOnce(function, backward, keep, std::nullopt, false, limits);
      if (failed(none))
        return failure();
      FailureOr<int64_t> verified =
          verifyPlan(function, backward, *none, options.fusePointwise);
      if (failed(verified))
        return failure();
      if (*verified <= bytes) {
        none->baselinePeak = none->predictedPeak = *verified;
        none->budgetBytes = bytes;
        none->evaluations += 1;
        for (PlanDecision &d : none->decisions)
          d.reason = "the bufferized peak without remat already meets the "
                     "budget";
        return done(none);
      }
      ++evaluations;
    }
  }
  // The search model can be optimistic (a plan then misses the budget on
  // the bufferized program: the search runs again under a tighter budget)
  // or pessimistic (a budget it finds infeasible may be met there).
  constexpr unsigned kAttempts = 4;
  for (unsigned attempt = 0; attempt < kAttempts; ++attempt) {
    // (A search again is optional work.)
    if (attempt > 0 &&
        !limits.spend(bufferizedWork,
                      "searching again after a plan missed the budget on "
                      "the bufferized program"))
      break;
    // The search's error is held back until plans from the model's lowest
    // peak up have been checked on the bufferized program. `checked`: the
    // bufferized peak of a plan that check found.
    std::optional<int64_t> lowest, lowestVerified, checked;
    std::string lowestVerifiedBy;
    SmallVector<Diagnostic> held;
    FailureOr<RematPlan> plan = failure();
    {
      ScopedDiagnosticHandler hold(context, [&](Diagnostic &d) {
        held.push_back(std::move(d));
        return success();
      });
      plan = planOnce(function, backward, options, searchBudget, false, limits,
                      &lowest);
    }
    if (failed(plan) && lowest && options.budgetOn == BudgetOn::Peak) {
      // The user's budget, in bytes (a fraction is of the baseline).
      auto userBudget = [&](const RematPlan &p) -> int64_t {
        return budget ? *budget
               : options.budget->bytes
                   ? *options.budget->bytes
                   : scaleBytes(*options.budget->fraction, p.baselinePeak);
      };
      auto costOf = [&](const RematPlan &p) {
        return options.cost == PlanCost::Flops
                   ? static_cast<double>(p.recomputeFlops)
                   : p.recomputeSeconds;
      };
      // Plans the checks search for: their failures are this search's
      // (held above), not errors of their own.
      auto quietly = [&](const PlanOptions &o, std::optional<Budget> b) {
        ScopedDiagnosticHandler quiet(context,
                                      [](Diagnostic &) { return success(); });
        return planOnce(function, backward, o, b, false, limits);
      };
      // Checks `candidate` on the bufferized program (optional work); it
      // becomes the plan if it meets the budget (and, with `cheaper`, costs
      // less). Fails only when the bufferized program cannot be built.
      bool stopped = false;
      auto consider = [&](FailureOr<RematPlan> candidate, bool cheaper,
                          StringRef label) -> LogicalResult {
        if (failed(candidate))
          return success();
        FailureOr<int64_t> verified =
            verifyPlan(function, backward, *candidate, options.fusePointwise);
        if (failed(verified))
          return failure();
        ++evaluations;
        if (!lowestVerified || *verified < *lowestVerified) {
          lowestVerified = *verified;
          lowestVerifiedBy = label.str();
        }
        if (*verified > userBudget(*candidate) ||
            (cheaper && succeeded(plan) && costOf(*candidate) >= costOf(*plan)))
          return success();
        candidate->budgetBytes = userBudget(*candidate);
        plan = candidate;
        checked = *verified;
        return success();
      };
      auto mayCheck = [&] {
        stopped =
            stopped || !limits.spend(bufferizedWork,
                                     "checking plans below the search model's "
                                     "lowest peak on the bufferized program");
        return !stopped;
      };
      // The two peaks do not move together plan by plan, so several plans
      // between the model's lowest peak and no remat are checked, cheapest
      // (highest search budget) first.
      constexpr int kSteps = 6;
      FailureOr<RematPlan> lowestPlan =
          quietly(options, Budget{*lowest, std::nullopt});
      for (int k = kSteps - 1;
           k >= 0 && failed(plan) && succeeded(lowestPlan) && mayCheck(); --k) {
        // (The model's baseline bounds every search budget from above.)
        int64_t at =
            *lowest + (lowestPlan->baselinePeak - *lowest) * k / kSteps;
        std::string label =
            "the " + stringifyPlanStrategy(options.strategy).str() +
            " plan at a search budget of " + std::to_string(at) + " bytes";
        if (failed(consider(k == 0 ? lowestPlan
                                   : quietly(options, Budget{at, std::nullopt}),
                            false, label)))
          return failure();
      }
      // auto also checks the field's schedules there, so that none of them
      // beats it at its own peak. (Those that do not apply to this step are
      // skipped.)
      if (failed(plan) && options.strategy == PlanStrategy::Auto) {
        for (PlanStrategy kind :
             {PlanStrategy::Selective, PlanStrategy::MinCut,
              PlanStrategy::EveryN, PlanStrategy::Sqrt, PlanStrategy::Full}) {
          PlanOptions schedule = options;
          schedule.strategy = kind;
          if (!mayCheck())
            break;
          if (failed(consider(quietly(schedule, std::nullopt), true,
                              "the " + stringifyPlanStrategy(kind).str() +
                                  " schedule")))
            return failure();
        }
      }
    }
    if (failed(plan)) {
      emitHeld(context, held, lowestVerified, lowestVerifiedBy, limits);
      return failure();
    }
    if (!budget && options.budget)
      budget = plan->budgetBytes;
    evaluations += plan->evaluations;
    plan->evaluations = evaluations;
    if (budget)
      plan->budgetBytes = *budget;
    // (A plan the fallback found is checked already, and meets the budget:
    // `live` is only read when a plan misses it.)
    std::string live;
    FailureOr<int64_t> verified =
        checked ? FailureOr<int64_t>(*checked)
                : verifyPlan(function, backward, *plan, options.fusePointwise,
                             &live);
    if (failed(verified))
      return failure();
    if (!checked) {
      ++plan->evaluations;
      ++evaluations;
    }
    plan->predictedPeak = *verified;
    // (A budget on activations is met by the search itself.)
    if (!budget || options.budgetOn == BudgetOn::Activations ||
        *verified <= *budget)
      return done(plan);
    if (fixed)
      return mlir::emitError(function.getLoc(), "remat: budget of ")
             << *budget << " bytes is infeasible for strategy "
             << stringifyPlanStrategy(options.strategy)
             << ": its plan peaks at " << *verified
             << " bytes (without remat: " << plan->baselinePeak
             << " bytes); at that peak live: " << live;
    // The search model was optimistic: search again below the budget by
    // what the plan missed it by.
    int64_t tighter =
        (searchBudget && searchBudget->bytes ? *searchBudget->bytes : *budget) -
        std::max<int64_t>(*verified - *budget, 64);
    searchBudget = Budget{tighter, std::nullopt};
  }
  InFlightDiagnostic diag =
      mlir::emitError(function.getLoc(), "remat: budget of ");
  diag << *budget << " bytes: every plan the search found peaks above it "
       << "on the bufferized program (each search again under a tighter "
       << "budget for the search model)";
  if (limits.wasCut())
    diag.attachNote() << limits.cutNote();
  return diag;
}

void mlir::remat::applyRematPlan(RewriterBase &rewriter, func::FuncOp function,
                                 const RematPlan &plan) {
  if (plan.recomputed.empty())
    return;
  llvm::DenseSet<Value> saved(plan.saved.begin(), plan.saved.end());
  llvm::DenseSet<Value> recomputed(plan.recomputed.begin(),
                                   plan.recomputed.end());
  ValueSet duplicated = duplicatedSet(plan);
  function.walk([&](BackwardOp backward) {
    // Non-candidate operands (arguments, constants, effects) stay saved.
    for (Value input : backward.getInputs())
      if (!recomputed.contains(input))
        saved.insert(input);
    recomputeBackwardInputs(
        rewriter, backward, [&](Value v) { return !saved.contains(v); },
        [&](Value v) { return duplicated.contains(v); });
  });
}
