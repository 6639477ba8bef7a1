//===- PlanLayered.cpp - a dynamic program over the chain of layers -------===//
//
// Part of the remat project.
//
// A transformer's forward is a chain of layers with the same ops. The
// layered search plans one layer and combines the layers, as Checkmate's
// and Rockmate's chain solvers do:
//
// 1. Patterns: the menu of what a layer recomputes, found on a template
//    layer and mapped onto every layer of the chain (PlanLayerChain.cpp).
// 2. Segments. A segment is a run of layers of which only the last keeps
//    its output saved; the others also recompute theirs, so the segment's
//    backward recomputes it from the output of the segment before (every-n
//    and full are uniform segmentations). Each segment uses one pattern.
// 3. The chain. When the backward reaches the end of segment [i, e), the
//    layers before e hold what they save and the segment holds what it
//    recomputes; the later layers are done. So the model peak is
//    max over segments of (saved bytes of layers < e + recomputed bytes of
//    [i, e)) plus an offset for everything outside the layers. A dynamic
//    program over e and the saved bytes so far (PlanLayerProgram.cpp;
//    exact; Pareto states only, the cheapest per 1/1024 of the budget; a
//    pattern another dominates is not offered) gives the least-cost
//    segmentation and patterns under the budget; recompute costs add up
//    over layers because a pattern's recompute stops at its layer's
//    input. Under auto, states costing 1.5 times greedy's plan or more are
//    dropped: they cannot lead to a cheaper plan unless pruning saves a
//    third of the cost. The first program runs beside greedy's search
//    (startLayered), uncapped until greedy finds a plan; the capped
//    program's states are its states that cost less than the cap, in the
//    same order, so its layout is picked among those.
// 4. The check. Each plan is evaluated like any other, and the program
//    solved again with the offset the evaluation shows, until the plan
//    repeats (at most kRounds evaluations, spent from the work limit after
//    the first). The first offset is that of the plan saving everything,
//    the same for every segment: its peak is the forward's end or the
//    head's, where a plan that meets the budget at all most often peaks
//    too. While the offset falls, and the plans meet the budget, the
//    program is solved again. Once a plan misses, its peak is inside the
//    chain's backward, where the weight gradients made so far are live
//    (on a 96-layer GPT, the offset grows from 0.3 GiB at the last
//    layer's window to 2.6 GiB at the first): from then on each window of
//    the backward (the head's, and each layer's) has an offset of its own,
//    the highest its evaluations showed, and the search stops at the
//    first plan that meets the budget.
//
//===----------------------------------------------------------------------===//

#include "PlanLayerProgram.h"

#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/IR/Threading.h"
#include "llvm/ADT/DenseMap.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <tuple>

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// Plans the layered search evaluates at most.
static constexpr unsigned kRounds = 12;

const ChainMenu &mlir::remat::detail::getChainMenu(PlanContext &ctx) {
  if (!ctx.chainMenu) {
    auto built = std::make_shared<ChainMenu>();
    built->chain = buildChain(ctx);
    if (!built->chain.layers.empty())
      built->menu =
          buildMenu(ctx, built->chain, built->exactGroups, built->layerGroups);
    ctx.chainMenu = std::move(built);
  }
  return *ctx.chainMenu;
}

/// What the layered search knows before its first dynamic program: the
/// chain, the choices outside it, and the offsets of the first layout.
struct mlir::remat::detail::LayeredStart {
  std::shared_ptr<const ChainMenu> chainMenu;
  SmallVector<unsigned> beforeGroups, afterGroups;
  Side before, after;
  bool withRecompute = true;
  Offsets offsets;
  /// The first program's states, solved on `solver` beside greedy's
  /// search (for `firstBudget`), under the cost cap from when greedy's
  /// search sets it.
  std::thread solver;
  StateTable first;
  int64_t firstBudget = 0;
  std::atomic<double> costCap{std::numeric_limits<double>::infinity()};

  ~LayeredStart() {
    if (solver.joinable())
      solver.join();
  }
};

/// Evaluates the plan `recomputed` of `layout`: its measure, in `whole`
/// what it measures beyond the model's peak, and in `offsets` what it
/// measures beyond the model per window (modelTerms).
/// With `windows`, the windows are told apart where the budget is on the
/// peak, peaks come from the memory analysis and the backward reads the
/// chain's layers one after the other, last first: a layer's window runs
/// from the first op of the backward that reads one of its groups (with
/// the recompute clones made for that op) to the next layer's. Otherwise
/// every window has the offset of the whole plan.
static FailureOr<int64_t>
measureWindows(PlanContext &ctx, const LayeredStart &start,
               const Layout &layout, const llvm::BitVector &recomputed,
               int64_t &whole, Offsets &offsets, bool windows) {
  const Chain &chain = start.chainMenu->chain;
  unsigned n = chain.layers.size();
  Offsets terms = modelTerms(layout, start.chainMenu->menu, start.before,
                             start.after, start.withRecompute, n);
  SmallVector<int64_t> timeline;
  SmallVector<unsigned> useAt;
  bool split = windows && start.withRecompute && !ctx.options.peakModel;
  FailureOr<int64_t> measured =
      split ? ctx.peakAndUses(recomputed, timeline, useAt)
            : ctx.measure(recomputed);
  if (failed(measured))
    return failure();
  whole = *measured - modelPeak(terms, Offsets::uniform(n, 0));
  offsets = Offsets::uniform(n, whole);
  if (!split)
    return *measured;
  // Each window's first point: after the chain from 0, layer k from
  // starts[k]; in the order of the backward, the last layer first.
  unsigned points = timeline.size();
  SmallVector<unsigned> starts(n, points);
  for (unsigned k = 0; k < n; ++k)
    for (int g : chain.groupAt[k])
      if (g >= 0)
        starts[k] = std::min(starts[k], useAt[g]);
  for (unsigned k = 0; k < n; ++k) {
    unsigned next = k + 1 < n ? starts[k + 1] : 0;
    if (starts[k] >= points || starts[k] <= next)
      return *measured;
  }
  auto highest = [&](unsigned from, unsigned to) {
    int64_t high = 0;
    for (unsigned t = from; t < to; ++t)
      high = std::max(high, timeline[t]);
    return high;
  };
  offsets.windowed = true;
  offsets.after = highest(0, starts.back()) - terms.after;
  offsets.layer.resize(n);
  for (unsigned k = 0; k < n; ++k)
    offsets.layer[k] =
        highest(starts[k], k ? starts[k - 1] : points) - terms.layer[k];
  return *measured;
}

/// The layered search up to its first dynamic program; null without a
/// chain.
static FailureOr<std::shared_ptr<LayeredStart>> prepare(PlanContext &ctx) {
  getChainMenu(ctx);
  const Chain &chain = ctx.chainMenu->chain;
  if (chain.layers.empty())
    return std::shared_ptr<LayeredStart>();
  auto start = std::make_shared<LayeredStart>();
  start->chainMenu = ctx.chainMenu;
  // The groups outside the chain, before and after it.
  llvm::BitVector inChain(ctx.groups.size());
  for (ArrayRef<int> layer : chain.groupAt)
    for (int g : layer)
      if (g >= 0)
        inChain.set(g);
  Operation *firstOp = nullptr;
  for (Operation *op : getForwardOps(ctx.backward)) {
    int layer = ctx.getLayers().layerOf.lookup(op);
    if (layer == chain.layers.front()) {
      firstOp = op;
      break;
    }
  }
  for (auto [g, group] : llvm::enumerate(ctx.groups)) {
    if (inChain.test(g))
      continue;
    Operation *def = group.root.getDefiningOp();
    bool isBefore = !def || !firstOp || def->isBeforeInBlock(firstOp);
    (isBefore ? start->beforeGroups : start->afterGroups).push_back(g);
  }
  start->before = buildSide(ctx, start->beforeGroups);
  start->after = buildSide(ctx, start->afterGroups);
  start->withRecompute = ctx.options.budgetOn == BudgetOn::Peak;
  // The offsets: what the evaluation measures beyond the model, first for
  // the plan that saves everything.
  Layout keepAll;
  for (unsigned k = 0; k < chain.layers.size(); ++k)
    keepAll.segments.push_back({k, k + 1, 0});
  int64_t whole;
  if (failed(measureWindows(ctx, *start, keepAll,
                            llvm::BitVector(ctx.groups.size()), whole,
                            start->offsets, /*windows=*/false)))
    return failure();
  return start;
}

std::shared_ptr<LayeredStart>
mlir::remat::detail::startLayered(PlanContext &ctx, int64_t budget) {
  if (!ctx.function.getContext()->isMultithreadingEnabled()) {
    (void)getChainMenu(ctx);
    return nullptr;
  }
  FailureOr<std::shared_ptr<LayeredStart>> start = prepare(ctx);
  // (A failed evaluation is reported by planLayered, which prepares again.)
  if (failed(start) || !*start)
    return nullptr;
  LayeredStart &s = **start;
  s.firstBudget = budget;
  if (budget - s.offsets.lowest() > 0)
    s.solver = std::thread([&s] {
      s.first = solveStates(
          /*context=*/nullptr, s.chainMenu->chain, s.chainMenu->menu, s.before,
          s.firstBudget, s.offsets, s.withRecompute,
          std::numeric_limits<double>::infinity(), &s.costCap);
    });
  return *start;
}

void mlir::remat::detail::lowerLayeredCostCap(LayeredStart &start,
                                              double costCap) {
  // (Only the search's thread sets it.)
  if (costCap < start.costCap.load(std::memory_order_relaxed))
    start.costCap.store(costCap, std::memory_order_relaxed);
}

FailureOr<LayeredPlan>
mlir::remat::detail::planLayered(PlanContext &ctx, int64_t budget,
                                 int64_t &lowest, llvm::BitVector &lowestPlan,
                                 double costCap, LayeredStart *started) {
  LayeredPlan result;
  std::shared_ptr<LayeredStart> own;
  if (!started) {
    FailureOr<std::shared_ptr<LayeredStart>> prepared = prepare(ctx);
    if (failed(prepared))
      return failure();
    own = std::move(*prepared);
    started = own.get();
  }
  if (!started)
    return result;
  // (The first program, if it still runs, drops the states costing the
  // cap or more from here.)
  lowerLayeredCostCap(*started, costCap);
  result.hasChain = true;
  const Chain &chain = started->chainMenu->chain;
  ArrayRef<LayerPattern> menu = started->chainMenu->menu;
  const Side &before = started->before, &after = started->after;
  ArrayRef<unsigned> beforeGroups = started->beforeGroups;
  ArrayRef<unsigned> afterGroups = started->afterGroups;
  bool withRecompute = started->withRecompute;
  Offsets offsets = started->offsets;
  auto toGroups = [&](const Layout &layout) {
    llvm::BitVector recomputed = before.options[layout.before].groups;
    recomputed |= after.options[layout.after].groups;
    for (const Segment &s : layout.segments)
      for (unsigned k = s.first; k < s.end; ++k)
        addPattern(chain, k, menu[s.pattern], k + 1 == s.end ? End : Inner,
                   recomputed);
    return recomputed;
  };
  unsigned n = chain.layers.size();
  SmallVector<llvm::BitVector> tried;
  Layout bestLayout;
  // An evaluated layout: its measure, the offsets per window (`next`) and
  // the offset of the whole plan (`whole`).
  struct Evaluated {
    int64_t measured = 0, whole = 0;
    Offsets next;
  };
  // Evaluates `layout` and keeps it where it meets the budget at a lower
  // cost; none where its plan was tried or the work limit cut it.
  auto evaluate = [&](const Layout &layout,
                      bool first) -> FailureOr<std::optional<Evaluated>> {
    llvm::BitVector recomputed = toGroups(layout);
    if (llvm::is_contained(tried, recomputed))
      return std::optional<Evaluated>();
    tried.push_back(recomputed);
    if (!first && !ctx.spendEvaluation("the layered search"))
      return std::optional<Evaluated>();
    Evaluated e;
    FailureOr<int64_t> measured = measureWindows(
        ctx, *started, layout, recomputed, e.whole, e.next, /*windows=*/true);
    if (failed(measured))
      return failure();
    e.measured = *measured;
    if (*measured < lowest) {
      lowest = *measured;
      lowestPlan = recomputed;
    }
    if (*measured <= budget) {
      double cost = ctx.objective(recomputed);
      if (!result.plan.valid || cost < result.plan.cost) {
        result.plan = {recomputed, *measured, cost, true};
        bestLayout = layout;
      }
    }
    return std::optional<Evaluated>(std::move(e));
  };
  // Raises each window's offset to `e`'s where that is higher.
  auto raise = [&](const Evaluated &e) {
    offsets.after = std::max(offsets.after, e.next.after);
    for (auto [o, m] : llvm::zip_equal(offsets.layer, e.next.layer))
      o = std::max(o, m);
  };
  // Whether the offsets were per window (`offsets.windowed`) and no plan
  // met the budget under them; whether the plan the single offset gives
  // next was tried beside them.
  bool fellBack = false, singleTried = false;
  // The offset of the whole last plan the single offset gave.
  int64_t singleWhole = 0;
  for (unsigned round = 0; round < kRounds; ++round) {
    if (budget - offsets.lowest() <= 0)
      break;
    Layout layout;
    if (round == 0 && started->solver.joinable()) {
      // Solved beside greedy's search, without the cost cap until it was
      // set: the program under the cap keeps the same states but those
      // costing the cap or more, in the same order, so its layout is
      // picked from them.
      started->solver.join();
      assert(budget == started->firstBudget && offsets == started->offsets &&
             "the first program is the start's");
      layout = pickLayout(started->first, after, budget - offsets.after,
                          withRecompute, costCap);
    } else {
      layout = solveChain(ctx.function.getContext(), chain, menu, before, after,
                          budget, offsets, withRecompute, costCap);
    }
    if (layout.segments.empty()) {
      if (!offsets.windowed)
        break;
      // No plan meets the budget under the offsets per window: the rounds
      // go on with the single offset, where they may still find plans with
      // lower peaks (the lowest peak of an infeasible budget).
      fellBack = true;
      offsets = Offsets::uniform(n, singleWhole);
      continue;
    }
    FailureOr<std::optional<Evaluated>> e = evaluate(layout, round == 0);
    if (failed(e))
      return failure();
    if (!*e)
      break;
    bool met = (*e)->measured <= budget;
    // (Higher offsets only remove plans: nothing cheaper follows. Per
    // window, the model is that of the plans evaluated: the search stops
    // at the first plan that meets the budget.)
    if (met && (offsets.windowed || (*e)->whole >= offsets.after))
      break;
    if (offsets.windowed) {
      // (Offsets per window only rise: each missed plan is ruled out.)
      raise(**e);
      if (singleTried)
        continue;
      // The first plan per window missed too: the plan the single offset
      // gives next (the rounds without windows') is offered once, and
      // kept where it meets the budget at a lower cost.
      singleTried = true;
      Layout single = solveChain(
          ctx.function.getContext(), chain, menu, before, after, budget,
          Offsets::uniform(n, singleWhole), withRecompute, costCap);
      if (single.segments.empty())
        continue;
      FailureOr<std::optional<Evaluated>> w = evaluate(single, false);
      if (failed(w))
        return failure();
      if (*w && (*w)->measured > budget) {
        raise(**w);
        singleWhole = (*w)->whole;
      }
      continue;
    }
    singleWhole = (*e)->whole;
    if (!met && (*e)->next.windowed && !fellBack) {
      // The first plan that missed: from here on each window has its own
      // offset.
      offsets = std::move((*e)->next);
    } else {
      offsets = Offsets::uniform(n, singleWhole);
    }
  }
  if (!result.plan.valid)
    return result;
  result.planned = result.plan.recomputed;
  // What the plan is, per layer and in sum.
  const ForwardLayers &layers = ctx.getLayers();
  for (const Segment &s : bestLayout.segments) {
    std::string where = s.end - s.first == 1
                            ? "layer " + layers.names[chain.layers[s.first]]
                            : "segment " + layers.names[chain.layers[s.first]] +
                                  ".." + layers.names[chain.layers[s.end - 1]];
    for (unsigned k = s.first; k < s.end; ++k)
      result.layerReason[chain.layers[k]] =
          "in " + where + ", whose pattern is " + menu[s.pattern].name +
          (k + 1 == s.end ? "" : " and the layer's output");
  }
  // The lengths, runs of equal ones as "count×length".
  std::string lengths;
  ArrayRef<Segment> segs = bestLayout.segments;
  for (size_t i = 0; i < segs.size();) {
    size_t j = i;
    unsigned length = segs[i].end - segs[i].first;
    while (j < segs.size() && segs[j].end - segs[j].first == length)
      ++j;
    if (!lengths.empty())
      lengths += "+";
    if (j - i > 1)
      lengths += std::to_string(j - i) + "x";
    lengths += std::to_string(length);
    i = j;
  }
  result.summary =
      std::to_string(bestLayout.segments.size()) + " segment" +
      (bestLayout.segments.size() == 1 ? "" : "s") + " of " + lengths +
      " layers from a menu of " + std::to_string(menu.size()) +
      " layer patterns (exact over " +
      std::to_string(started->chainMenu->exactGroups) + " of " +
      std::to_string(started->chainMenu->layerGroups) +
      " groups a layer may recompute); outside the chain, the first " +
      std::to_string(bestLayout.before) + " of " +
      std::to_string(beforeGroups.size()) + " groups before it and " +
      std::to_string(bestLayout.after) + " of " +
      std::to_string(afterGroups.size()) + " after it recomputed";
  return result;
}
