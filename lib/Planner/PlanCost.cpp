//===- PlanCost.cpp - what recomputing a plan's groups costs --------------===//
//
// Part of the remat project.
//
// The price of a plan: the roofline cost of every forward op its
// recomputation clones (each once, unless a shared value is recomputed
// once per residual), walked over a graph of the recomputable ops built
// once per planning; and the modeled time of the whole step.
//
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Analysis/Cost.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

std::pair<OpCost, double> PlanContext::getCost(Operation *op) {
  auto it = opCosts.find(op);
  if (it != opCosts.end())
    return it->second;
  std::pair<OpCost, double> cost;
  if (FailureOr<OpCost> c = getOpCost(op); succeeded(c)) {
    cost.first = *c;
    cost.second = getRooflineSeconds(*c, getComputeElementType(op),
                                     isContraction(op), options.target);
  }
  opCosts[op] = cost;
  return cost;
}

double PlanContext::stepSeconds() {
  return getStepSeconds(function, options.target);
}

double PlanContext::objective(const OpCost &cost, double seconds) const {
  return options.cost == PlanCost::Time
             ? seconds
             : static_cast<double>(cost.weightedFlops());
}

PlanCostSum PlanContext::closure(Value value, const ValueSet &saved,
                                 llvm::DenseSet<Operation *> &done,
                                 const llvm::DenseSet<Operation *> *already,
                                 SmallVectorImpl<Operation *> *added,
                                 function_ref<void(Value)> onReuse) {
  PlanCostSum sum;
  llvm::DenseSet<Operation *> mine;
  SmallVector<Value> work{value};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *def = v.getDefiningOp();
    if (!def || saved.contains(v) || !canRecomputeIn(def, backward) ||
        (already && already->contains(def)))
      continue;
    if (!done.insert(def).second) {
      if (onReuse && !mine.contains(def))
        onReuse(v);
      continue;
    }
    if (onReuse)
      mine.insert(def);
    if (added)
      added->push_back(def);
    auto [cost, seconds] = getCost(def);
    sum.cost += cost;
    sum.seconds += seconds;
    work.append(getRecomputeInputs(def));
  }
  return sum;
}

SmallVector<Value> PlanContext::droppedInOrder(const ValueSet &saved) const {
  SmallVector<Value> dropped;
  for (Value c : candidates)
    if (!saved.contains(c))
      dropped.push_back(c);
  llvm::stable_sort(dropped, [&](Value a, Value b) {
    return firstUse.lookup(a) < firstUse.lookup(b);
  });
  return dropped;
}

void PlanContext::forEachRecomputed(
    const ValueSet &saved, const ValueSet *duplicated,
    function_ref<void(Value, const PlanCostSum &)> fn,
    SmallVectorImpl<Value> *reused) {
  auto isDuplicated = [&](Operation *def) {
    return duplicated && llvm::any_of(def->getResults(), [&](Value r) {
             return duplicated->contains(r);
           });
  };
  llvm::DenseSet<Operation *> done;
  llvm::DenseSet<Value> reusedSeen;
  auto onReuse = [&](Value u) {
    if (reusedSeen.insert(u).second)
      reused->push_back(u);
  };
  for (Value v : droppedInOrder(saved)) {
    SmallVector<Operation *> mine;
    PlanCostSum sum =
        closure(v, saved, done, /*already=*/nullptr, &mine,
                reused ? function_ref<void(Value)>(onReuse) : nullptr);
    // The rewrite forgets these clones once the residual is recomputed.
    for (Operation *def : mine)
      if (isDuplicated(def))
        done.erase(def);
    fn(v, sum);
  }
}

const PlanContext::RecomputeGraph &PlanContext::getRecomputeGraph() {
  if (graph)
    return *graph;
  RecomputeGraph &g = graph.emplace();
  for (Operation *op : getForwardOps(backward))
    if (canRecomputeIn(op, backward)) {
      g.index[op] = g.ops.size();
      g.ops.push_back(op);
    }
  g.edges.resize(g.ops.size());
  for (auto [i, op] : llvm::enumerate(g.ops)) {
    g.costs.push_back(getCost(op));
    for (Value v : getRecomputeInputs(op)) {
      Operation *def = v.getDefiningOp();
      auto it = def ? g.index.find(def) : g.index.end();
      if (it == g.index.end())
        continue;
      auto [id, inserted] = g.valueId.try_emplace(v, g.valueId.size());
      g.edges[i].push_back({it->second, v, id->second});
    }
  }
  for (Value c : candidates)
    if (Operation *def = c.getDefiningOp())
      if (auto it = g.index.find(def); it != g.index.end())
        g.candidateOps.push_back({c, it->second});
  return g;
}

PlanCostSum PlanContext::cost(const ValueSet &saved, const ValueSet *duplicated,
                              llvm::BitVector *cloned) {
  PlanCostSum total;
  if (duplicated && !duplicated->empty()) {
    forEachRecomputed(saved, duplicated, [&](Value, const PlanCostSum &c) {
      total.cost += c.cost;
      total.seconds += c.seconds;
    });
    return total;
  }
  // Without second clones the cost is that of the union of the closures,
  // whatever their order: one walk over the recompute graph (the same ops
  // as `closure` visits; a saved value, a backward input or not, stops the
  // walk).
  // (Numbered: the walk looks up no value.)
  const RecomputeGraph &g = getRecomputeGraph();
  llvm::BitVector savedId(g.valueId.size());
  for (Value v : saved)
    if (auto it = g.valueId.find(v); it != g.valueId.end())
      savedId.set(it->second);
  llvm::BitVector visited(g.ops.size());
  SmallVector<unsigned> stack;
  for (auto [c, op] : g.candidateOps)
    if (!saved.contains(c))
      stack.push_back(op);
  while (!stack.empty()) {
    unsigned i = stack.pop_back_val();
    if (visited.test(i))
      continue;
    visited.set(i);
    const auto &[cost, seconds] = g.costs[i];
    total.cost += cost;
    total.seconds += seconds;
    for (const RecomputeGraph::Edge &edge : g.edges[i])
      if (!visited.test(edge.input) && !savedId.test(edge.valueId))
        stack.push_back(edge.input);
  }
  if (cloned)
    *cloned = std::move(visited);
  return total;
}

double PlanContext::objective(const llvm::BitVector &recomputed) {
  PlanCostSum c = cost(savedFor(recomputed));
  return objective(c.cost, c.seconds);
}
