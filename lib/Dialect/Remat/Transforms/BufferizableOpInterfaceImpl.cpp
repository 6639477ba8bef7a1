//===- BufferizableOpInterfaceImpl.cpp - bufferization of remat ops -------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::bufferization;
using namespace mlir::remat;

namespace {
/// `remat.barrier` bufferizes to a `remat.barrier` on buffers: each result
/// is equivalent to its operand, nothing is read, written or copied.
struct BarrierOpInterface
    : public BufferizableOpInterface::ExternalModel<BarrierOpInterface,
                                                    BarrierOp> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return false;
  }

  bool bufferizesToMemoryWrite(Operation *, OpOperand &,
                               const AnalysisState &) const {
    return false;
  }

  AliasingValueList getAliasingValues(Operation *op, OpOperand &opOperand,
                                      const AnalysisState &) const {
    return {{op->getResult(opOperand.getOperandNumber()),
             BufferRelation::Equivalent}};
  }

  // (The default walks every operand for each result: quadratic in a
  // barrier's thousands of operands on a deep model.)
  AliasingOpOperandList getAliasingOpOperands(Operation *op, Value value,
                                              const AnalysisState &) const {
    auto result = cast<OpResult>(value);
    return {{&op->getOpOperand(result.getResultNumber()),
             BufferRelation::Equivalent}};
  }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto barrier = cast<BarrierOp>(op);
    SmallVector<Value> buffers;
    for (Value input : barrier.getInputs()) {
      if (!isa<TensorType>(input.getType())) {
        buffers.push_back(input);
        continue;
      }
      FailureOr<Value> buffer = getBuffer(rewriter, input, options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    replaceOpWithNewBufferizedOp<BarrierOp>(rewriter, op, buffers);
    return success();
  }
};

/// `remat.offload` and `remat.reload` bufferize to a new buffer (in host
/// memory for an offload, in the default memory space for a reload) and a
/// copy of the operand into it. They read their operand and alias nothing.
template <typename OpTy, bool ToHost>
struct CopyToNewBufferInterface
    : public BufferizableOpInterface::ExternalModel<
          CopyToNewBufferInterface<OpTy, ToHost>, OpTy> {
  bool bufferizesToAllocation(Operation *, Value) const { return true; }

  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return true;
  }

  bool bufferizesToMemoryWrite(Operation *, OpOperand &,
                               const AnalysisState &) const {
    return false;
  }

  AliasingValueList getAliasingValues(Operation *, OpOperand &,
                                      const AnalysisState &) const {
    return {};
  }

  static MemRefType getResultBufferType(Operation *op) {
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    Attribute space;
    if (ToHost)
      space = MemorySpaceAttr::get(op->getContext(), MemorySpace::Host);
    return MemRefType::get(type.getShape(), type.getElementType(),
                           MemRefLayoutAttrInterface(), space);
  }

  FailureOr<BufferLikeType> getBufferType(Operation *op, Value,
                                          const BufferizationOptions &,
                                          const BufferizationState &,
                                          SmallVector<Value> &) const {
    return cast<BufferLikeType>(getResultBufferType(op));
  }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    FailureOr<Value> source =
        getBuffer(rewriter, op->getOperand(0), options, state);
    if (failed(source))
      return failure();
    Value buffer = memref::AllocOp::create(
        rewriter, op->getLoc(), getResultBufferType(op), ValueRange(),
        rewriter.getI64IntegerAttr(options.bufferAlignment));
    if (failed(options.createMemCpy(rewriter, op->getLoc(), *source, buffer)))
      return failure();
    replaceOpWithBufferizedValues(rewriter, op, buffer);
    return success();
  }
};
} // namespace

void mlir::remat::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, RematDialect *) {
    BarrierOp::attachInterface<BarrierOpInterface>(*ctx);
    OffloadOp::attachInterface<CopyToNewBufferInterface<OffloadOp, true>>(*ctx);
    ReloadOp::attachInterface<CopyToNewBufferInterface<ReloadOp, false>>(*ctx);
  });
}
