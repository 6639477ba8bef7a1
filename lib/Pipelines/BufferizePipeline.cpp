//===- BufferizePipeline.cpp - finalize, bufferize, deallocate ------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

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
  // Tensor level: remove the remat ops, keeping recomputed values apart.
  pm.addPass(createRematFinalizePass());
  if (options.cse) {
    pm.addPass(createCanonicalizerPass());
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
  pm.addPass(createRematStripBarriersPass());
  pm.addPass(createCanonicalizerPass());
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
