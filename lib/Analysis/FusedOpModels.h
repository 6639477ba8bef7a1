//===- FusedOpModels.h - interface models of remat's fused ops --*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The CostOpInterface and WorkspaceOpInterface models of a fused op pair
/// (a forward op and its gradient) whose work and temporary buffers are
/// functions of a shape read from the op. `Fused` provides
/// `getShape(op)`, `getCost(shape, gradient)` and
/// `getWorkspace(shape, gradient)`.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_ANALYSIS_FUSEDOPMODELS_H
#define REMAT_LIB_ANALYSIS_FUSEDOPMODELS_H

#include "remat/Analysis/Cost.h"

namespace mlir {
namespace remat {

template <typename Fused, typename OpTy, bool Gradient>
struct FusedCostModel : public CostOpInterface::ExternalModel<
                            FusedCostModel<Fused, OpTy, Gradient>, OpTy> {
  FailureOr<OpCost> getCost(Operation *op) const {
    return Fused::getCost(Fused::getShape(cast<OpTy>(op)), Gradient);
  }
};

template <typename Fused, typename OpTy, bool Gradient>
struct FusedWorkspaceModel
    : public WorkspaceOpInterface::ExternalModel<
          FusedWorkspaceModel<Fused, OpTy, Gradient>, OpTy> {
  SmallVector<int64_t> getWorkspaceBuffers(Operation *op) const {
    return Fused::getWorkspace(Fused::getShape(cast<OpTy>(op)), Gradient);
  }
};

/// Attaches both models to the forward op `Forward` and its gradient op
/// `GradientOp`.
template <typename Fused, typename Forward, typename GradientOp>
void attachFusedOpModels(MLIRContext *context) {
  Forward::template attachInterface<FusedCostModel<Fused, Forward, false>,
                                    FusedWorkspaceModel<Fused, Forward, false>>(
      *context);
  GradientOp::template attachInterface<
      FusedCostModel<Fused, GradientOp, true>,
      FusedWorkspaceModel<Fused, GradientOp, true>>(*context);
}

} // namespace remat
} // namespace mlir

#endif // REMAT_LIB_ANALYSIS_FUSEDOPMODELS_H
