//===- RematTransformOps.h - transform ops of remat -------------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// transform.remat.apply_checkpoints and transform.remat.rematerialize: the
/// passes of the same names, driven from a transform script.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_DIALECT_REMAT_TRANSFORMOPS_REMATTRANSFORMOPS_H
#define REMAT_DIALECT_REMAT_TRANSFORMOPS_REMATTRANSFORMOPS_H

#include "mlir/Dialect/Transform/IR/TransformDialect.h"
#include "mlir/Dialect/Transform/Interfaces/TransformInterfaces.h"
#include "mlir/IR/OpImplementation.h"

#define GET_OP_CLASSES
#include "remat/Dialect/Remat/TransformOps/RematTransformOps.h.inc"

namespace mlir {
class DialectRegistry;

namespace remat {
/// Registers the transform dialect extension with remat's transform ops.
void registerTransformDialectExtension(DialectRegistry &registry);
} // namespace remat
} // namespace mlir

#endif // REMAT_DIALECT_REMAT_TRANSFORMOPS_REMATTRANSFORMOPS_H
