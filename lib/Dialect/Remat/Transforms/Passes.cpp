//===- Passes.cpp - thin pass wrappers over remat transformations ---------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/Transforms/Passes.h"

#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/ToolOutputFile.h"

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_REMATFINALIZEPASS
#define GEN_PASS_DEF_REMATSTRIPBARRIERSPASS
#define GEN_PASS_DEF_REMATPLACEDEALLOCSPASS
#define GEN_PASS_DEF_REMATREPORTPASS
#include "remat/Dialect/Remat/Transforms/Passes.h.inc"
} // namespace remat
} // namespace mlir

using namespace mlir;
using namespace mlir::remat;

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

struct RematReportPass
    : public remat::impl::RematReportPassBase<RematReportPass> {
  using Base::Base;
  void runOnOperation() override {
    markAllAnalysesPreserved();
    if (reportFile.empty()) {
      printSavedSetReport(getOperation(), llvm::errs());
      return;
    }
    std::string error;
    std::unique_ptr<llvm::ToolOutputFile> file =
        openOutputFile(reportFile, &error);
    if (!file) {
      getOperation()->emitError()
          << "cannot write the report to '" << reportFile << "': " << error;
      return signalPassFailure();
    }
    printSavedSetReport(getOperation(), file->os());
    file->keep();
  }
};
} // namespace
