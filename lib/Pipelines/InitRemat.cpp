//===- InitRemat.cpp - register everything remat provides -----------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/InitRemat.h"

#include "remat/Analysis/Cost.h"
#include "remat/Conversion/Passes.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Passes.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"
#include "remat/Pipelines/Pipelines.h"
#include "remat/Planner/Passes.h"

#include "mlir/IR/DialectRegistry.h"

void mlir::remat::registerRematDialects(DialectRegistry &registry) {
  registry.insert<RematDialect>();
  registerBufferizableOpInterfaceExternalModels(registry);
  registerCostModelExternalModels(registry);
}

void mlir::remat::registerRematPassesAndPipelines() {
  registerRematPasses();
  registerRematPlannerPasses();
  registerRematConversionPasses();
  registerRematPipelines();
}
