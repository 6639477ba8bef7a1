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

#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
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
  return plan.rewriteSeconds + plan.recomputeSeconds + plan.transferSeconds;
}

namespace {
/// One combination of rewrites, planned on a copy of the step.
struct Candidate {
  bool chunkLoss = false, fuseAttention = false;
  /// -remat-chunk-loss's `overhead` (percent of the step): larger chooses
  /// smaller chunks.
  double chunkOverhead = 1.0;
  /// The chunk of each loss the copy chunked.
  SmallVector<int64_t> chunks;
  func::FuncOp copy;
  Trial trial;
  SmallVector<std::string> names;
  /// The rewrites' remarks, not yet emitted.
  SmallVector<HeldDiagnostic> remarks;
};
} // namespace

/// Emits `held` with `remarks`, each once however many candidates make it
/// (`emitted`).
static void emitOnce(SmallVector<HeldDiagnostic> &held, bool remarks,
                     llvm::StringSet<> &emitted) {
  SmallVector<HeldDiagnostic> fresh;
  for (HeldDiagnostic &h : held) {
    std::string key;
    llvm::raw_string_ostream os(key);
    os << h.loc << ": " << h.message;
    if (emitted.insert(key).second)
      fresh.push_back(std::move(h));
  }
  held.clear();
  emitHeld(fresh, remarks);
}

/// Applies `candidate`'s rewrites to a copy of `function`, their remarks
/// held in the candidate; false (and no copy) when one of them changed
/// nothing.
static bool rewriteCopy(func::FuncOp function, const PlanOptions &options,
                        Candidate &candidate) {
  IRRewriter rewriter(function.getContext());
  rewriter.setInsertionPointAfter(function);
  auto copy = cast<func::FuncOp>(rewriter.clone(*function));
  SymbolTable::setSymbolName(copy,
                             (function.getSymName() + ".rewritten").str());
  {
    DiagnosticHolder held(function.getContext());
    if (candidate.fuseAttention &&
        fuseAttention(rewriter, copy, FuseAttentionOptions()).fused > 0)
      candidate.names.push_back("fuse-attention");
    if (candidate.chunkLoss) {
      ChunkLossOptions chunkOptions;
      chunkOptions.target = options.target;
      chunkOptions.overhead = candidate.chunkOverhead;
      ChunkLossStats stats =
          chunkLinearCrossEntropy(rewriter, copy, chunkOptions);
      candidate.chunks = stats.chunks;
      if (stats.chunked > 0)
        candidate.names.push_back("chunk-loss");
    }
    candidate.remarks = std::move(held.diagnostics);
  }
  unsigned wanted = candidate.chunkLoss + candidate.fuseAttention;
  if (candidate.names.size() != wanted) {
    rewriter.eraseOp(copy);
    return false;
  }
  candidate.copy = copy;
  return true;
}

/// The candidate's rewrites as the choice remark names them.
static std::string getName(const Candidate &candidate) {
  return candidate.names.empty() ? std::string("no rewrite")
                                 : llvm::join(candidate.names, "+");
}

/// Whether trial `t` beats `best`: it meets the budget and `best` does
/// not, or both do and it adds less time, or neither does and its peak is
/// lower.
static bool isBetter(const Trial &t, const Trial &best) {
  if (succeeded(t.plan) != succeeded(best.plan))
    return succeeded(t.plan);
  return succeeded(t.plan)
             ? extraSeconds(*t.plan) < extraSeconds(*best.plan)
             : t.infeasible.predictedPeak < best.infeasible.predictedPeak;
}

/// The candidate's summary for the choice remark.
static std::string describe(const Candidate &candidate) {
  std::string name = getName(candidate);
  const Trial &trial = candidate.trial;
  if (succeeded(trial.plan))
    return llvm::formatv("{0} adds {1} us", name,
                         llvm::format("%.4g", extraSeconds(*trial.plan) * 1e6))
        .str();
  return llvm::formatv("{0} misses the budget (lowest peak {1} B)", name,
                       trial.infeasible.predictedPeak)
      .str();
}

FailureOr<RematPlan> mlir::remat::planWithRewrites(func::FuncOp function,
                                                   const PlanOptions &options,
                                                   PlanRewrites rewrites,
                                                   bool remarks,
                                                   RematPlan *infeasible) {
  // As -remat-rematerialize does, so that a library caller gets the pass's
  // plan: autograd's t(t(W)) folded, unread backward operands dropped.
  IRRewriter rewriter(function.getContext());
  function.walk(
      [&](BackwardOp backward) { foldBackwardTransposes(rewriter, backward); });
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

  // The combinations to try, each on its own copy.
  std::vector<Candidate> candidates;
  llvm::StringSet<> emitted;
  auto add = [&](bool chunkLoss, bool fuse) {
    Candidate candidate;
    candidate.chunkLoss = chunkLoss;
    candidate.fuseAttention = fuse;
    bool applied = rewriteCopy(function, options, candidate);
    emitOnce(candidate.remarks, remarks, emitted);
    if (applied)
      candidates.push_back(std::move(candidate));
  };
  if (rewrites == PlanRewrites::ChunkLoss || rewrites == PlanRewrites::Auto)
    add(true, false);
  if (rewrites == PlanRewrites::FuseAttention || rewrites == PlanRewrites::Auto)
    add(false, true);
  if (rewrites == PlanRewrites::All || rewrites == PlanRewrites::Auto)
    add(true, true);
  if (candidates.empty())
    return planRematerialization(function, options, infeasible);

  // A percentage budget is of the step as given.
  PlanOptions copyOptions = options;
  if (options.budget && options.budget->fraction) {
    int64_t unplanned = options.budgetOn == BudgetOn::Peak
                            ? base.plan->baselinePeak
                            : base.plan->baselineActivationBytes;
    copyOptions.budget =
        Budget{scaleBytes(*options.budget->fraction, unplanned), std::nullopt};
  }
  auto planCandidate = [&](Candidate &candidate) {
    candidate.trial =
        plan(candidate.copy, copyOptions, /*wantInfeasible=*/true);
    auto rebase = [&](RematPlan &p) {
      p.rewriteSeconds = p.baselineStepSeconds - base.plan->baselineStepSeconds;
      p.baselineStepSeconds = base.plan->baselineStepSeconds;
      p.baselinePeak = base.plan->baselinePeak;
      p.baselineActivationBytes = base.plan->baselineActivationBytes;
      p.rewrites = candidate.names;
    };
    if (succeeded(candidate.trial.plan))
      rebase(*candidate.trial.plan);
    else
      rebase(candidate.trial.infeasible);
  };
  for (Candidate &candidate : candidates) {
    planCandidate(candidate);
    // A budget the chunked loss misses may need smaller chunks: the
    // default chunk spends 1% of the step; try 4, 16 and 64% (chunks
    // hold chunk x V logits) and keep the first that meets the budget,
    // else the lowest peak.
    for (double overhead : {4.0, 16.0, 64.0}) {
      if (!candidate.chunkLoss || !options.budget ||
          succeeded(candidate.trial.plan))
        break;
      Candidate smaller;
      smaller.chunkLoss = true;
      smaller.fuseAttention = candidate.fuseAttention;
      smaller.chunkOverhead = overhead;
      if (!rewriteCopy(function, options, smaller))
        break;
      // (The same chunks as the plan in hand: the same plan again.)
      if (smaller.chunks != candidate.chunks) {
        planCandidate(smaller);
        if (isBetter(smaller.trial, candidate.trial))
          std::swap(candidate, smaller);
      }
      smaller.copy.erase();
    }
    emitOnce(candidate.remarks, remarks, emitted);
  }
  if (rewrites == PlanRewrites::Auto) {
    Candidate given;
    given.trial = plan(function, options, /*wantInfeasible=*/true);
    candidates.insert(candidates.begin(), std::move(given));
  }

  // The plan that meets the budget in the least time; if none does, the
  // lowest peak. (Ties keep the earlier candidate: fewer rewrites.)
  Candidate *chosen = &candidates.front();
  for (Candidate &candidate : candidates)
    if (isBetter(candidate.trial, chosen->trial))
      chosen = &candidate;
  if (candidates.size() > 1 && remarks) {
    InFlightDiagnostic remark = mlir::emitRemark(function.getLoc());
    remark << "remat: rewrites: chose " << getName(*chosen)
           << (succeeded(chosen->trial.plan)
                   ? ": of the plans that meet the budget it adds the least "
                     "time"
                   : ": no plan meets the budget; it has the lowest peak")
           << " (";
    llvm::interleave(
        candidates, remark, [&](const Candidate &c) { remark << describe(c); },
        "; ");
    remark << ")";
  }
  emitHeld(chosen->trial.diagnostics, remarks);
  if (chosen->copy && succeeded(chosen->trial.plan)) {
    // The function takes the rewritten body; the plan's values live in it.
    function.getBody().takeBody(chosen->copy.getBody());
  }
  FailureOr<RematPlan> result = chosen->trial.plan;
  RematPlan chosenInfeasible = chosen->trial.infeasible;
  for (Candidate &candidate : candidates)
    if (candidate.copy)
      candidate.copy.erase();
  if (failed(result)) {
    if (infeasible)
      *infeasible = chosenInfeasible;
    return failure();
  }
  return result;
}
