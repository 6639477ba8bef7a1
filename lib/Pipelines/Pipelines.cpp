//===- Pipelines.cpp - remat pass pipelines -------------------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Pipelines/Pipelines.h"

#include "remat/Conversion/Passes.h"
#include "remat/Dialect/Remat/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/Regex.h"

using namespace mlir;
using namespace mlir::remat;

/// Lowers host code (loops, memrefs, math, functions) to the LLVM dialect;
/// with `gpuRuntime`, GPU operations become calls to the mgpu* runtime.
static void
addHostToLLVM(OpPassManager &pm,
              const FinalizeMemRefToLLVMConversionPassOptions &memrefOptions,
              bool gpuRuntime) {
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefOptions));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  if (gpuRuntime)
    pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::remat::buildLowerToLLVMPipeline(
    OpPassManager &pm, const LowerToLLVMPipelineOptions &options) {
  buildBufferizePipeline(pm, options);

  // Offloaded buffers come from the runtime's host arena.
  pm.addPass(createRematLowerHostMemoryPass());
  // Loops and LLVM.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  FinalizeMemRefToLLVMConversionPassOptions memrefOptions;
  memrefOptions.useGenericFunctions = options.trackAllocations;
  // Aligned allocation passes the exact buffer size, which is what the
  // tracking heap records and what the memory model predicts.
  memrefOptions.useAlignedAlloc = true;
  addHostToLLVM(pm, memrefOptions, /*gpuRuntime=*/false);
}

void mlir::remat::buildLowerToNVVMPipeline(
    OpPassManager &pm, const LowerToNVVMPipelineOptions &options) {
  LowerToLLVMPipelineOptions bufferize;
  bufferize.fusePointwise = options.fusePointwise;
  bufferize.freeAfterLastUse = options.freeAfterLastUse;
  // Fused attention as kernels of its own (on tensors: its launches are
  // calls until bufferization and deallocation are done).
  if (options.attentionKernels)
    pm.addPass(createConvertRematToGPUPass());
  buildBufferizePipeline(pm, bufferize);
  if (options.attentionKernels)
    pm.addPass(createRematGPULaunchKernelCallsPass());

  // Device memory (offloaded buffers in pinned host memory, their copies
  // over the link), and the loops mapped to blocks and threads.
  pm.addPass(createRematGPUDeviceMemoryPass());
  // Kernels written for their class: matmuls tiled through shared memory,
  // then reductions combined across a block (contractions first: they are
  // reductions too).
  if (options.tileContractions) {
    RematGPUTileContractionsPassOptions tiles;
    tiles.mma = options.mma;
    pm.addNestedPass<func::FuncOp>(createRematGPUTileContractionsPass(tiles));
  }
  if (options.parallelReductions)
    pm.addNestedPass<func::FuncOp>(createRematGPUParallelReductionsPass());
  if (options.flatKernels)
    pm.addNestedPass<func::FuncOp>(createRematGPUMapLinalgPass());
  // What is left (ops the passes above do not take) goes through the
  // generic parallel-loop mapping.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  // Tiles: the outer loops become the grid, the tiles the threads of a
  // block.
  pm.addNestedPass<func::FuncOp>(createParallelLoopTilingPass({16, 16}));
  pm.addNestedPass<func::FuncOp>(createGpuMapParallelLoopsPass());
  pm.addNestedPass<func::FuncOp>(createConvertParallelLoopToGpuPass());
  pm.addPass(createRematGPUWrapHostComputePass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createCanonicalizerPass());

  // Kernels, and the host's runtime calls on one stream.
  pm.addPass(createGpuKernelOutliningPass());
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  // Offloaded buffers: their host allocations synchronous, their memory
  // space dropped.
  RematLowerHostMemoryPassOptions hostMemory;
  hostMemory.gpu = true;
  pm.addPass(createRematLowerHostMemoryPass(hostMemory));
  // Their copies: on streams of their own, joined by events.
  pm.addNestedPass<func::FuncOp>(createRematGPUCopyStreamsPass());
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));

  // Device code: NVVM.
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createSCFToControlFlowPass());
  // Tensor-core fragments: nvgpu.mma.sync and the vectors that carry them.
  kernels.addPass(createConvertNVGPUToNVVMPass());
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  kernels.addPass(createConvertVectorToLLVMPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());

  // Host code: LLVM, with the GPU runtime calls (mgpu*).
  addHostToLLVM(pm, {}, /*gpuRuntime=*/true);

  GpuModuleToBinaryPassOptions binary;
  switch (options.format) {
  case LowerToNVVMPipelineOptions::Format::Nvvm:
    // No binary: the kernels stay in the NVVM dialect, for inspection or
    // another compiler.
    return;
  case LowerToNVVMPipelineOptions::Format::Isa:
    binary.compilationTarget = "isa";
    break;
  case LowerToNVVMPipelineOptions::Format::Bin:
    binary.compilationTarget = "bin";
    break;
  case LowerToNVVMPipelineOptions::Format::Fatbin:
    binary.compilationTarget = "fatbin";
    break;
  }
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

LogicalResult mlir::remat::verifyLowerToNVVMPipelineOptions(
    const LowerToNVVMPipelineOptions &options, std::string &error) {
  // (Upstream's NVVM target verification crashes on an empty chip.)
  static const llvm::Regex chip("^sm_[0-9]+[a-z]?$");
  static const llvm::Regex features("^([+-][a-z0-9._]+(,[+-][a-z0-9._]+)*)?$");
  std::string value = options.chip;
  if (!chip.match(value)) {
    error = "chip '" + value +
            "' is not an NVIDIA GPU architecture (expected sm_<N>, such as "
            "sm_80 or sm_90a)";
    return failure();
  }
  value = options.features;
  if (!features.match(value)) {
    error = "features '" + value +
            "' is not a comma-separated list of +name or -name (such as "
            "+ptx80)";
    return failure();
  }
  if (options.optLevel < 0 || options.optLevel > 3) {
    error = "opt-level must be 0, 1, 2 or 3, not " +
            std::to_string(options.optLevel);
    return failure();
  }
  value = options.mma;
  if (value != "none" && value != "half" && value != "tf32") {
    error = "mma '" + value + "' is not one of none, half or tf32";
    return failure();
  }
  return success();
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
  // (Registered by hand, not through PassPipelineRegistration, to check the
  // options when the pipeline is parsed.)
  registerPassPipeline(
      "remat-lower-to-nvvm",
      "Lower a remat training step for NVIDIA GPUs: finalize, fuse pointwise, "
      "one-shot bufferize, free after last use, device memory, map loops to "
      "blocks and threads, outline kernels, NVVM, gpu-module-to-binary",
      [](OpPassManager &pm, StringRef text,
         function_ref<LogicalResult(const Twine &)> errorHandler) {
        LowerToNVVMPipelineOptions options;
        if (failed(options.parseFromString(text)))
          return failure();
        std::string error;
        if (failed(verifyLowerToNVVMPipelineOptions(options, error)))
          return errorHandler("remat-lower-to-nvvm: " + error);
        buildLowerToNVVMPipeline(pm, options);
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> optionsHandler) {
        optionsHandler(LowerToNVVMPipelineOptions());
      });
}
