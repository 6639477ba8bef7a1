//===- MatchUtils.cpp - matching the importer's IR ------------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "MatchUtils.h"

#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlir::remat;

/// Returns `value` with any remat.name around it removed.
Value mlir::remat::stripNames(Value value) {
  while (auto name = value.getDefiningOp<NameOp>())
    value = name.getInput();
  return value;
}

/// Returns true for the ops the importer puts between two forms of one
/// tensor: names and reshapes.
bool mlir::remat::isView(Operation *op) {
  return isa<NameOp, tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op);
}

/// Returns the names of the ops of a linalg.generic body, constants and the
/// terminator left out.
SmallVector<StringRef> mlir::remat::getBodyOps(linalg::GenericOp generic) {
  SmallVector<StringRef> names;
  for (Operation &op : generic.getBody()->without_terminator())
    if (!isa<arith::ConstantOp>(op))
      names.push_back(op.getName().getStringRef());
  return names;
}

/// Returns `op` as a linalg.generic with `inputs` inputs, one init, the
/// given iterator kinds ('p' parallel, 'r' reduction) and exactly the body
/// ops `body`, or null.
linalg::GenericOp mlir::remat::matchGeneric(Operation *op, unsigned inputs,
                                            StringRef iterators,
                                            ArrayRef<StringRef> body) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != inputs ||
      generic.getNumDpsInits() != 1 ||
      generic.getNumLoops() != iterators.size())
    return nullptr;
  for (auto [kind, iterator] :
       llvm::zip(iterators, generic.getIteratorTypesArray()))
    if ((kind == 'r') != (iterator == utils::IteratorType::reduction))
      return nullptr;
  if (getBodyOps(generic) != body)
    return nullptr;
  return generic;
}

/// Returns the generic that defines `value`, if it matches as above.
linalg::GenericOp mlir::remat::matchDef(Value value, unsigned inputs,
                                        StringRef iterators,
                                        ArrayRef<StringRef> body) {
  return matchGeneric(value.getDefiningOp(), inputs, iterators, body);
}

/// Returns the source of a value made by tensor.expand_shape, or null.
Value mlir::remat::getExpandSource(Value value) {
  if (auto expand = value.getDefiningOp<tensor::ExpandShapeOp>())
    return expand.getSrc();
  return nullptr;
}

/// Returns the forward value a value of a remat.backward body stands for:
/// an entry argument is the op's operand, names stripped.
Value mlir::remat::getForwardValue(BackwardOp backward, Value value) {
  value = stripNames(value);
  auto arg = dyn_cast<BlockArgument>(value);
  if (arg && arg.getOwner() == &backward.getBody().front())
    return stripNames(backward.getInputs()[arg.getArgNumber()]);
  return value;
}

/// Erases, among `roots` and the ops they read from (transitively, not
/// past the values of `stops`), those that are dead and free of side
/// effects, users before their operands.
void mlir::remat::eraseDeadChain(RewriterBase &rewriter,
                                 ArrayRef<Operation *> roots,
                                 ArrayRef<Value> stops) {
  llvm::SetVector<Operation *> chain;
  SmallVector<Operation *> worklist(roots.begin(), roots.end());
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (!chain.insert(op))
      continue;
    llvm::SetVector<Value> read;
    read.insert(op->operand_begin(), op->operand_end());
    getUsedValuesDefinedAbove(op->getRegions(), read);
    for (Value value : read)
      if (!llvm::is_contained(stops, value))
        if (Operation *def = value.getDefiningOp())
          if (def->getBlock() == op->getBlock())
            worklist.push_back(def);
  }
  SmallVector<Operation *> ordered = chain.takeVector();
  llvm::sort(ordered,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  for (Operation *op : llvm::reverse(ordered))
    if (isOpTriviallyDead(op))
      rewriter.eraseOp(op);
}

SmallVector<BlockArgument> mlir::remat::getReadArguments(BackwardOp backward) {
  SmallVector<BlockArgument> read;
  for (BlockArgument arg : backward.getBody().front().getArguments())
    if (!arg.use_empty())
      read.push_back(arg);
  return read;
}

void mlir::remat::eraseInputsNoLongerRead(BackwardOp backward,
                                          ArrayRef<BlockArgument> readBefore) {
  llvm::BitVector unread(backward.getBody().front().getNumArguments());
  for (BlockArgument arg : readBefore)
    if (arg.use_empty())
      unread.set(arg.getArgNumber());
  eraseBackwardInputs(backward, unread);
}

int64_t mlir::remat::largestDivisorAtMost(int64_t n, int64_t limit) {
  for (int64_t d = std::min(n, limit); d > 1; --d)
    if (n % d == 0)
      return d;
  return 1;
}
