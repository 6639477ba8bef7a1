// An mlir-opt with remat: registered through remat/InitRemat.h.
#include "remat/InitRemat.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::remat::registerRematPassesAndPipelines();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::remat::registerRematDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "remat consumer\n", registry));
}
