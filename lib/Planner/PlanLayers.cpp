//===- PlanLayers.cpp - the layers of a forward ---------------------------===//
//
// Part of the remat project.
//
// The layer schedules (full, every-n, sqrt) need the forward's layers. An
// imported step names them: an op located at `blocks.3.attn.mm` is in layer
// `blocks.3`. IR without those names (stripped locations, another
// frontend) still has them in its structure: a transformer's layers are
// the same sequence of ops, repeated. When no op names a layer, the layers
// are the longest run of a repeated op sequence: the period `p` and start
// `a` such that ops [a, a + k*p) repeat with period p, covering the most
// ops (k >= 2; the shortest period on a tie, so that a layer is one layer,
// not two).
//
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "mlir/IR/OperationSupport.h"
#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// The shortest layer the structural search accepts, in ops: shorter
/// repeats are runs of element-wise ops, not layers.
static constexpr size_t kMinLayerOps = 4;

llvm::hash_code mlir::remat::detail::getLayerSignature(Operation *op) {
  llvm::hash_code hash =
      llvm::hash_combine(op->getName(), op->getNumOperands(),
                         op->getNumRegions(), op->getRawDictionaryAttrs());
  for (Type t : op->getOperandTypes())
    hash = llvm::hash_combine(hash, t);
  for (Type t : op->getResultTypes())
    hash = llvm::hash_combine(hash, t);
  return hash;
}

ForwardLayers mlir::remat::detail::findForwardLayers(BackwardOp backward) {
  ForwardLayers layers;
  SmallVector<Operation *> forward = getForwardOps(backward);
  for (Operation *op : forward)
    layers.layerOf[op] = -1;
  // Named layers.
  llvm::StringMap<unsigned> index;
  for (Operation *op : forward) {
    std::string key = getLayerKey(op);
    if (key.empty())
      continue;
    auto [it, inserted] = index.try_emplace(key, layers.names.size());
    if (inserted)
      layers.names.push_back(key);
    layers.layerOf[op] = static_cast<int>(it->second);
  }
  if (!layers.names.empty())
    return layers;

  // Structural layers, over the ops that are not constants (which
  // canonicalization hoists out of their layer).
  SmallVector<Operation *> ops;
  SmallVector<llvm::hash_code> sig;
  for (Operation *op : forward)
    if (!op->hasTrait<OpTrait::ConstantLike>()) {
      ops.push_back(op);
      sig.push_back(getLayerSignature(op));
    }
  size_t n = ops.size();
  size_t bestCover = 0, bestPeriod = 0, bestStart = 0, bestCount = 0;
  for (size_t p = kMinLayerOps; 2 * p <= n; ++p) {
    // Runs of i with sig[i] == sig[i + p]: [a, a + len + p) repeats with
    // period p.
    size_t run = 0;
    for (size_t i = 0; i + p <= n; ++i) {
      bool same = i + p < n && sig[i] == sig[i + p];
      if (same) {
        ++run;
        continue;
      }
      size_t count = (run + p) / p;
      if (count >= 2 && count * p > bestCover) {
        bestCover = count * p;
        bestPeriod = p;
        bestStart = i - run;
        bestCount = count;
      }
      run = 0;
    }
  }
  if (bestCount < 2)
    return layers;
  layers.structural = true;
  for (size_t k = 0; k < bestCount; ++k) {
    layers.names.push_back("#" + std::to_string(k));
    for (size_t j = 0; j < bestPeriod; ++j)
      layers.layerOf[ops[bestStart + k * bestPeriod + j]] = static_cast<int>(k);
  }
  return layers;
}
