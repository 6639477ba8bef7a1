//===- RematerializePass.cpp - -remat-rematerialize over the planner ------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The pass is a thin wrapper: it parses its options into PlanOptions, plans
/// each function with a remat.backward (planRematerialization), explains the
/// plan in remarks and applies it (applyRematPlan).
///
//===----------------------------------------------------------------------===//

#include "remat/Planner/Passes.h"

#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"
#include "remat/Planner/Planner.h"
#include "remat/Support/PassSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_REMATREMATERIALIZEPASS
#include "remat/Planner/Passes.h.inc"
} // namespace remat
} // namespace mlir

using namespace mlir;
using namespace mlir::remat;

namespace {
struct RematRematerializePass
    : public TargetOptionsPass<RematRematerializePass,
                               remat::impl::RematRematerializePassBase> {
  using TargetOptionsPass::TargetOptionsPass;
  void runOnOperation() override {
    Operation *root = getOperation();
    FailureOr<TargetModel> target = resolveTargetOptions();
    if (failed(target))
      return signalPassFailure();
    PlanOptions options;
    options.target = *target;
    std::optional<PlanStrategy> parsedStrategy = parsePlanStrategy(strategy);
    Location loc = root->getLoc();
    if (!parsedStrategy) {
      mlir::emitError(loc, "remat-rematerialize: unknown strategy '")
          << strategy
          << "' (expected none, full, every-n, sqrt, selective, mincut, "
             "greedy, optimal, exhaustive or auto)";
      return signalPassFailure();
    }
    options.strategy = *parsedStrategy;
    if (every == 0) {
      mlir::emitError(loc, "remat-rematerialize: every must be at least 1");
      return signalPassFailure();
    }
    options.everyN = every;
    if (!(timeLimit >= 0) || !std::isfinite(timeLimit)) {
      mlir::emitError(loc, "remat-rematerialize: time-limit must be a "
                           "finite number of seconds, at least 0");
      return signalPassFailure();
    }
    options.timeLimit = timeLimit;
    options.workLimit = workLimit;
    options.exactCandidateLimit = exactLimit;
    options.verify = verify;
    options.fusePointwise = fusePointwise;
    constexpr StringLiteral pass = "remat-rematerialize";
    std::optional<bool> bufferized =
        parseChoice<bool>(root, pass, "peak-model", peakModel,
                          {{"tensor", false}, {"bufferized", true}});
    if (!bufferized)
      return signalPassFailure();
    std::optional<PlanCost> parsedCost = parseChoice<PlanCost>(
        root, pass, "cost", cost,
        {{"time", PlanCost::Time}, {"flops", PlanCost::Flops}});
    if (!parsedCost)
      return signalPassFailure();
    std::optional<BudgetOn> parsedBudgetOn = parseChoice<BudgetOn>(
        root, pass, "budget-on", budgetOn,
        {{"peak", BudgetOn::Peak}, {"activations", BudgetOn::Activations}});
    if (!parsedBudgetOn)
      return signalPassFailure();
    std::optional<RecomputeTwice> parsedTwice = parseChoice<RecomputeTwice>(
        root, pass, "recompute-twice", recomputeTwice,
        {{"peak", RecomputeTwice::Peak},
         {"to-fit", RecomputeTwice::ToFit},
         {"never", RecomputeTwice::Never}});
    if (!parsedTwice)
      return signalPassFailure();
    options.recomputeTwice = *parsedTwice;
    if (*bufferized) {
      // The planner hands over detached copies: their callees are
      // declared from the pass's root.
      bool fuse = fusePointwise;
      options.peakModel = [root, fuse](func::FuncOp f) {
        return predictBufferizedPeak(f, nullptr, root, fuse);
      };
    }
    options.cost = *parsedCost;
    options.budgetOn = *parsedBudgetOn;
    if (!budget.empty()) {
      std::string error;
      options.budget = parseBudget(budget, &error);
      if (!options.budget) {
        mlir::emitError(loc, "remat-rematerialize: ") << error;
        return signalPassFailure();
      }
    }
    SmallVector<func::FuncOp> functions;
    root->walk([&](func::FuncOp f) {
      if (f.walk([](BackwardOp) {
             return WalkResult::interrupt();
           }).wasInterrupted())
        functions.push_back(f);
    });
    IRRewriter rewriter(&getContext());
    for (func::FuncOp function : functions) {
      function.walk([&](BackwardOp backward) {
        numFolded += foldBackwardTransposes(rewriter, backward);
      });
      FailureOr<RematPlan> plan = planRematerialization(function, options);
      if (failed(plan))
        return signalPassFailure();
      if (remarks)
        emitPlanRemarks(function, *plan);
      applyRematPlan(rewriter, function, *plan);
      numRecomputed += plan->recomputed.size();
      numEvaluations += plan->evaluations;
    }
  }

  static std::string formatMicroseconds(double seconds) {
    return llvm::formatv("{0}", llvm::format("%.4g", seconds * 1e6)).str();
  }

  void emitPlanRemarks(func::FuncOp function, const RematPlan &plan) {
    for (const PlanDecision &d : plan.decisions) {
      InFlightDiagnostic remark = mlir::emitRemark(d.value.getLoc());
      if (d.recompute)
        remark << "remat: recompute '" << d.label << "' (" << d.bytes
               << " bytes; " << d.flops << " FLOPs, "
               << formatMicroseconds(d.seconds) << " us): " << d.reason;
      else
        remark << "remat: save '" << d.label << "' (" << d.bytes
               << " bytes): " << d.reason;
    }
    for (const PlanDuplicate &d : plan.duplicated)
      mlir::emitRemark(d.value.getLoc())
          << "remat: recompute '" << d.label << "' (" << d.bytes
          << " bytes) once for each residual that needs it, not once for "
             "all: the predicted peak falls from "
          << d.peakBefore << " to " << d.peakAfter << " bytes for "
          << d.extraFlops << " more FLOPs ("
          << formatMicroseconds(d.extraSeconds) << " us)";
    InFlightDiagnostic summary = mlir::emitRemark(function.getLoc());
    summary << "remat: predicted peak " << plan.predictedPeak
            << " bytes (without remat " << plan.baselinePeak
            << (plan.budgetOn == BudgetOn::Activations ? ", activation budget "
                                                       : ", budget ")
            << plan.budgetBytes << "); recompute " << plan.recomputed.size()
            << " of " << plan.candidates << " residuals, "
            << plan.recomputeFlops << " FLOPs, "
            << formatMicroseconds(plan.recomputeSeconds)
            << " us; saved activations " << plan.activationBytes
            << " bytes; plan " << stringifyPlanStrategy(plan.strategy)
            << (plan.provenOptimal ? " (proven optimal)" : "") << ", "
            << plan.evaluations << " peak evaluations; search "
            << (plan.searchComplete ? "complete" : "cut: " + plan.searchNote);
  }
};
} // namespace
