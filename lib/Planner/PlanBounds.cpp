//===- PlanBounds.cpp - lower bounds on a plan's peak and cost ------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// What the searches prune with: a lower bound on the peak of every plan
/// that recomputes only some groups (the unplanned timeline less the groups
/// held only for the backward), each group's clone set (a plan's cost is
/// their weighted coverage), and a lower bound on the cost still to add for
/// the peak bound to meet a budget. docs/Design.md, "the exact search",
/// explains them.
///
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"

#include <limits>

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

void PlanContext::computeBound() {
  boundReady = true;
  MemoryProfile profile = analyzeMemory(function, kAllocationAlignment);
  boundPeak = profile.peakBytes;
  boundTimeline = profile.timeline;
  llvm::DenseMap<Operation *, unsigned> pointOf;
  for (auto [index, op] : llvm::enumerate(profile.points))
    pointOf[op] = index;
  // Values in each buffer, for the uses outside the backward.
  llvm::DenseMap<unsigned, SmallVector<Value>> valuesOf;
  for (auto &[value, buffer] : profile.bufferOf)
    valuesOf[buffer].push_back(value);
  Block *block = backward->getBlock();
  Block &body = backward.getBody().front();
  for (auto [g, group] : llvm::enumerate(groups)) {
    auto it = profile.bufferOf.find(group.root);
    if (it == profile.bufferOf.end()) {
      heldForBackward.push_back({1, 0}); // Empty range.
      continue;
    }
    const Buffer &buffer = profile.buffers[it->second];
    // The group is free from its last forward use to the backward's first
    // use of it: a recomputed group's clone is made before that use and
    // holds its bytes from there (two values live at one point never share
    // a buffer, so each clone counts).
    unsigned lastForward = buffer.start;
    unsigned firstBackward = buffer.end + 1;
    for (Value v : valuesOf[it->second]) {
      if (auto arg = dyn_cast<BlockArgument>(v);
          arg && arg.getOwner() == &body) {
        for (Operation *user : arg.getUsers())
          if (Operation *ancestor = body.findAncestorOpInBlock(*user))
            firstBackward = std::min(firstBackward, pointOf.lookup(ancestor));
        continue;
      }
      // (A value the backward makes in this buffer, writing in place into
      // the residual where it dies, is not a forward use: were it returned,
      // the group would look held to the end and the bound would not free
      // it, though a plan recomputing it does.)
      Operation *owner = v.getParentRegion()->getParentOp();
      if (v.getDefiningOp() == backward.getOperation() ||
          backward->isAncestor(owner))
        continue;
      for (Operation *user : v.getUsers()) {
        Operation *ancestor = block->findAncestorOpInBlock(*user);
        if (!ancestor || ancestor == backward.getOperation())
          continue;
        lastForward = std::max(lastForward, pointOf.lookup(ancestor));
      }
    }
    heldForBackward.push_back(
        {lastForward + 1, std::min(buffer.end, firstBackward - 1)});
  }
}

ArrayRef<llvm::BitVector> PlanContext::getGroupClones() {
  if (groupClones)
    return *groupClones;
  // (Recomputing the group alone clones exactly these: the cost walk with
  // every other backward input saved.)
  SmallVector<llvm::BitVector> &clones = groupClones.emplace(groups.size());
  for (unsigned g = 0; g < groups.size(); ++g) {
    llvm::BitVector alone(groups.size());
    alone.set(g);
    (void)cost(savedFor(alone), nullptr, &clones[g]);
  }
  return *groupClones;
}

int64_t PlanContext::lowerBound(const llvm::BitVector &mayRecompute) {
  if (options.budgetOn == BudgetOn::Activations)
    return activationBytes(savedFor(mayRecompute), /*withFrontier=*/false);
  return peakLowerBound(mayRecompute);
}

SmallVector<int64_t>
PlanContext::freedTimeline(const llvm::BitVector &mayRecompute) {
  if (!boundReady)
    computeBound();
  size_t points = boundTimeline.size();
  SmallVector<int64_t> freed(points + 1, 0);
  for (unsigned g : mayRecompute.set_bits()) {
    auto [first, last] = heldForBackward[g];
    if (first > last || first >= points)
      continue;
    freed[first] += groups[g].bytes;
    freed[std::min<size_t>(last + 1, points)] -= groups[g].bytes;
  }
  int64_t running = 0;
  for (size_t point = 0; point < points; ++point)
    freed[point] = running += freed[point];
  freed.pop_back();
  return freed;
}

int64_t PlanContext::peakLowerBound(const llvm::BitVector &mayRecompute) {
  SmallVector<int64_t> freed = freedTimeline(mayRecompute);
  int64_t bound = 0;
  for (auto [live, off] : llvm::zip(boundTimeline, freed))
    bound = std::max(bound, live - off);
  return bound;
}

double PlanContext::costToMeetBound(const llvm::BitVector &recomputed,
                                    ArrayRef<unsigned> undecided,
                                    ArrayRef<double> addedCost,
                                    int64_t budget) {
  SmallVector<int64_t> freed = freedTimeline(recomputed);
  size_t points = boundTimeline.size();
  // The undecided groups that free bytes somewhere, cheapest per byte
  // first, and the points where the set of them held there changes.
  SmallVector<unsigned> useful;
  SmallVector<unsigned> cuts{0, static_cast<unsigned>(points)};
  for (unsigned g : undecided) {
    auto [first, last] = heldForBackward[g];
    if (first > last || first >= points || groups[g].bytes <= 0)
      continue;
    useful.push_back(g);
    cuts.push_back(first);
    cuts.push_back(std::min<size_t>(last + 1, points));
  }
  sortByCostPerByte(
      useful, [&](unsigned g) { return groups[g].bytes; }, addedCost);
  llvm::sort(cuts);
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  double bound = 0;
  unsigned point = 0;
  for (unsigned k = 0; k + 1 < cuts.size(); ++k) {
    // The stretch [cuts[k], cuts[k + 1]): the same undecided groups are
    // held at each of its points; its largest excess must be freed.
    int64_t excess = 0;
    for (; point < cuts[k + 1]; ++point)
      excess = std::max(excess, boundTimeline[point] - freed[point] - budget);
    if (excess <= 0)
      continue;
    double cost = fractionalCover(
        useful,
        [&](unsigned g) -> int64_t {
          auto [first, last] = heldForBackward[g];
          if (first > cuts[k] || last + 1 < cuts[k + 1])
            return 0;
          return groups[g].bytes;
        },
        addedCost, excess);
    if (cost == std::numeric_limits<double>::infinity())
      return cost;
    bound = std::max(bound, cost);
  }
  return bound;
}

void mlir::remat::detail::sortByCostPerByte(
    SmallVectorImpl<unsigned> &groups, function_ref<int64_t(unsigned)> bytes,
    ArrayRef<double> cost) {
  llvm::stable_sort(groups, [&](unsigned a, unsigned b) {
    return cost[a] * bytes(b) < cost[b] * bytes(a);
  });
}

double
mlir::remat::detail::fractionalCover(ArrayRef<unsigned> groups,
                                     function_ref<int64_t(unsigned)> bytes,
                                     ArrayRef<double> cost, int64_t need) {
  double left = static_cast<double>(need), total = 0;
  for (unsigned g : groups) {
    if (left <= 0)
      break;
    int64_t b = bytes(g);
    if (b <= 0)
      continue;
    double held = static_cast<double>(b);
    if (held >= left)
      return total + cost[g] * (left / held);
    total += cost[g];
    left -= held;
  }
  return left > 0 ? std::numeric_limits<double>::infinity() : total;
}
