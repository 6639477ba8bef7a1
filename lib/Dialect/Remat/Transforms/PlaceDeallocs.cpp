//===- PlaceDeallocs.cpp - free buffers after their last use --------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Upstream deallocation frees buffers at the end of their owning block. For
/// activation memory the order of frees is everything: a buffer that stays
/// allocated until the end of a training step is live in the peak whether or
/// not it is used again. This file moves each free to the last use of its
/// buffer and of all the buffer's aliases.
///
/// It works on `bufferization.dealloc` ops (after ownership-based
/// deallocation and its simplification, before `-lower-deallocations`) and
/// on plain `memref.dealloc` ops. A `bufferization.dealloc` frees several
/// buffers at once, conditionally, and retains others; each buffer of it
/// that cannot alias the other buffers or the retained values is split off
/// into a dealloc of its own, which can then move.
///
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define DEBUG_TYPE "remat-place-deallocs"

using namespace mlir;
using namespace mlir::remat;

namespace {
/// Groups memref values by the storage they may point into. Every memref
/// value gets a set of roots: the allocations (or function arguments) whose
/// memory it may view. Two values may alias only if their root sets meet.
///
/// Results of calls to functions defined in the module are roots of their
/// own: ownership-based deallocation makes every function return buffers
/// that the caller owns, copying where needed. Values whose storage cannot be
/// traced (results of region ops, arguments of nested blocks, results of
/// unknown ops without memref operands aside) carry the `unknown` root,
/// which meets every set.
class StorageRoots {
public:
  explicit StorageRoots(Operation *root) {
    // Pre-order: block arguments and results are recorded before the ops
    // that use them.
    root->walk<WalkOrder::PreOrder>([&](Operation *op) {
      for (Region &region : op->getRegions())
        for (Block &block : region)
          for (BlockArgument arg : block.getArguments())
            record(arg);
      for (Value result : op->getResults())
        record(result);
    });
  }

  /// Returns true if `a` and `b` may share storage.
  bool mayAlias(Value a, Value b) const {
    const Roots &ra = lookup(a), &rb = lookup(b);
    if (ra.contains(kUnknown) || rb.contains(kUnknown))
      return true;
    return llvm::any_of(ra, [&](const void *r) { return rb.contains(r); });
  }

  /// Returns every recorded memref value that may share storage with `v`.
  SmallVector<Value> aliasesOf(Value v) const {
    SmallVector<Value> result;
    for (Value other : order)
      if (mayAlias(v, other))
        result.push_back(other);
    return result;
  }

private:
  using Roots = llvm::SmallPtrSet<const void *, 4>;
  /// The root of storage that cannot be traced.
  static inline const char unknownTag = 0;
  static constexpr const void *kUnknown = &unknownTag;

  const Roots &lookup(Value v) const {
    static const Roots unknown = {kUnknown};
    auto it = roots.find(v);
    return it == roots.end() ? unknown : it->second;
  }

  void record(Value v) {
    if (!isa<BaseMemRefType>(v.getType()))
      return;
    Roots &r = roots[v];
    order.push_back(v);
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      // Arguments of a function's entry block are distinct roots; arguments
      // of nested blocks may carry any outer buffer.
      Operation *parent = arg.getOwner()->getParentOp();
      if (arg.getOwner()->isEntryBlock() && isa<FunctionOpInterface>(parent))
        r.insert(v.getAsOpaquePointer());
      else
        r.insert(kUnknown);
      return;
    }
    Operation *op = v.getDefiningOp();
    if (isFreshBuffer(op)) {
      r.insert(v.getAsOpaquePointer());
      return;
    }
    if (op->getNumRegions() != 0) {
      r.insert(kUnknown);
      return;
    }
    // Views, casts and unknown ops: the storage of any memref operand.
    bool any = false;
    for (Value operand : op->getOperands()) {
      if (!isa<BaseMemRefType>(operand.getType()))
        continue;
      const Roots &from = lookup(operand);
      r.insert(from.begin(), from.end());
      any = true;
    }
    if (!any)
      r.insert(kUnknown);
  }

  /// Returns true if `op`'s memref results are new buffers.
  static bool isFreshBuffer(Operation *op) {
    if (isa<memref::AllocOp, memref::AllocaOp, memref::GetGlobalOp,
            bufferization::CloneOp>(op))
      return true;
    auto call = dyn_cast<CallOpInterface>(op);
    if (!call)
      return false;
    auto callee = dyn_cast_or_null<FunctionOpInterface>(call.resolveCallable());
    return callee && !callee.isExternal();
  }

  llvm::DenseMap<Value, Roots> roots;
  SmallVector<Value> order;
};
} // namespace

/// Returns the op after which `freeOp` may free `buffer`: the last op of the
/// free's block that defines or uses the buffer or one of its aliases, or
/// defines an operand of `freeOp` or of `carried`. `carried` is a pure op
/// that only the free uses (the `extract_strided_metadata` that deallocation
/// inserts to find the base buffer); it moves along with the free. Returns
/// nullptr when `freeOp` cannot move: such an op is in another block not
/// nested in this one, or after `freeOp`.
static Operation *findLastUse(Operation *freeOp, Operation *carried,
                              Value buffer, const StorageRoots &storage) {
  Block *block = freeOp->getBlock();
  Operation *last = nullptr;
  auto consider = [&](Operation *op) -> bool {
    if (op == freeOp || op == carried)
      return true;
    Operation *ancestor = block->findAncestorOpInBlock(*op);
    if (!ancestor || !ancestor->isBeforeInBlock(freeOp))
      return false;
    if (!last || last->isBeforeInBlock(ancestor))
      last = ancestor;
    return true;
  };
  auto considerOperands = [&](Operation *op) {
    return llvm::all_of(op->getOperands(), [&](Value operand) {
      Operation *def = operand.getDefiningOp();
      return !def || consider(def);
    });
  };
  if (!considerOperands(freeOp) || (carried && !considerOperands(carried)))
    return nullptr;
  for (Value alias : storage.aliasesOf(buffer)) {
    if (Operation *def = alias.getDefiningOp(); def && !consider(def))
      return nullptr;
    for (Operation *user : alias.getUsers())
      if (!consider(user))
        return nullptr;
  }
  return last;
}

/// Returns the op that defines `buffer` for `freeOp` alone, if it is pure and
/// in the same block, so that it can move with the free.
static Operation *getCarriedDefinition(Operation *freeOp, Value buffer) {
  Operation *def = buffer.getDefiningOp();
  if (!def || def->getBlock() != freeOp->getBlock() ||
      !isMemoryEffectFree(def) || def->getNumRegions() != 0)
    return nullptr;
  if (!llvm::all_of(def->getUsers(),
                    [&](Operation *user) { return user == freeOp; }))
    return nullptr;
  return def;
}

/// Splits every buffer of `dealloc` that cannot alias its other buffers or
/// its retained values into a `bufferization.dealloc` of its own, with no
/// retained values. Returns the new single-buffer deallocs. `dealloc` is
/// erased if no buffer is left to it.
static SmallVector<bufferization::DeallocOp>
splitIndependentBuffers(bufferization::DeallocOp dealloc,
                        const StorageRoots &storage) {
  SmallVector<bufferization::DeallocOp> split;
  if (dealloc.getMemrefs().size() == 1 && dealloc.getRetained().empty())
    return {dealloc};

  OpBuilder builder(dealloc);
  SmallVector<Value> keptBuffers, keptConditions;
  for (auto [index, pair] : llvm::enumerate(
           llvm::zip(dealloc.getMemrefs(), dealloc.getConditions()))) {
    auto [buffer, condition] = pair;
    auto aliasesBuffer = [&, buffer = buffer](Value other) {
      return other != buffer && storage.mayAlias(buffer, other);
    };
    bool independent =
        llvm::none_of(dealloc.getMemrefs(), aliasesBuffer) &&
        llvm::none_of(dealloc.getRetained(), [&, buffer = buffer](Value r) {
          return storage.mayAlias(buffer, r);
        });
    if (!independent) {
      keptBuffers.push_back(buffer);
      keptConditions.push_back(condition);
      continue;
    }
    split.push_back(bufferization::DeallocOp::create(
        builder, dealloc.getLoc(), ValueRange{buffer}, ValueRange{condition},
        ValueRange{}));
  }
  if (split.empty())
    return {};

  // The split buffers alias no retained value, so they never contributed to
  // the ownership of one: the remaining dealloc computes the same results.
  if (keptBuffers.empty()) {
    Value isFalse = arith::ConstantOp::create(builder, dealloc.getLoc(),
                                              builder.getBoolAttr(false));
    for (Value result : dealloc.getUpdatedConditions())
      result.replaceAllUsesWith(isFalse);
  } else {
    auto rest =
        bufferization::DeallocOp::create(builder, dealloc.getLoc(), keptBuffers,
                                         keptConditions, dealloc.getRetained());
    dealloc.replaceAllUsesWith(rest.getResults());
  }
  dealloc.erase();
  return split;
}

/// Moves the frees of one function.
static void placeDeallocsInFunction(FunctionOpInterface root,
                                    PlaceDeallocsStats &stats) {
  StorageRoots storage(root);

  // Frees that may move, with the buffer each one frees.
  SmallVector<std::pair<Operation *, Value>> frees;
  SmallVector<bufferization::DeallocOp> deallocs;
  root->walk([&](Operation *op) {
    if (auto dealloc = dyn_cast<bufferization::DeallocOp>(op))
      deallocs.push_back(dealloc);
    else if (auto dealloc = dyn_cast<memref::DeallocOp>(op))
      frees.emplace_back(dealloc, dealloc.getMemref());
  });
  for (bufferization::DeallocOp dealloc : deallocs) {
    SmallVector<bufferization::DeallocOp> split =
        splitIndependentBuffers(dealloc, storage);
    if (split.empty())
      ++stats.kept;
    for (bufferization::DeallocOp single : split)
      frees.emplace_back(single, single.getMemrefs().front());
  }

  for (auto [freeOp, buffer] : frees) {
    Operation *carried = getCarriedDefinition(freeOp, buffer);
    Operation *last = findLastUse(freeOp, carried, buffer, storage);
    Operation *first = carried ? carried : freeOp;
    if (!last || last->getNextNode() == first) {
      ++stats.kept;
      continue;
    }
    if (carried) {
      carried->moveAfter(last);
      last = carried;
    }
    freeOp->moveAfter(last);
    ++stats.moved;
  }
}

PlaceDeallocsStats mlir::remat::placeDeallocsAfterLastUse(Operation *root) {
  PlaceDeallocsStats stats;
  root->walk([&](FunctionOpInterface function) {
    placeDeallocsInFunction(function, stats);
  });
  return stats;
}
