//===- RematToGPU.cpp - remat's fused attention as GPU kernels ------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Two passes of -remat-lower-to-nvvm around bufferization:
///
/// - convert-remat-to-gpu (on tensors, before bufferization) builds the
///   kernels of each remat.attention and remat.attention_grad
///   (AttentionKernels.cpp) into a gpu.module and replaces the op with its
///   buffers: its operands through `bufferization.to_buffer` (read only,
///   any layout), its results freshly allocated and returned through
///   `bufferization.to_tensor restrict writable`, and between them one
///   call per kernel to a private declaration that names the kernel, its
///   grid and its block (`remat.launch`). The calls carry the buffers
///   through bufferization and deallocation, which reject a
///   `gpu.launch_func` (an op with unknown memory effects).
/// - remat-gpu-launch-kernel-calls (after them) turns each such call into
///   the `gpu.launch_func` it names.
///
//===----------------------------------------------------------------------===//

#include "AttentionKernels.h"

#include "remat/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_CONVERTREMATTOGPUPASS
#define GEN_PASS_DEF_REMATGPULAUNCHKERNELCALLSPASS
#include "remat/Conversion/Passes.h.inc"
} // namespace remat
} // namespace mlir

using namespace mlir;
using namespace mlir::remat;

/// The attribute of a launch declaration: {kernel, grid, block}.
static constexpr StringLiteral kLaunchAttr = "remat.launch";
/// The gpu.module the kernels go in.
static constexpr StringLiteral kKernelModule = "remat_attention_kernels";

namespace {

/// Builds the kernels and launches of the ops of one module.
class AttentionLowering {
public:
  AttentionLowering(ModuleOp module, int64_t maxRows)
      : module(module), maxRows(maxRows), b(module.getContext()),
        symbols(module) {}

  /// The rows per block of each of `kinds`, or failure (with a remark on
  /// `op`) when one of them does not fit in shared memory.
  FailureOr<SmallVector<int64_t>> getRows(Operation *op,
                                          const AttentionShape &shape,
                                          ArrayRef<AttentionKernel> kinds) {
    SmallVector<int64_t> rows;
    for (AttentionKernel kind : kinds) {
      rows.push_back(getAttentionKernelRows(kind, shape, maxRows));
      if (rows.back() == 0) {
        mlir::emitRemark(op->getLoc())
            << "convert-remat-to-gpu: left to the loops of "
               "convert-remat-to-linalg: one row of depth "
            << shape.depth << " and value depth " << shape.valueDepth
            << " does not fit in " << kSharedMemoryBytes / 1024
            << " KiB of shared memory";
        return failure();
      }
    }
    return rows;
  }

  /// `value` (a tensor) as a read-only buffer of any layout.
  Value toBuffer(Location loc, Value value) {
    auto type = cast<RankedTensorType>(value.getType());
    SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
    auto layout =
        StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides);
    auto memref =
        MemRefType::get(type.getShape(), type.getElementType(), layout);
    return bufferization::ToBufferOp::create(b, loc, memref, value,
                                             /*read_only=*/true);
  }
  Value alloc(Location loc, ArrayRef<int64_t> shape, Type element) {
    return memref::AllocOp::create(b, loc, MemRefType::get(shape, element));
  }
  Value toTensor(Location loc, Value buffer) {
    auto type = cast<MemRefType>(buffer.getType());
    auto tensor = RankedTensorType::get(type.getShape(), type.getElementType());
    return bufferization::ToTensorOp::create(b, loc, tensor, buffer,
                                             b.getUnitAttr(), b.getUnitAttr());
  }

  /// The op's mask and seed, those it has, as read-only buffers.
  template <typename OpTy>
  SmallVector<Value> maskAndSeed(Location loc, OpTy op) {
    SmallVector<Value> buffers;
    for (Value optional : {op.getMask(), op.getSeed()})
      if (optional)
        buffers.push_back(toBuffer(loc, optional));
    return buffers;
  }

  LogicalResult lower(AttentionOp op) {
    AttentionShape shape = AttentionShape::get(op);
    FailureOr<SmallVector<int64_t>> rows =
        getRows(op, shape, {AttentionKernel::Forward});
    if (failed(rows))
      return failure();
    Location loc = op.getLoc();
    b.setInsertionPoint(op);
    SmallVector<Value> inputs = {toBuffer(loc, op.getQ()),
                                 toBuffer(loc, op.getK()),
                                 toBuffer(loc, op.getV())};
    llvm::append_range(inputs, maskAndSeed(loc, op));
    Value out = alloc(loc, op.getOut().getType().getShape(), shape.element);
    Value lse = alloc(loc, op.getLse().getType().getShape(), b.getF32Type());
    call(loc, "attention", AttentionKernel::Forward, shape, (*rows)[0], inputs,
         {out, lse});
    op.getOut().replaceAllUsesWith(toTensor(loc, out));
    op.getLse().replaceAllUsesWith(toTensor(loc, lse));
    op.erase();
    return success();
  }

  LogicalResult lower(AttentionGradOp op) {
    AttentionShape shape = AttentionShape::get(op);
    FailureOr<SmallVector<int64_t>> rows =
        getRows(op, shape,
                {AttentionKernel::Delta, AttentionKernel::KeyGrad,
                 AttentionKernel::QueryGrad});
    if (failed(rows))
      return failure();
    Location loc = op.getLoc();
    b.setInsertionPoint(op);
    Value q = toBuffer(loc, op.getQ()), k = toBuffer(loc, op.getK());
    Value v = toBuffer(loc, op.getV()), out = toBuffer(loc, op.getOut());
    Value lse = toBuffer(loc, op.getLse()), dout = toBuffer(loc, op.getDout());
    SmallVector<Value> maskSeed = maskAndSeed(loc, op);
    Value delta = alloc(loc, op.getLse().getType().getShape(), b.getF32Type());
    call(loc, "attention_grad_delta", AttentionKernel::Delta, shape, (*rows)[0],
         {out, dout}, {delta});
    SmallVector<Value> inputs = {q, k, v, lse, dout, delta};
    llvm::append_range(inputs, maskSeed);
    Value dq = alloc(loc, op.getDq().getType().getShape(), shape.element);
    Value dk = alloc(loc, op.getDk().getType().getShape(), shape.element);
    Value dv = alloc(loc, op.getDv().getType().getShape(), shape.element);
    call(loc, "attention_grad_dkdv", AttentionKernel::KeyGrad, shape,
         (*rows)[1], inputs, {dk, dv});
    call(loc, "attention_grad_dq", AttentionKernel::QueryGrad, shape,
         (*rows)[2], inputs, {dq});
    op.getDq().replaceAllUsesWith(toTensor(loc, dq));
    op.getDk().replaceAllUsesWith(toTensor(loc, dk));
    op.getDv().replaceAllUsesWith(toTensor(loc, dv));
    op.erase();
    return success();
  }

private:
  /// Builds the kernel and its declaration, and calls the declaration at
  /// the builder's insertion point.
  void call(Location loc, StringRef base, AttentionKernel kind,
            const AttentionShape &shape, int64_t rows, ValueRange inputs,
            ValueRange outputs) {
    OpBuilder::InsertPoint at = b.saveInsertionPoint();
    func::FuncOp decl = declare(loc, base, kind, shape, rows, inputs, outputs);
    b.restoreInsertionPoint(at);
    SmallVector<Value> operands(inputs);
    llvm::append_range(operands, outputs);
    func::CallOp::create(b, loc, decl, operands);
  }

  func::FuncOp declare(Location loc, StringRef base, AttentionKernel kind,
                       const AttentionShape &shape, int64_t rows,
                       ValueRange inputs, ValueRange outputs) {
    SmallVector<Type> types(inputs.getTypes());
    llvm::append_range(types, outputs.getTypes());
    gpu::GPUModuleOp kernelModule = getKernelModule(loc);
    std::string name = uniqueName(base, kernelModule);
    KernelLaunch kernel = buildAttentionKernel(b, loc, kernelModule, name, kind,
                                               shape, rows, types);
    b.setInsertionPointToEnd(module.getBody());
    auto decl = func::FuncOp::create(b, loc, "__remat_launch_" + name,
                                     b.getFunctionType(types, {}));
    decl.setPrivate();
    for (unsigned i = 0; i < types.size(); ++i)
      decl.setArgAttr(i, "bufferization.access",
                      b.getStringAttr(i < inputs.size() ? "read" : "write"));
    auto kernelRef =
        SymbolRefAttr::get(b.getStringAttr(kKernelModule),
                           {FlatSymbolRefAttr::get(kernel.func.getNameAttr())});
    decl->setAttr(
        kLaunchAttr,
        b.getDictionaryAttr(
            {b.getNamedAttr("kernel", kernelRef),
             b.getNamedAttr("grid", b.getDenseI64ArrayAttr(kernel.grid)),
             b.getNamedAttr("block", b.getDenseI64ArrayAttr(kernel.block))}));
    symbols.insert(decl);
    return decl;
  }

  /// `base_N` for the first N for which neither the kernel module has a
  /// kernel nor the module a launch declaration of that name.
  std::string uniqueName(StringRef base, gpu::GPUModuleOp kernelModule) {
    for (;; ++counter) {
      std::string name = (base + "_" + Twine(counter)).str();
      if (!symbols.lookup("__remat_launch_" + name) &&
          !SymbolTable::lookupSymbolIn(kernelModule, name))
        return name;
    }
  }

  gpu::GPUModuleOp getKernelModule(Location loc) {
    if (kernels)
      return kernels;
    kernels = symbols.lookup<gpu::GPUModuleOp>(kKernelModule);
    if (kernels)
      return kernels;
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    kernels = gpu::GPUModuleOp::create(b, loc, kKernelModule);
    symbols.insert(kernels);
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    return kernels;
  }

  ModuleOp module;
  int64_t maxRows;
  OpBuilder b;
  SymbolTable symbols;
  gpu::GPUModuleOp kernels;
  unsigned counter = 0;
};

struct ConvertRematToGPUPass
    : public remat::impl::ConvertRematToGPUPassBase<ConvertRematToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    if (maxRows < 1) {
      mlir::emitError(getOperation().getLoc(),
                      "convert-remat-to-gpu: max-rows must be positive, got ")
          << static_cast<int64_t>(maxRows);
      return signalPassFailure();
    }
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<AttentionOp, AttentionGradOp>(op))
        ops.push_back(op);
    });
    AttentionLowering lowering(getOperation(), maxRows);
    for (Operation *op : ops) {
      LogicalResult lowered = isa<AttentionOp>(op)
                                  ? lowering.lower(cast<AttentionOp>(op))
                                  : lowering.lower(cast<AttentionGradOp>(op));
      numLowered += succeeded(lowered);
    }
  }
};

struct RematGPULaunchKernelCallsPass
    : public remat::impl::RematGPULaunchKernelCallsPassBase<
          RematGPULaunchKernelCallsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::CallOp> calls;
    module.walk([&](func::CallOp call) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      if (callee && callee->hasAttr(kLaunchAttr))
        calls.push_back(call);
    });
    OpBuilder b(&getContext());
    for (func::CallOp call : calls) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      auto launch = callee->getAttrOfType<DictionaryAttr>(kLaunchAttr);
      SymbolRefAttr kernel;
      DenseI64ArrayAttr grid, block;
      if (launch) {
        kernel = launch.getAs<SymbolRefAttr>("kernel");
        grid = launch.getAs<DenseI64ArrayAttr>("grid");
        block = launch.getAs<DenseI64ArrayAttr>("block");
      }
      if (!kernel || !grid || !block || grid.size() != 3 || block.size() != 3 ||
          !symbols.lookupSymbolIn(module, kernel) || call.getNumResults()) {
        mlir::emitError(callee.getLoc(), "remat-gpu-launch-kernel-calls: '")
            << kLaunchAttr
            << "' needs a kernel of the module, and a grid and a block of 3 "
               "sizes each, and its calls no results";
        return signalPassFailure();
      }
      b.setInsertionPoint(call);
      Location loc = call.getLoc();
      auto dim = [&](ArrayRef<int64_t> sizes) {
        return gpu::KernelDim3{
            arith::ConstantIndexOp::create(b, loc, sizes[0]),
            arith::ConstantIndexOp::create(b, loc, sizes[1]),
            arith::ConstantIndexOp::create(b, loc, sizes[2])};
      };
      gpu::KernelDim3 gridSize = dim(grid.asArrayRef());
      gpu::KernelDim3 blockSize = dim(block.asArrayRef());
      gpu::LaunchFuncOp::create(b, loc, kernel, gridSize, blockSize,
                                /*dynamicSharedMemorySize=*/Value(),
                                call.getOperands(), /*asyncObject=*/Value());
      call.erase();
      ++numLaunches;
    }
    for (func::FuncOp func :
         llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      if (func->hasAttr(kLaunchAttr) && func.symbolKnownUseEmpty(module))
        func.erase();
    if (!calls.empty())
      module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                      b.getUnitAttr());
  }
};

} // namespace
