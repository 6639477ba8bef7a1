//===- Passes.cpp - thin pass wrappers over remat transformations ---------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/Transforms/Passes.h"

#include "remat/Analysis/Cost.h"
#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"
#include "remat/Support/PassSupport.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/ToolOutputFile.h"

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_REMATFINALIZEPASS
#define GEN_PASS_DEF_REMATAPPLYCHECKPOINTSPASS
#define GEN_PASS_DEF_REMATCHUNKLOSSPASS
#define GEN_PASS_DEF_REMATFUSEATTENTIONPASS
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

namespace {
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

/// The functions under `root` that have a body (collected first: the
/// rewrites change the IR).
static SmallVector<FunctionOpInterface> getDefinedFunctions(Operation *root) {
  SmallVector<FunctionOpInterface> functions;
  root->walk([&](FunctionOpInterface function) {
    if (!function.isExternal())
      functions.push_back(function);
  });
  return functions;
}

struct RematChunkLossPass
    : public TargetOptionsPass<RematChunkLossPass,
                               remat::impl::RematChunkLossPassBase> {
  using TargetOptionsPass::TargetOptionsPass;
  void runOnOperation() override {
    FailureOr<TargetModel> target = resolveTargetOptions();
    if (failed(target))
      return signalPassFailure();
    if (chunkSize < 0) {
      mlir::emitError(getOperation()->getLoc())
          << "remat-chunk-loss: chunk-size must not be negative, got "
          << static_cast<int64_t>(chunkSize);
      return signalPassFailure();
    }
    if (!(overhead >= 0)) {
      mlir::emitError(getOperation()->getLoc())
          << "remat-chunk-loss: overhead must be a percentage of at least 0, "
             "got "
          << static_cast<double>(overhead);
      return signalPassFailure();
    }
    ChunkLossOptions options;
    options.chunkSize = chunkSize;
    options.overhead = overhead;
    options.target = *target;
    IRRewriter rewriter(&getContext());
    for (FunctionOpInterface function : getDefinedFunctions(getOperation())) {
      ChunkLossStats stats =
          chunkLinearCrossEntropy(rewriter, function, options);
      numChunked += stats.chunked;
      numSkipped += stats.skipped;
    }
  }
};

struct RematFuseAttentionPass
    : public remat::impl::RematFuseAttentionPassBase<RematFuseAttentionPass> {
  using Base::Base;
  void runOnOperation() override {
    if (blockSize <= 0) {
      mlir::emitError(getOperation()->getLoc())
          << "remat-fuse-attention: block-size must be positive, got "
          << static_cast<int64_t>(blockSize);
      return signalPassFailure();
    }
    FuseAttentionOptions options;
    options.blockSize = blockSize;
    IRRewriter rewriter(&getContext());
    for (FunctionOpInterface function : getDefinedFunctions(getOperation())) {
      FuseAttentionStats stats = fuseAttention(rewriter, function, options);
      numFused += stats.fused;
      numSkipped += stats.skipped;
    }
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
       << (cost->vectorFlops ? " vector=" + std::to_string(cost->vectorFlops)
                             : std::string())
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
    MemoryAnalyzer analyzer;
    getOperation()->walk([&](FunctionOpInterface function) {
      if (function.isExternal())
        return;
      MemoryProfile fresh;
      if (!reuse)
        fresh = analyzeMemory(function);
      const MemoryProfile &profile = reuse ? analyzer.analyze(function) : fresh;
      os << "function @" << function.getName() << "\n";
      for (const Buffer &buffer : profile.buffers) {
        StringRef kind = buffer.kind == BufferKind::Allocated  ? "allocated"
                         : buffer.kind == BufferKind::Resident ? "resident"
                         : buffer.kind == BufferKind::Host     ? "host"
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
         << " residuals=" << profile.residuals.size();
      if (profile.hostBytes)
        os << " host=" << profile.hostBytes
           << " host_peak=" << profile.hostPeakBytes;
      os << "\n";
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
