//===- PlanRewrites.cpp - plans that may rewrite the step first ----------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// planWithRewrites: the planner choosing rewrites of the step (today the
/// chunked loss, -remat-chunk-loss) as options of a plan. The rewrite is
/// tried on a copy of the function; with `auto`, the step is planned with
/// and without it and the plan that meets the budget in the least modeled
/// step time wins. Baseline figures are always those of the step as given,
/// so a plan's savings and overhead include what the rewrite itself saves
/// or costs.
///
//===----------------------------------------------------------------------===//

#include "remat/Planner/Planner.h"

#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::remat;

namespace {
/// A diagnostic held back, to be emitted again (or dropped) once the
/// planner has chosen.
struct HeldDiagnostic {
  Location loc;
  DiagnosticSeverity severity;
  std::string message;
  SmallVector<std::pair<Location, std::string>> notes;
};

/// Holds back the diagnostics emitted while it lives.
class DiagnosticHolder {
public:
  explicit DiagnosticHolder(MLIRContext *context)
      : handler(context, [this](Diagnostic &diag) {
          HeldDiagnostic held{
              diag.getLocation(), diag.getSeverity(), diag.str(), {}};
          for (Diagnostic &note : diag.getNotes())
            held.notes.push_back({note.getLocation(), note.str()});
          diagnostics.push_back(std::move(held));
          return success();
        }) {}

  SmallVector<HeldDiagnostic> diagnostics;

private:
  ScopedDiagnosticHandler handler;
};
} // namespace

/// Emits `held` again, in order; remarks only if `withRemarks`.
static void emitHeld(ArrayRef<HeldDiagnostic> held, bool withRemarks) {
  for (const HeldDiagnostic &h : held) {
    if (h.severity == DiagnosticSeverity::Remark && !withRemarks)
      continue;
    InFlightDiagnostic diag =
        h.loc.getContext()->getDiagEngine().emit(h.loc, h.severity);
    diag << h.message;
    for (const auto &[loc, message] : h.notes)
      diag.attachNote(loc) << message;
  }
}

/// One trial: the plan (or the infeasible figures) and what it said.
struct Trial {
  FailureOr<RematPlan> plan = failure();
  RematPlan infeasible;
  SmallVector<HeldDiagnostic> diagnostics;
};

static Trial plan(func::FuncOp function, const PlanOptions &options,
                  bool wantInfeasible) {
  Trial trial;
  DiagnosticHolder held(function.getContext());
  trial.plan = planRematerialization(
      function, options, wantInfeasible ? &trial.infeasible : nullptr);
  trial.diagnostics = std::move(held.diagnostics);
  return trial;
}

/// The step's modeled time with the plan, less the given step's.
static double extraSeconds(const RematPlan &plan) {
  return plan.rewriteSeconds + plan.recomputeSeconds;
}

FailureOr<RematPlan> mlir::remat::planWithRewrites(func::FuncOp function,
                                                   const PlanOptions &options,
                                                   PlanRewrites rewrites,
                                                   bool remarks,
                                                   RematPlan *infeasible) {
  if (rewrites == PlanRewrites::None)
    return planRematerialization(function, options, infeasible);

  // The step as given, without remat: the baseline of every plan.
  PlanOptions baseOptions = options;
  baseOptions.strategy = PlanStrategy::None;
  baseOptions.budget.reset();
  Trial base = plan(function, baseOptions, /*wantInfeasible=*/false);
  if (failed(base.plan)) {
    emitHeld(base.diagnostics, remarks);
    return failure();
  }

  // The rewritten copy, next to the function (so its callees resolve).
  IRRewriter rewriter(function.getContext());
  rewriter.setInsertionPointAfter(function);
  auto copy = cast<func::FuncOp>(rewriter.clone(*function));
  SymbolTable::setSymbolName(copy,
                             (function.getSymName() + ".rewritten").str());
  ChunkLossOptions chunkOptions;
  chunkOptions.target = options.target;
  ChunkLossStats stats;
  SmallVector<HeldDiagnostic> rewriteRemarks;
  {
    DiagnosticHolder held(function.getContext());
    stats = chunkLinearCrossEntropy(rewriter, copy, chunkOptions);
    rewriteRemarks = std::move(held.diagnostics);
  }
  emitHeld(rewriteRemarks, remarks);
  if (stats.chunked == 0) {
    rewriter.eraseOp(copy);
    return planRematerialization(function, options, infeasible);
  }

  // A percentage budget is of the step as given.
  PlanOptions copyOptions = options;
  if (options.budget && options.budget->fraction) {
    int64_t unplanned = options.budgetOn == BudgetOn::Peak
                            ? base.plan->baselinePeak
                            : base.plan->baselineActivationBytes;
    copyOptions.budget =
        Budget{scaleBytes(*options.budget->fraction, unplanned), std::nullopt};
  }
  bool wantInfeasible = true;
  Trial rewritten = plan(copy, copyOptions, wantInfeasible);
  auto rebase = [&](RematPlan &p) {
    p.rewriteSeconds = p.baselineStepSeconds - base.plan->baselineStepSeconds;
    p.baselineStepSeconds = base.plan->baselineStepSeconds;
    p.baselinePeak = base.plan->baselinePeak;
    p.baselineActivationBytes = base.plan->baselineActivationBytes;
    p.rewrites = {"chunk-loss"};
  };
  if (succeeded(rewritten.plan))
    rebase(*rewritten.plan);
  else
    rebase(rewritten.infeasible);

  Trial given;
  bool useRewrite = true;
  if (rewrites == PlanRewrites::Auto) {
    given = plan(function, options, wantInfeasible);
    if (succeeded(given.plan) && succeeded(rewritten.plan))
      useRewrite = extraSeconds(*rewritten.plan) < extraSeconds(*given.plan);
    else if (succeeded(given.plan))
      useRewrite = false;
    else if (failed(rewritten.plan))
      // Neither meets the budget: report the lower floor.
      useRewrite =
          rewritten.infeasible.predictedPeak < given.infeasible.predictedPeak;
  }
  Trial &chosen = useRewrite ? rewritten : given;
  if (rewrites == PlanRewrites::Auto && remarks) {
    InFlightDiagnostic remark = mlir::emitRemark(function.getLoc());
    remark << "remat: rewrites: ";
    if (succeeded(given.plan) && succeeded(rewritten.plan))
      remark << llvm::formatv(
          "chunk-loss {0}: the plan with it adds {1} us to the step, "
          "without it {2} us",
          useRewrite ? "used" : "not used",
          llvm::format("%.4g", extraSeconds(*rewritten.plan) * 1e6),
          llvm::format("%.4g", extraSeconds(*given.plan) * 1e6));
    else if (succeeded(chosen.plan))
      remark << "chunk-loss " << (useRewrite ? "used" : "not used")
             << ": only the plan " << (useRewrite ? "with" : "without")
             << " it meets the budget";
    else
      remark << "chunk-loss " << (useRewrite ? "used" : "not used")
             << " for the lowest peak: neither plan meets the budget";
  }
  emitHeld(chosen.diagnostics, remarks);
  if (useRewrite && succeeded(rewritten.plan)) {
    // The function takes the rewritten body; the plan's values live in it.
    function.getBody().takeBody(copy.getBody());
  }
  rewriter.eraseOp(copy);
  if (failed(chosen.plan)) {
    if (infeasible)
      *infeasible = chosen.infeasible;
    return failure();
  }
  return chosen.plan;
}
