//===- BufferizePipeline.cpp - finalize, bufferize, deallocate ------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Conversion/Passes.h"
#include "remat/Dialect/Remat/Transforms/Passes.h"
#include "remat/Pipelines/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::remat;

void mlir::remat::buildBufferizePipeline(
    OpPassManager &pm, const LowerToLLVMPipelineOptions &options) {
  // The canonicalizers up to bufferization leave regions alone: a step's
  // body is one block, and simplifying regions found nothing to do in it
  // while it cost a third of the planner's bufferized check on a 96-layer
  // model. (The canonicalizers after deallocation simplify them.) Nor do
  // they sweep the step twice: the driver revisits what each rewrite
  // touches, so the second sweep only moved constants out of linalg
  // bodies, which the canonicalizers after deallocation do as well (the
  // lowered programs were the same), and it cost half of the first
  // canonicalizer's time in the planner's check.
  GreedyRewriteConfig noRegions;
  noRegions.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
  noRegions.setMaxIterations(1);
  // Tensor level: remat's fused ops become loops of linalg ops, then the
  // other remat ops go, keeping recomputed values apart.
  pm.addPass(createConvertRematToLinalgPass());
  pm.addPass(createRematFinalizePass());
  if (options.cse) {
    pm.addPass(createCanonicalizerPass(noRegions));
    pm.addPass(createCSEPass());
  }
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  if (options.fusePointwise) {
    pm.addPass(createLinalgElementwiseOpFusionPass());
    pm.addPass(createCanonicalizerPass());
  }

  // Buffers: one-shot bufferization across function boundaries.
  bufferization::OneShotBufferizePassOptions bufferizeOptions;
  bufferizeOptions.bufferizeFunctionBoundaries = true;
  bufferizeOptions.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferizeOptions));
  // A private function's results that are its own argument buffers (a
  // gradient accumulator updated in place) go: its callers read the
  // argument. (Deallocation would copy each at the return otherwise.)
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  pm.addPass(createRematStripBarriersPass());
  // (Folds the views' chains of reshapes.)
  pm.addPass(createCanonicalizerPass(noRegions));
  if (!options.deallocate)
    return;

  // Deallocation, as upstream's buffer-deallocation-pipeline does it, with
  // the frees moved to each buffer's last use before they are lowered.
  pm.addPass(bufferization::createOwnershipBasedBufferDeallocationPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createBufferDeallocationSimplificationPass());
  if (options.freeAfterLastUse)
    pm.addPass(createRematPlaceDeallocsPass());
  pm.addPass(bufferization::createLowerDeallocationsPass());
  // Clones that deallocation inserts (e.g. to return a non-owned buffer).
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
}
