//===- PlanLayerChain.cpp - the chain of layers and its pattern menu ------===//
//
// Part of the remat project.
//
// The layered search's first step (PlanLayered.cpp has the rest): on a
// template layer (the middle one), a menu of what to recompute: the exact
// frontier (least cost for the saved bytes) of every subset of the first
// kExactPatternGroups groups of the layer's own greedy ranking, each prefix
// of that ranking, nothing, everything but the layer's output, and the
// attention core (selective) and the cheap ops (min-cut) of that layer. A
// pattern is a set of positions in the layer (the op's index and result),
// so it maps onto every layer whose ops are the template's (same
// signatures, in order): the chain.
//
//===----------------------------------------------------------------------===//

#include "PlanLayerChain.h"

#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "llvm/ADT/DenseMap.h"

#include <limits>

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// The exact per-layer frontier enumerates the subsets of at most this
/// many of a layer's groups (the first of its greedy ranking).
static constexpr size_t kExactPatternGroups = 14;
/// A layer joins the chain when at least this share of the template's ops
/// match its own, in order (9/10).
static constexpr size_t kMatchedNumerator = 9, kMatchedDenominator = 10;

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
Chain mlir::remat::detail::buildChain(PlanContext &ctx) {
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
void mlir::remat::detail::addPattern(const Chain &chain, unsigned k,
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
SmallVector<LayerPattern> mlir::remat::detail::buildMenu(PlanContext &ctx,
                                                         const Chain &chain,
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
      auto [cost, seconds] = graph.costs[i];
      it->second.first = ctx.objective(cost, seconds);
      for (const PlanContext::RecomputeGraph::Edge &edge : graph.edges[i])
        it->second.second.push_back(holderOf(edge.value));
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
        if (recomputed && !visited.test(edge.input))
          stack.push_back(edge.input);
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
