//===- RematTransformOps.cpp - transform ops of remat ---------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Each op runs its pass on the payload ops, so a transform script and a
/// pass pipeline give the same IR.
///
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/TransformOps/RematTransformOps.h"

#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Passes.h"
#include "remat/Planner/Passes.h"

#include "mlir/Dialect/Transform/IR/TransformOps.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;
using namespace mlir::remat;

/// Runs `pass` on each payload op of `target`, and hands the same ops on as
/// `result`.
static DiagnosedSilenceableFailure
runOnPayload(Operation *transformOp, std::unique_ptr<Pass> pass,
             TypedValue<transform::TransformHandleTypeInterface> target,
             OpResult result, transform::TransformResults &results,
             transform::TransformState &state) {
  PassManager pm(transformOp->getContext());
  pm.addPass(std::move(pass));
  SmallVector<Operation *> payload(state.getPayloadOps(target));
  for (Operation *op : payload) {
    if (!op->hasTrait<OpTrait::IsIsolatedFromAbove>())
      return emitDefiniteFailure(transformOp)
             << "expects its target to be isolated from above (a function "
                "or a module), not '"
             << op->getName() << "'";
    if (failed(pm.run(op)))
      return emitDefiniteFailure(transformOp)
             << "'" << pm.begin()->getArgument() << "' failed on the payload";
  }
  results.set(result, payload);
  return DiagnosedSilenceableFailure::success();
}

DiagnosedSilenceableFailure transform::RematApplyCheckpointsOp::apply(
    transform::TransformRewriter &rewriter,
    transform::TransformResults &results, transform::TransformState &state) {
  return runOnPayload(*this, createRematApplyCheckpointsPass(), getTarget(),
                      cast<OpResult>(getResult()), results, state);
}

DiagnosedSilenceableFailure
transform::RematRematerializeOp::apply(transform::TransformRewriter &rewriter,
                                       transform::TransformResults &results,
                                       transform::TransformState &state) {
  // The pass's options as its command line spells them.
  std::string text = ("strategy=" + getStrategy()).str();
  if (std::optional<StringRef> budget = getBudget())
    text += (" budget=" + *budget).str();
  if (DictionaryAttr options = getOptionsAttr()) {
    for (NamedAttribute option : options) {
      text += " " + option.getName().str() + "=";
      if (auto string = dyn_cast<StringAttr>(option.getValue()))
        text += string.getValue().str();
      else if (auto integer = dyn_cast<IntegerAttr>(option.getValue()))
        // (`true` and `false` are i1 IntegerAttrs.)
        text += integer.getType().isInteger(1)
                    ? (integer.getValue().getBoolValue() ? "true" : "false")
                    : std::to_string(integer.getValue().getSExtValue());
      else if (auto number = dyn_cast<FloatAttr>(option.getValue()))
        text += std::to_string(number.getValueAsDouble());
      else
        return emitDefiniteFailure()
               << "option '" << option.getName().getValue()
               << "' must be a string, an integer, a boolean or a float";
    }
  }
  std::unique_ptr<Pass> pass = createRematRematerializePass();
  std::string error;
  if (failed(pass->initializeOptions(text, [&](const Twine &message) {
        error = message.str();
        return failure();
      })))
    return emitDefiniteFailure() << "bad options for remat-rematerialize: "
                                 << StringRef(error).trim();
  return runOnPayload(*this, std::move(pass), getTarget(),
                      cast<OpResult>(getResult()), results, state);
}

#define GET_OP_CLASSES
#include "remat/Dialect/Remat/TransformOps/RematTransformOps.cpp.inc"

namespace {
class RematTransformDialectExtension
    : public transform::TransformDialectExtension<
          RematTransformDialectExtension> {
public:
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RematTransformDialectExtension)

  RematTransformDialectExtension() {
    declareGeneratedDialect<RematDialect>();
    registerTransformOps<
#define GET_OP_LIST
#include "remat/Dialect/Remat/TransformOps/RematTransformOps.cpp.inc"
        >();
  }
};
} // namespace

void mlir::remat::registerTransformDialectExtension(DialectRegistry &registry) {
  registry.addExtensions<RematTransformDialectExtension>();
}
