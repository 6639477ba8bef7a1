//===- Remat.h - remat dialect ----------------------------------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The `remat` dialect: checkpoint and backward regions, value names and
/// optimization barriers.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_DIALECT_REMAT_IR_REMAT_H
#define REMAT_DIALECT_REMAT_IR_REMAT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "remat/Dialect/Remat/IR/RematOpsDialect.h.inc"

#include "remat/Dialect/Remat/IR/RematEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "remat/Dialect/Remat/IR/RematAttrs.h.inc"

#define GET_OP_CLASSES
#include "remat/Dialect/Remat/IR/RematOps.h.inc"

namespace mlir {
namespace remat {
/// Clones the ops of an attention op's `keep` region (verified: one block
/// of (b, h, i, j: index, seed: i64) yielding one i1) at `b`'s insertion
/// point, its arguments bound to `args`, and returns the keep bit.
Value cloneKeepRegion(OpBuilder &b, Region &keep, ValueRange args);
/// The `remat.offload` result that `value` is, directly or through the
/// arguments of `remat.backward` and the results of `remat.barrier`; null
/// when it is none.
Value getOffloadedSource(Value value);
/// True for a memref type in `#remat.memory_space<host>`.
bool isHostMemRef(Type type);
} // namespace remat
} // namespace mlir

#endif // REMAT_DIALECT_REMAT_IR_REMAT_H
