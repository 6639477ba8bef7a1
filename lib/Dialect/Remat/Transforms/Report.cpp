//===- Report.cpp - saved-set report of remat.backward ops ----------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Analysis/Cost.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#define DEBUG_TYPE "remat-report"

using namespace mlir;
using namespace mlir::remat;

/// Looks through checkpoint results to the value yielded inside the body.
static Value lookThroughCheckpoints(Value value) {
  while (auto result = dyn_cast<OpResult>(value)) {
    auto checkpoint = dyn_cast<CheckpointOp>(result.getOwner());
    if (!checkpoint)
      break;
    value = checkpoint.getYield().getValues()[result.getResultNumber()];
  }
  return value;
}

/// Returns the tag of `value`: the name of a `remat.name` that defines it,
/// else its location.
static std::string describe(Value value) {
  value = lookThroughCheckpoints(value);
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto name = value.getDefiningOp<NameOp>()) {
    os << '"' << name.getTag() << '"';
    return text;
  }
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    os << "arg #" << arg.getArgNumber();
    return text;
  }
  value.getLoc().print(os);
  return text;
}

void mlir::remat::printSavedSetReport(Operation *root, raw_ostream &os) {
  unsigned index = 0;
  root->walk([&](BackwardOp backward) {
    os << "remat-report: backward #" << index++ << " at ";
    backward.getLoc().print(os);
    os << "\n";
    os << llvm::format("  %-4s %-10s %-28s %-24s %12s  %s\n", "#", "kind",
                       "value", "type", "bytes", "defined by");
    int64_t activationBytes = 0, residentBytes = 0;
    unsigned activations = 0, resident = 0;
    for (auto [i, input] : llvm::enumerate(backward.getInputs())) {
      bool isArgument = isa<BlockArgument>(input);
      std::optional<int64_t> bytes = getStaticSizeInBytes(input.getType());
      std::string type;
      llvm::raw_string_ostream typeOs(type);
      input.getType().print(typeOs);
      Operation *def = lookThroughCheckpoints(input).getDefiningOp();
      if (auto name = dyn_cast_or_null<NameOp>(def))
        def = name.getInput().getDefiningOp();
      os << llvm::format(
          "  %-4u %-10s %-28s %-24s %12s  %s\n", unsigned(i),
          isArgument ? "argument" : "activation", describe(input).c_str(),
          type.c_str(), bytes ? std::to_string(*bytes).c_str() : "?",
          def ? def->getName().getStringRef().str().c_str() : "-");
      (isArgument ? residentBytes : activationBytes) += bytes.value_or(0);
      ++(isArgument ? resident : activations);
    }
    os << "  activations: " << activations << " values, " << activationBytes
       << " bytes\n";
    os << "  resident arguments: " << resident << " values, " << residentBytes
       << " bytes\n";
  });
  if (index == 0)
    os << "remat-report: no remat.backward\n";
}
