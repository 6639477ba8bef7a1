//===- Pipelines.h - remat pass pipelines -----------------------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Pass pipelines that take a remat training step down to executable code.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_PIPELINES_PIPELINES_H
#define REMAT_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir {
namespace remat {

/// Options of the `remat-lower-to-llvm` pipeline.
struct LowerToLLVMPipelineOptions
    : public PassPipelineOptions<LowerToLLVMPipelineOptions> {
  PassOptions::Option<bool> cse{
      *this, "cse",
      llvm::cl::desc("Run -canonicalize -cse after finalization, as a real "
                     "compiler stack would"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> deallocate{
      *this, "deallocate",
      llvm::cl::desc("Insert deallocations. Without them the memory analysis "
                     "still ends each buffer at its last use, which is where "
                     "the frees go, so the peak is the same at a fraction of "
                     "the compile time (the planner's bufferized check)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> freeAfterLastUse{
      *this, "free-after-last-use",
      llvm::cl::desc("Free each buffer right after its last use "
                     "(-remat-place-deallocs) instead of at the end of its "
                     "block"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> trackAllocations{
      *this, "track-allocations",
      llvm::cl::desc("Allocate through _mlir_memref_to_llvm_alloc/free, which "
                     "the remat runtime (libRematRuntime) implements with a "
                     "high-water mark; otherwise call malloc/free"),
      llvm::cl::init(true)};
};

/// Builds the first half of remat-lower-to-llvm: finalize -> one-shot
/// bufferize -> deallocation (with frees after last use). Its result is the
/// program whose allocations the CPU run measures.
void buildBufferizePipeline(OpPassManager &pm,
                            const LowerToLLVMPipelineOptions &options);

/// Builds finalize -> one-shot bufferize -> deallocation -> loops -> LLVM.
void buildLowerToLLVMPipeline(OpPassManager &pm,
                              const LowerToLLVMPipelineOptions &options);

/// Registers the remat pipelines with the global pass registry.
void registerRematPipelines();

} // namespace remat
} // namespace mlir

#endif // REMAT_PIPELINES_PIPELINES_H
