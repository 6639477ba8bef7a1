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

/// Adds the remat dialect and its external interface models to `registry`.
void registerRematDialects(DialectRegistry &registry);

/// Registers the remat passes and pipelines with the global registry.
void registerRematPassesAndPipelines();

} // namespace remat
} // namespace mlir

#endif // REMAT_INITREMAT_H
