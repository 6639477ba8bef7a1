//===- Passes.h - the planner's pass ----------------------------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// -remat-rematerialize, the pass over the planner (Planner.h). Generated
/// from Passes.td.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_PLANNER_PASSES_H
#define REMAT_PLANNER_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir {
namespace remat {

#define GEN_PASS_DECL
#include "remat/Planner/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "remat/Planner/Passes.h.inc"

} // namespace remat
} // namespace mlir

#endif // REMAT_PLANNER_PASSES_H
