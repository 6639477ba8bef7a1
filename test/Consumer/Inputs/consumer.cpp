// An mlir-opt with remat, registered through remat/InitRemat.h's one entry
// point alone.
#include "remat/InitRemat.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::remat::registerRemat(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "remat consumer\n", registry));
}
