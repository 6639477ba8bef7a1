//===- PlanExact.cpp - the exact search ----------------------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The branch and bound over the subsets of the groups (`optimal`, and
/// `auto` on small steps), pruned by the peak lower bound, the cost still
/// to add, and what evaluated plans showed; and its use for the infeasible
/// error's lowest peak. docs/Design.md, "the exact search" and "the
/// infeasible floor", explains them.
///
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"

#include "llvm/ADT/ScopeExit.h"

#include <cmath>
#include <limits>
#include <map>

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// How much each cost cap of the exact search exceeds the last. (A cap
/// just above the least cost settles the search soonest: a search under a
/// cap explores every node below it that the bounds leave.)
static constexpr double kCostCapGrowth = 1.1;

namespace {
/// Branch and bound over the groups, largest first. A node fixes groups
/// [0, i) as recomputed or saved. It is pruned when its recompute cost
/// already reaches the incumbent's (cost only grows with the set), when
/// the peak's lower bound with every undecided group recomputed misses the
/// budget, or (on a peak budget) when its cost plus what the undecided
/// groups must add to bring the bound down to the budget reaches the
/// incumbent's (costToMeetBound). A node that meets the budget is a leaf:
/// adding groups only costs more. A node's own peak is evaluated only when
/// the lower bound for its set alone meets the budget.
class ExactSearch {
public:
  ExactSearch(PlanContext &ctx, int64_t budget, bool anyPlan)
      : ctx(ctx), budget(budget), anyPlan(anyPlan) {
    order.resize(ctx.groups.size());
    for (unsigned g = 0; g < order.size(); ++g)
      order[g] = g;
    llvm::stable_sort(order, [&](unsigned a, unsigned b) {
      return ctx.groups[a].bytes > ctx.groups[b].bytes;
    });
    // A plan's cost is a weighted coverage of its groups' clones
    // (getGroupClones): what a group adds is least when every other group
    // is recomputed.
    const PlanContext::RecomputeGraph &graph = ctx.getRecomputeGraph();
    for (auto [k, c] : llvm::enumerate(graph.costs))
      opCost.push_back(ctx.objective(c.first, c.second));
    addedCost.resize(ctx.groups.size());
  }

  LogicalResult run(Incumbent &best) {
    llvm::BitVector set(ctx.groups.size());
    if (failed(visit(0, set, 0.0, best, /*fresh=*/true)))
      return failure();
    return success();
  }

  bool complete() const { return !aborted; }
  /// Makes the search ready to run again (under another incumbent).
  void restart() { aborted = false; }

  /// A lower bound on the cost of every plan that meets the budget: what
  /// the groups must add to bring the peak's lower bound down to it
  /// (costToMeetBound at the root). 0 where the bound is not a peak's.
  double rootCostBound() {
    if (ctx.options.budgetOn != BudgetOn::Peak)
      return 0;
    llvm::BitVector none(ctx.groups.size());
    computeAddedCost(none, order);
    return ctx.costToMeetBound(none, order, addedCost, budget);
  }

private:
  bool pruneByCost(double cost, const Incumbent &best) const {
    // (Looking for any plan: the first one found ends the search.)
    if (anyPlan && best.valid)
      return true;
    return best.valid && !isCheaper(cost, best.cost);
  }

  /// `fresh`: the node's set is not its parent's (the parent recomputed
  /// one more group), so its own peak is not known to miss the budget.
  LogicalResult visit(unsigned i, llvm::BitVector &set, double cost,
                      Incumbent &best, bool fresh) {
    if (aborted || pruneByCost(cost, best))
      return success();
    // A node's bounds walk the timeline twice: a 32nd of an evaluation.
    if (!ctx.limits.spend(ctx.evaluationWork() / 32 + 1, where)) {
      aborted = true;
      return success();
    }
    // The set's own peak is evaluated only when its bound allows it to
    // meet the budget (the bound is cheap, the evaluation is not), and only
    // once: a child that saves the next group has its parent's set, which
    // missed the budget.
    SmallVector<Freed> freed = freedAtHeldPoints(set);
    if (pruneByHeldPoints(i, set, cost, best, freed))
      return success();
    bool mayMeet = ctx.lowerBound(set) <= budget && heldPointsAllow(freed);
    // (Popped when the node returns: it bounds the node's descendants.)
    size_t heldPointsBefore = heldPoints.size();
    auto popHeldPoints =
        llvm::scope_exit([&] { heldPoints.resize(heldPointsBefore); });
    if (fresh && mayMeet) {
      if (!useHeldPoints) {
        if (!ctx.spendEvaluation(where)) {
          aborted = true;
          return success();
        }
        FailureOr<bool> met = offerPlan(ctx, set, cost, budget, best);
        if (failed(met))
          return failure();
        if (*met)
          return success();
      } else {
        FailureOr<const Evaluated *> e = evaluate(set);
        if (failed(e))
          return failure();
        if (!*e) {
          aborted = true;
          return success();
        }
        const auto &[p, point, clonePoint] = **e;
        if (p <= budget) {
          best.recomputed = set;
          best.peak = p;
          best.cost = cost;
          best.valid = true;
          return success();
        }
        if (point.bytes > budget)
          heldPoints.push_back({point.bytes - budget, point.held, set,
                                llvm::BitVector(ctx.groups.size())});
        if (clonePoint.anchor && clonePoint.bytes > budget)
          if (std::optional<llvm::BitVector> voids =
                  voidingGroups(i, set, clonePoint))
            heldPoints.push_back({clonePoint.bytes - budget, clonePoint.held,
                                  set, std::move(*voids)});
      }
    }
    if (i == order.size())
      return success();
    llvm::BitVector all = set;
    for (unsigned j = i; j < order.size(); ++j)
      all.set(order[j]);
    if (ctx.lowerBound(all) > budget)
      return success();
    if (!mayMeet && best.valid) {
      // (One more walk of the timeline, and one of the groups' clones.)
      if (!ctx.limits.spend(ctx.evaluationWork() / 32 + 1, where)) {
        aborted = true;
        return success();
      }
      if (pruneByCostToGo(i, set, cost, best))
        return success();
    }
    unsigned g = order[i];
    set.set(g);
    double withCost = ctx.objective(set);
    if (failed(visit(i + 1, set, withCost, best, /*fresh=*/true)))
      return failure();
    set.reset(g);
    return visit(i + 1, set, cost, best, /*fresh=*/false);
  }

  /// What the node's set frees at each HeldPoint bound: the bytes held
  /// there of the groups it recomputes beyond the bound's ancestor's, and
  /// whether one of them voids the bound.
  struct Freed {
    int64_t bytes = 0;
    bool voided = false;
  };
  SmallVector<Freed> freedAtHeldPoints(const llvm::BitVector &set) const {
    SmallVector<Freed> freed(heldPoints.size());
    for (auto [h, f] : llvm::zip(heldPoints, freed))
      for (unsigned g : set.set_bits())
        if (!h.base.test(g)) {
          f.bytes += h.held[g];
          f.voided |= h.voids.test(g);
        }
    return freed;
  }

  /// True when no plan below the node can meet the budget, or none can
  /// cost less than the incumbent, by an evaluated ancestor's HeldPoint: a
  /// plan below it peaks at least at the point's bytes less the bytes
  /// held there of the groups it recomputes beyond the ancestor's, so
  /// those groups must free the excess; the cheapest way to (a fractional
  /// knapsack of the undecided groups held there) is a lower bound on the
  /// cost still to add.
  bool pruneByHeldPoints(unsigned i, const llvm::BitVector &set, double cost,
                         const Incumbent &best, ArrayRef<Freed> freed) {
    ArrayRef<unsigned> undecided = ArrayRef(order).drop_front(i);
    bool costsReady = false;
    for (auto [h, f] : llvm::zip(heldPoints, freed)) {
      if (f.voided)
        continue;
      int64_t available = 0;
      bool mayVoid = false;
      for (unsigned g : undecided) {
        available += h.held[g];
        mayVoid |= h.voids.test(g);
      }
      int64_t need = h.excess - f.bytes;
      if (need <= 0)
        continue;
      if (available < need && !mayVoid)
        return true;
      if (!best.valid)
        continue;
      if (!costsReady) {
        computeAddedCost(set, undecided);
        costsReady = true;
      }
      // (A plan that recomputes a group that voids the bound adds at
      // least that group's cost.)
      double voidCost = std::numeric_limits<double>::infinity();
      if (mayVoid)
        for (unsigned g : undecided)
          if (h.voids.test(g))
            voidCost = std::min(voidCost, addedCost[g]);
      if (available < need) {
        if (pruneByCost(cost + voidCost, best))
          return true;
        continue;
      }
      auto heldBytes = [&](unsigned g) { return h.held[g]; };
      SmallVector<unsigned> useful;
      for (unsigned g : undecided)
        if (h.held[g] > 0)
          useful.push_back(g);
      sortByCostPerByte(useful, heldBytes, addedCost);
      double toGo = fractionalCover(useful, heldBytes, addedCost, need);
      if (pruneByCost(cost + std::min(toGo, voidCost), best))
        return true;
    }
    return false;
  }

  /// False when the node's own plan cannot meet the budget by an
  /// evaluated ancestor's HeldPoint: the groups it recomputes beyond the
  /// ancestor's do not free the excess there.
  bool heldPointsAllow(ArrayRef<Freed> freed) const {
    for (auto [h, f] : llvm::zip(heldPoints, freed))
      if (!f.voided && f.bytes < h.excess)
        return false;
    return true;
  }

  /// The groups whose recomputation, added to the node's set, may void
  /// `point`'s bound: those the node does not save whose recomputation may
  /// clone `point.anchor` (it reads the anchor's results through values
  /// no saved group of the node holds) and is inserted no later than
  /// `point.before`. None when the point cannot be placed.
  std::optional<llvm::BitVector>
  voidingGroups(unsigned i, const llvm::BitVector &set,
                const PlanContext::HeldPoint &point) {
    Block &body = ctx.backward.getBody().front();
    if (point.before->getBlock() != &body)
      return std::nullopt;
    if (firstUse.empty()) {
      unsigned position = 0;
      for (Operation &op : body)
        positionOf[&op] = position++;
      firstUse.assign(ctx.groups.size(), position);
      for (auto [index, input] : llvm::enumerate(ctx.backward.getInputs())) {
        auto it = ctx.groupOf.find(input);
        if (it == ctx.groupOf.end())
          continue;
        for (Operation *user : body.getArgument(index).getUsers())
          if (Operation *a = body.findAncestorOpInBlock(*user))
            firstUse[it->second] =
                std::min(firstUse[it->second], positionOf.lookup(a));
      }
    }
    unsigned before = positionOf.lookup(point.before);
    llvm::BitVector decidedSaved(ctx.groups.size());
    for (unsigned j = 0; j < i; ++j)
      if (!set.test(order[j]))
        decidedSaved.set(order[j]);
    llvm::BitVector voids(ctx.groups.size());
    Block *block = ctx.backward->getBlock();
    SmallVector<Operation *> work{point.anchor};
    llvm::DenseSet<Operation *> seen{point.anchor};
    while (!work.empty()) {
      Operation *op = work.pop_back_val();
      for (Value result : op->getResults()) {
        if (auto it = ctx.groupOf.find(result); it != ctx.groupOf.end()) {
          unsigned g = it->second;
          if (decidedSaved.test(g))
            continue;
          if (!set.test(g) && firstUse[g] <= before)
            voids.set(g);
        } else if (ctx.inputs.contains(result)) {
          continue; // Saved, and not a candidate.
        }
        for (Operation *user : result.getUsers()) {
          Operation *a = block->findAncestorOpInBlock(*user);
          if (a && a != ctx.backward.getOperation() &&
              a->isBeforeInBlock(ctx.backward) && seen.insert(a).second)
            work.push_back(a);
        }
      }
    }
    return voids;
  }

  /// An evaluated set's peak and HeldPoints.
  struct Evaluated {
    int64_t peak;
    PlanContext::HeldPoint point, clonePoint;
  };
  /// `set`'s peak and HeldPoints, evaluated once per search (a search
  /// under a cost cap visits the nodes of the ones under lower caps
  /// again); null when the work limit allows no evaluation.
  FailureOr<const Evaluated *> evaluate(const llvm::BitVector &set) {
    std::string key = PlanContext::cacheKey(set);
    auto it = evaluated.find(key);
    if (it != evaluated.end())
      return &it->second;
    if (!ctx.spendEvaluation(where))
      return static_cast<const Evaluated *>(nullptr);
    Evaluated e;
    FailureOr<int64_t> p = ctx.peakAndPoint(set, e.point, e.clonePoint);
    if (failed(p))
      return failure();
    e.peak = *p;
    return &evaluated.emplace(std::move(key), std::move(e)).first->second;
  }

  /// Per undecided group, the least it adds to any plan below the node:
  /// its clones that no other group of the node's set or the undecided
  /// ones clones.
  void computeAddedCost(const llvm::BitVector &set,
                        ArrayRef<unsigned> undecided) {
    SmallVector<uint8_t> cloners(opCost.size(), 0);
    ArrayRef<llvm::BitVector> clones = ctx.getGroupClones();
    auto count = [&](unsigned g) {
      for (unsigned k : clones[g].set_bits())
        cloners[k] = std::min<unsigned>(cloners[k] + 1, 2);
    };
    for (unsigned g : set.set_bits())
      count(g);
    for (unsigned g : undecided)
      count(g);
    for (unsigned g : undecided) {
      addedCost[g] = 0;
      for (unsigned k : clones[g].set_bits())
        if (cloners[k] == 1)
          addedCost[g] += opCost[k];
    }
  }

  /// True when every plan below the node costs at least the incumbent:
  /// the node's cost plus the least its undecided groups must add to bring
  /// the peak's lower bound down to the budget, each group adding at least
  /// its clones that no other group of the node's set or the undecided
  /// ones clones. (With a budget on activations the bound is exact
  /// already.)
  bool pruneByCostToGo(unsigned i, const llvm::BitVector &set, double cost,
                       const Incumbent &best) {
    if (ctx.options.budgetOn != BudgetOn::Peak)
      return false;
    ArrayRef<unsigned> undecided = ArrayRef(order).drop_front(i);
    computeAddedCost(set, undecided);
    double toGo = ctx.costToMeetBound(set, undecided, addedCost, budget);
    return pruneByCost(cost + toGo, best);
  }

  PlanContext &ctx;
  int64_t budget;
  /// Any plan that meets the budget will do, not the least-cost one.
  bool anyPlan;
  /// An evaluated node's HeldPoint, less the budget: it bounds the
  /// node's descendants.
  struct HeldPointBound {
    int64_t excess;
    SmallVector<int64_t> held;
    llvm::BitVector base;
    /// Groups whose recomputation voids the bound (a clone point's).
    llvm::BitVector voids;
  };
  /// Per group, the position in the backward's body of its first use.
  SmallVector<unsigned> firstUse;
  llvm::DenseMap<Operation *, unsigned> positionOf;
  SmallVector<HeldPointBound> heldPoints;
  /// Evaluations give HeldPoints where peaks come from the memory
  /// analysis and the budget is on them.
  bool useHeldPoints =
      !ctx.options.peakModel && ctx.options.budgetOn == BudgetOn::Peak;
  /// What the work limit cut, when it cuts the search.
  const char *where =
      anyPlan ? "the exact search for the lowest peak" : "the exact search";
  SmallVector<unsigned> order;
  /// Each recompute graph op's cost.
  SmallVector<double> opCost;
  /// Per group, the least it adds to the current node's cost.
  SmallVector<double> addedCost;
  bool aborted = false;
  std::map<std::string, Evaluated> evaluated;
};
} // namespace

LogicalResult mlir::remat::detail::runExactSearch(PlanContext &ctx,
                                                  int64_t budget,
                                                  Incumbent &best,
                                                  bool &complete,
                                                  bool anyPlan) {
  ExactSearch search(ctx, budget, anyPlan);
  // Looking for the least-cost plan, the search runs first under cost caps
  // that grow from the least any plan can cost, as if an incumbent of
  // that cost were known: each prunes every node that reaches its cap, so
  // cheap plans are found before the depth-first order wanders into dear
  // ones, and the first plan found under a cap the search completed is
  // the least-cost plan. (Caps below the incumbent's cost only, with seven
  // eighths of the work left; where they do not settle it, the search runs
  // as before from the best plan known, with the evaluations made: the
  // depth-first order finds a plan soon where the caps found none.)
  double floorCost = anyPlan ? 0 : search.rootCostBound();
  if (floorCost > 0 && std::isfinite(floorCost)) {
    bool settled = false;
    LogicalResult capped = ctx.limits.withWorkShare(
        ctx.limits.getWorkLeft() / 8 * 7, [&]() -> LogicalResult {
          // (No plan costs more than recomputing every group: a cap above
          // that admits every plan.)
          double ceiling =
              ctx.objective(llvm::BitVector(ctx.groups.size(), true));
          for (double cap = floorCost * kCostCapGrowth;
               !best.valid || cap < best.cost; cap *= kCostCapGrowth) {
            bool admitsAll = cap > ceiling * (1 + 1e-9);
            // (An incumbent that holds no plan: `recomputed` is empty.)
            Incumbent underCap;
            underCap.cost = cap;
            underCap.valid = true;
            search.restart();
            if (failed(search.run(underCap)))
              return failure();
            bool found = underCap.recomputed.size() == ctx.groups.size();
            if (found)
              best = underCap;
            if (found || !search.complete() || admitsAll) {
              settled = search.complete();
              return success();
            }
          }
          return success();
        });
    if (failed(capped))
      return failure();
    if (settled) {
      complete = true;
      return success();
    }
    search.restart();
  }
  if (failed(search.run(best)))
    return failure();
  complete = search.complete();
  return success();
}

/// Where no plan met the budget: lowers `lowest` (a peak some plan
/// reaches, that of `lowestSaved`) by the exact search (below the budget
/// too, where a search the work limit cut at the budget missed a plan). Two
/// searches take turns, each with the work left shared among the probes left:
/// - the least-cost search at a target halfway between the peak known to
///   be missed and `lowest`. Its cost caps find a plan far below `lowest`
///   where one exists, and it completes where none does, which raises the
///   peak known to be missed. One the work limit cuts is tried again
///   halfway down (a lower target prunes more);
/// - the search for any plan just below `lowest`, where a plan is soon
///   found if there is one. One that completes without a plan proves
///   `lowest`.
/// Returns the highest peak known to be missed: none at or below it, under
/// the search's bounds.
FailureOr<int64_t> mlir::remat::detail::lowerTheFloor(PlanContext &ctx,
                                                      int64_t &lowest,
                                                      ValueSet &lowestSaved,
                                                      std::string &lowestHow) {
  constexpr unsigned kFloorProbes = 8;
  llvm::BitVector all(ctx.groups.size(), true);
  // (At or below the bound with every group recomputed less one byte, no
  // plan meets it.)
  int64_t missed = ctx.lowerBound(all) - 1;
  auto halfway = [&](int64_t above) { return missed + (above - missed) / 2; };
  int64_t at = halfway(lowest);
  for (unsigned probe = 0;
       probe < kFloorProbes && lowest - missed > kAllocationAlignment;
       ++probe) {
    bool anyPlan = probe % 2 == 1;
    int64_t target = anyPlan ? lowest - 1 : at;
    if (target <= missed)
      continue;
    Incumbent found;
    bool complete = false;
    uint64_t share = ctx.limits.getWorkLeft() / (kFloorProbes - probe) + 1;
    if (failed(ctx.limits.withWorkCap(share, [&] {
          return runExactSearch(ctx, target, found, complete, anyPlan);
        })))
      return failure();
    if (found.valid) {
      lowest = found.peak;
      lowestSaved = ctx.savedFor(found.recomputed);
      lowestHow = "a plan the exact search found below " +
                  std::to_string(target + 1) + " bytes";
      at = std::min(at, halfway(lowest));
    } else if (complete) {
      missed = target;
      at = halfway(lowest);
    } else if (!anyPlan) {
      at = halfway(at);
    }
  }
  return missed;
}
