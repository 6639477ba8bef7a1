//===- InitRemat.cpp - register everything remat provides -----------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/InitRemat.h"

#include "remat/Analysis/Cost.h"
#include "remat/Conversion/Passes.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/TransformOps/RematTransformOps.h"
#include "remat/Dialect/Remat/Transforms/Passes.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"
#include "remat/Pipelines/Pipelines.h"
#include "remat/Planner/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include <mutex>

void mlir::remat::registerRematDialects(DialectRegistry &registry) {
  registry.insert<RematDialect>();
  registerBufferizableOpInterfaceExternalModels(registry);
  registerCostModelExternalModels(registry);
  registerTransformDialectExtension(registry);
}

void mlir::remat::registerRematPassesAndPipelines() {
  registerRematPasses();
  registerRematPlannerPasses();
  registerRematConversionPasses();
  registerRematPipelines();
}

void mlir::remat::registerRemat(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerRematDialects(registry);
  // gpu-module-to-binary (remat-lower-to-nvvm) translates kernels to LLVM IR.
  registerAllGPUToLLVMIRTranslations(registry);
  registerRematAndUpstreamPassesOnce();
}

void mlir::remat::registerRematAndUpstreamPassesOnce() {
  static std::once_flag passes;
  std::call_once(passes, [] {
    registerAllPasses();
    registerRematPassesAndPipelines();
  });
}
