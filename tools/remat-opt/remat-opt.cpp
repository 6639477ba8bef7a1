//===- remat-opt.cpp - the remat optimizer driver -------------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// `mlir-opt` with the remat dialect, passes and pipelines on top of the
/// upstream dialects, passes and extensions. Diagnostics located by name
/// only (imported steps) print as `name: remark: ...`, and those on a line
/// too long to quote (an imported step's signature) without the quote.
///
//===----------------------------------------------------------------------===//

#include "remat/InitRemat.h"
#include "remat/Support/Diagnostics.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

int main(int argc, char **argv) {
  DialectRegistry registry;
  remat::registerRemat(registry);

  // MlirOptMain(argc, argv, ...), with the name-location handler added to
  // each context the pass pipeline runs in (not under -verify-diagnostics,
  // whose handler must see every diagnostic).
  llvm::InitLLVM init(argc, argv);
  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      argc, argv, "remat optimizer driver\n", registry);
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file =
      openInputFile(inputFilename, &error);
  if (!file) {
    llvm::errs() << error << "\n";
    return EXIT_FAILURE;
  }
  // A copy in memory, not the mapped file: `-o` may name the input, and
  // opening the output truncates it under the mapping (SIGBUS).
  file = llvm::MemoryBuffer::getMemBufferCopy(file->getBuffer(),
                                              file->getBufferIdentifier());
  // The input's lines, for the handler to measure (MlirOptMain owns the
  // buffer until it returns).
  llvm::SourceMgr sources;
  sources.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBuffer(file->getMemBufferRef(),
                                       /*RequiresNullTerminator=*/false),
      llvm::SMLoc());
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  if (!config.shouldVerifyDiagnostics()) {
    MlirOptMainConfig parsed = config;
    config.setPassPipelineSetupFn([parsed, &sources](PassManager &pm) {
      remat::registerTerminalDiagnosticHandler(pm.getContext(), llvm::errs(),
                                               &sources);
      return parsed.setupPassPipeline(pm);
    });
  }
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFilename, &error);
  if (!output) {
    llvm::errs() << error << "\n";
    return EXIT_FAILURE;
  }
  if (failed(MlirOptMain(output->os(), std::move(file), registry, config)))
    return EXIT_FAILURE;
  output->keep();
  return EXIT_SUCCESS;
}
