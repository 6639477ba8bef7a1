//===- RematDialect.cpp - remat dialect, attributes and ops ---------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/IR/Remat.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::remat;

#include "remat/Dialect/Remat/IR/RematEnums.cpp.inc"
#include "remat/Dialect/Remat/IR/RematOpsDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "remat/Dialect/Remat/IR/RematAttrs.cpp.inc"

//===----------------------------------------------------------------------===//
// Custom assembly directives
//===----------------------------------------------------------------------===//

/// `remat.barrier` prints only its operand types; its results have the same.
static ParseResult parseResultTypesOfInputs(OpAsmParser &,
                                            SmallVectorImpl<Type> &results,
                                            TypeRange inputs) {
  llvm::append_range(results, inputs);
  return success();
}

static void printResultTypesOfInputs(OpAsmPrinter &, Operation *, TypeRange,
                                     TypeRange) {}

#define GET_OP_CLASSES
#include "remat/Dialect/Remat/IR/RematOps.cpp.inc"

void RematDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "remat/Dialect/Remat/IR/RematAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "remat/Dialect/Remat/IR/RematOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// PolicyAttr
//===----------------------------------------------------------------------===//

/// Parses `<kind>` or `<kind = ["a", "b"]>`. Names are accepted after any
/// kind so that the verifier, not the parser, explains a misplaced list.
Attribute PolicyAttr::parse(AsmParser &parser, Type) {
  if (parser.parseLess())
    return {};
  SMLoc kindLoc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return {};
  std::optional<PolicyKind> kind = symbolizePolicyKind(keyword);
  if (!kind) {
    parser.emitError(kindLoc)
        << "unknown policy kind '" << keyword
        << "'; expected one of 'nothing', 'dots', 'names', 'everything'";
    return {};
  }
  SmallVector<StringAttr> names;
  if (succeeded(parser.parseOptionalEqual())) {
    if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Square,
                                       [&]() -> ParseResult {
                                         StringAttr name;
                                         if (parser.parseAttribute(name))
                                           return failure();
                                         names.push_back(name);
                                         return success();
                                       }))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return PolicyAttr::getChecked([&]() { return parser.emitError(kindLoc); },
                                parser.getContext(), *kind, names);
}

void PolicyAttr::print(AsmPrinter &printer) const {
  printer << '<' << stringifyPolicyKind(getKind());
  if (!getNames().empty()) {
    printer << " = [";
    llvm::interleaveComma(getNames(), printer,
                          [&](StringAttr name) { printer << name; });
    printer << ']';
  }
  printer << '>';
}

LogicalResult PolicyAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 PolicyKind kind, ArrayRef<StringAttr> names) {
  if (kind != PolicyKind::Names) {
    if (!names.empty())
      return emitError() << "policy '" << stringifyPolicyKind(kind)
                         << "' takes no names";
    return success();
  }
  if (names.empty())
    return emitError() << "policy 'names' needs at least one name";
  llvm::DenseSet<StringAttr> seen;
  for (auto [index, name] : llvm::enumerate(names)) {
    if (name.getValue().empty())
      return emitError() << "policy name #" << index << " is empty";
    if (!seen.insert(name).second)
      return emitError() << "policy names '" << name.getValue()
                         << "' more than once";
  }
  return success();
}

bool PolicyAttr::savesName(StringRef name) const {
  switch (getKind()) {
  case PolicyKind::Everything:
    return true;
  case PolicyKind::Names:
    return llvm::any_of(getNames(),
                        [&](StringAttr n) { return n.getValue() == name; });
  case PolicyKind::Nothing:
  case PolicyKind::Dots:
    return false;
  }
  llvm_unreachable("unknown policy kind");
}

//===----------------------------------------------------------------------===//
// Region ops
//===----------------------------------------------------------------------===//

/// `op->emitOpError()` without the note that prints the op: the op of a
/// region verifier can hold a whole backward pass.
static InFlightDiagnostic emitRegionOpError(Operation *op) {
  return mlir::emitError(op->getLoc()) << "'" << op->getName() << "' op ";
}

/// Shared verifier of `remat.checkpoint` and `remat.backward`: the op is
/// part of a function (a training step), the entry block's arguments mirror
/// `inputs`, and the `remat.yield` at its end mirrors the op's results.
static LogicalResult verifyIsolatedBody(Operation *op, ValueRange inputs,
                                        Region &body) {
  if (!op->getParentOfType<FunctionOpInterface>())
    return emitRegionOpError(op)
           << "expects to be nested in a function (a training step)";
  Block &block = body.front();
  if (block.getNumArguments() != inputs.size())
    return emitRegionOpError(op)
           << "expects " << inputs.size()
           << " block arguments to match its inputs, but the body has "
           << block.getNumArguments();
  for (auto [index, pair] :
       llvm::enumerate(llvm::zip(block.getArgumentTypes(), inputs))) {
    auto [argType, input] = pair;
    if (argType != input.getType())
      return emitRegionOpError(op)
             << "block argument #" << index << " has type " << argType
             << " but input #" << index << " has type " << input.getType();
  }
  auto yield = block.mightHaveTerminator()
                   ? dyn_cast<YieldOp>(block.getTerminator())
                   : YieldOp();
  if (!yield)
    return emitRegionOpError(op)
           << "expects its body to end with 'remat.yield'";
  if (yield.getValues().size() != op->getNumResults())
    return emitRegionOpError(yield)
           << "yields " << yield.getValues().size()
           << " values, but the parent '" << op->getName() << "' has "
           << op->getNumResults() << " results";
  for (auto [index, pair] : llvm::enumerate(
           llvm::zip(yield.getValues().getTypes(), op->getResultTypes()))) {
    auto [yieldType, resultType] = pair;
    if (yieldType != resultType)
      return emitRegionOpError(yield)
             << "operand #" << index << " has type " << yieldType
             << " but the parent's result #" << index << " has type "
             << resultType;
  }
  return success();
}

PolicyAttr CheckpointOp::getEffectivePolicy() {
  if (PolicyAttr policy = getPolicyAttr())
    return policy;
  return PolicyAttr::get(getContext(), PolicyKind::Nothing, {});
}

YieldOp CheckpointOp::getYield() {
  return cast<YieldOp>(getBody().front().getTerminator());
}

LogicalResult CheckpointOp::verifyRegions() {
  return verifyIsolatedBody(*this, getInputs(), getBody());
}

YieldOp BackwardOp::getYield() {
  return cast<YieldOp>(getBody().front().getTerminator());
}

LogicalResult BackwardOp::verifyRegions() {
  return verifyIsolatedBody(*this, getInputs(), getBody());
}

//===----------------------------------------------------------------------===//
// NameOp
//===----------------------------------------------------------------------===//

LogicalResult NameOp::verify() {
  if (getTag().empty())
    return emitOpError() << "expects a non-empty tag";
  return success();
}

//===----------------------------------------------------------------------===//
// BarrierOp
//===----------------------------------------------------------------------===//

LogicalResult BarrierOp::verify() {
  if (getInputs().empty())
    return emitOpError() << "expects at least one operand";
  if (getResults().size() != getInputs().size())
    return emitOpError() << "has " << getInputs().size() << " operands but "
                         << getResults().size()
                         << " results; a barrier returns each operand";
  for (auto [index, pair] : llvm::enumerate(
           llvm::zip(getInputs().getTypes(), getResults().getTypes()))) {
    auto [inputType, resultType] = pair;
    if (inputType != resultType)
      return emitOpError() << "result #" << index << " has type " << resultType
                           << " but operand #" << index << " has type "
                           << inputType;
  }
  return success();
}
