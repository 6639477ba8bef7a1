//===- PlanExplain.cpp - what a plan decides, and why ---------------------===//
//
// A plan's decisions (each residual recomputed or saved, with its bytes,
// recompute cost and the reason) and its totals, why a searched plan
// decides each residual as it does, and the error for a budget that cannot
// be met.
//
//===----------------------------------------------------------------------===//

#include "PlanRun.h"

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#define DEBUG_TYPE "remat-rematerialize"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

//===----------------------------------------------------------------------===//
// Plans and decisions
//===----------------------------------------------------------------------===//

/// The values `plan` recomputes once per residual that needs them.
ValueSet mlir::remat::detail::duplicatedSet(const RematPlan &plan) {
  ValueSet set;
  for (const PlanDuplicate &dup : plan.duplicated)
    set.insert(dup.chain.begin(), dup.chain.end());
  return set;
}

/// Fills `plan`'s decisions and totals for saving `saved`. `reason` explains
/// each residual's fate; `extraReason` each newly saved value's.
void mlir::remat::detail::describePlan(
    PlanContext &ctx, const ValueSet &saved, RematPlan &plan,
    function_ref<std::string(Value, bool)> reason) {
  plan.decisions.clear();
  plan.recomputed.clear();
  plan.saved.clear();
  plan.recomputeFlops = 0;
  plan.recomputeWeightedFlops = 0;
  plan.recomputeSeconds = 0;
  // Recomputed residuals in rewrite order, each with its marginal cost.
  ValueSet duplicated = duplicatedSet(plan);
  ctx.forEachRecomputed(saved, &duplicated, [&](Value v, const PlanCostSum &c) {
    PlanDecision d;
    d.value = v;
    d.label = getLabel(v);
    const Group &group = ctx.groups[ctx.groupOf.lookup(v)];
    d.bytes = group.members.front() == v ? group.bytes : 0;
    d.flops = c.cost.flops;
    d.seconds = c.seconds;
    d.recompute = true;
    d.reason = reason(v, true);
    plan.recomputeFlops = addSaturated(plan.recomputeFlops, d.flops);
    plan.recomputeWeightedFlops =
        addSaturated(plan.recomputeWeightedFlops, c.cost.weightedFlops());
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

/// Emits the infeasible-budget error.
LogicalResult mlir::remat::detail::emitInfeasible(
    PlanContext &ctx, int64_t budget, int64_t baseline, StringRef strategy,
    int64_t reached, StringRef how, StringRef live) {
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

//===----------------------------------------------------------------------===//
// Reasons of a searched plan
//===----------------------------------------------------------------------===//

std::string PlanRun::explainSearched(Value v, bool recompute) {
  std::string prefix = strategy == PlanStrategy::Auto ? "auto: " : "";
  std::string unit = options.cost == PlanCost::Time ? "second" : "FLOP";
  unsigned g = ctx.groupOf.lookup(v);
  if (source == "layered search") {
    Operation *def = ctx.groups[g].root.getDefiningOp();
    int layer = def ? ctx.getLayers().layerOf.lookup(def) : -1;
    auto it = layered->layerReason.find(layer);
    std::string where = it != layered->layerReason.end()
                            ? it->second
                            : "outside the chain of layers";
    bool planned = layered->planned.test(g);
    std::string why =
        recompute == planned
            ? (recompute ? "the layout recomputes it" : "the layout saves it")
        : recompute ? "recomputed by an exchange for saved groups"
                    : "the layout recomputes it, but the budget allows "
                      "saving it";
    return prefix + "layered search: " + where + "; " + why;
  }
  if (source == "greedy" && exchanges && !plan.provenOptimal)
    return prefix + (recompute ? "recomputed" : "saved") +
           " in the greedy plan after " + std::to_string(exchanges) +
           " exchange" + (exchanges == 1 ? "" : "s") +
           " of recomputed groups for saved ones, each lowering its "
           "recompute " +
           unit + "s within the budget";
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
  if (source == "exact search" && exactPolished && !plan.provenOptimal)
    what += ", then pruned and its groups exchanged for cheaper saved ones";
  if (source == "search for the lowest peak")
    what = " of a plan the search for the lowest peak found below the "
           "budget (the search at the budget was cut before it found one; "
           "not the least-cost plan)";
  if (source == "exhaustive")
    what = plan.provenOptimal ? " of the least-cost plan meeting the budget "
                                "(every subset tried)"
                              : " of the least-cost plan among the subsets "
                                "enumerated before the time limit";
  if (prunedFrom && !plan.provenOptimal)
    what = " of " + source +
           ", the cheapest plan found that meets the budget (auto's search "
           "is not exact here)";
  if (source == "greedy")
    what += "; the greedy ranking found it first (rank " +
            std::to_string(rank.lookup(g)) + ")";
  return prefix + (recompute ? "recomputed as part" : "saved as part") + what;
}
