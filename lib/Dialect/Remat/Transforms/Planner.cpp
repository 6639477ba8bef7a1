//===- Planner.cpp - choose what to recompute under a memory budget -------===//
//
// The greedy planner: residuals are ranked by bytes freed per recompute
// second (or FLOP); the shortest prefix of that order whose predicted peak
// meets the budget is recomputed. Peaks are predicted on the bufferized
// program, which is what the CPU run allocates.
//
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/Transforms/Planner.h"
#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/raw_ostream.h"

#define DEBUG_TYPE "remat-rematerialize"

using namespace mlir;
using namespace mlir::remat;

std::optional<Budget> mlir::remat::parseBudget(StringRef text) {
  text = text.trim();
  Budget budget;
  if (text.consume_back("%")) {
    double percent;
    if (text.trim().getAsDouble(percent) || percent <= 0)
      return std::nullopt;
    budget.fraction = percent / 100.0;
    return budget;
  }
  static const std::pair<StringRef, int64_t> units[] = {
      {"GiB", int64_t(1) << 30},
      {"MiB", int64_t(1) << 20},
      {"KiB", int64_t(1) << 10},
      {"GB", 1000000000},
      {"MB", 1000000},
      {"KB", 1000},
      {"B", 1}};
  int64_t scale = 1;
  for (auto [suffix, factor] : units)
    if (text.consume_back(suffix)) {
      scale = factor;
      break;
    }
  double value;
  if (text.trim().getAsDouble(value) || value <= 0)
    return std::nullopt;
  budget.bytes = static_cast<int64_t>(value * static_cast<double>(scale));
  return budget;
}

/// Returns the label of a forward value: its remat.name tag, else its name
/// location, else its op name.
static std::string getLabel(Value value) {
  if (auto name = value.getDefiningOp<NameOp>())
    return name.getTag().str();
  if (auto loc = dyn_cast<NameLoc>(value.getLoc()))
    return loc.getName().str();
  if (Operation *def = value.getDefiningOp())
    return def->getName().getStringRef().str();
  return "argument";
}

static bool isViewLike(Operation *op) {
  return isa<NameOp, tensor::CollapseShapeOp, tensor::ExpandShapeOp,
             tensor::ExtractSliceOp, tensor::CastOp>(op);
}

/// The value whose buffer `value` aliases (through view-like ops).
static Value getViewRoot(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (!isViewLike(def))
      break;
    value = def->getOperand(0);
  }
  return value;
}

/// Bufferizes `module` in place (it holds `function`) and returns the peak
/// of `function` under the memory analysis.
static FailureOr<int64_t> getBufferizedPeak(ModuleOp module,
                                            func::FuncOp function,
                                            std::string *liveAtPeak) {
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (failed(parsePassPipeline("remat-bufferize", pm, os)))
    return function.emitError("the planner's peak model needs the "
                              "remat-bufferize pipeline: ")
           << errors;
  if (failed(pm.run(module)))
    return failure();
  // Bufferization rewrites the function op in place.
  auto bufferized = module.lookupSymbol<func::FuncOp>(function.getSymName());
  if (!bufferized)
    return failure();
  MemoryProfile profile = analyzeMemory(bufferized);
  if (liveAtPeak) {
    llvm::raw_string_ostream live(*liveAtPeak);
    llvm::interleaveComma(profile.liveAtPeak, live, [&](unsigned index) {
      const Buffer &buffer = profile.buffers[index];
      live << getLabel(buffer.root) << " (" << buffer.bytes << ")";
    });
  }
  return profile.peakBytes;
}

FailureOr<int64_t> mlir::remat::predictBufferizedPeak(func::FuncOp function,
                                                      std::string *liveAtPeak) {
  OwningOpRef<ModuleOp> module = ModuleOp::create(function.getLoc());
  func::FuncOp copy = function.clone();
  module->push_back(copy);
  return getBufferizedPeak(*module, copy, liveAtPeak);
}

namespace {
/// One candidate residual of the backward.
struct Residual {
  Value value;
  int64_t bytes = 0;
};

/// Ranks residuals and evaluates prefixes of the ranking.
class GreedyPlanner {
public:
  GreedyPlanner(func::FuncOp function, BackwardOp backward,
                const PlanOptions &options)
      : function(function), backward(backward), options(options) {}

  void collect() {
    llvm::DenseSet<Value> seen;
    for (Value input : backward.getInputs()) {
      Operation *def = input.getDefiningOp();
      if (!def || !canRecomputeIn(def, backward) ||
          def->hasTrait<OpTrait::ConstantLike>() || !seen.insert(input).second)
        continue;
      residuals.push_back(
          {input, getStaticSizeInBytes(input.getType()).value_or(0)});
    }
    // A view frees nothing while its root buffer is saved too.
    llvm::DenseSet<Value> roots;
    for (Residual &r : residuals)
      if (getViewRoot(r.value) == r.value)
        roots.insert(r.value);
    for (Residual &r : residuals)
      if (getViewRoot(r.value) != r.value &&
          roots.contains(getViewRoot(r.value)))
        r.bytes = 0;
  }

  /// The order in which residuals are recomputed: repeatedly the one with
  /// the most bytes per marginal recompute cost.
  void rank() {
    llvm::DenseSet<Value> saved;
    for (Residual &r : residuals)
      saved.insert(r.value);
    llvm::DenseSet<Operation *> cloned;
    SmallVector<bool> taken(residuals.size(), false);
    for (size_t step = 0; step < residuals.size(); ++step) {
      int best = -1;
      double bestScore = -1;
      Closure bestClosure;
      for (auto [index, r] : llvm::enumerate(residuals)) {
        if (taken[index])
          continue;
        saved.erase(r.value);
        Closure c = closure(r.value, saved, cloned);
        saved.insert(r.value);
        double denominator = options.cost == PlanCost::Time
                                 ? c.seconds
                                 : static_cast<double>(c.cost.weightedFlops());
        double score =
            static_cast<double>(r.bytes) / std::max(denominator, 1e-30);
        if (score > bestScore) {
          best = static_cast<int>(index);
          bestScore = score;
          bestClosure = std::move(c);
        }
      }
      taken[best] = true;
      saved.erase(residuals[best].value);
      cloned.insert(bestClosure.ops.begin(), bestClosure.ops.end());
      order.push_back(
          {static_cast<unsigned>(best), bestClosure.cost, bestClosure.seconds});
    }
  }

  /// The peak with the first `k` residuals of the order recomputed.
  FailureOr<int64_t> evaluate(size_t k, std::string *liveAtPeak = nullptr) {
    IRMapping mapping;
    OwningOpRef<func::FuncOp> copy = function.clone(mapping);
    llvm::DenseSet<Value> recomputed;
    for (size_t i = 0; i < k && i < order.size(); ++i)
      recomputed.insert(residuals[order[i].index].value);
    llvm::DenseSet<Value> saved;
    for (Value input : backward.getInputs())
      if (!recomputed.contains(input))
        saved.insert(mapping.lookup(input));
    BackwardOp copyBackward;
    copy->walk([&](BackwardOp op) { copyBackward = op; });
    IRRewriter rewriter(function.getContext());
    recomputeBackwardInputs(rewriter, copyBackward,
                            [&](Value v) { return !saved.contains(v); });
    if (options.peakModel)
      return options.peakModel(*copy);
    OwningOpRef<ModuleOp> module = ModuleOp::create(function.getLoc());
    func::FuncOp owned = copy.release();
    module->push_back(owned);
    return getBufferizedPeak(*module, owned, liveAtPeak);
  }

  struct Step {
    unsigned index;
    OpCost cost;
    double seconds;
  };

  func::FuncOp function;
  BackwardOp backward;
  const PlanOptions &options;
  SmallVector<Residual> residuals;
  SmallVector<Step> order;

private:
  /// The ops that recompute a value beyond those already recomputed, and
  /// their cost.
  struct Closure {
    SmallVector<Operation *> ops;
    OpCost cost;
    double seconds = 0;
  };

  /// The ops recomputing `value` from `saved` values and arguments, except
  /// those in `done`, as the rewrite would clone them.
  Closure closure(Value value, const llvm::DenseSet<Value> &saved,
                  const llvm::DenseSet<Operation *> &done) {
    Closure result;
    llvm::DenseSet<Operation *> visited;
    SmallVector<Value> work{value};
    while (!work.empty()) {
      Value v = work.pop_back_val();
      Operation *def = v.getDefiningOp();
      if (!def || saved.contains(v) || !canRecomputeIn(def, backward) ||
          done.contains(def) || !visited.insert(def).second)
        continue;
      result.ops.push_back(def);
      if (FailureOr<OpCost> c = getOpCost(def); succeeded(c)) {
        result.cost += *c;
        result.seconds += getRooflineSeconds(
            *c, getComputeElementType(def), isContraction(def), options.target);
      }
      work.append(getRecomputeInputs(def));
    }
    return result;
  }
};
} // namespace

FailureOr<RematPlan>
mlir::remat::planRematerialization(func::FuncOp function,
                                   const PlanOptions &options) {
  RematPlan plan;
  BackwardOp backward;
  unsigned count = 0;
  function.walk([&](BackwardOp op) {
    backward = op;
    ++count;
  });
  if (!backward)
    return plan;
  if (count > 1)
    return function.emitError("the planner handles one remat.backward per "
                              "function, found ")
           << count;

  GreedyPlanner planner(function, backward, options);
  planner.collect();
  FailureOr<int64_t> baseline = planner.evaluate(0);
  if (failed(baseline))
    return failure();
  plan.baselinePeak = plan.predictedPeak = *baseline;
  plan.budgetBytes = *baseline;
  if (options.budget) {
    if (options.budget->bytes)
      plan.budgetBytes = *options.budget->bytes;
    else
      plan.budgetBytes = static_cast<int64_t>(*options.budget->fraction *
                                              static_cast<double>(*baseline));
  }

  size_t k = 0;
  std::string reason;
  if (options.strategy == PlanStrategy::Greedy &&
      plan.budgetBytes < *baseline) {
    planner.rank();
    size_t n = planner.order.size();
    std::string live;
    FailureOr<int64_t> all = planner.evaluate(n, &live);
    if (failed(all))
      return failure();
    if (*all > plan.budgetBytes) {
      int64_t lowest = std::min(*all, *baseline);
      return function.emitError("remat: budget of ")
             << plan.budgetBytes << " bytes is infeasible: the lowest peak "
             << "the greedy planner reaches is " << lowest
             << " bytes (recomputing all " << n << " activation residuals; "
             << "without remat: " << *baseline << " bytes); at that peak "
             << "live: " << live;
    }
    // The shortest prefix of the ranking that meets the budget (peaks fall
    // along the ranking, up to the recompute temporaries; binary search).
    size_t lo = 1, hi = n;
    int64_t peakAtHi = *all;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      FailureOr<int64_t> peak = planner.evaluate(mid);
      if (failed(peak))
        return failure();
      if (*peak <= plan.budgetBytes) {
        hi = mid;
        peakAtHi = *peak;
      } else {
        lo = mid + 1;
      }
    }
    k = hi;
    plan.predictedPeak = peakAtHi;
  }

  // Decisions, in the ranking's order first, then the residuals kept.
  llvm::DenseSet<unsigned> chosen;
  for (size_t i = 0; i < k; ++i) {
    const auto &step = planner.order[i];
    const Residual &r = planner.residuals[step.index];
    chosen.insert(step.index);
    PlanDecision d;
    d.value = r.value;
    d.label = getLabel(r.value);
    d.bytes = r.bytes;
    d.flops = step.cost.weightedFlops();
    d.seconds = step.seconds;
    d.recompute = true;
    d.reason = "rank " + std::to_string(i + 1) + " by bytes per recompute " +
               (options.cost == PlanCost::Time ? "second" : "FLOP") +
               " among the saved residuals";
    plan.recomputeFlops += d.flops;
    plan.recomputeSeconds += d.seconds;
    plan.recomputed.push_back(r.value);
    plan.decisions.push_back(d);
  }
  for (auto [index, r] : llvm::enumerate(planner.residuals)) {
    if (chosen.contains(index))
      continue;
    PlanDecision d;
    d.value = r.value;
    d.label = getLabel(r.value);
    d.bytes = r.bytes;
    d.recompute = false;
    if (options.strategy == PlanStrategy::None)
      d.reason = "strategy none keeps autograd's saved set";
    else if (plan.budgetBytes >= *baseline)
      d.reason = "the peak without remat already meets the budget";
    else
      d.reason = "the budget is met before it in the ranking";
    plan.activationBytes += r.bytes;
    plan.saved.push_back(r.value);
    plan.decisions.push_back(d);
  }
  return plan;
}

void mlir::remat::applyRematPlan(RewriterBase &rewriter, func::FuncOp function,
                                 const RematPlan &plan) {
  if (plan.recomputed.empty())
    return;
  llvm::DenseSet<Value> saved(plan.saved.begin(), plan.saved.end());
  function.walk([&](BackwardOp backward) {
    // Non-candidate operands (arguments, constants, effects) stay saved.
    llvm::DenseSet<Value> recomputed(plan.recomputed.begin(),
                                     plan.recomputed.end());
    for (Value input : backward.getInputs())
      if (!recomputed.contains(input))
        saved.insert(input);
    recomputeBackwardInputs(rewriter, backward,
                            [&](Value v) { return !saved.contains(v); });
  });
}
