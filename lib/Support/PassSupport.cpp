//===- PassSupport.cpp - helpers shared by remat's passes -----------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Support/PassSupport.h"

#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

LogicalResult mlir::remat::closeChecked(llvm::ToolOutputFile &file,
                                        StringRef path, Location loc,
                                        StringRef what) {
  file.os().flush();
  if (std::error_code ec = file.os().error()) {
    // (An error left set would end the tool with "IO failure".)
    file.os().clear_error();
    mlir::emitError(loc) << "remat: cannot write " << what << " to '" << path
                         << "': " << ec.message();
    return failure();
  }
  file.keep();
  return success();
}
