//===- PlanLayerChain.h - layers and their pattern menu ---------*- C++ -*-===//
//
// Part of the remat project.
//
// What the layered search (PlanLayered.cpp) plans over: the chain of
// forward layers with the same ops, aligned to a template layer, and the
// menu of patterns (what a layer recomputes) found on that template
// (PlanLayerChain.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_PLANNER_PLANLAYERCHAIN_H
#define REMAT_LIB_PLANNER_PLANLAYERCHAIN_H

#include "PlannerImpl.h"

namespace mlir {
namespace remat {
namespace detail {

/// One entry of the pattern menu, with its figures on the template layer
/// as the last layer of a segment (end) and inside one (inner).
struct LayerPattern {
  std::string name;
  /// Template positions recomputed (not counting the layer's outputs).
  llvm::BitVector positions;
  double cost[2] = {0, 0};
  int64_t saved[2] = {0, 0};
  int64_t recomputed[2] = {0, 0};

  /// The figures of a segment of `length` layers recomputing this pattern:
  /// `length - 1` inner layers and the last.
  template <typename T>
  static T segment(const T (&figure)[2], int64_t length) {
    return static_cast<T>(length - 1) * figure[1] + figure[0];
  }
  double segmentCost(int64_t length) const { return segment(cost, length); }
  int64_t segmentSaved(int64_t length) const { return segment(saved, length); }
  int64_t segmentRecomputed(int64_t length) const {
    return segment(recomputed, length);
  }
  /// What a layer in role `role` (end or inner) holds while its segment
  /// recomputes: what it saves and, with `withRecompute`, what it
  /// recomputes.
  int64_t held(int role, bool withRecompute) const {
    return saved[role] + (withRecompute ? recomputed[role] : 0);
  }
};
enum Role { End = 0, Inner = 1 };

/// The chain: the aligned layers, the template's positions, and which
/// group each layer has at each position.
struct Chain {
  /// Forward layer indices (into ForwardLayers::names) of the chain.
  SmallVector<int> layers;
  /// Per chain layer and template position: the group there, or -1.
  SmallVector<SmallVector<int>> groupAt;
  /// Template positions whose group is read outside its layer.
  llvm::BitVector output;
  /// The template layer's groups by position, and its chain index.
  SmallVector<unsigned> templateGroups;
  unsigned templateIndex = 0;
};
/// The chain of `ctx`'s forward: the layers whose ops match the middle
/// layer's (all but a few, in order), and the groups at the template's
/// positions. Empty when fewer than two layers match.
Chain buildChain(PlanContext &ctx);
/// The groups a pattern recomputes in chain layer `k` in `role`.
void addPattern(const Chain &chain, unsigned k, const LayerPattern &pattern,
                Role role, llvm::BitVector &recomputed);
/// The menu of patterns on the template layer, with their figures;
/// `exactGroups` of the template's `layerGroups` groups are enumerated
/// exactly.
SmallVector<LayerPattern> buildMenu(PlanContext &ctx, const Chain &chain,
                                    size_t &exactGroups, size_t &layerGroups);

/// The chain and its menu: all the layered search needs before a budget,
/// built once per search (getChainMenu).
struct ChainMenu {
  Chain chain;
  SmallVector<LayerPattern> menu;
  size_t exactGroups = 0, layerGroups = 0;
};

} // namespace detail
} // namespace remat
} // namespace mlir

#endif // REMAT_LIB_PLANNER_PLANLAYERCHAIN_H
