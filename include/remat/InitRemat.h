//===- InitRemat.h - register everything remat provides ---------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// One-call registration of the remat dialect, its interface models, passes
/// and pipelines, for tools and for compilers that embed remat.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_INITREMAT_H
#define REMAT_INITREMAT_H

namespace mlir {
class DialectRegistry;

namespace remat {

/// Everything a tool or a compiler that embeds remat needs, in one call:
/// adds the remat dialect and its interface models, and every upstream
/// dialect, extension and interface model remat's passes and pipelines use
/// (the bufferization models, the NVVM target, the GPU-to-LLVM IR
/// translations: remat-opt's set), to `registry`; and registers remat's
/// passes and pipelines and upstream's passes with the global registry
/// (once per process), so that textual pipelines can name them.
void registerRemat(DialectRegistry &registry);

/// The parts of registerRemat. The remat dialect, its external interface
/// models and its transform dialect extension (transform.remat.*) alone: a
/// pipeline of remat's also needs the upstream dialects and models
/// registerRemat adds.
void registerRematDialects(DialectRegistry &registry);

/// Registers the remat passes and pipelines with the global registry.
void registerRematPassesAndPipelines();

/// The passes half of registerRemat: remat's passes and pipelines and
/// upstream's passes, registered once per process however often it is
/// called.
void registerRematAndUpstreamPassesOnce();

} // namespace remat
} // namespace mlir

#endif // REMAT_INITREMAT_H
