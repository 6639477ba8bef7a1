//===- GPUPrepare.cpp - a bufferized step, ready for the GPU mapping ------===//
//
// Two passes of -remat-lower-to-nvvm: device memory for every buffer the
// kernels touch, and one-thread kernels for the code the parallel-loop
// mapping leaves on the host.
//
//===----------------------------------------------------------------------===//

#include "remat/Conversion/Passes.h"
#include "remat/Dialect/Remat/IR/Remat.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_REMATGPUDEVICEMEMORYPASS
#define GEN_PASS_DEF_REMATGPUWRAPHOSTCOMPUTEPASS
#include "remat/Conversion/Passes.h.inc"
} // namespace remat
} // namespace mlir

using namespace mlir;
using namespace mlir::remat;

namespace {

/// How a host routine accesses a memref argument: its
/// `bufferization.access` argument attribute ("none", "read", "write" or
/// "read-write"), as One-Shot Bufferize reads it on external functions. An
/// argument without it may be read and written.
struct HostAccess {
  bool read = true;
  bool write = true;
};

static HostAccess getHostAccess(func::FuncOp callee, unsigned index) {
  auto attr =
      callee.getArgAttrOfType<StringAttr>(index, "bufferization.access");
  if (!attr)
    return {};
  StringRef kind = attr.getValue();
  return {kind == "read" || kind == "read-write",
          kind == "write" || kind == "read-write"};
}

/// Gives `call` a host buffer in place of the memref `value` (device
/// memory): it is filled from `value` before the call when the routine reads
/// it, copied back to `value` after the call when the routine writes it, and
/// freed after that. Returns the value to pass: the host buffer, cast back to
/// `value`'s type when `value` was a cast.
static FailureOr<Value> copyToHost(OpBuilder &b, Operation *call, Value value,
                                   HostAccess access) {
  Value ranked = value;
  auto cast = value.getDefiningOp<memref::CastOp>();
  if (cast)
    ranked = cast.getSource();
  auto type = dyn_cast<MemRefType>(ranked.getType());
  if (!type || !type.hasStaticShape() || !type.getLayout().isIdentity())
    return failure();
  Location loc = call->getLoc();
  b.setInsertionPoint(call);
  Value host = memref::AllocOp::create(b, loc, type);
  if (access.read)
    gpu::MemcpyOp::create(b, loc, Type(), ValueRange(), host, ranked);
  b.setInsertionPointAfter(call);
  if (access.write)
    gpu::MemcpyOp::create(b, loc, Type(), ValueRange(), ranked, host);
  memref::DeallocOp::create(b, loc, host);
  if (!cast)
    return host;
  b.setInsertionPoint(call);
  return memref::CastOp::create(b, loc, value.getType(), host).getResult();
}

struct RematGPUDeviceMemoryPass
    : public remat::impl::RematGPUDeviceMemoryPassBase<
          RematGPUDeviceMemoryPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(&getContext());
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<memref::AllocOp, memref::DeallocOp, memref::CopyOp,
              memref::GetGlobalOp, func::CallOp>(op) &&
          op->getParentOfType<func::FuncOp>())
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      b.setInsertionPoint(op);
      Location loc = op->getLoc();
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        // An offloaded buffer (host memory space) is pinned host memory:
        // `host_shared`, which the runtime allocates on the host.
        bool host = isHostMemRef(alloc.getType());
        auto device = gpu::AllocOp::create(
            b, loc, alloc.getType(), Type(), ValueRange(),
            alloc.getDynamicSizes(), alloc.getSymbolOperands(), host);
        numHostAllocs += host;
        alloc.replaceAllUsesWith(device.getMemref());
        alloc.erase();
        ++numAllocs;
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        gpu::DeallocOp::create(b, loc, Type(), ValueRange(),
                               dealloc.getMemref());
        dealloc.erase();
      } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
        // A copy to or from host memory (an offload or a reload) goes over
        // the link as a DMA copy; the others run as kernels.
        if (isHostMemRef(copy.getSource().getType()) ||
            isHostMemRef(copy.getTarget().getType()))
          gpu::MemcpyOp::create(b, loc, Type(), ValueRange(), copy.getTarget(),
                                copy.getSource());
        else
          linalg::CopyOp::create(b, loc, copy.getSource(), copy.getTarget());
        copy.erase();
      } else if (auto global = dyn_cast<memref::GetGlobalOp>(op)) {
        // (A global's type is static: the verifier requires it.)
        MemRefType type = global.getType();
        b.setInsertionPointAfter(global);
        auto device = gpu::AllocOp::create(b, loc, type, Type(), ValueRange(),
                                           ValueRange(), ValueRange(), false);
        global.getResult().replaceAllUsesWith(device.getMemref());
        gpu::MemcpyOp::create(b, loc, Type(), ValueRange(), device.getMemref(),
                              global.getResult());
        b.setInsertionPoint(global->getBlock()->getTerminator());
        gpu::DeallocOp::create(b, loc, Type(), ValueRange(),
                               device.getMemref());
        ++numGlobals;
      } else if (auto call = dyn_cast<func::CallOp>(op)) {
        auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
        if (!callee || !callee.isExternal())
          continue;
        for (OpOperand &operand : call->getOpOperands()) {
          if (!isa<BaseMemRefType>(operand.get().getType()))
            continue;
          HostAccess access = getHostAccess(callee, operand.getOperandNumber());
          if (!access.read && !access.write)
            continue;
          FailureOr<Value> host = copyToHost(b, call, operand.get(), access);
          if (failed(host)) {
            mlir::emitError(call.getLoc(),
                            "remat-gpu-device-memory: cannot copy operand #")
                << operand.getOperandNumber()
                << " to the host (it needs a static shape and identity "
                   "layout)";
            return signalPassFailure();
          }
          operand.set(*host);
          ++numHostCopies;
        }
      }
    }
  }
};

/// True for the ops that stay on the host: GPU runtime operations,
/// allocations, views, calls, constants and returns.
static bool isHostOp(Operation *op) {
  return isa<gpu::LaunchOp, gpu::LaunchFuncOp, gpu::AllocOp, gpu::DeallocOp,
             gpu::MemcpyOp, gpu::MemsetOp, gpu::WaitOp, memref::AllocOp,
             memref::DeallocOp, memref::GetGlobalOp, memref::CastOp,
             func::CallOp, func::ReturnOp>(op) ||
         isa<ViewLikeOpInterface>(op) || op->hasTrait<OpTrait::IsTerminator>();
}

/// True if `op` reads or writes memory itself or in its regions (outside
/// kernels): it must run on the device.
static bool touchesMemory(Operation *op) {
  if (isHostOp(op))
    return false;
  bool touches = false;
  op->walk<WalkOrder::PreOrder>([&](Operation *nested) {
    if (isa<gpu::LaunchOp>(nested))
      return WalkResult::skip();
    if (nested != op && isHostOp(nested))
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(nested);
    if ((effects && (effects.hasEffect<MemoryEffects::Read>() ||
                     effects.hasEffect<MemoryEffects::Write>())) ||
        (!effects && !nested->hasTrait<OpTrait::HasRecursiveMemoryEffects>() &&
         nested->getNumRegions() == 0 && !isMemoryEffectFree(nested))) {
      touches = true;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return touches;
}

/// True if `op` contains a kernel launch.
static bool containsLaunch(Operation *op) {
  return op->walk([](gpu::LaunchOp) { return WalkResult::interrupt(); })
      .wasInterrupted();
}

struct RematGPUWrapHostComputePass
    : public remat::impl::RematGPUWrapHostComputePassBase<
          RematGPUWrapHostComputePass> {
  using Base::Base;

  LogicalResult wrap(ArrayRef<Operation *> run) {
    Operation *first = run.front();
    OpBuilder b(first);
    Location loc = first->getLoc();
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto launch = gpu::LaunchOp::create(b, loc, one, one, one, one, one, one);
    Block &body = launch.getBody().front();
    b.setInsertionPointToEnd(&body);
    auto terminator = gpu::TerminatorOp::create(b, loc);
    for (Operation *op : run)
      op->moveBefore(terminator);
    for (Operation *op : run)
      for (Value result : op->getResults())
        for (Operation *user : result.getUsers())
          if (!launch->isAncestor(user))
            return mlir::emitError(user->getLoc(),
                                   "remat-gpu-wrap-host-compute: this host "
                                   "op uses a value computed on the device");
    ++numWrapped;
    return success();
  }

  LogicalResult wrapBlock(Block &block) {
    SmallVector<Operation *> run;
    llvm::DenseSet<Operation *> inRun;
    auto flush = [&]() -> LogicalResult {
      if (run.empty())
        return success();
      LogicalResult result = wrap(run);
      run.clear();
      inRun.clear();
      return result;
    };
    for (Operation &op : llvm::make_early_inc_range(block)) {
      bool usesRun = llvm::any_of(op.getOperands(), [&](Value v) {
        Operation *def = v.getDefiningOp();
        return def && inRun.contains(def);
      });
      if (touchesMemory(&op) || (usesRun && !isHostOp(&op))) {
        if (containsLaunch(&op))
          return mlir::emitError(op.getLoc(),
                                 "remat-gpu-wrap-host-compute: this op both "
                                 "launches kernels and touches memory on the "
                                 "host");
        run.push_back(&op);
        inRun.insert(&op);
        continue;
      }
      if (failed(flush()))
        return failure();
    }
    return flush();
  }

  void runOnOperation() override {
    SmallVector<Block *> blocks;
    getOperation().walk([&](func::FuncOp function) {
      for (Block &block : function.getBody())
        blocks.push_back(&block);
    });
    for (Block *block : blocks)
      if (failed(wrapBlock(*block)))
        return signalPassFailure();
  }
};

} // namespace
