//===- RematDialect.cpp - remat dialect, attributes and ops ---------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/IR/Remat.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/IRMapping.h"
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

//===----------------------------------------------------------------------===//
// ReloadOp
//===----------------------------------------------------------------------===//

Value mlir::remat::getOffloadedSource(Value value) {
  while (true) {
    if (auto offload = value.getDefiningOp<OffloadOp>())
      return offload.getResult();
    if (auto barrier = value.getDefiningOp<BarrierOp>()) {
      value = barrier.getInputs()[cast<OpResult>(value).getResultNumber()];
      continue;
    }
    auto arg = dyn_cast<BlockArgument>(value);
    if (!arg)
      return Value();
    auto backward = dyn_cast_or_null<BackwardOp>(arg.getOwner()->getParentOp());
    if (!backward)
      return Value();
    value = backward.getInputs()[arg.getArgNumber()];
  }
}

bool mlir::remat::isHostMemRef(Type type) {
  auto memref = dyn_cast<BaseMemRefType>(type);
  auto space = memref
                   ? dyn_cast_or_null<MemorySpaceAttr>(memref.getMemorySpace())
                   : MemorySpaceAttr();
  return space && space.getValue() == MemorySpace::Host;
}

LogicalResult ReloadOp::verify() {
  if (!getOffloadedSource(getInput()))
    return emitOpError() << "expects its operand to be the host copy of a "
                            "remat.offload (through remat.backward arguments "
                            "and remat.barrier)";
  return success();
}

//===----------------------------------------------------------------------===//
// LinearCrossEntropyOp and LinearCrossEntropyGradOp
//===----------------------------------------------------------------------===//

/// Checks that `type` is a static tensor of `rank` with element type
/// `element` (any element when null) and, where `shape` has a non-negative
/// entry, that size.
static LogicalResult checkTensor(Operation *op, StringRef what, Type type,
                                 ArrayRef<int64_t> shape, Type element) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape() ||
      tensor.getRank() != static_cast<int64_t>(shape.size()))
    return op->emitOpError() << "expects " << what << " to be a static tensor "
                             << "of rank " << shape.size() << ", got " << type;
  for (auto [index, dim] : llvm::enumerate(shape))
    if (dim >= 0 && tensor.getDimSize(index) != dim)
      return op->emitOpError() << "expects " << what << " to have size " << dim
                               << " in dim " << index << ", got " << type;
  if (element && tensor.getElementType() != element)
    return op->emitOpError() << "expects " << what << " of " << element
                             << " elements, got " << type;
  return success();
}

/// The checks both ops share: `x` is N×H of a float type, `w` V×H of the
/// same type, `targets` N integers, and the chunk size divides N.
static LogicalResult verifyLinearCrossEntropyOperands(Operation *op, Value x,
                                                      Value w, Value targets,
                                                      int64_t chunkSize) {
  auto xType = dyn_cast<RankedTensorType>(x.getType());
  if (!xType || !xType.hasStaticShape() || xType.getRank() != 2 ||
      !isa<FloatType>(xType.getElementType()))
    return op->emitOpError()
           << "expects x to be a static 2-d tensor of floats, got "
           << x.getType();
  int64_t n = xType.getDimSize(0), h = xType.getDimSize(1);
  if (failed(
          checkTensor(op, "w", w.getType(), {-1, h}, xType.getElementType())))
    return failure();
  auto targetsType = cast<RankedTensorType>(targets.getType());
  if (failed(checkTensor(op, "targets", targetsType, {n}, nullptr)))
    return failure();
  if (!targetsType.getElementType().isSignlessInteger())
    return op->emitOpError()
           << "expects integer targets, got " << targets.getType();
  if (n % chunkSize != 0)
    return op->emitOpError() << "chunk_size " << chunkSize
                             << " does not divide the " << n << " tokens";
  return success();
}

LogicalResult LinearCrossEntropyOp::verify() {
  if (failed(verifyLinearCrossEntropyOperands(*this, getX(), getW(),
                                              getTargets(), getChunkSize())))
    return failure();
  Type f32 = Float32Type::get(getContext());
  int64_t n = getX().getType().getDimSize(0);
  if (failed(checkTensor(*this, "nll_sum", getNllSum().getType(), {}, f32)) ||
      failed(checkTensor(*this, "lse", getLse().getType(), {n}, f32)))
    return failure();
  return success();
}

LogicalResult LinearCrossEntropyGradOp::verify() {
  if (failed(verifyLinearCrossEntropyOperands(*this, getX(), getW(),
                                              getTargets(), getChunkSize())))
    return failure();
  Type f32 = Float32Type::get(getContext());
  auto xType = getX().getType();
  int64_t n = xType.getDimSize(0), h = xType.getDimSize(1);
  int64_t v = getW().getType().getDimSize(0);
  Type element = xType.getElementType();
  if (failed(checkTensor(*this, "lse", getLse().getType(), {n}, f32)) ||
      failed(checkTensor(*this, "grad", getGrad().getType(), {}, f32)) ||
      failed(checkTensor(*this, "total_weight", getTotalWeight().getType(), {},
                         f32)) ||
      failed(checkTensor(*this, "dx", getDx().getType(), {n, h}, element)) ||
      failed(checkTensor(*this, "dw", getDw().getType(), {v, h}, element)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp and AttentionGradOp
//===----------------------------------------------------------------------===//

/// The checks both attention ops share: `q`, `k` and `v` are B×H×S×D
/// tensors of one float type with matching sizes, the blocks divide the
/// sequences, the mask is an `i1` tensor with a map from the scores'
/// indices (dims or 0) into it, and dropout has both its seed and scale.
template <typename OpTy>
static LogicalResult verifyAttentionOperands(OpTy op) {
  auto qType = dyn_cast<RankedTensorType>(op.getQ().getType());
  // (The lowering computes in f32: wider floats would lose precision.)
  auto floatType =
      qType ? dyn_cast<FloatType>(qType.getElementType()) : FloatType();
  if (!qType || !qType.hasStaticShape() || qType.getRank() != 4 || !floatType ||
      floatType.getWidth() > 32)
    return op.emitOpError()
           << "expects q to be a static 4-d tensor of floats of at most 32 "
              "bits, got "
           << op.getQ().getType();
  ArrayRef<int64_t> q = qType.getShape();
  Type element = qType.getElementType();
  if (failed(checkTensor(op, "k", op.getK().getType(), {q[0], q[1], -1, q[3]},
                         element)))
    return failure();
  int64_t sk = op.getK().getType().getDimSize(2);
  if (failed(checkTensor(op, "v", op.getV().getType(), {q[0], q[1], sk, -1},
                         element)))
    return failure();
  if (q[2] % op.getBlockQ() != 0)
    return op.emitOpError() << "block_q " << op.getBlockQ()
                            << " does not divide the " << q[2] << " queries";
  if (sk % op.getBlockK() != 0)
    return op.emitOpError() << "block_k " << op.getBlockK()
                            << " does not divide the " << sk << " keys";
  if (Value mask = op.getMask()) {
    auto maskType = dyn_cast<RankedTensorType>(mask.getType());
    if (!maskType || !maskType.hasStaticShape() ||
        !maskType.getElementType().isInteger(1))
      return op.emitOpError()
             << "expects the mask to be a static tensor of i1, got "
             << mask.getType();
    std::optional<AffineMap> map = op.getMaskMap();
    if (!map)
      return op.emitOpError() << "expects a mask_map with the mask";
    if (map->getNumDims() != 4 || map->getNumSymbols() != 0 ||
        map->getNumResults() != maskType.getRank())
      return op.emitOpError()
             << "expects mask_map to map the 4 score indices to the mask's "
             << maskType.getRank() << ", got " << AffineMapAttr::get(*map);
    int64_t scoreSizes[4] = {q[0], q[1], q[2], sk};
    for (auto [index, expr] : llvm::enumerate(map->getResults())) {
      int64_t size = maskType.getDimSize(index);
      if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
        if (scoreSizes[dim.getPosition()] == size)
          continue;
      } else if (auto cst = dyn_cast<AffineConstantExpr>(expr)) {
        if (cst.getValue() == 0 && size == 1)
          continue;
      }
      return op.emitOpError()
             << "mask_map result " << index
             << " does not index the mask's dim of size " << size;
    }
  } else if (op.getMaskMap()) {
    return op.emitOpError() << "has a mask_map but no mask";
  }
  bool dropout = op.getSeed() != nullptr;
  if (dropout != op.getDropoutScale().has_value())
    return op.emitOpError()
           << "expects dropout_scale and a seed together, or neither";
  if (dropout && failed(checkTensor(op, "seed", op.getSeed().getType(), {},
                                    IntegerType::get(op.getContext(), 64))))
    return failure();
  return success();
}

/// The keep region: empty without dropout, else one block of (b, h, i, j:
/// index, seed: i64) ending in a remat.yield of one i1.
template <typename OpTy>
static LogicalResult verifyKeepRegion(OpTy op) {
  Region &keep = op.getKeep();
  if (!op.getSeed())
    return keep.empty()
               ? success()
               : op.emitOpError() << "has a keep region but no dropout seed";
  if (!llvm::hasSingleElement(keep))
    return op.emitOpError() << "expects a keep region of one block with "
                               "dropout";
  Block &block = keep.front();
  Builder b(op.getContext());
  SmallVector<Type> expected(4, b.getIndexType());
  expected.push_back(b.getI64Type());
  if (!llvm::equal(block.getArgumentTypes(), expected))
    return op.emitOpError() << "expects the keep region's arguments to be "
                               "(index, index, index, index, i64)";
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield || yield.getValues().size() != 1 ||
      !yield.getValues()[0].getType().isInteger(1))
    return op.emitOpError()
           << "expects the keep region to yield one i1 (the keep bit)";
  return success();
}

Value mlir::remat::cloneKeepRegion(OpBuilder &b, Region &keep,
                                   ValueRange args) {
  Block &body = keep.front();
  IRMapping mapping;
  mapping.map(body.getArguments(), args);
  for (Operation &op : body.without_terminator())
    b.clone(op, mapping);
  return mapping.lookup(body.getTerminator()->getOperand(0));
}

LogicalResult AttentionOp::verify() {
  if (failed(verifyAttentionOperands(*this)))
    return failure();
  ArrayRef<int64_t> q = getQ().getType().getShape();
  int64_t dv = getV().getType().getDimSize(3);
  Type f32 = Float32Type::get(getContext());
  if (failed(checkTensor(*this, "out", getOut().getType(),
                         {q[0], q[1], q[2], dv},
                         getQ().getType().getElementType())) ||
      failed(checkTensor(*this, "lse", getLse().getType(), {q[0], q[1], q[2]},
                         f32)))
    return failure();
  return success();
}

LogicalResult AttentionOp::verifyRegions() { return verifyKeepRegion(*this); }

LogicalResult AttentionGradOp::verify() {
  if (failed(verifyAttentionOperands(*this)))
    return failure();
  ArrayRef<int64_t> q = getQ().getType().getShape();
  Type element = getQ().getType().getElementType();
  Type f32 = Float32Type::get(getContext());
  int64_t dv = getV().getType().getDimSize(3);
  SmallVector<int64_t> outShape = {q[0], q[1], q[2], dv};
  if (failed(
          checkTensor(*this, "out", getOut().getType(), outShape, element)) ||
      failed(checkTensor(*this, "lse", getLse().getType(), {q[0], q[1], q[2]},
                         f32)) ||
      failed(
          checkTensor(*this, "dout", getDout().getType(), outShape, element)) ||
      failed(checkTensor(*this, "dq", getDq().getType(), q, element)) ||
      failed(checkTensor(*this, "dk", getDk().getType(),
                         getK().getType().getShape(), element)) ||
      failed(checkTensor(*this, "dv", getDv().getType(),
                         getV().getType().getShape(), element)))
    return failure();
  return success();
}

LogicalResult AttentionGradOp::verifyRegions() {
  return verifyKeepRegion(*this);
}
