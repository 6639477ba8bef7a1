//===- Cost.cpp - op costs, external models and the roofline --------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Analysis/Cost.h"

#include "FusedOpModels.h"

#include "remat/Dialect/Remat/IR/Remat.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectRegistry.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <limits>

#define DEBUG_TYPE "remat-cost"

using namespace mlir;
using namespace mlir::remat;

#include "remat/Analysis/CostInterface.cpp.inc"

// (The compiler's overflow builtins, not llvm::checkedAdd/checkedMul: those
// go through APInt, and the planner sums costs and sizes in its inner
// loops.)
int64_t mlir::remat::addSaturated(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum))
    return std::numeric_limits<int64_t>::max();
  return sum;
}

/// `a * b`, or nothing when it overflows.
static std::optional<int64_t> mulChecked(int64_t a, int64_t b) {
  int64_t product;
  if (__builtin_mul_overflow(a, b, &product))
    return std::nullopt;
  return product;
}

int64_t mlir::remat::mulSaturated(int64_t a, int64_t b) {
  return mulChecked(a, b).value_or(std::numeric_limits<int64_t>::max());
}

OpCost &OpCost::operator+=(const OpCost &other) {
  flops = addSaturated(flops, other.flops);
  transcendentals = addSaturated(transcendentals, other.transcendentals);
  vectorFlops = addSaturated(vectorFlops, other.vectorFlops);
  bytesRead = addSaturated(bytesRead, other.bytesRead);
  bytesWritten = addSaturated(bytesWritten, other.bytesWritten);
  estimated |= other.estimated;
  return *this;
}

int64_t OpCost::weightedFlops() const {
  return addSaturated(flops,
                      mulSaturated(kTranscendentalWeight - 1, transcendentals));
}

std::optional<int64_t> mlir::remat::getStaticElementCount(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped)
    return 1;
  if (!shaped.hasRank() || !shaped.hasStaticShape())
    return std::nullopt;
  // (Not ShapedType::getNumElements, which overflows silently.)
  std::optional<int64_t> count = 1;
  for (int64_t dim : shaped.getShape())
    if (count)
      count = mulChecked(*count, dim);
  return count;
}

/// The bit width of a value of `type`'s elements, if it has a size.
static std::optional<int64_t> getElementBits(Type type) {
  Type element = type;
  if (auto shaped = dyn_cast<ShapedType>(type))
    element = shaped.getElementType();
  if (!element.isIntOrIndexOrFloat() || element.isIndex())
    return std::nullopt;
  return element.getIntOrFloatBitWidth();
}

std::optional<int64_t> mlir::remat::getStaticSizeInBytes(Type type) {
  std::optional<int64_t> bits = getElementBits(type);
  std::optional<int64_t> count = getStaticElementCount(type);
  if (!bits || !count)
    return std::nullopt;
  // Each element takes the bytes the LLVM lowering allocates for it: whole
  // bytes, a power of two of them (an i1 mask is a byte per element, as
  // the CPU and GPU runs allocate it; an i24 takes 4).
  int64_t elementBytes =
      static_cast<int64_t>(llvm::PowerOf2Ceil(llvm::divideCeil(*bits, 8)));
  return mulChecked(elementBytes, *count);
}

LogicalResult mlir::remat::checkModeledSizes(Operation *root) {
  int64_t total = 0;
  auto check = [&](Value value) -> LogicalResult {
    auto shaped = dyn_cast<ShapedType>(value.getType());
    if (!shaped || !shaped.hasRank() || !shaped.hasStaticShape() ||
        !getElementBits(shaped))
      return success();
    std::optional<int64_t> bytes = getStaticSizeInBytes(shaped);
    if (bytes && *bytes <= kMaxModeledBytes) {
      total = addSaturated(total, *bytes);
      if (total <= kMaxModeledTotalBytes)
        return success();
      mlir::emitError(value.getLoc())
          << "remat: the step's tensors add up to more than "
          << (kMaxModeledTotalBytes >> 60) << " EiB here: too large to plan";
      return failure();
    }
    InFlightDiagnostic diag = mlir::emitError(value.getLoc())
                              << "remat: tensor of ";
    if (std::optional<int64_t> count = getStaticElementCount(shaped))
      diag << *count;
    else
      diag << "more than " << std::numeric_limits<int64_t>::max();
    diag << " elements (" << shaped << ") is too large to plan: remat models "
         << "tensors of up to " << (kMaxModeledBytes >> 40) << " TiB";
    return failure();
  };
  // (Pre-order: a function's arguments come before its body's values.)
  WalkResult result = root->walk<WalkOrder::PreOrder>([&](Operation *op) {
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          if (failed(check(arg)))
            return WalkResult::interrupt();
    for (Value v : op->getResults())
      if (failed(check(v)))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

/// Returns the number of elements of a static shaped type, 1 for a scalar.
static std::optional<int64_t> getNumElements(Type type) {
  return getStaticElementCount(type);
}

/// Adds the sizes of `values` to `bytes`; false if one is not static.
static bool addSizes(ValueRange values, int64_t &bytes) {
  for (Value value : values) {
    std::optional<int64_t> size = getStaticSizeInBytes(value.getType());
    if (!size)
      return false;
    bytes = addSaturated(bytes, *size);
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Targets
//===----------------------------------------------------------------------===//

std::optional<TargetModel> TargetModel::getPreset(StringRef name) {
  constexpr double tera = 1e12;
  // Dense (non-sparse) peak rates and memory bandwidth from the vendors'
  // datasheets; docs/CostModel.md gives the sources.
  if (name == "h100")
    return TargetModel{"h100",       66.9 * tera,   494.7 * tera,
                       989.4 * tera, 1978.9 * tera, 3.35 * tera};
  if (name == "h200")
    return TargetModel{"h200",       66.9 * tera,   494.7 * tera,
                       989.4 * tera, 1978.9 * tera, 4.8 * tera};
  if (name == "a100")
    return TargetModel{"a100",       19.5 * tera, 156.0 * tera,
                       312.0 * tera, 0,           2.039 * tera};
  if (name == "cpu")
    return TargetModel{"cpu",      1.0 * tera, 1.0 * tera,
                       2.0 * tera, 0,          0.1 * tera};
  return std::nullopt;
}

std::optional<HostLink> mlir::remat::parseHostLink(StringRef text,
                                                   std::string *error) {
  constexpr double giga = 1e9;
  // Nominal rates per direction: PCIe 4.0 and 5.0 with 16 lanes, and
  // NVLink-C2C (900 GB/s both ways together); docs/CostModel.md.
  if (text == "pcie4")
    return HostLink{"pcie4", 32 * giga};
  if (text == "pcie5")
    return HostLink{"pcie5", 64 * giga};
  if (text == "c2c")
    return HostLink{"c2c", 450 * giga};
  StringRef number = text.trim();
  number.consume_back("GB/s");
  double value;
  if (number.trim().getAsDouble(value) || !(value > 0) ||
      !std::isfinite(value)) {
    if (error)
      *error = "link '" + text.str() +
               "' is not a preset (pcie4, pcie5, c2c) or a positive "
               "bandwidth in GB/s";
    return std::nullopt;
  }
  return HostLink{llvm::formatv("{0} GB/s", llvm::format("%g", value)).str(),
                  value * giga};
}

FailureOr<TargetModel>
mlir::remat::resolveTarget(StringRef name, const TargetOverrides &overrides,
                           std::string &error) {
  std::optional<TargetModel> target = TargetModel::getPreset(name);
  if (!target) {
    error = "unknown target '" + name.str() +
            "'; expected one of h100, h200, a100, cpu";
    return failure();
  }
  auto apply = [](double &field, double value) {
    if (value > 0)
      field = value;
  };
  apply(target->f32, overrides.f32);
  apply(target->tf32, overrides.tf32);
  apply(target->bf16, overrides.bf16);
  apply(target->fp8, overrides.fp8);
  apply(target->bandwidth, overrides.bandwidth);
  return *target;
}

double TargetModel::getPeakFlops(Type elementType, bool contraction) const {
  if (isa<Float8E4M3FNType, Float8E5M2Type, Float8E4M3FNUZType,
          Float8E5M2FNUZType, Float8E4M3Type>(elementType))
    return fp8 > 0 ? fp8 : bf16;
  if (elementType.isBF16() || elementType.isF16())
    return bf16;
  if (elementType.isF32() && contraction && tf32 > 0)
    return tf32;
  return f32;
}

double mlir::remat::getRooflineSeconds(const OpCost &cost, Type elementType,
                                       bool contraction,
                                       const TargetModel &target) {
  double peak = target.getPeakFlops(elementType, contraction);
  double compute = peak > 0 ? double(cost.weightedFlops()) / peak : 0.0;
  if (cost.vectorFlops > 0 && peak > 0 && target.f32 > 0) {
    // A fused contraction: its matmuls at `peak`, its element-wise work
    // and transcendentals on the vector units.
    double vector = double(cost.vectorFlops) +
                    double(kTranscendentalWeight - 1) * cost.transcendentals;
    compute = std::max(0.0, double(cost.weightedFlops()) - vector) / peak +
              vector / target.f32;
  }
  double memory =
      target.bandwidth > 0
          ? double(cost.bytesRead + cost.bytesWritten) / target.bandwidth
          : 0.0;
  return std::max(compute, memory);
}

Type mlir::remat::getComputeElementType(Operation *op) {
  // A chunked cross-entropy runs at the rate of its matmuls, on x's type
  // (its results are f32 whatever that type).
  if (isa<LinearCrossEntropyOp, LinearCrossEntropyGradOp, AttentionOp,
          AttentionGradOp>(op))
    return cast<ShapedType>(op->getOperand(0).getType()).getElementType();
  for (Type type : op->getResultTypes())
    if (auto shaped = dyn_cast<ShapedType>(type))
      return shaped.getElementType();
  for (Type type : op->getOperandTypes())
    if (auto shaped = dyn_cast<ShapedType>(type))
      return shaped.getElementType();
  if (op->getNumResults() == 1 && op->getResult(0).getType().isIntOrFloat())
    return op->getResult(0).getType();
  return Float32Type::get(op->getContext());
}

bool mlir::remat::isContraction(Operation *op) {
  // (Its element-wise work then runs at the matmul rate too; it is a small
  // part of the op's FLOPs.)
  if (isa<LinearCrossEntropyOp, LinearCrossEntropyGradOp, AttentionOp,
          AttentionGradOp>(op))
    return true;
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return linalgOp && linalg::isaContractionOpInterface(linalgOp);
}

//===----------------------------------------------------------------------===//
// Fallback and entry point
//===----------------------------------------------------------------------===//

FailureOr<OpCost> mlir::remat::estimateUnmodeledCost(Operation *op) {
  OpCost cost;
  cost.estimated = true;
  for (Type type : op->getResultTypes()) {
    std::optional<int64_t> count = getNumElements(type);
    if (!count)
      return failure();
    cost.flops = addSaturated(cost.flops, *count);
  }
  if (!addSizes(op->getOperands(), cost.bytesRead) ||
      !addSizes(op->getResults(), cost.bytesWritten))
    return failure();
  return cost;
}

FailureOr<OpCost> mlir::remat::getOpCost(Operation *op, bool *modeled) {
  auto costOp = dyn_cast<CostOpInterface>(op);
  if (modeled)
    *modeled = static_cast<bool>(costOp);
  if (costOp)
    return costOp.getCost();
  return estimateUnmodeledCost(op);
}

//===----------------------------------------------------------------------===//
// Models
//===----------------------------------------------------------------------===//

/// Returns true for math ops that a GPU evaluates on its special-function
/// units or through a polynomial: they count as transcendental.
static bool isTranscendental(Operation *op) {
  return isa<math::ExpOp, math::Exp2Op, math::ExpM1Op, math::LogOp,
             math::Log2Op, math::Log10Op, math::Log1pOp, math::TanhOp,
             math::SinOp, math::CosOp, math::TanOp, math::AtanOp, math::Atan2Op,
             math::ErfOp, math::PowFOp, math::FPowIOp, math::SqrtOp,
             math::RsqrtOp, math::SinhOp, math::CoshOp, math::AsinOp,
             math::AcosOp, math::CbrtOp, math::ErfcOp>(op);
}

/// Adds the per-element cost of one scalar op of a region body.
static void addScalarOpCost(Operation *op, int64_t count, OpCost &cost) {
  if (isa<arith::ConstantOp, linalg::IndexOp>(op) ||
      op->hasTrait<OpTrait::IsTerminator>())
    return;
  int64_t perElement = isa<math::FmaOp>(op) ? 2 : 1;
  cost.flops = addSaturated(cost.flops, mulSaturated(perElement, count));
  if (isTranscendental(op))
    cost.transcendentals = addSaturated(cost.transcendentals, count);
}

namespace {
/// Linalg structured ops (named and generic): the iteration domain times
/// the body's ops; inputs and the inits the body reads are read, inits are
/// written. A 64x128x256 matmul is 64*128*256 iterations of mulf + addf.
template <typename OpTy>
struct LinalgCostModel
    : public CostOpInterface::ExternalModel<LinalgCostModel<OpTy>, OpTy> {
  FailureOr<OpCost> getCost(Operation *op) const {
    auto linalgOp = cast<linalg::LinalgOp>(op);
    int64_t domain = 1;
    for (int64_t range : linalgOp.getStaticLoopRanges()) {
      if (ShapedType::isDynamic(range))
        return failure();
      // (Saturated: a matmul's domain can exceed what its operands hold.)
      domain = mulSaturated(domain, range);
    }
    OpCost cost;
    for (Operation &bodyOp : linalgOp.getBlock()->getOperations())
      addScalarOpCost(&bodyOp, domain, cost);
    for (OpOperand *input : linalgOp.getDpsInputOperands())
      if (!addSizes(input->get(), cost.bytesRead))
        return failure();
    for (OpOperand &init : linalgOp.getDpsInitsMutable()) {
      if (linalgOp.payloadUsesValueFromOperand(&init) &&
          !addSizes(init.get(), cost.bytesRead))
        return failure();
      if (!addSizes(init.get(), cost.bytesWritten))
        return failure();
    }
    return cost;
  }
};

/// linalg.softmax over n elements: a max reduction, a subtraction, an exp, a
/// sum reduction and a division per element (5n FLOPs, n transcendental).
struct SoftmaxCostModel
    : public CostOpInterface::ExternalModel<SoftmaxCostModel,
                                            linalg::SoftmaxOp> {
  FailureOr<OpCost> getCost(Operation *op) const {
    auto softmax = cast<linalg::SoftmaxOp>(op);
    std::optional<int64_t> count = getNumElements(softmax.getInput().getType());
    OpCost cost;
    if (!count || !addSizes(softmax.getInput(), cost.bytesRead) ||
        !addSizes(softmax.getOutput(), cost.bytesWritten))
      return failure();
    cost.flops = mulSaturated(5, *count);
    cost.transcendentals = *count;
    return cost;
  }
};

/// Element-wise arith and math ops, on scalars or whole tensors: the scalar
/// op's cost per result element; operands read and results written.
template <typename OpTy>
struct ElementwiseCostModel
    : public CostOpInterface::ExternalModel<ElementwiseCostModel<OpTy>, OpTy> {
  FailureOr<OpCost> getCost(Operation *op) const {
    std::optional<int64_t> count = getNumElements(op->getResult(0).getType());
    OpCost cost;
    if (!count || !addSizes(op->getOperands(), cost.bytesRead) ||
        !addSizes(op->getResults(), cost.bytesWritten))
      return failure();
    addScalarOpCost(op, *count, cost);
    return cost;
  }
};

/// Views, constants and identities: free.
template <typename OpTy>
struct FreeCostModel
    : public CostOpInterface::ExternalModel<FreeCostModel<OpTy>, OpTy> {
  FailureOr<OpCost> getCost(Operation *) const { return OpCost(); }
};

/// Data movement (pad, concat, insert_slice): no FLOPs; the moved bytes.
/// insert_slice reads and writes its source's bytes; the others read their
/// operands and write their result.
template <typename OpTy>
struct MoveCostModel
    : public CostOpInterface::ExternalModel<MoveCostModel<OpTy>, OpTy> {
  FailureOr<OpCost> getCost(Operation *op) const {
    OpCost cost;
    if (auto insert = dyn_cast<tensor::InsertSliceOp>(op)) {
      if (!addSizes(insert.getSource(), cost.bytesRead) ||
          !addSizes(insert.getSource(), cost.bytesWritten))
        return failure();
      return cost;
    }
    for (Value operand : op->getOperands())
      if (isa<ShapedType>(operand.getType()) &&
          !addSizes(operand, cost.bytesRead))
        return failure();
    if (!addSizes(op->getResults(), cost.bytesWritten))
      return failure();
    return cost;
  }
};

} // namespace

/// Adds to `total` the roofline seconds of the ops of `block`, those of
/// `remat.backward` bodies included (see getStepSeconds).
static void addStepSeconds(Block &block, const TargetModel &target,
                           double &total) {
  for (Operation &op : block) {
    if (isa<BackwardOp>(op)) {
      for (Block &body : op.getRegion(0))
        addStepSeconds(body, target, total);
      continue;
    }
    if (op.hasTrait<OpTrait::IsTerminator>() ||
        op.hasTrait<OpTrait::ConstantLike>())
      continue;
    if (FailureOr<OpCost> cost = getOpCost(&op); succeeded(cost))
      total += getRooflineSeconds(*cost, getComputeElementType(&op),
                                  isContraction(&op), target);
  }
}

double mlir::remat::getStepSeconds(Operation *function,
                                   const TargetModel &target) {
  double total = 0;
  for (Region &region : function->getRegions())
    for (Block &block : region)
      addStepSeconds(block, target, total);
  return total;
}

//===----------------------------------------------------------------------===//
// Chunked linear cross-entropy
//===----------------------------------------------------------------------===//

OpCost
mlir::remat::getLinearCrossEntropyCost(const LinearCrossEntropyShape &shape,
                                       bool gradient) {
  int64_t c = shape.chunk, h = shape.features, v = shape.classes,
          t = shape.elementBytes;
  int64_t chunks = shape.chunk > 0 ? shape.tokens / shape.chunk : 0;
  int64_t cv = mulSaturated(c, v), ch = mulSaturated(c, h),
          hv = mulSaturated(h, v);
  int64_t matmul = mulSaturated(2, mulSaturated(c, hv));
  OpCost chunk;
  // The chunk's logits: C x H times the whole H x V classifier.
  chunk.flops = matmul;
  chunk.bytesRead = mulSaturated(addSaturated(ch, hv), t);
  chunk.bytesWritten = mulSaturated(cv, t);
  if (!gradient) {
    // Row max, then the sum of exp(logit - max) (sub, exp, add per
    // element), each reading the logits; then per row log + add, and the
    // target's logit picked and subtracted.
    chunk.flops = addSaturated(chunk.flops, mulSaturated(4, cv));
    chunk.transcendentals = addSaturated(cv, c);
    chunk.flops = addSaturated(chunk.flops, mulSaturated(5, c));
    chunk.bytesRead =
        addSaturated(chunk.bytesRead, mulSaturated(2, mulSaturated(cv, t)));
    chunk.bytesWritten = addSaturated(chunk.bytesWritten, mulSaturated(4, c));
  } else {
    // dlogits: exp(logit - lse), the one-hot subtraction and the scale
    // (about 6 ops per element), read and written once.
    chunk.flops = addSaturated(chunk.flops, mulSaturated(6, cv));
    chunk.transcendentals = cv;
    chunk.bytesRead = addSaturated(chunk.bytesRead, mulSaturated(cv, t));
    chunk.bytesWritten = addSaturated(chunk.bytesWritten, mulSaturated(cv, t));
    // dx = dlogits . w (reads the classifier again) and dw += dlogits^T
    // . x (reads and writes the whole V x H accumulator).
    chunk.flops = addSaturated(chunk.flops, mulSaturated(2, matmul));
    chunk.bytesRead = addSaturated(
        chunk.bytesRead,
        mulSaturated(addSaturated(mulSaturated(2, cv),
                                  addSaturated(ch, mulSaturated(2, hv))),
                     t));
    chunk.bytesWritten =
        addSaturated(chunk.bytesWritten, mulSaturated(addSaturated(ch, hv), t));
  }
  OpCost total;
  total.flops = mulSaturated(chunk.flops, chunks);
  total.transcendentals = mulSaturated(chunk.transcendentals, chunks);
  total.bytesRead = mulSaturated(chunk.bytesRead, chunks);
  total.bytesWritten = mulSaturated(chunk.bytesWritten, chunks);
  return total;
}

SmallVector<int64_t> mlir::remat::getLinearCrossEntropyWorkspace(
    const LinearCrossEntropyShape &shape, bool gradient) {
  int64_t logits = mulSaturated(mulSaturated(shape.chunk, shape.classes),
                                shape.elementBytes);
  if (gradient)
    return {logits, logits};
  int64_t row = mulSaturated(shape.chunk, 4);
  return {logits, row, row};
}

namespace {
/// remat.linear_cross_entropy and its gradient, for FusedOpModels.h.
struct LinearCrossEntropyModels {
  template <typename OpTy>
  static LinearCrossEntropyShape getShape(OpTy op) {
    auto xType = cast<RankedTensorType>(op.getX().getType());
    auto wType = cast<RankedTensorType>(op.getW().getType());
    LinearCrossEntropyShape shape;
    shape.tokens = xType.getDimSize(0);
    shape.features = xType.getDimSize(1);
    shape.classes = wType.getDimSize(0);
    shape.chunk = op.getChunkSize();
    shape.elementBytes =
        getStaticSizeInBytes(xType.getElementType()).value_or(4);
    return shape;
  }
  static OpCost getCost(const LinearCrossEntropyShape &shape, bool gradient) {
    return getLinearCrossEntropyCost(shape, gradient);
  }
  static SmallVector<int64_t> getWorkspace(const LinearCrossEntropyShape &shape,
                                           bool gradient) {
    return getLinearCrossEntropyWorkspace(shape, gradient);
  }
};
} // namespace

template <template <typename> class Model, typename... OpTys>
static void attach(MLIRContext *ctx) {
  (OpTys::template attachInterface<Model<OpTys>>(*ctx), ...);
}

void mlir::remat::registerCostModelExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, linalg::LinalgDialect *) {
    attach<LinalgCostModel, linalg::GenericOp, linalg::MatmulOp,
           linalg::BatchMatmulOp, linalg::BatchReduceMatmulOp, linalg::MatvecOp,
           linalg::VecmatOp, linalg::BatchMatvecOp, linalg::DotOp,
           linalg::ContractOp, linalg::FillOp, linalg::CopyOp,
           linalg::TransposeOp, linalg::BroadcastOp, linalg::ReduceOp,
           linalg::MapOp, linalg::ElementwiseOp, linalg::AddOp, linalg::SubOp,
           linalg::MulOp, linalg::DivOp, linalg::DivUnsignedOp, linalg::MaxOp,
           linalg::MinOp, linalg::ExpOp, linalg::LogOp, linalg::AbsOp,
           linalg::CeilOp, linalg::FloorOp, linalg::NegFOp,
           linalg::ReciprocalOp, linalg::RoundOp, linalg::SqrtOp,
           linalg::RsqrtOp, linalg::SquareOp, linalg::TanhOp, linalg::ErfOp,
           linalg::PowFOp, linalg::SelectOp>(ctx);
    linalg::SoftmaxOp::attachInterface<SoftmaxCostModel>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, arith::ArithDialect *) {
    attach<ElementwiseCostModel, arith::AddFOp, arith::SubFOp, arith::MulFOp,
           arith::DivFOp, arith::RemFOp, arith::NegFOp, arith::MaximumFOp,
           arith::MinimumFOp, arith::MaxNumFOp, arith::MinNumFOp, arith::CmpFOp,
           arith::CmpIOp, arith::SelectOp, arith::AddIOp, arith::SubIOp,
           arith::MulIOp, arith::DivSIOp, arith::DivUIOp, arith::RemSIOp,
           arith::AndIOp, arith::OrIOp, arith::XOrIOp, arith::ExtFOp,
           arith::TruncFOp, arith::SIToFPOp, arith::UIToFPOp, arith::FPToSIOp,
           arith::ExtSIOp, arith::ExtUIOp, arith::TruncIOp>(ctx);
    attach<FreeCostModel, arith::ConstantOp, arith::IndexCastOp,
           arith::BitcastOp>(ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, math::MathDialect *) {
    attach<ElementwiseCostModel, math::ExpOp, math::Exp2Op, math::ExpM1Op,
           math::LogOp, math::Log2Op, math::Log10Op, math::Log1pOp,
           math::TanhOp, math::SinOp, math::CosOp, math::TanOp, math::AtanOp,
           math::Atan2Op, math::ErfOp, math::PowFOp, math::FPowIOp,
           math::SqrtOp, math::RsqrtOp, math::SinhOp, math::CoshOp,
           math::AsinOp, math::AcosOp, math::CbrtOp, math::ErfcOp, math::AbsFOp,
           math::CopySignOp, math::FloorOp, math::CeilOp, math::RoundOp,
           math::TruncOp, math::FmaOp>(ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, tensor::TensorDialect *) {
    attach<FreeCostModel, tensor::ExtractSliceOp, tensor::ExpandShapeOp,
           tensor::CollapseShapeOp, tensor::CastOp, tensor::ReshapeOp,
           tensor::EmptyOp, tensor::BitcastOp, tensor::DimOp>(ctx);
    attach<MoveCostModel, tensor::PadOp, tensor::ConcatOp,
           tensor::InsertSliceOp, tensor::ExtractOp, tensor::InsertOp,
           tensor::FromElementsOp, tensor::SplatOp>(ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, RematDialect *) {
    // (The copies to and from host memory run on the copy engines over the
    // host link, not on the compute units: the planner models their time,
    // PlanOffload.cpp.)
    attach<FreeCostModel, NameOp, BarrierOp, OffloadOp, ReloadOp>(ctx);
    attachFusedOpModels<LinearCrossEntropyModels, LinearCrossEntropyOp,
                        LinearCrossEntropyGradOp>(ctx);
    registerAttentionCostModels(ctx);
  });
}
