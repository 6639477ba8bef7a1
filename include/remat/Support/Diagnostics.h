//===- Diagnostics.h - diagnostics that read well on a terminal -*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Imported training steps locate their ops by name (`loc("blocks.3.attn")`)
/// with no file position, and their function signature is one line of
/// thousands of characters. MLIR's source-manager handler prints the first
/// as `<unknown>:0: remark: loc("blocks.3.attn"): ...` and quotes the second
/// in full under every diagnostic on the function. The handler here prints
/// `blocks.3.attn: remark: ...`, and `file:line:col: remark: ...` without
/// the quote when the source line is too long to read; it leaves every other
/// diagnostic to the handlers registered before it.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_SUPPORT_DIAGNOSTICS_H
#define REMAT_SUPPORT_DIAGNOSTICS_H

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir {
namespace remat {

/// The name of `loc` when it locates by name only (a NameLoc, or a fused or
/// call-site location of them, with no file position), else "".
std::string getNameOnlyLocation(Location loc);

/// Source lines longer than this are not quoted under a diagnostic.
constexpr unsigned kMaxQuotedLineWidth = 160;

/// Prints `diag` and its notes as `where: severity: message` lines to `os`
/// and returns success when its location is by name only, or is a file
/// position whose line in `sources` (when given) is longer than
/// kMaxQuotedLineWidth; otherwise prints nothing and returns failure, so the
/// next handler takes it.
/// Prints `diag` and its notes, one line each: the location (file:line:col,
/// the name of a name location, or the location as MLIR prints it), the
/// severity and the message, as printTerminalDiagnostic does.
void printDiagnostic(Diagnostic &diag, llvm::raw_ostream &os);

LogicalResult printTerminalDiagnostic(Diagnostic &diag, llvm::raw_ostream &os,
                                      const llvm::SourceMgr *sources = nullptr);

/// Registers a handler on `context` that prints with printTerminalDiagnostic
/// to `os` (stderr by default). It is called before the handlers registered
/// earlier (a SourceMgrDiagnosticHandler, for example), which still take
/// every other diagnostic. `sources` must outlive the context. Do not
/// register it under a diagnostic verifier: it would take the diagnostics it
/// checks.
void registerTerminalDiagnosticHandler(
    MLIRContext *context, llvm::raw_ostream &os = llvm::errs(),
    const llvm::SourceMgr *sources = nullptr);

} // namespace remat
} // namespace mlir

#endif // REMAT_SUPPORT_DIAGNOSTICS_H
