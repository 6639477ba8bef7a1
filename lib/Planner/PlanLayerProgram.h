//===- PlanLayerProgram.h - the layered search's dynamic program -*- C++
//-*-===//
//
// Part of the remat project.
//
// The dynamic program of the layered search (PlanLayered.cpp) over the
// chain of layers (PlanLayerChain.h): its layouts, its states and the
// model it plans under, with an offset per window of the backward for
// what the model leaves out (PlanLayerProgram.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_PLANNER_PLANLAYERPROGRAM_H
#define REMAT_LIB_PLANNER_PLANLAYERPROGRAM_H

#include "PlanLayerChain.h"

#include <atomic>

namespace mlir {
namespace remat {
namespace detail {

/// A segment [first, end) of layers (indices into the aligned layers)
/// recomputing pattern `pattern`.
struct Segment {
  unsigned first, end, pattern;
};
/// A choice for the groups outside the chain: those before its first layer
/// (held through the whole backward) or after its last (the head and the
/// loss, done first in the backward).
struct Outside {
  llvm::BitVector groups;
  double cost = 0;
  int64_t saved = 0, recomputed = 0;
};
/// The groups outside the chain on one side, and the choices for them: the
/// prefixes of their own greedy ranking.
struct Side {
  SmallVector<Outside> options;
};
/// A plan of the dynamic program.
struct Layout {
  SmallVector<Segment> segments;
  unsigned before = 0, after = 0;
};
/// A state of the dynamic program: the layers before some index planned,
/// saving `bytes`, at `cost`; how it was reached.
struct State {
  int64_t bytes;
  double cost;
  int parent; // The state index at `from`, -1 for the start.
  unsigned from, pattern;
};
/// What the evaluation of a plan measures beyond the model, per window of
/// the backward: while the head and the loss are done (`after`; with the
/// forward before it), and while each layer of the chain is (`layer`; the
/// first layer's window also holds the groups before the chain, done
/// last). Weight gradients grow from window to window; one offset for all
/// would be the highest.
struct Offsets {
  int64_t after = 0;
  SmallVector<int64_t> layer;
  /// Whether the windows were told apart (measureWindows).
  bool windowed = false;

  /// The same offset everywhere.
  static Offsets uniform(unsigned layers, int64_t offset) {
    Offsets o;
    o.after = offset;
    o.layer.assign(layers, offset);
    return o;
  }
  int64_t lowest() const {
    int64_t low = after;
    for (int64_t o : layer)
      low = std::min(low, o);
    return low;
  }
  bool operator==(const Offsets &other) const {
    return after == other.after && layer == other.layer &&
           windowed == other.windowed;
  }
};

/// The choices for `groups`: nothing, then each prefix of their ranking.
Side buildSide(PlanContext &ctx, ArrayRef<unsigned> groups);

/// states[e]: the Pareto states (ascending bytes, descending cost) with
/// the first e layers planned; states[0] are the choices before the chain
/// (`pattern` is the choice's index).
using StateTable = SmallVector<SmallVector<State>>;

/// The states of the dynamic program for the least-cost layout under the
/// model: for each segment, the saved bytes before the chain and of its
/// layers up to the segment's end plus the segment's recomputed bytes
/// (when `withRecompute`) at most the budget less the highest offset of
/// its layers' windows, each state costing less than `costCap`. Without
/// `context`, on the calling thread alone. With `laterCap`, a cap set while the
/// program runs: from the layer it is read at on, the states are those of the
/// program under it, and before that layer they are those and states that cost
/// more.
StateTable solveStates(MLIRContext *context, const Chain &chain,
                       ArrayRef<LayerPattern> menu, const Side &before,
                       int64_t budget, const Offsets &offsets,
                       bool withRecompute, double costCap,
                       const std::atomic<double> *laterCap = nullptr);

/// The least-cost layout of `states` (solveStates) whose states cost less
/// than `costCap` (the table of a lower cap is these states, so this is
/// its layout), and, after the chain, all saved bytes plus the recomputed
/// bytes after it at most `cap` (the budget less the offset after the
/// chain). Empty segments when none fits.
Layout pickLayout(const StateTable &states, const Side &after, int64_t cap,
                  bool withRecompute, double costCap);

/// The least-cost layout under the model (solveStates, pickLayout).
Layout solveChain(MLIRContext *context, const Chain &chain,
                  ArrayRef<LayerPattern> menu, const Side &before,
                  const Side &after, int64_t budget, const Offsets &offsets,
                  bool withRecompute, double costCap);

/// The model's bytes of `layout` per window (without the offsets): after
/// the chain, everything saved and what is recomputed there; in the
/// window of a layer, what is saved up to its segment's end and what the
/// segment recomputes (in the first layer's, at least what is saved and
/// recomputed before the chain).
Offsets modelTerms(const Layout &layout, ArrayRef<LayerPattern> menu,
                   const Side &before, const Side &after, bool withRecompute,
                   unsigned layers);

/// The model peak of `terms` (modelTerms) with `offsets`.
int64_t modelPeak(const Offsets &terms, const Offsets &offsets);

} // namespace detail
} // namespace remat
} // namespace mlir

#endif // REMAT_LIB_PLANNER_PLANLAYERPROGRAM_H
