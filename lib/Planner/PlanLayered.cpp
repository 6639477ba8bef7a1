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
//    program over e and the saved bytes so far (exact; Pareto states only,
//    the cheapest per 1/1024 of the budget; a pattern another dominates
//    is not offered) gives the least-cost segmentation and patterns under
//    the budget; recompute costs add up over layers because a pattern's
//    recompute stops at its layer's input. Under auto, states costing 1.5
//    times greedy's plan or more are dropped: they cannot lead to a
//    cheaper plan unless pruning saves a third of the cost. The first
//    program runs beside greedy's search (startLayered), uncapped until
//    greedy finds a plan; the capped program's states are its states that
//    cost less than the cap, in the same order, so its layout is picked
//    among those.
// 4. The check. Each plan is evaluated like any other; the offset is set
//    to what the evaluation says the model missed, and the program solved
//    again, until the plan repeats or the offset cannot fall (at most
//    kRounds evaluations, spent from the work limit after the first).
//
//===----------------------------------------------------------------------===//

#include "PlanLayerChain.h"
#include "PlannerImpl.h"

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
/// The dynamic program keeps at most one state per 1/kBuckets of the
/// budget (the cheapest).
static constexpr int64_t kBuckets = 1024;

namespace {
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
} // namespace

/// The choices for `groups`: nothing, then each prefix of their ranking.
static Side buildSide(PlanContext &ctx, ArrayRef<unsigned> groups) {
  Side side;
  llvm::BitVector recomputed(ctx.groups.size());
  int64_t total = 0;
  for (unsigned g : groups)
    total += ctx.groups[g].bytes;
  auto add = [&]() {
    Outside o;
    o.groups = recomputed;
    o.cost = ctx.objective(recomputed);
    for (unsigned g : recomputed.set_bits())
      o.recomputed += ctx.groups[g].bytes;
    o.saved = total - o.recomputed;
    side.options.push_back(std::move(o));
  };
  add();
  for (unsigned g : rankGroups(ctx, groups)) {
    recomputed.set(g);
    add();
  }
  return side;
}

/// Whether pattern `a` (menu index `ai`) makes pattern `b` (`bi`) useless
/// to the dynamic program for segments of one layer (`role` End) or of
/// more (Inner): each of its segments saves no more bytes, holds no more
/// bytes while it recomputes, and costs no more. Then `b`'s state is never
/// kept: where it lands in `a`'s bucket, `a`'s is cheaper or, as cheap,
/// smaller or offered first (the lower index); in a higher bucket, the
/// Pareto front drops it. (A pattern that saves as many bytes dominates
/// only from a lower index: its segments' rounded costs may tie.)
static bool dominates(const LayerPattern &a, unsigned ai, const LayerPattern &b,
                      unsigned bi, int role, bool withRecompute) {
  if (ai == bi)
    return false;
  bool smaller = false;
  for (int r : {End, Inner}) {
    if (r == Inner && role == End)
      break;
    int64_t held[2] = {a.saved[r], b.saved[r]};
    if (withRecompute) {
      held[0] += a.recomputed[r];
      held[1] += b.recomputed[r];
    }
    if (a.saved[r] > b.saved[r] || held[0] > held[1] || a.cost[r] > b.cost[r])
      return false;
    smaller |= a.saved[r] < b.saved[r];
  }
  return smaller || ai < bi;
}

/// states[e]: the Pareto states (ascending bytes, descending cost) with
/// the first e layers planned; states[0] are the choices before the chain
/// (`pattern` is the choice's index).
using StateTable = SmallVector<SmallVector<State>>;

/// The states of the dynamic program for the least-cost layout under the
/// model: for each segment, the saved bytes before the chain and of its
/// layers up to the segment's end plus the segment's recomputed bytes
/// (when `withRecompute`) at most `cap`, each state costing less than
/// `costCap`. Without `context`, on the calling thread alone. With
/// `laterCap`, a cap set while the program runs: from the layer it is
/// read at on, the states are those of the program under it, and before
/// that layer they are those and states that cost more.
static StateTable solveStates(MLIRContext *context, const Chain &chain,
                              ArrayRef<LayerPattern> menu, const Side &before,
                              int64_t cap, bool withRecompute, double costCap,
                              const std::atomic<double> *laterCap = nullptr) {
  unsigned n = chain.layers.size();
  // States keep their exact bytes; the buckets only bound how many are
  // kept (the cheapest per 1/kBuckets of the cap).
  double unit = static_cast<double>(cap) / kBuckets;
  auto bucketOf = [&](int64_t bytes) {
    return std::min<int64_t>(
        kBuckets, static_cast<int64_t>(static_cast<double>(bytes) / unit));
  };
  auto transient = [&](int64_t bytes) { return withRecompute ? bytes : 0; };
  StateTable states(n + 1);
  // The cheapest state per bucket; of equal ones the smallest, then the
  // first a pass in order would offer (the least segment start, pattern
  // and state extended). The segments ending at one layer are offered in
  // chunks of their first layers (every chunks-th, which balances the
  // work), on the context's threads, each into its own buckets; the
  // chunks' buckets are merged by the same order, so the plan does not
  // depend on the threads.
  unsigned chunks =
      context && context->isMultithreadingEnabled()
          ? std::max(1u, context->getThreadPool().getMaxConcurrency())
          : 1;
  SmallVector<SmallVector<State>> buckets(chunks,
                                          SmallVector<State>(kBuckets + 1));
  SmallVector<State> &best = buckets.front();
  auto resetBuckets = [](MutableArrayRef<State> slots) {
    for (State &s : slots)
      s.cost = std::numeric_limits<double>::infinity();
  };
  auto offerAt = [](State &slot, const State &state) {
    if (std::make_tuple(state.cost, state.bytes, state.from, state.pattern,
                        state.parent) < std::make_tuple(slot.cost, slot.bytes,
                                                        slot.from, slot.pattern,
                                                        slot.parent))
      slot = state;
  };
  auto offerInto = [&](MutableArrayRef<State> slots, const State &state) {
    offerAt(slots[bucketOf(state.bytes)], state);
  };
  // The least bytes of each bucket (past the last, more than the cap): a
  // scan in ascending bytes steps through its buckets without dividing.
  SmallVector<int64_t> bucketStart(kBuckets + 2);
  for (int64_t b = 0; b < kBuckets + 2; ++b) {
    int64_t lo = 0, hi = cap + 1;
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (bucketOf(mid) >= b)
        hi = mid;
      else
        lo = mid + 1;
    }
    bucketStart[b] = lo;
  }
  auto offer = [&](const State &state) { offerInto(best, state); };
  auto collect = [&](SmallVectorImpl<State> &into) {
    for (const State &s : best)
      if (std::isfinite(s.cost) && (into.empty() || s.cost < into.back().cost))
        into.push_back(s);
  };
  resetBuckets(best);
  for (auto [o, option] : llvm::enumerate(before.options))
    if (option.saved + transient(option.recomputed) <= cap)
      offer({option.saved, option.cost, -1, 0, static_cast<unsigned>(o)});
  collect(states[0]);
  // The patterns worth offering for a segment of one layer (`role` End)
  // and of more (Inner): not those another pattern dominates.
  SmallVector<unsigned> offered[2];
  for (int role : {End, Inner})
    for (unsigned q = 0; q < menu.size(); ++q)
      if (llvm::none_of(llvm::seq<unsigned>(0, menu.size()), [&](unsigned p) {
            return dominates(menu[p], p, menu[q], q, role, withRecompute);
          }))
        offered[role].push_back(q);
  // The segments [i, e) for every chunks-th i from `firstLayer`, offered
  // into `slots`.
  auto offerSegments = [&](unsigned e, unsigned firstLayer,
                           MutableArrayRef<State> slots) {
    for (unsigned i = firstLayer; i < e; i += chunks) {
      int64_t length = e - i;
      for (unsigned p : offered[length == 1 ? End : Inner]) {
        const LayerPattern &pattern = menu[p];
        int64_t segSaved = pattern.segmentSaved(length);
        int64_t segRecomputed = transient(pattern.segmentRecomputed(length));
        double segCost = pattern.segmentCost(length);
        // (Descending cost: the states from `first` on stay under the
        // cost cap.)
        ArrayRef<State> from = states[i];
        size_t first =
            std::partition_point(
                from.begin(), from.end(),
                [&](const State &s) { return s.cost + segCost >= costCap; }) -
            from.begin();
        int64_t bucket = 0;
        for (size_t si = first; si < from.size(); ++si) {
          const State &s = from[si];
          int64_t bytes = s.bytes + segSaved;
          if (bytes + segRecomputed > cap)
            break; // (Ascending bytes: the later states miss too.)
          if (si == first)
            bucket = bucketOf(bytes);
          while (bytes >= bucketStart[bucket + 1])
            ++bucket;
          offerAt(slots[bucket], {bytes, s.cost + segCost, static_cast<int>(si),
                                  i, static_cast<unsigned>(p)});
        }
      }
    }
  };
  for (unsigned e = 1; e <= n; ++e) {
    if (laterCap)
      costCap = std::min(costCap, laterCap->load(std::memory_order_relaxed));
    auto chunk = [&](size_t c) {
      resetBuckets(buckets[c]);
      offerSegments(e, c, buckets[c]);
    };
    if (chunks == 1)
      chunk(0);
    else
      parallelFor(context, 0, chunks, chunk);
    for (unsigned c = 1; c < chunks; ++c)
      for (const State &state : buckets[c])
        if (std::isfinite(state.cost))
          offer(state);
    collect(states[e]);
  }
  return states;
}

/// The least-cost layout of `states` (solveStates) whose states cost less
/// than `costCap` (the table of a lower cap is these states, so this is
/// its layout), and, after the chain, all saved bytes plus the recomputed
/// bytes after it at most `cap`. Empty segments when none fits.
static Layout pickLayout(const StateTable &states, const Side &after,
                         int64_t cap, bool withRecompute, double costCap) {
  unsigned n = states.size() - 1;
  auto transient = [&](int64_t bytes) { return withRecompute ? bytes : 0; };
  // The choice after the chain.
  Layout layout;
  double bestCost = std::numeric_limits<double>::infinity();
  int bestState = -1;
  for (auto [o, option] : llvm::enumerate(after.options)) {
    int64_t extra = option.saved + transient(option.recomputed);
    for (auto [si, s] : llvm::enumerate(states[n])) {
      if (s.bytes + extra > cap)
        break;
      if (s.cost >= costCap)
        continue;
      if (s.cost + option.cost < bestCost) {
        bestCost = s.cost + option.cost;
        bestState = si;
        layout.after = o;
      }
    }
  }
  if (bestState < 0)
    return layout;
  unsigned e = n;
  int index = bestState;
  while (e > 0) {
    const State &s = states[e][index];
    layout.segments.push_back({s.from, e, s.pattern});
    index = s.parent;
    e = s.from;
  }
  layout.before = states[0][index].pattern;
  std::reverse(layout.segments.begin(), layout.segments.end());
  return layout;
}

/// The least-cost layout under the model (solveStates, pickLayout).
static Layout solveChain(MLIRContext *context, const Chain &chain,
                         ArrayRef<LayerPattern> menu, const Side &before,
                         const Side &after, int64_t cap, bool withRecompute,
                         double costCap) {
  return pickLayout(
      solveStates(context, chain, menu, before, cap, withRecompute, costCap),
      after, cap, withRecompute, costCap);
}

/// The model peak of `layout`, without the offset.
static int64_t modelBytes(const Layout &layout, ArrayRef<LayerPattern> menu,
                          const Side &before, const Side &after,
                          bool withRecompute) {
  const Outside &first = before.options[layout.before];
  const Outside &last = after.options[layout.after];
  int64_t saved = first.saved;
  int64_t peak = saved + (withRecompute ? first.recomputed : 0);
  for (const Segment &s : layout.segments) {
    const LayerPattern &p = menu[s.pattern];
    int64_t length = s.end - s.first;
    saved += p.segmentSaved(length);
    int64_t recomputed = withRecompute ? p.segmentRecomputed(length) : 0;
    peak = std::max(peak, saved + recomputed);
  }
  saved += last.saved;
  return std::max(peak, saved + (withRecompute ? last.recomputed : 0));
}

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
/// chain, the choices outside it, and the offset of the first layout.
struct mlir::remat::detail::LayeredStart {
  std::shared_ptr<const ChainMenu> chainMenu;
  SmallVector<unsigned> beforeGroups, afterGroups;
  Side before, after;
  bool withRecompute = true;
  int64_t offset = 0;
  /// The first program's states, solved on `solver` beside greedy's
  /// search, under the cost cap from when greedy's search sets it; and its
  /// cap on bytes.
  std::thread solver;
  StateTable first;
  int64_t firstCap = 0;
  std::atomic<double> costCap{std::numeric_limits<double>::infinity()};

  ~LayeredStart() {
    if (solver.joinable())
      solver.join();
  }
};

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
  // The offset: what the evaluation measures beyond the model, first for
  // the plan that saves everything.
  llvm::BitVector nothing(ctx.groups.size());
  FailureOr<int64_t> unplanned = ctx.measure(nothing);
  if (failed(unplanned))
    return failure();
  Layout keepAll;
  for (unsigned k = 0; k < chain.layers.size(); ++k)
    keepAll.segments.push_back({k, k + 1, 0});
  start->offset =
      *unplanned - modelBytes(keepAll, ctx.chainMenu->menu, start->before,
                              start->after, start->withRecompute);
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
  s.firstCap = budget - s.offset;
  if (s.firstCap > 0)
    s.solver = std::thread([&s] {
      s.first = solveStates(
          /*context=*/nullptr, s.chainMenu->chain, s.chainMenu->menu, s.before,
          s.firstCap, s.withRecompute, std::numeric_limits<double>::infinity(),
          &s.costCap);
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
  int64_t offset = started->offset;
  auto toGroups = [&](const Layout &layout) {
    llvm::BitVector recomputed = before.options[layout.before].groups;
    recomputed |= after.options[layout.after].groups;
    for (const Segment &s : layout.segments)
      for (unsigned k = s.first; k < s.end; ++k)
        addPattern(chain, k, menu[s.pattern], k + 1 == s.end ? End : Inner,
                   recomputed);
    return recomputed;
  };
  SmallVector<llvm::BitVector> tried;
  Layout bestLayout;
  for (unsigned round = 0; round < kRounds; ++round) {
    int64_t cap = budget - offset;
    if (cap <= 0)
      break;
    Layout layout;
    if (round == 0 && started->solver.joinable()) {
      // Solved beside greedy's search, without the cost cap until it was
      // set: the program under the cap keeps the same states but those
      // costing the cap or more, in the same order, so its layout is
      // picked from them.
      started->solver.join();
      assert(cap == started->firstCap && "the first cap is the start's");
      layout = pickLayout(started->first, after, cap, withRecompute, costCap);
    } else {
      layout = solveChain(ctx.function.getContext(), chain, menu, before, after,
                          cap, withRecompute, costCap);
    }
    if (layout.segments.empty())
      break;
    llvm::BitVector recomputed = toGroups(layout);
    if (llvm::is_contained(tried, recomputed))
      break;
    tried.push_back(recomputed);
    if (round > 0 && !ctx.spendEvaluation("the layered search"))
      break;
    FailureOr<int64_t> measured = ctx.measure(recomputed);
    if (failed(measured))
      return failure();
    if (*measured < lowest) {
      lowest = *measured;
      lowestPlan = recomputed;
    }
    int64_t next =
        *measured - modelBytes(layout, menu, before, after, withRecompute);
    if (*measured <= budget) {
      double cost = ctx.objective(recomputed);
      if (!result.plan.valid || cost < result.plan.cost) {
        result.plan = {recomputed, *measured, cost, true};
        bestLayout = layout;
      }
      // (A higher offset only removes plans: nothing cheaper follows.)
      if (next >= offset)
        break;
    }
    offset = next;
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
