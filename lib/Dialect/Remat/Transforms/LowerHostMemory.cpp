//===- LowerHostMemory.cpp - offloaded buffers in the host arena ----------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// `-remat-lower-host-memory`: the buffers `remat.offload` bufferizes to are
/// memrefs of `#remat.memory_space<host>`. Before the LLVM lowering, each
/// allocation of one is preceded by a call to `rematHostAllocNext()`, which
/// sends the runtime's next allocation to its host arena, and the memory
/// space is dropped from every type. On the GPU path (gpu=true) the
/// allocations are `gpu.alloc host_shared` by then and only the memory
/// space goes.
///
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_REMATLOWERHOSTMEMORYPASS
#include "remat/Dialect/Remat/Transforms/Passes.h.inc"
} // namespace remat
} // namespace mlir

using namespace mlir;
using namespace mlir::remat;

/// The runtime function that sends the next allocation to the host arena.
static constexpr llvm::StringLiteral kHostAllocNext = "rematHostAllocNext";

/// `type` without the host memory space (itself when it has none).
static Type dropHostSpace(Type type) {
  if (!isHostMemRef(type))
    return type;
  if (auto memref = dyn_cast<MemRefType>(type))
    return MemRefType::get(memref.getShape(), memref.getElementType(),
                           memref.getLayout());
  auto unranked = cast<UnrankedMemRefType>(type);
  return UnrankedMemRefType::get(unranked.getElementType(), Attribute());
}

namespace {
struct RematLowerHostMemoryPass
    : public remat::impl::RematLowerHostMemoryPassBase<
          RematLowerHostMemoryPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<memref::AllocOp> allocs;
    module.walk([&](memref::AllocOp alloc) {
      if (isHostMemRef(alloc.getType()))
        allocs.push_back(alloc);
    });
    if (gpu && !allocs.empty()) {
      allocs.front().emitError()
          << "remat: a host-memory allocation is left for the GPU lowering ("
          << allocs.size()
          << " in all); -remat-gpu-device-memory allocates them first";
      return signalPassFailure();
    }
    OpBuilder builder(module.getBodyRegion());
    // The GPU lowering's host allocations (gpu.alloc host_shared) happen on
    // the host at once, outside the stream: an asynchronous one (from
    // -gpu-async-region, which the GPU runtime lowering rejects for
    // host_shared) becomes synchronous, and what waited for its token waits
    // for its dependency.
    SmallVector<gpu::AllocOp> hostShared;
    module.walk([&](gpu::AllocOp alloc) {
      if (alloc.getHostShared() && alloc.getAsyncToken() &&
          alloc.getAsyncDependencies().size() == 1)
        hostShared.push_back(alloc);
    });
    for (gpu::AllocOp alloc : hostShared) {
      builder.setInsertionPoint(alloc);
      auto sync = gpu::AllocOp::create(
          builder, alloc.getLoc(), alloc.getMemref().getType(), Type(),
          ValueRange(), alloc.getDynamicSizes(), alloc.getSymbolOperands(),
          /*hostShared=*/true);
      alloc.getMemref().replaceAllUsesWith(sync.getMemref());
      alloc.getAsyncToken().replaceAllUsesWith(
          alloc.getAsyncDependencies().front());
      alloc.erase();
    }
    if (!allocs.empty() && !module.lookupSymbol<func::FuncOp>(kHostAllocNext)) {
      builder.setInsertionPointToStart(module.getBody());
      auto decl = func::FuncOp::create(builder, module.getLoc(), kHostAllocNext,
                                       builder.getFunctionType({}, {}));
      decl.setPrivate();
    }
    for (memref::AllocOp alloc : allocs) {
      builder.setInsertionPoint(alloc);
      func::CallOp::create(builder, alloc.getLoc(), kHostAllocNext,
                           TypeRange());
      ++numHostAllocs;
    }
    // Every value (and function type) of a host memref loses its space.
    module.walk([&](Operation *op) {
      for (Value result : op->getResults())
        result.setType(dropHostSpace(result.getType()));
      for (Region &region : op->getRegions())
        for (Block &block : region)
          for (BlockArgument arg : block.getArguments())
            arg.setType(dropHostSpace(arg.getType()));
      if (auto function = dyn_cast<FunctionOpInterface>(op)) {
        auto type = dyn_cast<FunctionType>(function.getFunctionType());
        if (!type)
          return;
        SmallVector<Type> inputs, results;
        for (Type t : type.getInputs())
          inputs.push_back(dropHostSpace(t));
        for (Type t : type.getResults())
          results.push_back(dropHostSpace(t));
        function.setType(FunctionType::get(op->getContext(), inputs, results));
      }
    });
  }
};
} // namespace
