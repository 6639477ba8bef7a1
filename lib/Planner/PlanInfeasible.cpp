//===- PlanInfeasible.cpp - a budget no plan meets ------------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// When no plan of the search meets the budget: the lowest peak seen is
/// lowered by the exact search where it ran (lowerTheFloor, PlanExact.cpp),
/// shared values are recomputed once per residual where that meets the
/// budget, and otherwise the error gives the lowest peak, how it was
/// reached and what is live there; the lowest plan goes to the checks on
/// the bufferized program (PlanVerify.cpp). docs/Design.md, "the infeasible
/// floor", explains it.
///
//===----------------------------------------------------------------------===//

#include "PlanRun.h"

#include "remat/Analysis/MemoryAnalysis.h"

#include <optional>

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// Lowers `lowest` from its plan by descent: each step recomputes or
/// saves the one group that lowers the peak most or, where none does,
/// exchanges a recomputed group for a saved one; it stops where nothing
/// lowers it or the work limit cuts it. (The exact search finds plans
/// below a target in its own order, and often misses one a step away from
/// the lowest.) Returns the number of steps taken.
static FailureOr<unsigned> descendFromLowest(PlanContext &ctx, int64_t &lowest,
                                             ValueSet &lowestSaved) {
  constexpr const char *where = "the descent from the lowest peak";
  llvm::BitVector current = ctx.recomputedFor(lowestSaved);
  unsigned groups = current.size(), steps = 0;
  // Evaluates `trial` where its bound allows it to peak below `below`;
  // false where the work limit ends the descent.
  auto tryTrial = [&](const llvm::BitVector &trial, int64_t &below,
                      bool &better) -> FailureOr<bool> {
    better = false;
    if (ctx.lowerBound(trial) >= below)
      return true;
    if (!ctx.spendEvaluation(where))
      return false;
    FailureOr<int64_t> p = ctx.peak(trial);
    if (failed(p))
      return failure();
    if (*p < below) {
      below = *p;
      better = true;
    }
    return true;
  };
  while (true) {
    int64_t below = lowest;
    std::optional<llvm::BitVector> next;
    bool better = false;
    for (unsigned g = 0; g < groups; ++g) {
      llvm::BitVector trial = current;
      trial.flip(g);
      FailureOr<bool> go = tryTrial(trial, below, better);
      if (failed(go))
        return failure();
      if (!*go)
        break;
      if (better)
        next = std::move(trial);
    }
    for (unsigned g = 0; !next && g < groups; ++g) {
      if (!current.test(g))
        continue;
      bool go = true;
      for (unsigned h = 0; go && h < groups; ++h) {
        if (current.test(h))
          continue;
        llvm::BitVector trial = current;
        trial.reset(g);
        trial.set(h);
        FailureOr<bool> result = tryTrial(trial, below, better);
        if (failed(result))
          return failure();
        go = *result;
        if (better)
          next = std::move(trial);
      }
      if (!go)
        break;
    }
    if (!next)
      break;
    current = std::move(*next);
    lowest = below;
    lowestSaved = ctx.savedFor(current);
    ++steps;
  }
  return steps;
}

LogicalResult PlanRun::lowerFloor() {
  // The lowest peak the error reports is lowered by the exact search
  // where it ran, then by descent from its plan (with a work limit of its
  // own: what the search spent before does not change the floor it
  // reports, and the checks after it keep theirs; the exact search has
  // three quarters of it).
  if (best.valid || !onPeak || !exactRuns() || !infeasible ||
      lowest == std::numeric_limits<int64_t>::max())
    return success();
  bool cut = false;
  int64_t before = lowest;
  int64_t missed = 0;
  LogicalResult lowered = limits.withOwnWork(cut, [&]() -> LogicalResult {
    FailureOr<int64_t> m =
        limits.withWorkCap(limits.getWorkLimit() / 4 * 3, [&] {
          return lowerTheFloor(ctx, lowest, lowestSaved, lowestHow);
        });
    if (failed(m))
      return failure();
    missed = *m;
    if (lowest - missed <= kAllocationAlignment)
      return success();
    FailureOr<unsigned> steps = descendFromLowest(ctx, lowest, lowestSaved);
    if (failed(steps))
      return failure();
    if (*steps)
      lowestHow += ", lowered in " + std::to_string(*steps) +
                   (*steps == 1 ? " step" : " steps") +
                   " that each recompute or save a group or exchange two";
    return success();
  });
  if (failed(lowered))
    return failure();
  bool proven = lowest - missed <= kAllocationAlignment;
  if (lowest < before && strategy == PlanStrategy::Auto) {
    lowestKind = PlanStrategy::Optimal;
    lowestEvery = 0;
  }
  floorNote = proven ? "; none lower: the exact search completed"
              : cut  ? "; a limit cut the search for a lower one"
                     : "";
  // (It looks below the budget too: a search the work limit cut at the
  // budget can miss a plan that one at a lower target finds.)
  if (lowest <= budget) {
    best.recomputed = ctx.recomputedFor(lowestSaved);
    best.peak = lowest;
    best.cost = ctx.objective(best.recomputed);
    best.valid = true;
    source = "search for the lowest peak";
  }
  return success();
}

FailureOr<RematPlan> PlanRun::failWithLowest() {
  std::string live;
  FailureOr<int64_t> p = ctx.measure(lowestSaved, &live);
  if (failed(p))
    return failure();
  std::string prefix = strategy == PlanStrategy::Auto ? "auto: " : "";
  // The lowest-peak plan, or recomputing everything, may meet the budget
  // with shared values recomputed once per residual; with few groups, the
  // searches (and the reference) also try every subset that way and take
  // the cheaper.
  if (onPeak && options.recomputeTwice != RecomputeTwice::Never) {
    std::pair<ValueSet, std::string> bases[] = {
        {lowestSaved, lowestHow},
        {ctx.savedFor(llvm::BitVector(ctx.groups.size(), true)),
         recomputingAll}};
    // The base with the lowest peak reached, and its second recomputes.
    std::optional<std::pair<unsigned, int64_t>> lowestTwice;
    SmallVector<PlanDuplicate> lowestDuplicated;
    // The first base that meets the budget that way.
    std::optional<TwicePlan> met;
    std::string metHow;
    for (auto [i, base] : llvm::enumerate(bases)) {
      FailureOr<int64_t> p0 = ctx.peak(base.first);
      if (failed(p0))
        return failure();
      FailureOr<int64_t> twice =
          recomputeTwice(ctx, base.first, *p0, budget, plan);
      if (failed(twice))
        return failure();
      if (*twice <= budget) {
        ValueSet duplicated = duplicatedSet(plan);
        PlanCostSum sum = ctx.cost(base.first, &duplicated);
        met = TwicePlan{base.first, *twice, plan.duplicated,
                        ctx.objective(sum.cost, sum.seconds)};
        metHow = "in the plan " + base.second +
                 ", which meets the budget only with shared values "
                 "recomputed once per residual";
        break;
      }
      if (!plan.duplicated.empty() && *twice < *p &&
          (!lowestTwice || *twice < lowestTwice->second)) {
        lowestTwice = {static_cast<unsigned>(i), *twice};
        lowestDuplicated = plan.duplicated;
      }
    }
    // (The reference enumerates them bounded by time only.)
    bool reference = strategy == PlanStrategy::Exhaustive;
    if (reference || ((strategy == PlanStrategy::Optimal ||
                       strategy == PlanStrategy::Auto) &&
                      ctx.groups.size() <= kTwiceEnumerationGroupLimit)) {
      // (With a work limit of its own, as a planning of its own would
      // have: what the search spent before does not change its result.)
      bool twiceComplete = true;
      FailureOr<std::optional<TwicePlan>> twice = limits.withFreshWork([&] {
        return planExhaustiveTwice(ctx, budget, /*searched=*/!reference,
                                   twiceComplete);
      });
      if (failed(twice))
        return failure();
      if (*twice && (!met || isCheaper((*twice)->cost, met->cost))) {
        met = std::move(**twice);
        metHow = "in the least-cost plan found that meets the budget with "
                 "shared values recomputed once per residual (no subset "
                 "meets it without; every subset tried" +
                 std::string(twiceComplete ? ""
                             : reference   ? " until the time limit"
                                           : " until the work limit") +
                 ")";
      }
    }
    if (met) {
      plan.duplicated = std::move(met->duplicated);
      return finish(
          met->saved, met->peak,
          [&](Value, bool recompute) {
            return prefix + (recompute ? "recomputed " : "saved ") + metHow;
          },
          /*twiceDone=*/true);
    }
    if (lowestTwice) {
      auto &[base, how] = bases[lowestTwice->first];
      plan.duplicated = std::move(lowestDuplicated);
      ValueSet duplicated = duplicatedSet(plan);
      p = ctx.peak(base, &live, &duplicated);
      if (failed(p))
        return failure();
      lowestHow = how + ", with " + std::to_string(plan.duplicated.size()) +
                  " shared values recomputed once per residual";
    } else {
      // (What the last base tried did not lower the peak.)
      plan.duplicated.clear();
    }
  }
  // (A lower peak with second recomputes is not the search's.)
  if (plan.duplicated.empty())
    lowestHow += floorNote;
  reportInfeasible(std::min(*p, unplanned));
  LogicalResult error =
      emitInfeasible(ctx, budget, unplanned, stringifyPlanStrategy(strategy),
                     *p, lowestHow, live);
  if (lowestPlan && onPeak && *p < unplanned) {
    plan.strategy = lowestKind;
    if (lowestKind == PlanStrategy::EveryN)
      plan.everyN = lowestEvery;
    FailureOr<RematPlan> whole = finish(
        lowestSaved, *p,
        [&](Value, bool recompute) {
          return prefix + (recompute ? "recomputed" : "saved") +
                 " in the lowest-peak plan found (" + lowestHow +
                 "), which meets the budget on the bufferized program only";
        },
        /*twiceDone=*/true);
    if (failed(whole))
      return failure();
    *lowestPlan = std::move(*whole);
  }
  return error;
}
