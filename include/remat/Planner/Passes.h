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
#include "llvm/Support/JSON.h"

#include <functional>

namespace mlir {
namespace remat {

#define GEN_PASS_DECL
#include "remat/Planner/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "remat/Planner/Passes.h.inc"

/// Receives the plan summary of one run of -remat-rematerialize: what
/// `plan-file` would hold ({"schema": "remat-plan/1", "plans": [...]}),
/// also when a budget is infeasible.
using PlanSummarySink = std::function<void(const llvm::json::Value &)>;

/// -remat-rematerialize (its options set with Pass::initializeOptions),
/// handing its plan summary to `sink` as well as to `plan-file`.
std::unique_ptr<Pass> createRematRematerializePass(PlanSummarySink sink);

} // namespace remat
} // namespace mlir

#endif // REMAT_PLANNER_PASSES_H
