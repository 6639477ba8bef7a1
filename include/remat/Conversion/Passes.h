//===- Passes.h - remat conversion passes -----------------------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The passes that lower a bufferized step out of linalg: to GPU kernels
/// (LinalgToGPU, the middle of -remat-lower-to-nvvm). Generated from
/// Passes.td.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_CONVERSION_PASSES_H
#define REMAT_CONVERSION_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace remat {

#define GEN_PASS_DECL
#include "remat/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "remat/Conversion/Passes.h.inc"

} // namespace remat
} // namespace mlir

#endif // REMAT_CONVERSION_PASSES_H
