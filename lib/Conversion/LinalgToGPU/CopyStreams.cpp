//===- CopyStreams.cpp - offload copies on streams of their own -----------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// `-remat-gpu-copy-streams`: after `-gpu-async-region`, the GPU operations
/// of a block form one chain of async tokens, one stream. The copies of
/// offloaded values (a `gpu.memcpy` to or from a buffer of
/// `gpu.alloc host_shared`: pinned host memory) leave that chain, so that
/// they run over the host link while the kernels after them run:
/// - a copy starts a stream of its own, `gpu.wait async [%chain]`, which
///   waits (through an event) for what the chain issued before it: the
///   kernel that wrote the value, or the allocation of a reload's buffer.
///   A copy back also waits for the copy out that filled its host buffer;
/// - the chain goes on without the copy;
/// - the first later operation that needs the copy done joins the chain
///   with the copy's stream, `gpu.wait async [%chain, %copy]`, a new
///   stream that waits for both: for a copy back, the first that uses the
///   device buffer; for a copy out, the first that may write the device
///   buffer (a kernel is read from its body) or that uses the host buffer.
///   Before a host operation that uses either buffer, the host waits for
///   the copy (`gpu.wait [%copy]`);
/// - the deallocation of a copied buffer waits for the chain and the copy
///   on a stream of its own, so that the chain never waits to free;
/// - each stream the chain leaves behind, and each copy stream, is
///   synchronized and destroyed at the block's next `gpu.wait` (one is
///   added before the terminator when there is none).
///
/// The upstream GPU runtime lowering turns each `gpu.wait async` into a
/// stream and each of its operands into an event recorded after the
/// operation that defined it.
///
//===----------------------------------------------------------------------===//

#include "remat/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

namespace mlir {
namespace remat {
#define GEN_PASS_DEF_REMATGPUCOPYSTREAMSPASS
#include "remat/Conversion/Passes.h.inc"
} // namespace remat
} // namespace mlir

using namespace mlir;

/// The buffer `value` is a view of (itself when it is no view).
static Value getRootBuffer(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>()) {
    if (view.getViewDest() != value)
      break;
    value = view.getViewSource();
  }
  return value;
}

/// Whether `value` is (a view of) pinned host memory: `gpu.alloc
/// host_shared`, what an offloaded buffer becomes.
static bool isPinnedHost(Value value) {
  auto alloc = getRootBuffer(value).getDefiningOp<gpu::AllocOp>();
  return alloc && alloc.getHostShared();
}

/// `root` and every value that may alias it: the results of memref type of
/// the operations that take one of them (views, casts, metadata).
static void collectAliases(Value root, llvm::SmallPtrSetImpl<Value> &aliases) {
  SmallVector<Value> work{root};
  while (!work.empty()) {
    Value value = work.pop_back_val();
    if (!aliases.insert(value).second)
      continue;
    for (Operation *user : value.getUsers())
      for (Value result : user->getResults())
        if (isa<BaseMemRefType>(result.getType()))
          work.push_back(result);
  }
}

/// Whether the kernel body may write or free its argument `index`: any use
/// of it (or of an alias) other than a read, or an operation that declares
/// no memory effects.
static bool kernelMayWrite(gpu::LaunchFuncOp launch, unsigned index) {
  auto kernel = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
      launch, launch.getKernel());
  if (!kernel || kernel.isExternal() || index >= kernel.getNumArguments())
    return true;
  llvm::SmallPtrSet<Value, 8> aliases;
  collectAliases(kernel.getArgument(index), aliases);
  for (Value alias : aliases) {
    for (Operation *user : alias.getUsers()) {
      auto effects = dyn_cast<MemoryEffectOpInterface>(user);
      if (!effects)
        return true;
      SmallVector<MemoryEffects::EffectInstance> list;
      effects.getEffectsOnValue(alias, list);
      for (MemoryEffects::EffectInstance &effect : list)
        if (!isa<MemoryEffects::Read>(effect.getEffect()))
          return true;
      // An op without effects that gives something other than a view or
      // a size (a pointer) lets the buffer escape.
      if (list.empty() &&
          !isa<memref::DimOp, memref::ExtractStridedMetadataOp>(user) &&
          llvm::any_of(user->getResults(), [](Value result) {
            return !isa<BaseMemRefType>(result.getType());
          }))
        return true;
    }
  }
  return false;
}

namespace {
/// What an operation does to a copied buffer, as far as the copy's stream
/// is concerned.
enum class Use { None, Read, Write, Free, HostCopy };

class CopyStreams {
public:
  explicit CopyStreams(func::FuncOp func) : func(func) {}

  /// Moves every copy of an offloaded value off its chain; returns how many.
  int64_t run();

private:
  /// How `op` (or an op nested in it) uses the buffers in `values`: the
  /// strongest use.
  Use classify(Operation *op, const llvm::SmallPtrSetImpl<Value> &values);
  /// Moves `copy` to its own stream and joins it where needed.
  void moveToStream(gpu::MemcpyOp copy);
  /// Synchronizes and destroys the stream of `token` at the first
  /// `gpu.wait` of its block after `after` (or a new one at the end).
  void retire(Value token, Operation *after);
  /// Replaces the single async dependency of `op` with `token`.
  static void setDependency(gpu::AsyncOpInterface op, Value token);
  /// kernelMayWrite, once per launch and operand.
  bool launchMayWrite(gpu::LaunchFuncOp launch, unsigned index);

  func::FuncOp func;
  /// The streams a copy back's stream must wait for, besides its chain:
  /// those of the copies out of its host buffer.
  llvm::DenseMap<Operation *, SmallVector<Value>> extraDependencies;
  /// The tokens each `gpu.wait` synchronizes in addition to its own.
  llvm::MapVector<Operation *, llvm::SetVector<Value>> retired;
  /// What launchMayWrite found (the scans of several copies meet the same
  /// launches).
  llvm::DenseMap<std::pair<Operation *, unsigned>, bool> launchWrites;
};
} // namespace

void CopyStreams::setDependency(gpu::AsyncOpInterface op, Value token) {
  unsigned index = op.getAsyncDependencies().getBeginOperandIndex();
  op->setOperand(index, token);
}

bool CopyStreams::launchMayWrite(gpu::LaunchFuncOp launch, unsigned index) {
  auto [it, inserted] = launchWrites.try_emplace({launch, index}, false);
  if (inserted)
    it->second = kernelMayWrite(launch, index);
  return it->second;
}

Use CopyStreams::classify(Operation *op,
                          const llvm::SmallPtrSetImpl<Value> &values) {
  Use strongest = Use::None;
  auto note = [&](Use use) {
    if (static_cast<int>(use) > static_cast<int>(strongest))
      strongest = use;
  };
  op->walk([&](Operation *nested) {
    for (OpOperand &operand : nested->getOpOperands()) {
      if (!values.contains(operand.get()))
        continue;
      if (auto copy = dyn_cast<gpu::MemcpyOp>(nested)) {
        if (isPinnedHost(copy.getDst()) || isPinnedHost(copy.getSrc()))
          note(Use::HostCopy);
        else
          note(operand.get() == copy.getDst() ? Use::Write : Use::Read);
      } else if (isa<gpu::DeallocOp>(nested)) {
        note(Use::Free);
      } else if (auto launch = dyn_cast<gpu::LaunchFuncOp>(nested)) {
        unsigned first = launch.getKernelOperands().getBeginOperandIndex();
        unsigned number = operand.getOperandNumber();
        note(number >= first && !launchMayWrite(launch, number - first)
                 ? Use::Read
                 : Use::Write);
      } else if (llvm::any_of(nested->getResults(), [](Value result) {
                   return isa<BaseMemRefType>(result.getType());
                 })) {
        // A view: its uses are the buffer's own (in `values` too).
      } else {
        note(Use::Write);
      }
    }
  });
  return strongest;
}

void CopyStreams::retire(Value token, Operation *after) {
  Block *block = after->getBlock();
  for (Operation *op = after->getNextNode(); op; op = op->getNextNode()) {
    auto wait = dyn_cast<gpu::WaitOp>(op);
    if (wait && !wait.getAsyncToken()) {
      retired[wait].insert(token);
      return;
    }
  }
  OpBuilder builder(block->getTerminator());
  auto wait = gpu::WaitOp::create(builder, func.getLoc(), Type(), ValueRange());
  retired[wait].insert(token);
}

void CopyStreams::moveToStream(gpu::MemcpyOp copy) {
  auto asyncCopy = cast<gpu::AsyncOpInterface>(copy.getOperation());
  Value chain = copy.getAsyncDependencies().front();
  // Whether it copies out (device to host), and the aliases of its two
  // buffers.
  bool out = isPinnedHost(copy.getDst());
  llvm::SmallPtrSet<Value, 8> deviceAliases, hostAliases;
  collectAliases(getRootBuffer(out ? copy.getSrc() : copy.getDst()),
                 deviceAliases);
  collectAliases(getRootBuffer(out ? copy.getDst() : copy.getSrc()),
                 hostAliases);

  // The copy's stream waits for the chain (and the copies out it reads).
  OpBuilder builder(copy);
  SmallVector<Value> dependencies{chain};
  llvm::append_range(dependencies, extraDependencies.lookup(copy));
  auto start =
      gpu::WaitOp::create(builder, copy.getLoc(),
                          builder.getType<gpu::AsyncTokenType>(), dependencies);
  copy.getAsyncToken().replaceAllUsesWith(chain);
  setDependency(asyncCopy, start.getAsyncToken());
  Value last = copy.getAsyncToken();

  bool deviceDone = false, hostDone = false;
  for (Operation *op = copy->getNextNode(); op; op = op->getNextNode()) {
    if (op->hasTrait<OpTrait::IsTerminator>())
      break;
    Use onDevice = deviceDone ? Use::None : classify(op, deviceAliases);
    Use onHost = hostDone ? Use::None : classify(op, hostAliases);
    if (onDevice == Use::None && onHost == Use::None)
      continue;
    // A copy back of this copy out's host buffer waits on its own stream.
    if (onHost == Use::HostCopy && onDevice == Use::None && out) {
      if (auto next = dyn_cast<gpu::MemcpyOp>(op)) {
        extraDependencies[next].push_back(last);
        hostDone = true;
        continue;
      }
    }
    auto async = dyn_cast<gpu::AsyncOpInterface>(op);
    bool oneDependency = async && async.getAsyncToken() &&
                         async.getAsyncDependencies().size() == 1 &&
                         async.getAsyncDependencies().front().getDefiningOp();
    // A deallocation: on a stream that waits for both, off the chain.
    if (isa<gpu::DeallocOp>(op) && oneDependency) {
      Value before = async.getAsyncDependencies().front();
      OpBuilder at(op);
      auto both = gpu::WaitOp::create(at, op->getLoc(),
                                      at.getType<gpu::AsyncTokenType>(),
                                      ValueRange{before, last});
      async.getAsyncToken().replaceAllUsesWith(before);
      setDependency(async, both.getAsyncToken());
      retire(async.getAsyncToken(), op);
      (onDevice == Use::Free ? deviceDone : hostDone) = true;
      if (deviceDone && hostDone)
        break;
      continue;
    }
    // A copy out's device buffer may be read beside the copy.
    if (out && onHost == Use::None && onDevice == Use::Read)
      continue;
    // Otherwise the op needs the copy done.
    if (oneDependency) {
      Value before = async.getAsyncDependencies().front();
      OpBuilder at(op);
      auto join = gpu::WaitOp::create(at, op->getLoc(),
                                      at.getType<gpu::AsyncTokenType>(),
                                      ValueRange{before, last});
      setDependency(async, join.getAsyncToken());
      retire(before, op);
      retire(last, op);
      return;
    }
    if (auto wait = dyn_cast<gpu::WaitOp>(op); wait && !wait.getAsyncToken()) {
      retired[wait].insert(last);
      return;
    }
    OpBuilder at(op);
    gpu::WaitOp::create(at, op->getLoc(), Type(), ValueRange{last});
    return;
  }
  retire(last, copy);
}

int64_t CopyStreams::run() {
  SmallVector<gpu::MemcpyOp> copies;
  func.walk([&](gpu::MemcpyOp copy) {
    if (!isPinnedHost(copy.getDst()) && !isPinnedHost(copy.getSrc()))
      return;
    // Only a copy on a chain (one token, defined in its block) moves.
    if (!copy.getAsyncToken() || copy.getAsyncDependencies().size() != 1)
      return;
    Operation *chain = copy.getAsyncDependencies().front().getDefiningOp();
    if (!chain || chain->getBlock() != copy->getBlock())
      return;
    copies.push_back(copy);
  });
  for (gpu::MemcpyOp copy : copies)
    moveToStream(copy);
  for (auto &[op, tokens] : retired) {
    auto wait = cast<gpu::WaitOp>(op);
    for (Value token : tokens)
      if (!llvm::is_contained(wait.getAsyncDependencies(), token))
        wait.getAsyncDependenciesMutable().append(token);
  }
  return copies.size();
}

namespace {
struct RematGPUCopyStreamsPass
    : public remat::impl::RematGPUCopyStreamsPassBase<RematGPUCopyStreamsPass> {
  void runOnOperation() override {
    numCopies += CopyStreams(getOperation()).run();
  }
};
} // namespace
