//===- PassSupport.h - helpers shared by remat's passes ---------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// What several of remat's passes do alike: resolve the roofline target
/// options, parse an enumerated option with a diagnostic that lists the
/// choices, and close an output file with its write errors checked.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_SUPPORT_PASSSUPPORT_H
#define REMAT_SUPPORT_PASSSUPPORT_H

#include "remat/Analysis/Cost.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/STLExtras.h"

#include <optional>
#include <string>

namespace llvm {
class ToolOutputFile;
} // namespace llvm

namespace mlir {
namespace remat {

/// Base of the passes that take the roofline target options
/// (RematTargetOptions in TargetOptions.td): resolves them into a
/// TargetModel.
template <typename Derived, template <typename> class GeneratedBase>
struct TargetOptionsPass : public GeneratedBase<Derived> {
  using GeneratedBase<Derived>::GeneratedBase;

protected:
  /// Returns the chosen preset with explicit rates applied, or reports an
  /// unknown preset at the pass's operation.
  FailureOr<TargetModel> resolveTargetOptions() {
    TargetOverrides overrides{this->peakF32, this->peakTF32, this->peakBF16,
                              this->peakFP8, this->bandwidth};
    std::string error;
    FailureOr<TargetModel> target =
        resolveTarget(this->target, overrides, error);
    if (failed(target))
      mlir::emitError(this->getOperation()->getLoc()) << error;
    return target;
  }
};

/// Parses the value of an enumerated pass option; on an unknown value,
/// emits "<pass>: unknown <option> '<value>' (expected a, b or c)" at
/// `root` and returns nullopt.
template <typename T>
std::optional<T> parseChoice(Operation *root, StringRef pass, StringRef option,
                             StringRef value,
                             ArrayRef<std::pair<StringLiteral, T>> choices) {
  for (const auto &[name, choice] : choices)
    if (value == name)
      return choice;
  InFlightDiagnostic diag = mlir::emitError(root->getLoc(), pass);
  diag << ": unknown " << option << " '" << value << "' (expected ";
  for (auto [i, c] : llvm::enumerate(choices))
    diag << (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") << c.first;
  diag << ")";
  return std::nullopt;
}

/// Flushes `file` and keeps it; when writing failed (a full disk, say),
/// emits an error at `loc` naming `what` and `path`, and removes it.
LogicalResult closeChecked(llvm::ToolOutputFile &file, StringRef path,
                           Location loc, StringRef what);

} // namespace remat
} // namespace mlir

#endif // REMAT_SUPPORT_PASSSUPPORT_H
