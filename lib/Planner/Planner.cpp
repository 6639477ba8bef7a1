//===- Planner.cpp - choose what to recompute under a memory budget -------===//
//
// A plan is a set of forward values to save; every residual outside it is
// recomputed in the backward from what is saved (recomputeBackwardInputs).
// The fixed schedules of the field (PlanSchedules.cpp) give such sets
// directly. The searching strategies work on candidates: the residuals
// grouped by the buffer they alias (a view and its root are freed together
// or not at all), and price each subset by the ops its recomputation
// clones. Peaks are those of the rewritten function under the memory
// analysis, which is what the CPU run allocates. This file holds one
// search (planOnce): auto's choice among greedy and the layered search
// (PlanLayered.cpp; each pruned, then exchanged), the field's schedules and
// the exact search; PlanVerify.cpp checks its plan on the bufferized
// program. Strategy names and budgets are parsed in PlanOptions.cpp.
//
//===----------------------------------------------------------------------===//

#include "remat/Planner/Planner.h"
#include "PlannerImpl.h"

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <limits>

#define DEBUG_TYPE "remat-rematerialize"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// The layered search looks for layouts up to this multiple of the
/// incumbent's cost: pruning and exchanging its plan's groups (which the
/// incumbent has had) rarely saves more.
static constexpr double kLayeredCostSlack = 1.5;

static std::string costUnit(const PlanOptions &options) {
  return options.cost == PlanCost::Time ? "second" : "FLOP";
}

FailureOr<RematPlan> mlir::remat::detail::planOnce(
    func::FuncOp function, BackwardOp backward, const PlanOptions &options,
    std::optional<Budget> searchBudget, bool checkFixed, SearchLimits &limits,
    RematPlan *infeasible, std::optional<RematPlan> *lowestPlan) {
  RematPlan plan;
  plan.strategy = plan.requestedStrategy = options.strategy;
  if (options.strategy == PlanStrategy::EveryN)
    plan.everyN = options.everyN;
  PlanContext ctx(function, backward, options, limits);
  // (Through the cache: the layered search measures the same plan.)
  FailureOr<int64_t> baseline = ctx.peak(llvm::BitVector(ctx.groups.size()));
  if (failed(baseline))
    return failure();
  // What the budget bounds, without remat: the peak or the activations.
  bool onPeak = options.budgetOn == BudgetOn::Peak;
  plan.baselineActivationBytes = plan.activationBytes =
      ctx.activationBytes(ctx.inputs);
  int64_t unplanned = onPeak ? *baseline : plan.baselineActivationBytes;
  plan.budgetOn = options.budgetOn;
  plan.baselinePeak = plan.predictedPeak = *baseline;
  plan.baselineStepSeconds = ctx.stepSeconds();
  plan.hasBudget = searchBudget.has_value();
  plan.budgetBytes = unplanned;
  if (searchBudget && searchBudget->bytes)
    plan.budgetBytes = *searchBudget->bytes;
  else if (searchBudget)
    plan.budgetBytes = scaleBytes(*searchBudget->fraction, unplanned);
  int64_t budget = plan.budgetBytes;
  // The figures of an infeasible budget: `reached` is the lowest peak (or
  // activations) the strategy reached.
  auto reportInfeasible = [&](int64_t reached) {
    if (!infeasible)
      return;
    *infeasible = plan;
    infeasible->feasible = false;
    infeasible->candidates = ctx.candidates.size();
    infeasible->evaluations = ctx.evaluations;
    (onPeak ? infeasible->predictedPeak : infeasible->activationBytes) =
        reached;
  };
  // `measured` is what the budget bounds, for `saved`. Shared values are
  // recomputed twice as options.recomputeTwice says (already done, into
  // plan.duplicated, when `twiceDone`; `measured` is then the peak).
  auto finish = [&](const ValueSet &saved, int64_t measured,
                    function_ref<std::string(Value, bool)> reason,
                    bool twiceDone = false) -> FailureOr<RematPlan> {
    FailureOr<int64_t> peak = onPeak || twiceDone ? measured : ctx.peak(saved);
    if (failed(peak))
      return failure();
    // (Within the work limit: auto at scale spends it on the search.)
    if (!twiceDone && options.recomputeTwice == RecomputeTwice::Peak)
      peak = recomputeTwice(ctx, saved, *peak, std::nullopt, plan);
    if (failed(peak))
      return failure();
    plan.predictedPeak = *peak;
    plan.candidates = ctx.candidates.size();
    describePlan(ctx, saved, plan, reason);
    plan.evaluations = ctx.evaluations;
    plan.planSeconds = limits.elapsed();
    return plan;
  };
  auto keepAll = [&](StringRef why) {
    return finish(ctx.inputs, *baseline,
                  [&](Value, bool) { return why.str(); });
  };

  PlanStrategy strategy = options.strategy;
  // The fixed schedules (and none): their plan, whatever the budget; a
  // budget is only checked.
  if (strategy == PlanStrategy::None || isFixedSchedule(strategy)) {
    std::string error;
    FailureOr<Schedule> schedule =
        strategy == PlanStrategy::None
            ? FailureOr<Schedule>(
                  Schedule{ctx.inputs,
                           [](Value, bool) {
                             return std::string(
                                 "strategy none keeps autograd's saved set");
                           }})
            : buildSchedule(ctx, strategy, error);
    if (failed(schedule))
      return mlir::emitError(function.getLoc(), error);
    std::string live;
    FailureOr<int64_t> p = ctx.measure(schedule->saved, &live);
    if (failed(p))
      return failure();
    // (Activation bytes do not depend on the peak model: checked now.)
    bool overBudget = (checkFixed || !onPeak) && searchBudget && *p > budget;
    if (overBudget && onPeak &&
        options.recomputeTwice != RecomputeTwice::Never) {
      FailureOr<int64_t> twice =
          recomputeTwice(ctx, schedule->saved, *p, budget, plan);
      if (failed(twice))
        return failure();
      if (*twice <= budget)
        return finish(schedule->saved, *twice, schedule->reason,
                      /*twiceDone=*/true);
      ValueSet duplicated = duplicatedSet(plan);
      p = ctx.peak(schedule->saved, &live, &duplicated);
      if (failed(p))
        return failure();
    }
    if (overBudget) {
      reportInfeasible(*p);
      InFlightDiagnostic diag =
          mlir::emitError(function.getLoc(), "remat: budget of ");
      diag << budget << " bytes is infeasible for strategy "
           << stringifyPlanStrategy(strategy);
      if (onPeak)
        diag << ": its plan peaks at " << *p
             << " bytes (without remat: " << *baseline
             << " bytes); at that peak live: " << live;
      else
        diag << ": its plan saves " << *p
             << " activation bytes (without remat: " << unplanned << ")";
      return diag;
    }
    return finish(schedule->saved, *p, schedule->reason);
  }

  // The searching strategies.
  if (budget >= unplanned)
    return keepAll("the peak without remat already meets the budget");
  if (strategy == PlanStrategy::Exhaustive &&
      ctx.groups.size() > kExhaustiveGroupLimit)
    return mlir::emitError(function.getLoc(),
                           "remat: strategy exhaustive enumerates at most ")
           << kExhaustiveGroupLimit << " candidate groups, found "
           << ctx.groups.size();

  SmallVector<unsigned> order;
  llvm::DenseMap<unsigned, unsigned> rank;
  Incumbent best;
  std::string source;
  // Set when auto chose a fixed schedule.
  std::optional<Schedule> bestSchedule;
  PlanStrategy bestScheduleKind = PlanStrategy::None;
  // The lowest peak seen, for the infeasible-budget error.
  int64_t lowest = std::numeric_limits<int64_t>::max();
  ValueSet lowestSaved;
  std::string lowestHow;
  // Which strategy's plan it is (auto's lowest plan names it).
  PlanStrategy lowestKind =
      strategy == PlanStrategy::Auto ? PlanStrategy::Greedy : strategy;
  unsigned lowestEvery = 0;
  const std::string recomputingAll = "recomputing all " +
                                     std::to_string(ctx.groups.size()) +
                                     " residual groups";
  // Auto: the field's schedules (every-n for every n from 2 to the number
  // of layers; 1 is full), cheapest first.
  struct FieldPlan {
    PlanStrategy kind;
    unsigned every;
    Schedule schedule;
    double cost;
  };
  SmallVector<FieldPlan> field;
  if (strategy == PlanStrategy::Auto) {
    auto add = [&](PlanStrategy kind, unsigned every) {
      std::string error;
      FailureOr<Schedule> schedule = buildSchedule(ctx, kind, error, every);
      if (failed(schedule))
        return; // Not applicable to this function.
      PlanCostSum c = ctx.cost(schedule->saved);
      field.push_back({kind, every, std::move(*schedule),
                       ctx.objective(c.cost, c.seconds)});
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
  // With a budget on activations, auto's plan also peaks no higher than
  // the cheapest schedule that meets that budget (the lowest peak among
  // those of equal cost): it is then at least as good as that schedule on
  // both counts, and recomputes no more than any other that meets it.
  // (`capPlan` is that schedule.)
  std::optional<FieldPlan> capPlan;
  if (strategy == PlanStrategy::Auto && !onPeak) {
    std::optional<int64_t> cap;
    std::optional<double> capCost;
    for (FieldPlan &f : field) {
      if (capCost && f.cost > *capCost * (1 + 1e-12))
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
  }
  if (strategy != PlanStrategy::Exhaustive &&
      strategy != PlanStrategy::Layered) {
    int64_t greedyLowest = 0;
    size_t lowestPrefix = 0;
    FailureOr<Incumbent> greedy =
        planGreedy(ctx, budget, order, greedyLowest, lowestPrefix);
    if (failed(greedy))
      return failure();
    for (auto [i, g] : llvm::enumerate(order))
      rank[g] = i + 1;
    lowest = greedyLowest;
    lowestSaved = ctx.savedFor(prefixSet(ctx, order, lowestPrefix));
    lowestHow = lowestPrefix == order.size()
                    ? recomputingAll
                    : "recomputing the first " + std::to_string(lowestPrefix) +
                          " of " + std::to_string(order.size()) +
                          " residual groups of the greedy ranking";
    if (greedy->valid) {
      best = *greedy;
      source = "greedy";
    }
  }
  bool searching =
      strategy == PlanStrategy::Auto || strategy == PlanStrategy::Optimal;
  // A searched plan has its groups pruned, then exchanged (counting the
  // exchanges that lowered its cost).
  auto improve = [&](Incumbent &candidate, StringRef pruning,
                     unsigned &exchanged) -> LogicalResult {
    if (!searching || !candidate.valid)
      return success();
    if (failed(pruneGreedy(ctx, budget, order, candidate, pruning)))
      return failure();
    return exchangeGroups(ctx, budget, order, candidate, exchanged);
  };
  unsigned exchanges = 0;
  if (failed(improve(best, "pruning the greedy plan", exchanges)))
    return failure();
  // The layered search (auto prunes its plan and exchanges its groups like
  // the greedy plan's). Auto runs it where the exact search does not run:
  // where it does, the work is the exact search's.
  std::optional<LayeredPlan> layered;
  if ((strategy == PlanStrategy::Auto &&
       ctx.groups.size() > options.exactCandidateLimit) ||
      strategy == PlanStrategy::Layered) {
    int64_t layeredLowest = lowest;
    llvm::BitVector layeredLowestPlan;
    FailureOr<LayeredPlan> l =
        planLayered(ctx, budget, layeredLowest, layeredLowestPlan,
                    best.valid ? best.cost * kLayeredCostSlack
                               : std::numeric_limits<double>::infinity());
    if (failed(l))
      return failure();
    if (strategy == PlanStrategy::Layered && !l->hasChain)
      return mlir::emitError(function.getLoc(),
                             "remat: strategy layered needs layers: at "
                             "least two with the same ops, named by location "
                             "(such as 'blocks.0.attn.mm') or found as a "
                             "repeated op sequence");
    if (layeredLowest < lowest) {
      lowest = layeredLowest;
      lowestSaved = ctx.savedFor(layeredLowestPlan);
      lowestHow = "with a plan of the layered search";
      lowestKind = PlanStrategy::Layered;
    }
    unsigned layeredExchanges = 0;
    if (failed(improve(l->plan, "pruning the layered plan", layeredExchanges)))
      return failure();
    if (l->plan.valid &&
        (!best.valid || l->plan.cost < best.cost * (1 - 1e-12))) {
      best = l->plan;
      exchanges = layeredExchanges;
      source = "layered search";
      layered = std::move(*l);
    }
    if (strategy == PlanStrategy::Layered && !best.valid &&
        lowest == std::numeric_limits<int64_t>::max()) {
      lowestSaved = ctx.savedFor(llvm::BitVector(ctx.groups.size(), true));
      lowestHow = recomputingAll;
    }
  }
  // Auto: the field's schedules are incumbents too (every-n for every n
  // from 2 to the number of layers; 1 is full), so none of them beats auto
  // at its own peak. Their costs need no peak: peaks are evaluated cheapest
  // schedule first, only while one could still beat the incumbent, and all
  // of them (for the lowest peak) when none meets the budget.
  unsigned bestEveryN = 0;
  // The cheapest schedule that meets the budget, in `field`.
  std::optional<size_t> winner;
  if (strategy == PlanStrategy::Auto) {
    for (auto [index, f] : llvm::enumerate(field)) {
      // (Sorted by cost: no later schedule can beat the incumbent either.)
      if (best.valid && f.cost >= best.cost * (1 - 1e-12))
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
  }
  // A schedule that won is pruned like the greedy plan: each group it
  // recomputes is saved again where the budget allows, the greedy
  // ranking's last first. (A schedule's plan has bytes to spare below the
  // budget whenever it is not the budget's own schedule.) The pruned plan
  // becomes the incumbent when it costs less.
  std::optional<PlanStrategy> prunedFrom;
  unsigned prunedEveryN = 0;
  auto pruneSchedule = [&](const llvm::BitVector &recomputed, PlanStrategy kind,
                           unsigned every, StringRef where) -> LogicalResult {
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
    if (pruned.cost >= best.cost * (1 - 1e-12))
      return success();
    best = pruned;
    prunedFrom = kind;
    prunedEveryN = every;
    source = "the " + describePlanStrategy(kind, every) +
             " schedule with the groups the budget allows saved again";
    bestSchedule.reset();
    return success();
  };
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
  if (strategy == PlanStrategy::Auto &&
      ctx.groups.size() > options.exactCandidateLimit) {
    plan.searchComplete = false;
    plan.searchNote =
        "auto ran no exact search: " + std::to_string(ctx.groups.size()) +
        " candidate groups, above exact-limit=" +
        std::to_string(options.exactCandidateLimit);
  }
  if (strategy == PlanStrategy::Optimal ||
      (strategy == PlanStrategy::Auto &&
       ctx.groups.size() <= options.exactCandidateLimit)) {
    Incumbent exact = best;
    bool complete = false;
    if (failed(runExactSearch(ctx, budget, exact, complete)))
      return failure();
    if (exact.valid && (!best.valid || exact.cost < best.cost * (1 - 1e-12))) {
      best = exact;
      bestSchedule.reset();
      source = "exact search";
    }
    plan.provenOptimal = complete && best.valid;
  }
  if (strategy == PlanStrategy::Exhaustive) {
    bool complete = true;
    FailureOr<Incumbent> exhaustive = planExhaustive(ctx, budget, complete);
    if (failed(exhaustive))
      return failure();
    if (exhaustive->valid) {
      best = *exhaustive;
      source = "exhaustive";
      plan.provenOptimal = complete;
    } else {
      llvm::BitVector all(ctx.groups.size(), true);
      lowestSaved = ctx.savedFor(all);
      lowestHow = recomputingAll + "; no subset meets the budget";
    }
  }
  // The lowest peak the error reports is lowered by the exact search
  // where it ran (with a work limit of its own: what the search spent
  // before does not change the floor it reports, and the checks after it
  // keep theirs).
  bool exactRan = strategy == PlanStrategy::Optimal ||
                  (strategy == PlanStrategy::Auto &&
                   ctx.groups.size() <= options.exactCandidateLimit);
  // (What the search for a lower peak found, for the error.)
  std::string floorNote;
  if (!best.valid && onPeak && exactRan && infeasible &&
      lowest != std::numeric_limits<int64_t>::max()) {
    bool cut = false;
    int64_t before = lowest;
    FailureOr<bool> proven = limits.withOwnWork(cut, [&] {
      return lowerTheFloor(ctx, budget, lowest, lowestSaved, lowestHow);
    });
    if (failed(proven))
      return failure();
    if (lowest < before && strategy == PlanStrategy::Auto) {
      lowestKind = PlanStrategy::Optimal;
      lowestEvery = 0;
    }
    floorNote = *proven ? "; none lower: the exact search completed"
                : cut   ? "; a limit cut the search for a lower one"
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
  }
  if (!best.valid) {
    std::string live;
    FailureOr<int64_t> p = ctx.measure(lowestSaved, &live);
    if (failed(p))
      return failure();
    // The lowest-peak plan, or recomputing everything, may meet the budget
    // with shared values recomputed once per residual; with few groups,
    // the searches (and the reference) also try every subset that way and
    // take the cheaper.
    if (onPeak && options.recomputeTwice != RecomputeTwice::Never) {
      std::string prefix = strategy == PlanStrategy::Auto ? "auto: " : "";
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
        if (*twice && (!met || (*twice)->cost < met->cost * (1 - 1e-12))) {
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
      std::string prefix = strategy == PlanStrategy::Auto ? "auto: " : "";
      FailureOr<RematPlan> whole = finish(
          lowestSaved, *p,
          [&](Value, bool recompute) {
            return prefix + (recompute ? "recomputed" : "saved") +
                   " in the lowest-peak plan found (" + lowestHow +
                   "), which meets the budget on the bufferized program "
                   "only";
          },
          /*twiceDone=*/true);
      if (failed(whole))
        return failure();
      *lowestPlan = std::move(*whole);
    }
    return error;
  }

  // The peak cap compares peaks before second recomputes; the plan's final
  // peak (after them) must not be above the cap schedule's final peak
  // either, or auto returns that schedule. (Both are computed once, and
  // kept.)
  std::optional<int64_t> twicePeak;
  if (capPlan && !bestSchedule &&
      options.recomputeTwice == RecomputeTwice::Peak) {
    auto finalPeak = [&](const ValueSet &saved,
                         RematPlan &into) -> FailureOr<int64_t> {
      FailureOr<int64_t> p = ctx.peak(saved);
      if (failed(p))
        return failure();
      return recomputeTwice(ctx, saved, *p, std::nullopt, into);
    };
    RematPlan ourTwice, theirTwice;
    FailureOr<int64_t> ours =
        finalPeak(ctx.savedFor(best.recomputed), ourTwice);
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
  }
  std::string unit = costUnit(options);
  if (bestSchedule) {
    plan.strategy = bestScheduleKind;
    plan.everyN = bestEveryN;
    return finish(
        bestSchedule->saved, twicePeak ? *twicePeak : best.peak,
        [&](Value v, bool recompute) {
          return "auto: the " + source +
                 " schedule is the cheapest plan found that meets the "
                 "budget; " +
                 bestSchedule->reason(v, recompute);
        },
        twicePeak.has_value());
  }
  if (strategy == PlanStrategy::Auto)
    plan.strategy = source == "greedy"           ? PlanStrategy::Greedy
                    : source == "exact search"   ? PlanStrategy::Optimal
                    : source == "layered search" ? PlanStrategy::Layered
                    : prunedFrom                 ? *prunedFrom
                                                 : PlanStrategy::Optimal;
  if (layered && source == "layered search")
    plan.layout = layered->summary;
  if (strategy == PlanStrategy::Auto && prunedFrom &&
      plan.strategy == PlanStrategy::EveryN)
    plan.everyN = prunedEveryN;
  ValueSet saved = ctx.savedFor(best.recomputed);
  std::string prefix = strategy == PlanStrategy::Auto ? "auto: " : "";
  auto explain = [&](Value v, bool recompute) -> std::string {
    unsigned g = ctx.groupOf.lookup(v);
    if (source == "layered search") {
      Operation *def = ctx.groups[g].root.getDefiningOp();
      int layer = def ? ctx.getLayers().layerOf.lookup(def) : -1;
      auto it = layered->layerReason.find(layer);
      std::string where = it != layered->layerReason.end()
                              ? it->second
                              : "outside the chain of layers";
      bool planned = layered->planned.test(g);
      std::string why =
          recompute == planned
              ? (recompute ? "the layout recomputes it" : "the layout saves it")
          : recompute ? "recomputed by an exchange for saved groups"
                      : "the layout recomputes it, but the budget allows "
                        "saving it";
      return prefix + "layered search: " + where + "; " + why;
    }
    if (source == "greedy" && exchanges && !plan.provenOptimal)
      return prefix + (recompute ? "recomputed" : "saved") +
             " in the greedy plan after " + std::to_string(exchanges) +
             " exchange" + (exchanges == 1 ? "" : "s") +
             " of recomputed groups for saved ones, each lowering its "
             "recompute " +
             unit + "s within the budget";
    if (source == "greedy" && !plan.provenOptimal) {
      if (recompute)
        return prefix + "rank " + std::to_string(rank.lookup(g)) +
               " by bytes per recompute " + unit + " among the saved residuals";
      if (rank.lookup(g) == 0)
        return prefix + "frees no bytes";
      return prefix + "rank " + std::to_string(rank.lookup(g)) +
             ": the budget is met without it";
    }
    std::string what =
        plan.provenOptimal
            ? " of the least-cost plan meeting the budget (proven: the "
              "branch and bound completed)"
            : " of the least-cost plan found before a limit cut the search";
    if (source == "search for the lowest peak")
      what = " of a plan the search for the lowest peak found below the "
             "budget (the search at the budget was cut before it found one; "
             "not the least-cost plan)";
    if (source == "exhaustive")
      what = plan.provenOptimal ? " of the least-cost plan meeting the budget "
                                  "(every subset tried)"
                                : " of the least-cost plan among the subsets "
                                  "enumerated before the time limit";
    if (prunedFrom && !plan.provenOptimal)
      what = " of " + source +
             ", the cheapest plan found that meets the budget (auto's search "
             "is not exact here)";
    if (source == "greedy")
      what += "; the greedy ranking found it first (rank " +
              std::to_string(rank.lookup(g)) + ")";
    return prefix + (recompute ? "recomputed as part" : "saved as part") + what;
  };
  return finish(saved, twicePeak ? *twicePeak : best.peak, explain,
                twicePeak.has_value());
}
