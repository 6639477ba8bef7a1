//===- PlanField.cpp - auto's field of schedules as incumbents ------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// auto is never beaten by one of the field's schedules (selective, mincut,
/// full, sqrt, and every-n for every n from 2 to the number of layers): each
/// is an incumbent at its own cost, its peak evaluated only while it could
/// beat the search's plan; the cheapest that meets the budget, and the
/// dearer ones that do, are pruned like greedy's plan. With a budget on
/// activations, auto's peak is capped at that of the cheapest schedule that
/// meets it.
///
//===----------------------------------------------------------------------===//

#include "PlanRun.h"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

void PlanRun::buildField() {
  auto add = [&](PlanStrategy kind, unsigned every) {
    std::string error;
    FailureOr<Schedule> schedule = buildSchedule(ctx, kind, error, every);
    if (failed(schedule))
      return; // Not applicable to this function.
    PlanCostSum c = ctx.cost(schedule->saved);
    field.push_back(
        {kind, every, std::move(*schedule), ctx.objective(c.cost, c.seconds)});
  };
  for (PlanStrategy kind : {PlanStrategy::Selective, PlanStrategy::MinCut,
                            PlanStrategy::Full, PlanStrategy::Sqrt})
    add(kind, 0);
  unsigned layers = ctx.getLayers().names.size();
  for (unsigned n = 2; n <= layers; ++n)
    add(PlanStrategy::EveryN, n);
  llvm::stable_sort(field, [](const FieldPlan &a, const FieldPlan &b) {
    return a.cost < b.cost;
  });
}

LogicalResult PlanRun::capByField() {
  // auto's plan also peaks no higher than the cheapest schedule that meets
  // the budget on activations (the lowest peak among those of equal cost):
  // it is then at least as good as that schedule on both counts, and
  // recomputes no more than any other that meets it.
  std::optional<int64_t> cap;
  std::optional<double> capCost;
  for (FieldPlan &f : field) {
    if (capCost && f.cost > *capCost * (1 + kCostTolerance))
      break;
    if (ctx.activationBytes(f.schedule.saved) > budget)
      continue;
    FailureOr<int64_t> p = ctx.peak(f.schedule.saved);
    if (failed(p))
      return failure();
    capCost = f.cost;
    if (!cap || *p < *cap)
      capPlan = f;
    cap = cap ? std::min(*cap, *p) : *p;
  }
  if (cap)
    ctx.setPeakCap(budget, *cap);
  return success();
}

LogicalResult PlanRun::offerField() {
  // Their costs need no peak: peaks are evaluated cheapest schedule first,
  // only while one could still beat the incumbent, and all of them (for
  // the lowest peak) when none meets the budget.
  // The cheapest schedule that meets the budget, in `field`.
  std::optional<size_t> winner;
  for (auto [index, f] : llvm::enumerate(field)) {
    // (Sorted by cost: no later schedule can beat the incumbent either.)
    if (best.valid && !isCheaper(f.cost, best.cost))
      break;
    // (A schedule whose lower bound can neither meet the budget nor
    // lower the lowest peak seen needs no evaluation.)
    int64_t bound = ctx.lowerBound(ctx.recomputedFor(f.schedule.saved));
    if (bound > budget && bound >= lowest)
      continue;
    FailureOr<int64_t> p = ctx.measure(f.schedule.saved);
    if (failed(p))
      return failure();
    std::string name = describePlanStrategy(f.kind, f.every);
    if (*p < lowest) {
      lowest = *p;
      lowestSaved = f.schedule.saved;
      lowestHow = "with the " + name + " schedule";
      lowestKind = f.kind;
      lowestEvery = f.every;
    }
    if (*p > budget)
      continue;
    bestSchedule = std::move(f.schedule);
    winner = index;
    bestScheduleKind = f.kind;
    bestEveryN = f.every;
    best.peak = *p;
    best.cost = f.cost;
    best.valid = true;
    source = name;
    break;
  }
  // A schedule that won is pruned like the greedy plan: each group it
  // recomputes is saved again where the budget allows, the greedy
  // ranking's last first. (A schedule's plan has bytes to spare below the
  // budget whenever it is not the budget's own schedule.)
  if (bestSchedule && !order.empty() &&
      failed(pruneSchedule(ctx.recomputedFor(bestSchedule->saved),
                           bestScheduleKind, bestEveryN,
                           "pruning the cheapest schedule")))
    return failure();
  // The dearer schedules that meet the budget are pruned too (optional
  // work): one can prune to a cheaper plan than the cheapest schedule does.
  for (size_t i = winner ? *winner + 1 : field.size();
       !order.empty() && i < field.size(); ++i) {
    FieldPlan &f = field[i];
    llvm::BitVector recomputed = ctx.recomputedFor(f.schedule.saved);
    if (ctx.lowerBound(recomputed) > budget)
      continue;
    if (!ctx.spendEvaluation("pruning the dearer schedules"))
      break;
    if (failed(pruneSchedule(recomputed, f.kind, f.every,
                             "pruning the dearer schedules")))
      return failure();
  }
  return success();
}

LogicalResult PlanRun::pruneSchedule(const llvm::BitVector &recomputed,
                                     PlanStrategy kind, unsigned every,
                                     StringRef where) {
  FailureOr<int64_t> p = ctx.measure(recomputed);
  if (failed(p))
    return failure();
  if (*p > budget)
    return success();
  Incumbent pruned;
  pruned.recomputed = recomputed;
  pruned.peak = *p;
  pruned.cost = ctx.objective(recomputed);
  pruned.valid = true;
  if (failed(pruneGreedy(ctx, budget, order, pruned, where)))
    return failure();
  if (!isCheaper(pruned.cost, best.cost))
    return success();
  best = pruned;
  prunedFrom = kind;
  prunedEveryN = every;
  source = "the " + describePlanStrategy(kind, every) +
           " schedule with the groups the budget allows saved again";
  bestSchedule.reset();
  return success();
}

LogicalResult PlanRun::capTwicePeak() {
  // The peak cap compares peaks before second recomputes; the plan's final
  // peak (after them) must not be above the cap schedule's final peak
  // either, or auto returns that schedule. (Both are computed once, and
  // kept.)
  if (!capPlan || bestSchedule ||
      options.recomputeTwice != RecomputeTwice::Peak)
    return success();
  auto finalPeak = [&](const ValueSet &saved,
                       RematPlan &into) -> FailureOr<int64_t> {
    FailureOr<int64_t> p = ctx.peak(saved);
    if (failed(p))
      return failure();
    return recomputeTwice(ctx, saved, *p, std::nullopt, into);
  };
  RematPlan ourTwice, theirTwice;
  FailureOr<int64_t> ours = finalPeak(ctx.savedFor(best.recomputed), ourTwice);
  if (failed(ours))
    return failure();
  // (As the schedule's own planning would: with the whole work limit.)
  FailureOr<int64_t> theirs = limits.withFreshWork(
      [&] { return finalPeak(capPlan->schedule.saved, theirTwice); });
  if (failed(theirs))
    return failure();
  if (*ours > *theirs) {
    bestSchedule = capPlan->schedule;
    bestScheduleKind = capPlan->kind;
    bestEveryN = capPlan->every;
    source = describePlanStrategy(capPlan->kind, capPlan->every);
    plan.duplicated = std::move(theirTwice.duplicated);
    twicePeak = *theirs;
  } else {
    plan.duplicated = std::move(ourTwice.duplicated);
    twicePeak = *ours;
  }
  return success();
}
