//===- PlanLayered.cpp - a dynamic program over the chain of layers -------===//
//
// Part of the remat project.
//
// A transformer's forward is a chain of layers with the same ops. The
// layered search plans one layer and combines the layers, as Checkmate's
// and Rockmate's chain solvers do:
//
// 1. Patterns. On a template layer (the middle one), a menu of what to
//    recompute: the exact frontier (least cost for the saved bytes) of
//    every subset of the first kExactPatternGroups groups of the layer's
//    own greedy ranking, each prefix of that ranking, nothing, everything
//    but the layer's output, and the attention core (selective) and the
//    cheap ops (min-cut) of that layer. A pattern is a set of
//    positions in the layer (the op's index and result), so it maps onto
//    every layer whose ops are the template's (same signatures, in order).
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
//    the cheapest per 1/1024 of the budget) gives the least-cost
//    segmentation and patterns
//    under the budget; recompute costs add up over layers because a
//    pattern's recompute stops at its layer's input. Under auto, states
//    costing 1.5 times greedy's plan or more are dropped: they cannot
//    lead to a cheaper plan unless pruning saves a third of the cost.
// 4. The check. Each plan is evaluated like any other; the offset is set
//    to what the evaluation says the model missed, and the program solved
//    again, until the plan repeats or the offset cannot fall (at most
//    kRounds evaluations, spent from the work limit after the first).
//
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "llvm/ADT/DenseMap.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// Plans the layered search evaluates at most.
static constexpr unsigned kRounds = 12;
/// The dynamic program keeps at most one state per 1/kBuckets of the
/// budget (the cheapest).
static constexpr int64_t kBuckets = 1024;
/// The exact per-layer frontier enumerates the subsets of at most this
/// many of a layer's groups (the first of its greedy ranking).
static constexpr size_t kExactPatternGroups = 14;
/// A layer joins the chain when at least this share of the template's ops
/// match its own, in order (9/10).
static constexpr size_t kMatchedNumerator = 9, kMatchedDenominator = 10;

namespace {
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
};
enum Role { End = 0, Inner = 1 };

/// A segment [first, end) of layers (indices into the aligned layers)
/// recomputing pattern `pattern`.
struct Segment {
  unsigned first, end, pattern;
};

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
} // namespace

/// The template's op index of each op of `layer` (-1 where none matches):
/// the identity when the two are the same sequence of signatures, else a
/// longest common subsequence of the signatures. Empty when fewer than
/// kMatched of the template's ops match.
static SmallVector<int> alignToTemplate(ArrayRef<llvm::hash_code> layer,
                                        ArrayRef<llvm::hash_code> templ) {
  size_t n = layer.size(), m = templ.size();
  SmallVector<int> map(n, -1);
  if (layer == templ) {
    for (size_t i = 0; i < n; ++i)
      map[i] = static_cast<int>(i);
    return map;
  }
  // (Layers are a few hundred ops: the quadratic table is small.)
  std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> uint32_t & {
    return lcs[i * (m + 1) + j];
  };
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      at(i, j) = layer[i] == templ[j] ? at(i + 1, j + 1) + 1
                                      : std::max(at(i + 1, j), at(i, j + 1));
  if (at(0, 0) * kMatchedDenominator < m * kMatchedNumerator)
    return {};
  for (size_t i = 0, j = 0; i < n && j < m;) {
    if (layer[i] == templ[j]) {
      map[i++] = static_cast<int>(j++);
    } else if (at(i + 1, j) >= at(i, j + 1)) {
      ++i;
    } else {
      ++j;
    }
  }
  return map;
}

/// The chain of `ctx`'s forward: the layers whose ops match the middle
/// layer's (all but a few, in order), and the groups at the template's
/// positions. Empty when fewer than two layers match.
static Chain buildChain(PlanContext &ctx) {
  Chain chain;
  const ForwardLayers &layers = ctx.getLayers();
  unsigned count = layers.names.size();
  if (count < 2)
    return chain;
  SmallVector<SmallVector<Operation *>> ops(count);
  llvm::DenseMap<Operation *, unsigned> indexOf;
  for (Operation *op : getForwardOps(ctx.backward)) {
    int layer = layers.layerOf.lookup(op);
    if (layer < 0 || op->hasTrait<OpTrait::ConstantLike>())
      continue;
    indexOf[op] = ops[layer].size();
    ops[layer].push_back(op);
  }
  unsigned middle = count / 2;
  auto signaturesOf = [&](unsigned layer) {
    SmallVector<llvm::hash_code> signature;
    for (Operation *op : ops[layer])
      signature.push_back(getLayerSignature(op));
    return signature;
  };
  SmallVector<llvm::hash_code> templ = signaturesOf(middle);
  // Each layer's ops aligned to the template's (empty: not in the chain).
  SmallVector<SmallVector<int>> aligned(count);
  for (unsigned layer = 0; layer < count; ++layer)
    aligned[layer] = alignToTemplate(signaturesOf(layer), templ);
  // The position of a group: its root's op index in the template and its
  // result number (-1 outside the chain or where no template op matches).
  auto positionOf = [&](const Group &group, int &layer) -> int64_t {
    Operation *def = group.root.getDefiningOp();
    layer = def ? layers.layerOf.lookup(def) : -1;
    if (!def || layer < 0 || !indexOf.count(def) || aligned[layer].empty())
      return -1;
    int index = aligned[layer][indexOf.lookup(def)];
    if (index < 0)
      return -1;
    return static_cast<int64_t>(index) * 64 +
           std::min(cast<OpResult>(group.root).getResultNumber(), 63u);
  };
  // The template's positions, in group order.
  llvm::DenseMap<int64_t, unsigned> position;
  for (auto [g, group] : llvm::enumerate(ctx.groups)) {
    int layer;
    int64_t key = positionOf(group, layer);
    if (key < 0 || layer != static_cast<int>(middle))
      continue;
    position[key] = chain.templateGroups.size();
    chain.templateGroups.push_back(g);
  }
  unsigned width = chain.templateGroups.size();
  if (width == 0)
    return chain;
  // Outputs: a template group with a member read by an op of another layer
  // or outside every layer (the backward's reads do not count).
  chain.output.resize(width);
  for (auto [j, g] : llvm::enumerate(chain.templateGroups))
    for (Value member : ctx.groups[g].members)
      for (Operation *user : member.getUsers()) {
        auto it = layers.layerOf.find(user);
        if (it != layers.layerOf.end() &&
            it->second != static_cast<int>(middle))
          chain.output.set(j);
      }
  llvm::DenseMap<int, unsigned> chainIndex;
  for (unsigned layer = 0; layer < count; ++layer) {
    if (aligned[layer].empty())
      continue;
    if (layer == middle)
      chain.templateIndex = chain.layers.size();
    chainIndex[layer] = chain.layers.size();
    chain.layers.push_back(layer);
    chain.groupAt.emplace_back(width, -1);
  }
  if (chain.layers.size() < 2) {
    chain.layers.clear();
    return chain;
  }
  for (auto [g, group] : llvm::enumerate(ctx.groups)) {
    int layer;
    int64_t key = positionOf(group, layer);
    auto it = chainIndex.find(layer);
    auto pos = position.find(key);
    if (key < 0 || it == chainIndex.end() || pos == position.end())
      continue;
    chain.groupAt[it->second][pos->second] = g;
  }
  return chain;
}

/// The groups a pattern recomputes in chain layer `k` in `role`.
static void addPattern(const Chain &chain, unsigned k,
                       const LayerPattern &pattern, Role role,
                       llvm::BitVector &recomputed) {
  for (unsigned j = 0, e = chain.templateGroups.size(); j < e; ++j) {
    int g = chain.groupAt[k][j];
    if (g >= 0 &&
        (pattern.positions.test(j) || (role == Inner && chain.output.test(j))))
      recomputed.set(g);
  }
}

/// The menu of patterns on the template layer, with their figures.
static SmallVector<LayerPattern> buildMenu(PlanContext &ctx, const Chain &chain,
                                           size_t &exactGroups,
                                           size_t &layerGroups) {
  unsigned width = chain.templateGroups.size();
  llvm::DenseMap<unsigned, unsigned> positionOf;
  for (auto [j, g] : llvm::enumerate(chain.templateGroups))
    positionOf[g] = j;
  SmallVector<unsigned> inner;
  for (auto [j, g] : llvm::enumerate(chain.templateGroups))
    if (!chain.output.test(j))
      inner.push_back(g);
  SmallVector<LayerPattern> menu;
  auto add = [&](std::string name, const llvm::BitVector &positions) {
    for (const LayerPattern &p : menu)
      if (p.positions == positions)
        return;
    LayerPattern p;
    p.name = std::move(name);
    p.positions = positions;
    menu.push_back(std::move(p));
  };
  llvm::BitVector none(width);
  add("nothing", none);
  llvm::BitVector all(width, true);
  all.reset(chain.output);
  add("all but the layer's output", all);
  // The field's per-layer choices, restricted to the template layer.
  for (PlanStrategy kind : {PlanStrategy::Selective, PlanStrategy::MinCut}) {
    std::string error;
    FailureOr<Schedule> schedule = buildSchedule(ctx, kind, error);
    if (failed(schedule))
      continue;
    llvm::BitVector recomputed = ctx.recomputedFor(schedule->saved);
    llvm::BitVector positions(width);
    for (unsigned g : recomputed.set_bits()) {
      auto it = positionOf.find(g);
      if (it != positionOf.end() && !chain.output.test(it->second))
        positions.set(it->second);
    }
    add(stringifyPlanStrategy(kind).str() + "'s", positions);
  }
  // The prefixes of the layer's own greedy ranking.
  SmallVector<unsigned> order = rankGroups(ctx, ArrayRef<unsigned>(inner));
  llvm::BitVector prefix(width);
  for (auto [i, g] : llvm::enumerate(order)) {
    prefix.set(positionOf.lookup(g));
    if (i + 1 < order.size())
      add("the first " + std::to_string(i + 1) + " of the layer's ranking",
          prefix);
  }
  // The exact per-layer frontier: every subset of the layer's groups (up
  // to kExactPatternGroups of them, its greedy ranking's first), kept
  // where no other subset saves no more bytes for less cost, as the last
  // layer of a segment or inside one.
  SmallVector<unsigned> exact(
      order.begin(),
      order.begin() + std::min<size_t>(order.size(), kExactPatternGroups));
  exactGroups = exact.size() >= 2 ? exact.size() : 0;
  layerGroups = order.size();
  SmallVector<unsigned> outputs;
  int64_t layerBytes = 0;
  for (auto [j, g] : llvm::enumerate(chain.templateGroups)) {
    layerBytes += ctx.groups[g].bytes;
    if (chain.output.test(j))
      outputs.push_back(g);
  }
  // The cost of a subset: a walk over the planner's recompute graph (as
  // cost() walks it) from the subset's groups, where an input a group of
  // the subset (or, inside a segment, an output) holds is recomputed, any
  // other backward input is saved, and any other value is recomputed.
  constexpr int kAlways = -1, kOutput = -2, kSaved = -3;
  llvm::DenseMap<unsigned, int> bitOf;
  for (auto [i, g] : llvm::enumerate(exact))
    bitOf[g] = static_cast<int>(i);
  for (unsigned g : outputs)
    bitOf[g] = kOutput;
  auto holderOf = [&](Value v) {
    if (!ctx.inputs.contains(v))
      return kAlways;
    auto it = ctx.groupOf.find(v);
    auto bit = it == ctx.groupOf.end() ? bitOf.end() : bitOf.find(it->second);
    return bit == bitOf.end() ? kSaved : bit->second;
  };
  const PlanContext::RecomputeGraph &graph = ctx.getRecomputeGraph();
  // Each op's objective and each edge's holder, for the ops a walk reaches
  // (filled on first visit).
  llvm::DenseMap<unsigned, std::pair<double, SmallVector<int>>> local;
  auto localOf = [&](unsigned i) -> std::pair<double, SmallVector<int>> & {
    auto [it, inserted] = local.try_emplace(i);
    if (inserted) {
      auto [cost, seconds] = ctx.getCost(graph.ops[i]);
      it->second.first = ctx.objective(cost, seconds);
      for (auto [input, value] : graph.edges[i])
        it->second.second.push_back(holderOf(value));
    }
    return it->second;
  };
  auto startsOf = [&](unsigned g) {
    SmallVector<unsigned> starts;
    for (Value m : ctx.groups[g].members)
      if (Operation *def = m.getDefiningOp())
        if (auto it = graph.index.find(def); it != graph.index.end())
          starts.push_back(it->second);
    return starts;
  };
  SmallVector<SmallVector<unsigned>> exactStarts;
  for (unsigned g : exact)
    exactStarts.push_back(startsOf(g));
  SmallVector<unsigned> outputStarts;
  for (unsigned g : outputs)
    llvm::append_range(outputStarts, startsOf(g));
  llvm::BitVector visited(graph.ops.size());
  SmallVector<unsigned> stack, touched;
  auto costOf = [&](uint32_t mask, bool withOutputs) {
    for (unsigned i : touched)
      visited.reset(i);
    touched.clear();
    stack.clear();
    for (auto [i, starts] : llvm::enumerate(exactStarts))
      if (mask & (1u << i))
        llvm::append_range(stack, starts);
    if (withOutputs)
      llvm::append_range(stack, outputStarts);
    double total = 0;
    while (!stack.empty()) {
      unsigned i = stack.pop_back_val();
      if (visited.test(i))
        continue;
      visited.set(i);
      touched.push_back(i);
      auto &[cost, holders] = localOf(i);
      total += cost;
      for (auto [edge, holder] : llvm::zip(graph.edges[i], holders)) {
        bool recomputed = holder == kAlways ||
                          (holder == kOutput && withOutputs) ||
                          (holder >= 0 && (mask & (1u << holder)));
        if (recomputed && !visited.test(edge.first))
          stack.push_back(edge.first);
      }
    }
    return total;
  };
  struct Subset {
    uint32_t mask;
    int64_t saved;
    double cost[2];
  };
  SmallVector<Subset> subsets;
  if (exact.size() >= 2) {
    for (uint32_t mask = 0; mask < (1u << exact.size()); ++mask) {
      int64_t bytes = layerBytes;
      for (auto [i, g] : llvm::enumerate(exact))
        if (mask & (1u << i))
          bytes -= ctx.groups[g].bytes;
      subsets.push_back(
          {mask, bytes, {costOf(mask, false), costOf(mask, true)}});
    }
  }
  llvm::DenseSet<uint32_t> frontier;
  for (Role role : {End, Inner}) {
    llvm::stable_sort(subsets, [&](const Subset &a, const Subset &b) {
      return a.saved != b.saved ? a.saved < b.saved
                                : a.cost[role] < b.cost[role];
    });
    double lowest = std::numeric_limits<double>::infinity();
    for (const Subset &subset : subsets)
      if (subset.cost[role] < lowest) {
        lowest = subset.cost[role];
        frontier.insert(subset.mask);
      }
  }
  // (In the order of the subsets, for determinism.)
  for (const Subset &subset : subsets) {
    if (!frontier.erase(subset.mask))
      continue;
    llvm::BitVector positions(width);
    for (auto [i, g] : llvm::enumerate(exact))
      if (subset.mask & (1u << i))
        positions.set(positionOf.lookup(g));
    add("a pattern of " + std::to_string(positions.count()) +
            " groups from the layer's exact frontier",
        positions);
  }
  // Figures on the template layer, every other layer saved.
  for (LayerPattern &p : menu)
    for (Role role : {End, Inner}) {
      llvm::BitVector recomputed(ctx.groups.size());
      addPattern(chain, chain.templateIndex, p, role, recomputed);
      p.cost[role] = ctx.objective(recomputed);
      for (unsigned g : chain.templateGroups)
        (recomputed.test(g) ? p.recomputed[role] : p.saved[role]) +=
            ctx.groups[g].bytes;
    }
  return menu;
}

namespace {
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

/// The least-cost layout under the model: for each segment, the saved
/// bytes before the chain and of its layers up to the segment's end plus
/// the segment's recomputed bytes (when `withRecompute`), and, after the
/// chain, all saved bytes plus the recomputed bytes after it, at most
/// `cap`. Empty segments when none fits.
static Layout solveChain(const Chain &chain, ArrayRef<LayerPattern> menu,
                         const Side &before, const Side &after, int64_t cap,
                         bool withRecompute, double costCap) {
  unsigned n = chain.layers.size();
  // States keep their exact bytes; the buckets only bound how many are
  // kept (the cheapest per 1/kBuckets of the cap).
  double unit = static_cast<double>(cap) / kBuckets;
  auto bucketOf = [&](int64_t bytes) {
    return std::min<int64_t>(
        kBuckets, static_cast<int64_t>(static_cast<double>(bytes) / unit));
  };
  auto transient = [&](int64_t bytes) { return withRecompute ? bytes : 0; };
  // states[e]: the Pareto states (ascending bytes, descending cost) with
  // the first e layers planned; states[0] are the choices before the
  // chain (`pattern` is the choice's index).
  SmallVector<SmallVector<State>> states(n + 1);
  SmallVector<State> best(kBuckets + 1);
  auto reset = [&]() {
    for (State &s : best)
      s.cost = std::numeric_limits<double>::infinity();
  };
  auto offer = [&](const State &state) {
    State &slot = best[bucketOf(state.bytes)];
    if (state.cost < slot.cost ||
        (state.cost == slot.cost && state.bytes < slot.bytes))
      slot = state;
  };
  auto collect = [&](SmallVectorImpl<State> &into) {
    for (const State &s : best)
      if (std::isfinite(s.cost) && (into.empty() || s.cost < into.back().cost))
        into.push_back(s);
  };
  reset();
  for (auto [o, option] : llvm::enumerate(before.options))
    if (option.saved + transient(option.recomputed) <= cap)
      offer({option.saved, option.cost, -1, 0, static_cast<unsigned>(o)});
  collect(states[0]);
  for (unsigned e = 1; e <= n; ++e) {
    reset();
    for (unsigned i = 0; i < e; ++i) {
      int64_t length = e - i;
      for (auto [p, pattern] : llvm::enumerate(menu)) {
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
        for (size_t si = first; si < from.size(); ++si) {
          const State &s = from[si];
          int64_t bytes = s.bytes + segSaved;
          if (bytes + segRecomputed > cap)
            break; // (Ascending bytes: the later states miss too.)
          offer({bytes, s.cost + segCost, static_cast<int>(si), i,
                 static_cast<unsigned>(p)});
        }
      }
    }
    collect(states[e]);
  }
  // The choice after the chain.
  Layout layout;
  double bestCost = std::numeric_limits<double>::infinity();
  int bestState = -1;
  for (auto [o, option] : llvm::enumerate(after.options)) {
    int64_t extra = option.saved + transient(option.recomputed);
    for (auto [si, s] : llvm::enumerate(states[n])) {
      if (s.bytes + extra > cap)
        break;
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

FailureOr<LayeredPlan>
mlir::remat::detail::planLayered(PlanContext &ctx, int64_t budget,
                                 int64_t &lowest, llvm::BitVector &lowestPlan,
                                 double costCap) {
  LayeredPlan result;
  Chain chain = buildChain(ctx);
  if (chain.layers.empty())
    return result;
  result.hasChain = true;
  size_t exactGroups = 0, layerGroups = 0;
  SmallVector<LayerPattern> menu =
      buildMenu(ctx, chain, exactGroups, layerGroups);
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
  SmallVector<unsigned> beforeGroups, afterGroups;
  for (auto [g, group] : llvm::enumerate(ctx.groups)) {
    if (inChain.test(g))
      continue;
    Operation *def = group.root.getDefiningOp();
    bool isBefore = !def || !firstOp || def->isBeforeInBlock(firstOp);
    (isBefore ? beforeGroups : afterGroups).push_back(g);
  }
  Side before = buildSide(ctx, beforeGroups);
  Side after = buildSide(ctx, afterGroups);
  bool withRecompute = ctx.options.budgetOn == BudgetOn::Peak;
  auto toGroups = [&](const Layout &layout) {
    llvm::BitVector recomputed = before.options[layout.before].groups;
    recomputed |= after.options[layout.after].groups;
    for (const Segment &s : layout.segments)
      for (unsigned k = s.first; k < s.end; ++k)
        addPattern(chain, k, menu[s.pattern], k + 1 == s.end ? End : Inner,
                   recomputed);
    return recomputed;
  };
  // The offset: what the evaluation measures beyond the model, first for
  // the plan that saves everything.
  llvm::BitVector nothing(ctx.groups.size());
  FailureOr<int64_t> unplanned = ctx.measure(nothing);
  if (failed(unplanned))
    return failure();
  Layout keepAll;
  for (unsigned k = 0; k < chain.layers.size(); ++k)
    keepAll.segments.push_back({k, k + 1, 0});
  int64_t offset =
      *unplanned - modelBytes(keepAll, menu, before, after, withRecompute);
  SmallVector<llvm::BitVector> tried;
  Layout bestLayout;
  for (unsigned round = 0; round < kRounds; ++round) {
    int64_t cap = budget - offset;
    if (cap <= 0)
      break;
    Layout layout =
        solveChain(chain, menu, before, after, cap, withRecompute, costCap);
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
      " layer patterns (exact over " + std::to_string(exactGroups) + " of " +
      std::to_string(layerGroups) +
      " groups a layer may recompute); outside the chain, the first " +
      std::to_string(bestLayout.before) + " of " +
      std::to_string(beforeGroups.size()) + " groups before it and " +
      std::to_string(bestLayout.after) + " of " +
      std::to_string(afterGroups.size()) + " after it recomputed";
  return result;
}
