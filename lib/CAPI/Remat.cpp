//===- Remat.cpp - C API of remat -----------------------------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat-c/Remat.h"

#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/InitRemat.h"
#include "remat/Planner/Passes.h"

#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Pass.h"
#include "mlir/CAPI/Registration.h"
#include "mlir/CAPI/Support.h"
#include "mlir/CAPI/Utils.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

MLIR_DEFINE_CAPI_DIALECT_REGISTRATION(Remat, remat, remat::RematDialect)

void rematRegisterAllDialects(MlirDialectRegistry registry) {
  DialectRegistry &r = *unwrap(registry);
  registerAllDialects(r);
  registerAllExtensions(r);
  remat::registerRematDialects(r);
  // gpu-module-to-binary (remat-lower-to-nvvm) translates kernels to LLVM IR.
  registerAllGPUToLLVMIRTranslations(r);
}

void rematRegisterPasses(void) {
  registerAllPasses();
  remat::registerRematPassesAndPipelines();
}

MlirLogicalResult rematPlan(MlirOperation module, MlirStringRef options,
                            MlirStringCallback callback, void *userData) {
  Operation *root = unwrap(module);
  std::string summary;
  std::unique_ptr<Pass> pass =
      remat::createRematRematerializePass([&](const llvm::json::Value &value) {
        summary = llvm::formatv("{0:2}", value).str();
      });
  if (failed(
          pass->initializeOptions(unwrap(options), [&](const Twine &message) {
            return mlir::emitError(root->getLoc(),
                                   "remat-rematerialize: bad options: ")
                   << message.str();
          })))
    return wrap(failure());
  PassManager pm(root->getContext(), root->getName().getStringRef());
  pm.addPass(std::move(pass));
  LogicalResult result = pm.run(root);
  if (!summary.empty())
    callback(wrap(summary), userData);
  return wrap(result);
}
