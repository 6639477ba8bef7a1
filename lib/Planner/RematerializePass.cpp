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
#include "remat/Support/Format.h"
#include "remat/Support/PassSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/ToolOutputFile.h"

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
  RematRematerializePass(PlanSummarySink sink) : sink(std::move(sink)) {}

  void getDependentDialects(DialectRegistry &registry) const override {
    TargetOptionsPass::getDependentDialects(registry);
    // (The planner runs the bufferization pipeline to check its plans.)
    getPlannerDependentDialects(registry);
  }

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
             "greedy, optimal, exhaustive, layered or auto)";
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
    options.exactWorkLimit = exactWorkLimit;
    options.exactCandidateLimit = exactLimit;
    options.verify = verify;
    options.fusePointwise = fusePointwise;
    options.offload = offload;
    {
      std::string error;
      std::optional<HostLink> parsedLink = parseHostLink(link, &error);
      if (!parsedLink) {
        mlir::emitError(loc, "remat-rematerialize: ") << error;
        return signalPassFailure();
      }
      options.link = *parsedLink;
    }
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
    std::optional<PlanRewrites> parsedRewrites = parseChoice<PlanRewrites>(
        root, pass, "rewrites", rewrites,
        {{"none", PlanRewrites::None},
         {"chunk-loss", PlanRewrites::ChunkLoss},
         {"fuse-attention", PlanRewrites::FuseAttention},
         {"all", PlanRewrites::All},
         {"auto", PlanRewrites::Auto}});
    if (!parsedRewrites)
      return signalPassFailure();
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
    llvm::json::Array plans;
    for (func::FuncOp function : functions) {
      function.walk([&](BackwardOp backward) {
        numFolded += foldBackwardTransposes(rewriter, backward);
      });
      RematPlan infeasible;
      FailureOr<RematPlan> plan = planWithRewrites(
          function, options, *parsedRewrites, remarks, &infeasible);
      if (failed(plan)) {
        if (!infeasible.feasible)
          plans.push_back(planToJSON(function.getSymName(), infeasible));
        (void)writePlanFile(std::move(plans));
        return signalPassFailure();
      }
      if (remarks)
        emitPlanRemarks(function, *plan);
      plans.push_back(planToJSON(function.getSymName(), *plan));
      applyRematPlan(rewriter, function, *plan);
      numRecomputed += plan->recomputed.size();
      numEvaluations += plan->evaluations;
    }
    if (failed(writePlanFile(std::move(plans))))
      return signalPassFailure();
  }

  /// Hands `plans` to the sink and writes them to plan-file, if set.
  LogicalResult writePlanFile(llvm::json::Array plans) {
    llvm::json::Value summary(llvm::json::Object{{"schema", "remat-plan/1"},
                                                 {"plans", std::move(plans)}});
    if (sink)
      sink(summary);
    if (planFile.empty())
      return success();
    Location loc = getOperation()->getLoc();
    std::string error;
    std::unique_ptr<llvm::ToolOutputFile> file =
        openOutputFile(planFile, &error);
    if (!file)
      return mlir::emitError(loc)
             << "remat-rematerialize: cannot write the plan file '" << planFile
             << "': " << error;
    file->os() << llvm::formatv("{0:2}\n", summary);
    return closeChecked(*file, planFile, loc, "the plan file");
  }

  static std::string formatMicroseconds(double seconds) {
    return llvm::formatv("{0}", llvm::format("%.4g", seconds * 1e6)).str();
  }

  void emitPlanRemarks(func::FuncOp function, const RematPlan &plan) {
    for (const PlanDecision &d : plan.decisions) {
      InFlightDiagnostic remark = mlir::emitRemark(d.value.getLoc());
      if (d.offload)
        remark << "remat: offload '" << d.label << "' (" << d.bytes
               << " bytes): " << d.reason;
      else if (d.recompute)
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
            << " bytes; plan "
            << describePlanStrategy(plan.strategy, plan.everyN)
            << (plan.layout.empty() ? "" : " (" + plan.layout + ")")
            << (plan.provenOptimal ? " (proven optimal)" : "") << ", "
            << plan.evaluations << " peak evaluations; search "
            << (plan.searchComplete ? "complete" : "cut: " + plan.searchNote);
    // The same figures as people read them.
    summary << "; peak " << formatBytes(plan.predictedPeak) << " ("
            << formatPercent(plan.predictedPeak, plan.baselinePeak) << " of "
            << formatBytes(plan.baselinePeak)
            << " without remat), saved activations "
            << formatBytes(plan.activationBytes) << " ("
            << formatPercent(plan.activationBytes, plan.baselineActivationBytes)
            << " of " << formatBytes(plan.baselineActivationBytes)
            << "), recompute " << formatMicroseconds(plan.recomputeSeconds)
            << " us ("
            << formatPercent(plan.recomputeSeconds, plan.baselineStepSeconds)
            << " of the " << formatMicroseconds(plan.baselineStepSeconds)
            << " us step)";
    if (!plan.offloaded.empty())
      summary << "; offloaded " << plan.offloaded.size() << " buffers ("
              << plan.offloadedBytes << " bytes, "
              << formatBytes(plan.offloadedBytes) << ") to host memory over "
              << plan.link << ", " << formatMicroseconds(plan.transferSeconds)
              << " us of transfer the step waits for ("
              << formatPercent(plan.transferSeconds, plan.baselineStepSeconds)
              << " of the step)";
    if (!plan.rewrites.empty())
      summary << "; rewrites: " << llvm::join(plan.rewrites, ", ") << " ("
              << (plan.rewriteSeconds > 0 ? "+" : "")
              << formatMicroseconds(plan.rewriteSeconds)
              << " us to the step without remat; in all "
              << formatPercent(plan.recomputeSeconds + plan.rewriteSeconds,
                               plan.baselineStepSeconds)
              << " of the step)";
    // (With threads: the check of the plan the search was likely to return
    // ran beside the search, and the search returned that plan.)
    if (plan.checkAheadUsed)
      summary << "; checked on the bufferized program beside the search";
  }

  PlanSummarySink sink;
};
} // namespace

std::unique_ptr<Pass>
mlir::remat::createRematRematerializePass(PlanSummarySink sink) {
  return std::make_unique<RematRematerializePass>(std::move(sink));
}
