//===- Finalize.cpp - lower remat ops to upstream IR ----------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#define DEBUG_TYPE "remat-finalize"

using namespace mlir;
using namespace mlir::remat;

/// Moves the body of a single-block region op before the op, binding its
/// block arguments to `args`, and replaces the op's results by the values
/// its `remat.yield` yields. A yielded block argument is replaced by its
/// binding: the block, and its arguments, are gone once inlined.
static void inlineBody(RewriterBase &rewriter, Operation *op, Region &body,
                       ValueRange args) {
  Block &block = body.front();
  auto yield = cast<YieldOp>(block.getTerminator());
  SmallVector<Value> yielded;
  for (Value value : yield.getValues()) {
    auto arg = dyn_cast<BlockArgument>(value);
    yielded.push_back(arg && arg.getOwner() == &block ? args[arg.getArgNumber()]
                                                      : value);
  }
  rewriter.eraseOp(yield);
  rewriter.inlineBlockBefore(&block, op, args);
  rewriter.replaceOp(op, yielded);
}

void mlir::remat::inlineCheckpoint(RewriterBase &rewriter,
                                   CheckpointOp checkpoint) {
  inlineBody(rewriter, checkpoint, checkpoint.getBody(),
             checkpoint.getInputs());
}

FinalizeStats mlir::remat::finalizeRematOps(RewriterBase &rewriter,
                                            Operation *root,
                                            const FinalizeOptions &options) {
  FinalizeStats stats;
  // Post-order: nested region ops are inlined into their parent's body
  // before the parent itself is inlined.
  SmallVector<Operation *> worklist;
  root->walk([&](Operation *op) {
    if (isa<NameOp, CheckpointOp, BackwardOp>(op))
      worklist.push_back(op);
  });

  for (Operation *op : worklist) {
    if (auto name = dyn_cast<NameOp>(op)) {
      rewriter.replaceOp(name, name.getInput());
      ++stats.names;
      continue;
    }
    if (auto checkpoint = dyn_cast<CheckpointOp>(op)) {
      inlineCheckpoint(rewriter, checkpoint);
      ++stats.checkpoints;
      continue;
    }
    auto backward = cast<BackwardOp>(op);
    // The step's fresh tensors (forward and backward) become
    // bufferization.alloc_tensor: unlike tensor.empty they are not CSE'd
    // with identical ones. A merged tensor.empty would give ops of
    // different layers, or a recomputed value and its forward original, one
    // buffer, kept alive from the first to the last of them.
    // (The whole function's: a backward inside a loop or a checkpoint
    // shares the step's empties too.)
    SmallVector<tensor::EmptyOp> empties;
    auto function = backward->getParentOfType<FunctionOpInterface>();
    (function ? function.getFunctionBody() : *backward->getParentRegion())
        .walk([&](tensor::EmptyOp e) { empties.push_back(e); });
    // Each one also moves down to just before its first use: the
    // allocation happens where the alloc_tensor is, and the importer (or
    // the recompute rewrite, which puts clones before their first use)
    // may have left ops between an empty and the op that writes it.
    for (tensor::EmptyOp empty : empties) {
      Block *block = empty->getBlock();
      Operation *first = nullptr;
      for (Operation *user : empty->getUsers()) {
        Operation *ancestor = block->findAncestorOpInBlock(*user);
        if (ancestor && (!first || ancestor->isBeforeInBlock(first)))
          first = ancestor;
      }
      rewriter.setInsertionPoint(first ? first : empty.getOperation());
      rewriter.replaceOpWithNewOp<bufferization::AllocTensorOp>(
          empty, empty.getType(), empty.getDynamicSizes());
      ++stats.allocTensors;
    }
    SmallVector<Value> args(backward.getInputs());
    if (options.barriers && !args.empty()) {
      rewriter.setInsertionPoint(backward);
      auto barrier = BarrierOp::create(rewriter, backward.getLoc(), args);
      args.assign(barrier.getResults().begin(), barrier.getResults().end());
      ++stats.barriers;
    }
    inlineBody(rewriter, backward, backward.getBody(), args);
    ++stats.backwards;
  }
  return stats;
}

unsigned mlir::remat::stripBarriers(RewriterBase &rewriter, Operation *root) {
  SmallVector<BarrierOp> barriers;
  root->walk([&](BarrierOp op) { barriers.push_back(op); });
  for (BarrierOp barrier : barriers)
    rewriter.replaceOp(barrier, barrier.getInputs());
  return barriers.size();
}
