//===- Pipelines.cpp - remat pass pipelines -------------------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Pipelines/Pipelines.h"

#include "remat/Dialect/Remat/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
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

void mlir::remat::buildLowerToLLVMPipeline(
    OpPassManager &pm, const LowerToLLVMPipelineOptions &options) {
  buildBufferizePipeline(pm, options);

  // Loops and LLVM.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  FinalizeMemRefToLLVMConversionPassOptions memrefOptions;
  memrefOptions.useGenericFunctions = options.trackAllocations;
  // Aligned allocation passes the exact buffer size, which is what the
  // tracking heap records and what the memory model predicts.
  memrefOptions.useAlignedAlloc = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefOptions));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::remat::registerRematPipelines() {
  PassPipelineRegistration<LowerToLLVMPipelineOptions>(
      "remat-bufferize",
      "Finalize, one-shot bufferize and deallocate a remat training step, "
      "freeing each buffer after its last use (the first half of "
      "remat-lower-to-llvm; track-allocations has no effect here)",
      buildBufferizePipeline);
  PassPipelineRegistration<LowerToLLVMPipelineOptions>(
      "remat-lower-to-llvm",
      "Lower a remat training step to the LLVM dialect for CPU execution: "
      "finalize, one-shot bufferize, deallocate, free after last use, loops, "
      "LLVM",
      buildLowerToLLVMPipeline);
}
