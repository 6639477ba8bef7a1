//===- MatchUtils.h - matching the importer's IR ----------------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Helpers the structural matchers of -remat-chunk-loss and
/// -remat-fuse-attention share: looking through names and reshapes,
/// matching a linalg.generic by its iterators and body ops, mapping a
/// backward body's value to the forward value it stands for, and erasing
/// the chain of ops a rewrite left dead.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_DIALECT_REMAT_TRANSFORMS_MATCHUTILS_H
#define REMAT_LIB_DIALECT_REMAT_TRANSFORMS_MATCHUTILS_H

#include "remat/Dialect/Remat/IR/Remat.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace remat {

/// Returns `value` with any remat.name around it removed.
Value stripNames(Value value);

/// Returns true for the ops the importer puts between two forms of one
/// tensor: names and reshapes.
bool isView(Operation *op);

/// Returns the names of the ops of a linalg.generic body, constants and the
/// terminator left out.
SmallVector<StringRef> getBodyOps(linalg::GenericOp generic);

/// Returns `op` as a linalg.generic with `inputs` inputs, one init, the
/// given iterator kinds ('p' parallel, 'r' reduction) and exactly the body
/// ops `body`, or null.
linalg::GenericOp matchGeneric(Operation *op, unsigned inputs,
                               StringRef iterators, ArrayRef<StringRef> body);

/// Returns the generic that defines `value`, if it matches as above.
linalg::GenericOp matchDef(Value value, unsigned inputs, StringRef iterators,
                           ArrayRef<StringRef> body);

/// Returns the source of a value made by tensor.expand_shape, or null.
Value getExpandSource(Value value);

/// Returns the forward value a value of a remat.backward body stands for:
/// an entry argument is the op's operand, names stripped.
Value getForwardValue(BackwardOp backward, Value value);

/// Erases, among `roots` and the ops they read from (transitively, not
/// past the values of `stops`), those that are dead and free of side
/// effects, users before their operands.
void eraseDeadChain(RewriterBase &rewriter, ArrayRef<Operation *> roots,
                    ArrayRef<Value> stops);

/// The largest divisor of `n` that is at most `limit` (a chunk or block
/// size that divides the dimension it tiles).
int64_t largestDivisorAtMost(int64_t n, int64_t limit);

/// The entry arguments of `backward` that something reads.
SmallVector<BlockArgument> getReadArguments(BackwardOp backward);

/// Erases the inputs of `backward` among `readBefore` (its read arguments
/// before a rewrite) that nothing reads any more.
void eraseInputsNoLongerRead(BackwardOp backward,
                             ArrayRef<BlockArgument> readBefore);

} // namespace remat
} // namespace mlir

#endif // REMAT_LIB_DIALECT_REMAT_TRANSFORMS_MATCHUTILS_H
