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
  PassOptions::Option<bool> fusePointwise{
      *this, "fuse-pointwise",
      llvm::cl::desc("Fuse chains of element-wise linalg ops before "
                     "bufferization"),
      llvm::cl::init(false)};
};

/// Options of the `remat-lower-to-nvvm` pipeline.
struct LowerToNVVMPipelineOptions
    : public PassPipelineOptions<LowerToNVVMPipelineOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("The NVIDIA GPU to compile for"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("PTX features (the PTX ISA version)"),
      llvm::cl::init("+ptx80")};
  enum class Format { Isa, Bin, Fatbin, Nvvm };
  PassOptions::Option<Format> format{
      *this, "format",
      llvm::cl::desc("What gpu-module-to-binary emits: isa (PTX text), bin "
                     "(cubin, needs ptxas) or fatbin (needs the CUDA "
                     "toolkit); nvvm skips it"),
      llvm::cl::init(Format::Isa),
      llvm::cl::values(clEnumValN(Format::Isa, "isa", "PTX text"),
                       clEnumValN(Format::Bin, "bin", "cubin"),
                       clEnumValN(Format::Fatbin, "fatbin", "fat binary"),
                       clEnumValN(Format::Nvvm, "nvvm",
                                  "no binary: the gpu.modules stay in the "
                                  "NVVM and LLVM dialects"))};
  PassOptions::Option<int> optLevel{
      *this, "opt-level",
      llvm::cl::desc("Optimization level of the device code (0-3)"),
      llvm::cl::init(3)};
  PassOptions::Option<bool> fusePointwise{
      *this, "fuse-pointwise",
      llvm::cl::desc("Fuse chains of element-wise linalg ops before "
                     "bufferization (-linalg-fuse-elementwise-ops)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> freeAfterLastUse{
      *this, "free-after-last-use",
      llvm::cl::desc("Free each buffer right after its last use"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> attentionKernels{
      *this, "attention-kernels",
      llvm::cl::desc("Run remat.attention and remat.attention_grad as "
                     "tiled FlashAttention kernels (-convert-remat-to-gpu); "
                     "otherwise as their linalg loops, each block's ops a "
                     "kernel of their own inside host loops"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> tileContractions{
      *this, "tile-contractions",
      llvm::cl::desc("Run matmul-class ops as shared-memory tiled kernels "
                     "(-remat-gpu-tile-contractions); otherwise one thread "
                     "per result element"),
      llvm::cl::init(true)};
  PassOptions::Option<std::string> mma{
      *this, "mma",
      llvm::cl::desc("Tensor cores for contractions: none, half (f16 "
                     "products accumulated in f32) or tf32 (also f32, "
                     "rounded to tf32); not yet run on a GPU, so off by "
                     "default"),
      llvm::cl::init("none")};
  PassOptions::Option<bool> parallelReductions{
      *this, "parallel-reductions",
      llvm::cl::desc("Run reductions as block-wide parallel reductions "
                     "(-remat-gpu-parallel-reductions); otherwise one thread "
                     "per result element"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> flatKernels{
      *this, "flat-kernels",
      llvm::cl::desc("Run the other linalg ops as flat one-thread-per-element "
                     "kernels (-remat-gpu-map-linalg); otherwise through "
                     "-convert-linalg-to-parallel-loops, tiled 16x16"),
      llvm::cl::init(true)};
};

/// Checks the options that upstream passes would take on trust: `chip`
/// (`sm_<N>` with an optional letter suffix, such as sm_90a), `features`
/// (comma-separated `+name` or `-name`, such as +ptx80), `opt-level` (0-3)
/// and `mma`. Returns the reason in `error` on failure. The registered
/// pipeline checks them before it builds.
LogicalResult
verifyLowerToNVVMPipelineOptions(const LowerToNVVMPipelineOptions &options,
                                 std::string &error);

/// Builds finalize -> fuse pointwise -> one-shot bufferize -> deallocation
/// (frees after last use) -> device memory -> tiled contractions and
/// parallel reductions -> the other loops mapped to
/// blocks and threads -> one-thread kernels for what is left on the host ->
/// outlining -> async runtime calls -> NVVM -> LLVM -> gpu-module-to-binary.
void buildLowerToNVVMPipeline(OpPassManager &pm,
                              const LowerToNVVMPipelineOptions &options);

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
