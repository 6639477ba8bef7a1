//===- Diagnostics.cpp - diagnostics that read well on a terminal ---------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Support/Diagnostics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using namespace mlir::remat;

std::string mlir::remat::getNameOnlyLocation(Location loc) {
  if (loc->findInstanceOf<FileLineColLoc>())
    return "";
  if (auto name = loc->findInstanceOf<NameLoc>())
    return name.getName().str();
  return "";
}

static StringRef getSeverityName(DiagnosticSeverity severity) {
  switch (severity) {
  case DiagnosticSeverity::Note:
    return "note";
  case DiagnosticSeverity::Warning:
    return "warning";
  case DiagnosticSeverity::Error:
    return "error";
  case DiagnosticSeverity::Remark:
    return "remark";
  }
  return "error";
}

/// The length of line `line` of the buffer named `file` in `sources`, if it
/// holds one.
static std::optional<size_t> getLineWidth(const llvm::SourceMgr &sources,
                                          StringRef file, unsigned line) {
  for (unsigned id = 1, e = sources.getNumBuffers(); id <= e; ++id) {
    const llvm::MemoryBuffer *buffer = sources.getMemoryBuffer(id);
    if (buffer->getBufferIdentifier() != file)
      continue;
    StringRef text = buffer->getBuffer();
    size_t start = 0;
    for (unsigned l = 1; l < line; ++l) {
      start = text.find('\n', start);
      if (start == StringRef::npos)
        return std::nullopt;
      ++start;
    }
    size_t end = text.find('\n', start);
    return (end == StringRef::npos ? text.size() : end) - start;
  }
  return std::nullopt;
}

void mlir::remat::printDiagnostic(Diagnostic &diag, llvm::raw_ostream &os) {
  Location loc = diag.getLocation();
  // A note may point elsewhere: at a file position, or nowhere (then at the
  // diagnostic's own location).
  auto print = [&](const Diagnostic &d) {
    Location at = d.getLocation();
    if (isa<UnknownLoc>(at))
      at = loc;
    if (auto file = at->findInstanceOf<FileLineColLoc>())
      os << file.getFilename().getValue() << ":" << file.getLine() << ":"
         << file.getColumn();
    else if (std::string where = getNameOnlyLocation(at); !where.empty())
      os << where;
    else
      os << at;
    os << ": " << getSeverityName(d.getSeverity()) << ": " << d.str() << "\n";
  };
  print(diag);
  for (const Diagnostic &note : diag.getNotes())
    print(note);
  os.flush();
}

LogicalResult
mlir::remat::printTerminalDiagnostic(Diagnostic &diag, llvm::raw_ostream &os,
                                     const llvm::SourceMgr *sources) {
  Location loc = diag.getLocation();
  bool take = !getNameOnlyLocation(loc).empty();
  if (auto file = loc->findInstanceOf<FileLineColLoc>(); file && sources)
    if (std::optional<size_t> width =
            getLineWidth(*sources, file.getFilename(), file.getLine()))
      take = *width > kMaxQuotedLineWidth;
  if (!take)
    return failure();
  printDiagnostic(diag, os);
  return success();
}

void mlir::remat::registerTerminalDiagnosticHandler(
    MLIRContext *context, llvm::raw_ostream &os,
    const llvm::SourceMgr *sources) {
  context->getDiagEngine().registerHandler([&os, sources](Diagnostic &diag) {
    return printTerminalDiagnostic(diag, os, sources);
  });
}
