//===- Remat.cpp - C API of remat -----------------------------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat-c/Remat.h"

#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/InitRemat.h"
#include "remat/Planner/Passes.h"
#include "remat/Support/Diagnostics.h"

#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Pass.h"
#include "mlir/CAPI/Registration.h"
#include "mlir/CAPI/Support.h"
#include "mlir/CAPI/Utils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

MLIR_DEFINE_CAPI_DIALECT_REGISTRATION(Remat, remat, remat::RematDialect)

// (registerRemat also registers the passes, once per process.)
void rematRegisterAllDialects(MlirDialectRegistry registry) {
  remat::registerRemat(*unwrap(registry));
}

void rematRegisterPasses(void) { remat::registerRematAndUpstreamPassesOnce(); }

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

namespace {
/// One round trip on text: a context with remat's dialects, the module
/// parsed from `text`, and every diagnostic printed as remat-opt prints it
/// and handed to `diagnostics`.
class TextSession {
public:
  TextSession(MlirStringRef text, MlirStringRef sourceName,
              MlirStringCallback diagnostics, void *userData)
      : context(makeRegistry()), diagnostics(diagnostics), userData(userData) {
    sources.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(unwrap(text), unwrap(sourceName)),
        llvm::SMLoc());
    context.getDiagEngine().registerHandler([this](Diagnostic &diag) {
      std::string message;
      llvm::raw_string_ostream os(message);
      // (remat-opt's form; the source line it quotes under other
      // diagnostics is left out.)
      if (failed(remat::printTerminalDiagnostic(diag, os, &sources)))
        remat::printDiagnostic(diag, os);
      this->diagnostics(wrap(llvm::StringRef(message)), this->userData);
      return success();
    });
    module = parseSourceFile<ModuleOp>(sources, &context);
  }

  /// Prints the module to `output`.
  void print(MlirStringCallback output) {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    os << "\n";
    output(wrap(llvm::StringRef(text)), userData);
  }

  MLIRContext context;
  llvm::SourceMgr sources;
  OwningOpRef<ModuleOp> module;
  MlirStringCallback diagnostics;
  void *userData;

private:
  /// remat's dialects (and, once per process, the passes pipelines name).
  static DialectRegistry makeRegistry() {
    DialectRegistry registry;
    rematRegisterAllDialects(wrap(&registry));
    return registry;
  }
};
} // namespace

MlirLogicalResult
rematRunPipelineOnText(MlirStringRef module, MlirStringRef sourceName,
                       MlirStringRef pipeline, MlirStringCallback output,
                       MlirStringCallback diagnostics, void *userData) {
  TextSession session(module, sourceName, diagnostics, userData);
  if (!session.module)
    return wrap(failure());
  std::string error;
  llvm::raw_string_ostream errorStream(error);
  FailureOr<OpPassManager> parsed =
      parsePassPipeline(unwrap(pipeline), errorStream);
  if (failed(parsed)) {
    // (The parser's own message: it quotes the pipeline at the error.)
    diagnostics(wrap(llvm::StringRef(error)), userData);
    return wrap(failure());
  }
  PassManager pm(&session.context, parsed->getOpAnchorName());
  static_cast<OpPassManager &>(pm) = std::move(*parsed);
  if (failed(pm.run(*session.module)))
    return wrap(failure());
  session.print(output);
  return wrap(success());
}

MlirLogicalResult rematPlanText(MlirStringRef module, MlirStringRef sourceName,
                                MlirStringRef options,
                                MlirStringCallback summary,
                                MlirStringCallback output,
                                MlirStringCallback diagnostics,
                                void *userData) {
  TextSession session(module, sourceName, diagnostics, userData);
  if (!session.module)
    return wrap(failure());
  MlirLogicalResult result = rematPlan(wrap(session.module->getOperation()),
                                       options, summary, userData);
  if (mlirLogicalResultIsSuccess(result))
    session.print(output);
  return result;
}
