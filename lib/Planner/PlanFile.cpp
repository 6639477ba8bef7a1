//===- PlanFile.cpp - the plan summary as JSON ----------------------------===//
//
// Part of the remat project.
//
// `-remat-rematerialize=plan-file=PATH` writes one object per planned
// function under "plans" (docs/plan.schema.json): what a script comparing
// plans needs, in raw units (bytes, FLOPs, seconds), with the same figures
// as the summary remark.
//
//===----------------------------------------------------------------------===//

#include "remat/Planner/Planner.h"

#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace mlir::remat;

/// What the plan adds to the step's modeled time (its recompute, the
/// transfers of its offloads and what its rewrites change), as a share of
/// the step without remat, in percent.
static double overheadPercent(const RematPlan &plan) {
  return plan.baselineStepSeconds > 0
             ? 100.0 *
                   (plan.recomputeSeconds + plan.transferSeconds +
                    plan.rewriteSeconds) /
                   plan.baselineStepSeconds
             : 0.0;
}

llvm::json::Value mlir::remat::planToJSON(StringRef function,
                                          const RematPlan &plan) {
  llvm::json::Array decisions;
  for (const PlanDecision &d : plan.decisions) {
    llvm::json::Object o{{"value", d.label},
                         {"bytes", d.bytes},
                         {"recompute", d.recompute},
                         {"offload", d.offload},
                         {"reason", d.reason}};
    if (d.recompute) {
      o["flops"] = d.flops;
      o["seconds"] = d.seconds;
    }
    decisions.push_back(std::move(o));
  }
  llvm::json::Array duplicated;
  for (const PlanDuplicate &d : plan.duplicated)
    duplicated.push_back(llvm::json::Object{{"value", d.label},
                                            {"bytes", d.bytes},
                                            {"peak_before_bytes", d.peakBefore},
                                            {"peak_after_bytes", d.peakAfter},
                                            {"extra_flops", d.extraFlops},
                                            {"extra_seconds", d.extraSeconds}});
  llvm::json::Object object{
      {"function", function},
      {"strategy", stringifyPlanStrategy(plan.strategy)},
      {"requested_strategy", stringifyPlanStrategy(plan.requestedStrategy)},
      {"feasible", plan.feasible},
      {"budget_on", plan.budgetOn == BudgetOn::Peak ? "peak" : "activations"},
      {"budget_bytes", plan.hasBudget ? llvm::json::Value(plan.budgetBytes)
                                      : llvm::json::Value(nullptr)},
      {"baseline_peak_bytes", plan.baselinePeak},
      {"peak_bytes", plan.predictedPeak},
      {"baseline_activation_bytes", plan.baselineActivationBytes},
      {"activation_bytes", plan.activationBytes},
      {"candidates", plan.candidates},
      {"recomputed", static_cast<int64_t>(plan.recomputed.size())},
      {"recompute_flops", plan.recomputeFlops},
      {"recompute_seconds", plan.recomputeSeconds},
      {"baseline_step_seconds", plan.baselineStepSeconds},
      {"step_seconds", plan.baselineStepSeconds + plan.rewriteSeconds +
                           plan.recomputeSeconds + plan.transferSeconds},
      {"offloaded", static_cast<int64_t>(plan.offloaded.size())},
      {"offloaded_bytes", plan.offloadedBytes},
      {"transfer_seconds", plan.transferSeconds},
      {"link", plan.link.empty() ? llvm::json::Value(nullptr)
                                 : llvm::json::Value(plan.link)},
      {"rewrite_seconds", plan.rewriteSeconds},
      {"overhead_percent", overheadPercent(plan)},
      {"proven_optimal", plan.provenOptimal},
      {"search_complete", plan.searchComplete},
      {"search_note", plan.searchNote},
      {"evaluations", plan.evaluations},
      {"work", static_cast<int64_t>(plan.work)},
      {"decisions", std::move(decisions)},
      {"duplicated", std::move(duplicated)},
      {"rewrites", llvm::json::Array(plan.rewrites)},
  };
  if (plan.everyN)
    object["every"] = static_cast<int64_t>(plan.everyN);
  if (!plan.layout.empty())
    object["layout"] = plan.layout;
  return object;
}
