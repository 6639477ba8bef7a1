//===- Passes.cpp - thin pass wrappers over remat transformations ---------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/Transforms/Passes.h"

#include "remat/Analysis/Cost.h"
#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Planner.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/ToolOutputFile.h"

#include <cmath>

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_REMATFINALIZEPASS
#define GEN_PASS_DEF_REMATREMATERIALIZEPASS
#define GEN_PASS_DEF_REMATAPPLYCHECKPOINTSPASS
#define GEN_PASS_DEF_REMATSTRIPBARRIERSPASS
#define GEN_PASS_DEF_REMATPLACEDEALLOCSPASS
#define GEN_PASS_DEF_REMATREPORTPASS
#define GEN_PASS_DEF_REMATTESTPRINTCOSTSPASS
#define GEN_PASS_DEF_REMATTESTPRINTLIVENESSPASS
#include "remat/Dialect/Remat/Transforms/Passes.h.inc"
} // namespace remat
} // namespace mlir

using namespace mlir;
using namespace mlir::remat;

/// Returns a short, stable label for `op`: its name location if it has one,
/// else line:column.
static std::string getLabel(Operation *op) {
  Location loc = op->getLoc();
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return std::to_string(file.getLine()) + ":" +
           std::to_string(file.getColumn());
  return "?";
}

/// Returns a label for the buffer rooted at `root`: the tag of a remat.name
/// of it, the argument number, or its defining op's label.
static std::string getValueLabel(Value root) {
  for (Operation *user : root.getUsers())
    if (auto name = dyn_cast<NameOp>(user))
      return name.getTag().str();
  if (auto arg = dyn_cast<BlockArgument>(root))
    return "arg" + std::to_string(arg.getArgNumber());
  return getLabel(root.getDefiningOp());
}

/// Flushes `file` and keeps it; when writing failed (a full disk, say),
/// emits an error at `loc` naming `what` and `path`, and removes it.
static LogicalResult closeChecked(llvm::ToolOutputFile &file, StringRef path,
                                  Location loc, StringRef what) {
  file.os().flush();
  if (std::error_code ec = file.os().error()) {
    // (An error left set would end the tool with "IO failure".)
    file.os().clear_error();
    mlir::emitError(loc) << "remat: cannot write " << what << " to '" << path
                         << "': " << ec.message();
    return failure();
  }
  file.keep();
  return success();
}

namespace {
/// Base of the passes that take the roofline target options
/// (RematTargetOptions in Passes.td): resolves them into a TargetModel.
template <typename Derived, template <typename> class GeneratedBase>
struct TargetOptionsPass : public GeneratedBase<Derived> {
  using GeneratedBase<Derived>::GeneratedBase;

protected:
  /// Returns the chosen preset with explicit rates applied, or reports an
  /// unknown preset on the pass's operation.
  FailureOr<TargetModel> resolveTargetOptions() {
    TargetOverrides overrides{this->peakF32, this->peakTF32, this->peakBF16,
                              this->peakFP8, this->bandwidth};
    std::string error;
    FailureOr<TargetModel> target =
        resolveTarget(this->target, overrides, error);
    if (failed(target))
      mlir::emitError(this->getOperation()->getLoc()) << error;
    return target;
  }
};

struct RematFinalizePass
    : public remat::impl::RematFinalizePassBase<RematFinalizePass> {
  using Base::Base;
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    FinalizeOptions options;
    options.barriers = barriers;
    FinalizeStats stats = finalizeRematOps(rewriter, getOperation(), options);
    numNames += stats.names;
    numCheckpoints += stats.checkpoints;
    numBackwards += stats.backwards;
    numBarriers += stats.barriers;
  }
};

struct RematApplyCheckpointsPass
    : public remat::impl::RematApplyCheckpointsPassBase<
          RematApplyCheckpointsPass> {
  using Base::Base;
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    ApplyCheckpointsStats stats =
        applyCheckpointPolicies(rewriter, getOperation());
    numCheckpoints += stats.checkpoints;
    numRecomputed += stats.recompute.recomputed;
    numCloned += stats.recompute.cloned;
  }
};

/// Parses the value of an enumerated pass option; on an unknown value,
/// emits "<pass>: unknown <option> '<value>' (expected a, b or c)" on
/// `root` and returns nullopt.
template <typename T>
static std::optional<T>
parseChoice(Operation *root, StringRef pass, StringRef option, StringRef value,
            ArrayRef<std::pair<StringLiteral, T>> choices) {
  for (const auto &[name, choice] : choices)
    if (value == name)
      return choice;
  InFlightDiagnostic diag = mlir::emitError(root->getLoc(), pass);
  diag << ": unknown " << option << " '" << value << "' (expected ";
  for (auto [i, c] : llvm::enumerate(choices))
    diag << (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") << c.first;
  diag << ")";
  return std::nullopt;
}

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

struct RematStripBarriersPass
    : public remat::impl::RematStripBarriersPassBase<RematStripBarriersPass> {
  using Base::Base;
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    numBarriers += stripBarriers(rewriter, getOperation());
  }
};

struct RematPlaceDeallocsPass
    : public remat::impl::RematPlaceDeallocsPassBase<RematPlaceDeallocsPass> {
  using Base::Base;
  void runOnOperation() override {
    PlaceDeallocsStats stats = placeDeallocsAfterLastUse(getOperation());
    numMoved += stats.moved;
    numKept += stats.kept;
  }
};

struct RematTestPrintCostsPass
    : public TargetOptionsPass<RematTestPrintCostsPass,
                               remat::impl::RematTestPrintCostsPassBase> {
  using TargetOptionsPass::TargetOptionsPass;
  void runOnOperation() override {
    markAllAnalysesPreserved();
    FailureOr<TargetModel> target = resolveTargetOptions();
    if (failed(target))
      return signalPassFailure();
    llvm::raw_ostream &os = llvm::outs();
    getOperation()->walk<WalkOrder::PreOrder>([&](Operation *op) {
      // Ops with a model are priced whole, their bodies included.
      if (isa<CostOpInterface>(op) && op->getNumRegions() != 0) {
        print(op, *target, os);
        return WalkResult::skip();
      }
      if (op->getNumRegions() == 0 && !op->hasTrait<OpTrait::IsTerminator>())
        print(op, *target, os);
      return WalkResult::advance();
    });
  }

  void print(Operation *op, const TargetModel &target, llvm::raw_ostream &os) {
    bool modeled = false;
    FailureOr<OpCost> cost = getOpCost(op, &modeled);
    os << getLabel(op) << ": " << op->getName() << " ";
    if (failed(cost)) {
      os << "unknown (dynamic shape)\n";
      return;
    }
    if (!modeled)
      mlir::emitRemark(op->getLoc())
          << "no cost model for '" << op->getName()
          << "'; estimated conservatively as " << cost->flops << " FLOPs, "
          << cost->bytesRead << " bytes read, " << cost->bytesWritten
          << " bytes written";
    double seconds = getRooflineSeconds(*cost, getComputeElementType(op),
                                        isContraction(op), target);
    os << "flops=" << cost->flops
       << " transcendentals=" << cost->transcendentals
       << " read=" << cost->bytesRead << " written=" << cost->bytesWritten
       << " time[" << target.name << "]=" << llvm::format("%.4g", seconds * 1e6)
       << "us" << (cost->estimated ? " estimated" : "") << "\n";
  }
};

struct RematTestPrintLivenessPass
    : public remat::impl::RematTestPrintLivenessPassBase<
          RematTestPrintLivenessPass> {
  using Base::Base;
  void runOnOperation() override {
    markAllAnalysesPreserved();
    llvm::raw_ostream &os = llvm::outs();
    getOperation()->walk([&](FunctionOpInterface function) {
      if (function.isExternal())
        return;
      MemoryProfile profile = analyzeMemory(function);
      os << "function @" << function.getName() << "\n";
      for (const Buffer &buffer : profile.buffers) {
        StringRef kind = buffer.kind == BufferKind::Allocated  ? "allocated"
                         : buffer.kind == BufferKind::Resident ? "resident"
                                                               : "constant";
        os << "  buffer " << getValueLabel(buffer.root) << ": " << kind
           << " bytes=" << buffer.bytes << " live=[" << buffer.start << ", "
           << buffer.end << "]\n";
      }
      for (auto [point, bytes] : llvm::enumerate(profile.timeline))
        os << "  point " << point << " " << getLabel(profile.points[point])
           << ": " << bytes << "\n";
      os << "  peak=" << profile.peakBytes << " at point " << profile.peakPoint
         << " (" << getLabel(profile.points[profile.peakPoint]) << ")\n";
      os << "  live at peak:";
      for (unsigned index : profile.liveAtPeak)
        os << " " << getValueLabel(profile.buffers[index].root) << "("
           << profile.buffers[index].bytes << ")";
      os << "\n  resident=" << profile.residentBytes
         << " activations=" << profile.activationBytes
         << " residuals=" << profile.residuals.size() << "\n";
    });
  }
};

struct RematReportPass
    : public TargetOptionsPass<RematReportPass,
                               remat::impl::RematReportPassBase> {
  using TargetOptionsPass::TargetOptionsPass;
  void runOnOperation() override {
    markAllAnalysesPreserved();
    FailureOr<TargetModel> target = resolveTargetOptions();
    if (failed(target) || failed(checkModeledSizes(getOperation())))
      return signalPassFailure();
    if (reportFile.empty()) {
      printRematReport(getOperation(), *target, llvm::errs(), nullptr);
      return;
    }
    std::string error;
    std::unique_ptr<llvm::ToolOutputFile> file =
        openOutputFile(reportFile, &error);
    if (!file) {
      mlir::emitError(getOperation()->getLoc())
          << "remat-report: cannot write the report to '" << reportFile
          << "': " << error;
      return signalPassFailure();
    }
    printRematReport(getOperation(), *target, llvm::errs(), &file->os());
    if (failed(closeChecked(*file, reportFile, getOperation()->getLoc(),
                            "the report")))
      return signalPassFailure();
  }
};
} // namespace
