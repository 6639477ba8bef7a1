//===- PlanLayerProgram.cpp - the layered search's dynamic program -------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "PlanLayerProgram.h"

#include "mlir/IR/Threading.h"

#include <cmath>
#include <limits>
#include <tuple>

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// The dynamic program keeps at most one state per 1/kBuckets of the
/// budget (the cheapest).
static constexpr int64_t kBuckets = 1024;

Side mlir::remat::detail::buildSide(PlanContext &ctx,
                                    ArrayRef<unsigned> groups) {
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
    if (a.saved[r] > b.saved[r] ||
        a.held(r, withRecompute) > b.held(r, withRecompute) ||
        a.cost[r] > b.cost[r])
      return false;
    smaller |= a.saved[r] < b.saved[r];
  }
  return smaller || ai < bi;
}

StateTable mlir::remat::detail::solveStates(
    MLIRContext *context, const Chain &chain, ArrayRef<LayerPattern> menu,
    const Side &before, int64_t budget, const Offsets &offsets,
    bool withRecompute, double costCap, const std::atomic<double> *laterCap) {
  unsigned n = chain.layers.size();
  // The highest bytes any state may hold.
  int64_t cap = budget - offsets.lowest();
  SmallVector<int64_t> startCap(menu.size() * n);
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
    if (option.saved + transient(option.recomputed) <=
        budget - offsets.layer.front())
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
        int64_t most = startCap[p * n + i];
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
          if (s.bytes > most)
            break; // (Ascending bytes: the later states miss too.)
          int64_t bytes = s.bytes + segSaved;
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
    // Segment [i, e) with pattern p holds, in the window of its layer k,
    // the bytes of its layers i..k (modelTerms): it may start from at most
    // startCap[p * n + i] saved bytes. (In k's window, `perLayer` for each
    // of them and offset k; in the last layer's, the segment's end.)
    for (auto [p, pattern] : llvm::enumerate(menu)) {
      int64_t perLayer = pattern.held(Inner, withRecompute);
      int64_t last = pattern.held(End, withRecompute) + offsets.layer[e - 1];
      int64_t inner = 0;
      for (unsigned i = e; i-- > 0;) {
        int64_t need = static_cast<int64_t>(e - 1 - i) * perLayer + last;
        if (i + 1 < e) {
          inner = i + 2 == e
                      ? perLayer + offsets.layer[i]
                      : std::max(inner + perLayer, perLayer + offsets.layer[i]);
          need = std::max(need, inner);
        }
        startCap[p * n + i] = budget - need;
      }
    }
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

Layout mlir::remat::detail::pickLayout(const StateTable &states,
                                       const Side &after, int64_t cap,
                                       bool withRecompute, double costCap) {
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

Layout mlir::remat::detail::solveChain(MLIRContext *context, const Chain &chain,
                                       ArrayRef<LayerPattern> menu,
                                       const Side &before, const Side &after,
                                       int64_t budget, const Offsets &offsets,
                                       bool withRecompute, double costCap) {
  return pickLayout(solveStates(context, chain, menu, before, budget, offsets,
                                withRecompute, costCap),
                    after, budget - offsets.after, withRecompute, costCap);
}

Offsets mlir::remat::detail::modelTerms(const Layout &layout,
                                        ArrayRef<LayerPattern> menu,
                                        const Side &before, const Side &after,
                                        bool withRecompute, unsigned layers) {
  Offsets terms = Offsets::uniform(layers, 0);
  const Outside &first = before.options[layout.before];
  const Outside &last = after.options[layout.after];
  int64_t saved = first.saved;
  auto transient = [&](int64_t bytes) { return withRecompute ? bytes : 0; };
  for (const Segment &s : layout.segments) {
    const LayerPattern &p = menu[s.pattern];
    int64_t perLayer = p.held(Inner, withRecompute);
    for (unsigned k = s.first; k + 1 < s.end; ++k)
      terms.layer[k] = saved + (k - s.first + 1) * perLayer;
    terms.layer[s.end - 1] =
        saved + (s.end - 1 - s.first) * perLayer + p.held(End, withRecompute);
    saved += p.segmentSaved(s.end - s.first);
  }
  terms.layer.front() =
      std::max(terms.layer.front(), first.saved + transient(first.recomputed));
  terms.after = saved + last.saved + transient(last.recomputed);
  return terms;
}

int64_t mlir::remat::detail::modelPeak(const Offsets &terms,
                                       const Offsets &offsets) {
  int64_t peak = terms.after + offsets.after;
  for (auto [t, o] : llvm::zip_equal(terms.layer, offsets.layer))
    peak = std::max(peak, t + o);
  return peak;
}
