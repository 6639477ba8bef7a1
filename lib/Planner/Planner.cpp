//===- Planner.cpp - choose what to recompute under a memory budget -------===//
//
// A plan is a set of forward values to save; every residual outside it is
// recomputed in the backward from what is saved (recomputeBackwardInputs).
// The fixed schedules of the field (PlanSchedules.cpp) give such sets
// directly. The searching strategies work on candidates: the residuals
// grouped by the buffer they alias (a view and its root are freed together
// or not at all), and price each subset by the ops its recomputation
// clones. Peaks are those of the rewritten function under the memory
// analysis, which is what the CPU run allocates. This file holds the order
// of one search (planOnce, PlanRun.h): auto's choice among greedy and the
// layered search (PlanLayered.cpp; each pruned, then exchanged), the
// field's schedules (PlanField.cpp) and the exact search (PlanExact.cpp);
// a budget no plan meets is reported by PlanInfeasible.cpp, and
// PlanVerify.cpp checks the plan on the bufferized program. Strategy names
// and budgets are parsed in PlanOptions.cpp.
//
//===----------------------------------------------------------------------===//

#include "remat/Planner/Planner.h"
#include "CheckAhead.h"
#include "PlanRun.h"

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

FailureOr<RematPlan> mlir::remat::detail::planOnce(
    func::FuncOp function, BackwardOp backward, const PlanOptions &options,
    std::optional<Budget> searchBudget, bool checkFixed, SearchLimits &limits,
    RematPlan *infeasible, std::optional<RematPlan> *lowestPlan,
    CheckAhead *checkAhead) {
  PlanRun run(function, backward, options, searchBudget, checkFixed, limits,
              infeasible, lowestPlan, checkAhead);
  return run.run();
}

void PlanRun::reportInfeasible(int64_t reached) {
  if (!infeasible)
    return;
  *infeasible = plan;
  infeasible->feasible = false;
  infeasible->candidates = ctx.candidates.size();
  infeasible->evaluations = ctx.evaluations;
  (onPeak ? infeasible->predictedPeak : infeasible->activationBytes) = reached;
}

FailureOr<RematPlan>
PlanRun::finish(const ValueSet &saved, int64_t measured,
                function_ref<std::string(Value, bool)> reason, bool twiceDone) {
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
}

FailureOr<RematPlan> PlanRun::run() {
  plan.strategy = plan.requestedStrategy = options.strategy;
  if (options.strategy == PlanStrategy::EveryN)
    plan.everyN = options.everyN;
  // (The step is analyzed in place while the search's copies of it are
  // made; memoized, as the layered search measures it again.)
  ctx.startCopies();
  FailureOr<int64_t> unplannedPeak =
      ctx.peak(llvm::BitVector(ctx.groups.size()));
  if (failed(unplannedPeak))
    return failure();
  baseline = *unplannedPeak;
  // What the budget bounds, without remat: the peak or the activations.
  onPeak = options.budgetOn == BudgetOn::Peak;
  plan.baselineActivationBytes = plan.activationBytes =
      ctx.activationBytes(ctx.inputs);
  unplanned = onPeak ? baseline : plan.baselineActivationBytes;
  plan.budgetOn = options.budgetOn;
  plan.baselinePeak = plan.predictedPeak = baseline;
  plan.baselineStepSeconds = ctx.stepSeconds();
  plan.hasBudget = searchBudget.has_value();
  plan.budgetBytes = unplanned;
  if (searchBudget && searchBudget->bytes)
    plan.budgetBytes = *searchBudget->bytes;
  else if (searchBudget)
    plan.budgetBytes = scaleBytes(*searchBudget->fraction, unplanned);
  budget = plan.budgetBytes;

  if (strategy == PlanStrategy::None || isFixedSchedule(strategy))
    return planFixed();

  // The searching strategies.
  if (budget >= unplanned)
    return finish(ctx.inputs, baseline, [&](Value, bool) {
      return std::string("the peak without remat already meets the budget");
    });
  if (strategy == PlanStrategy::Exhaustive &&
      ctx.groups.size() > kExhaustiveGroupLimit)
    return mlir::emitError(function.getLoc(),
                           "remat: strategy exhaustive enumerates at most ")
           << kExhaustiveGroupLimit << " candidate groups, found "
           << ctx.groups.size();
  // The check's thread starts now. Where the search has no spare copy of
  // the step to hand it later, it copies the step at once, while greedy's
  // search leaves the second core idle.
  if (checkAhead)
    checkAhead->prepare(/*copyNow=*/!ctx.hasSpareCopy());
  lowestKind = strategy == PlanStrategy::Auto ? PlanStrategy::Greedy : strategy;
  recomputingAll = "recomputing all " + std::to_string(ctx.groups.size()) +
                   " residual groups";
  // On activations, the field's schedules cap the search; on the peak,
  // they are offered after it (and built after the check below starts).
  if (strategy == PlanStrategy::Auto && !onPeak) {
    buildField();
    if (failed(capByField()))
      return failure();
  }
  // The layered search's chain and menu need no copy of the step: built
  // first, they overlap the copy greedy's first evaluation waits for. Its
  // first dynamic program then runs beside greedy's search.
  if (layeredRuns())
    layeredStart = startLayered(ctx, budget);
  if (strategy != PlanStrategy::Exhaustive &&
      strategy != PlanStrategy::Layered && failed(runGreedy()))
    return failure();
  // The layered search is bounded by greedy's cost before pruning (which
  // lowers it rarely and little).
  if (layeredRuns() && failed(searchLayered()))
    return failure();
  // The bufferized check of the plan most likely returned starts beside
  // the rest of the search: the layered plan where it already costs less
  // than greedy's (pruning it is most often cut on a deep model, where
  // the check is long), otherwise greedy's once pruned.
  bool layeredLeads = found && found->plan.valid &&
                      (!best.valid || found->plan.cost < best.cost);
  if (checkAhead && layeredLeads)
    startCheck(found->plan);
  if (failed(improve(best, "pruning the greedy plan", exchanges)))
    return failure();
  if (checkAhead && best.valid && !layeredLeads)
    startCheck(best);
  if (failed(adoptLayered()))
    return failure();
  if (strategy == PlanStrategy::Auto && onPeak)
    buildField();
  if (strategy == PlanStrategy::Auto && failed(offerField()))
    return failure();
  if (failed(runExact()))
    return failure();
  if (failed(lowerFloor()))
    return failure();
  if (!best.valid)
    return failWithLowest();
  if (failed(capTwicePeak()))
    return failure();
  return finishBest();
}

FailureOr<RematPlan> PlanRun::planFixed() {
  std::string error;
  FailureOr<Schedule> schedule =
      strategy == PlanStrategy::None
          ? FailureOr<Schedule>(Schedule{ctx.inputs,
                                         [](Value, bool) {
                                           return std::string(
                                               "strategy none keeps "
                                               "autograd's saved set");
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
  if (overBudget && onPeak && options.recomputeTwice != RecomputeTwice::Never) {
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
           << " bytes (without remat: " << baseline
           << " bytes); at that peak live: " << live;
    else
      diag << ": its plan saves " << *p
           << " activation bytes (without remat: " << unplanned << ")";
    return diag;
  }
  return finish(schedule->saved, *p, schedule->reason);
}

LogicalResult PlanRun::runGreedy() {
  int64_t greedyLowest = 0;
  size_t lowestPrefix = 0;
  // A prefix that meets the budget costs at least greedy's plan: the
  // layered search's first program, running beside, may drop the states
  // the cap over that cost rules out. (With a hair of room for sums in
  // another order.)
  auto onMet = [&](const llvm::BitVector &prefix) {
    if (layeredStart)
      lowerLayeredCostCap(*layeredStart, ctx.objective(prefix) *
                                             kLayeredCostSlack * (1 + 1e-9));
  };
  FailureOr<Incumbent> greedy =
      planGreedy(ctx, budget, order, greedyLowest, lowestPrefix, onMet);
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
  return success();
}

void PlanRun::startCheck(const Incumbent &candidate) {
  IRMapping mapping;
  OwningOpRef<func::FuncOp> copy = ctx.takeSpareCopy(mapping);
  checkAhead->start(ctx.savedFor(candidate.recomputed), std::move(copy),
                    std::move(mapping));
  // (The check has the second core from here.)
  ctx.besideCheck = true;
}

LogicalResult PlanRun::improve(Incumbent &candidate, StringRef pruning,
                               unsigned &exchanged) {
  bool searching =
      strategy == PlanStrategy::Auto || strategy == PlanStrategy::Optimal;
  if (!searching || !candidate.valid)
    return success();
  // The plan changes only where that makes it cheaper. Pruning may save
  // groups again that cost nothing to recompute (ops another group clones
  // anyway), as that can let a dearer group be saved, or an exchange
  // follow, for few or no more bytes; where nothing cheaper comes of it,
  // the plan stays as it was: those groups saved again only hold more
  // bytes, and a changed plan is one the check beside the search
  // (CheckAhead.h) did not check.
  Incumbent start = candidate;
  if (failed(pruneGreedy(ctx, budget, order, candidate, pruning)) ||
      failed(exchangeGroups(ctx, budget, order, candidate, exchanged)))
    return failure();
  if (!isCheaper(candidate.cost, start.cost))
    candidate = std::move(start);
  return success();
}

bool PlanRun::layeredRuns() const {
  // Auto runs it where the exact search does not run: where it does, the
  // work is the exact search's.
  return (strategy == PlanStrategy::Auto &&
          ctx.groups.size() > options.exactCandidateLimit) ||
         strategy == PlanStrategy::Layered;
}

LogicalResult PlanRun::searchLayered() {
  int64_t layeredLowest = lowest;
  llvm::BitVector layeredLowestPlan;
  FailureOr<LayeredPlan> l =
      planLayered(ctx, budget, layeredLowest, layeredLowestPlan,
                  best.valid ? best.cost * kLayeredCostSlack
                             : std::numeric_limits<double>::infinity(),
                  layeredStart.get());
  layeredStart.reset();
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
  found = std::move(*l);
  return success();
}

LogicalResult PlanRun::adoptLayered() {
  if (!found)
    return success();
  // (auto prunes its plan and exchanges its groups like greedy's.)
  unsigned layeredExchanges = 0;
  if (failed(
          improve(found->plan, "pruning the layered plan", layeredExchanges)))
    return failure();
  if (found->plan.valid &&
      (!best.valid || isCheaper(found->plan.cost, best.cost))) {
    best = found->plan;
    exchanges = layeredExchanges;
    source = "layered search";
    layered = std::move(found);
  }
  found.reset();
  if (strategy == PlanStrategy::Layered && !best.valid &&
      lowest == std::numeric_limits<int64_t>::max()) {
    lowestSaved = ctx.savedFor(llvm::BitVector(ctx.groups.size(), true));
    lowestHow = recomputingAll;
  }
  return success();
}

bool PlanRun::exactRuns() const {
  return strategy == PlanStrategy::Optimal ||
         (strategy == PlanStrategy::Auto &&
          ctx.groups.size() <= options.exactCandidateLimit);
}

LogicalResult PlanRun::runExact() {
  if (strategy == PlanStrategy::Auto && !exactRuns()) {
    plan.searchComplete = false;
    plan.searchNote =
        "auto ran no exact search: " + std::to_string(ctx.groups.size()) +
        " candidate groups, above exact-limit=" +
        std::to_string(options.exactCandidateLimit);
  }
  if (exactRuns()) {
    Incumbent exact = best;
    bool complete = false;
    // (Its own limit: on a step this small an evaluation is cheap, and its
    // plan is the one auto most often returns.)
    if (failed(limits.withOwnLimit(
            "the exact search's work limit", options.exactWorkLimit,
            [&] { return runExactSearch(ctx, budget, exact, complete); })))
      return failure();
    // (Pruning and exchanges only lower its cost: a plan that beats the
    // incumbent still does after them.)
    bool beatsBest =
        exact.valid && (!best.valid || isCheaper(exact.cost, best.cost));
    // A search the work limit cut often ends on a dear plan (its
    // depth-first walk found it before the cheap ones): it is pruned and
    // its groups exchanged as greedy's are, with a quarter of the work
    // limit of its own (the search's cut is noted already).
    if (beatsBest && !complete) {
      bool polishCut = false;
      unsigned polished = 0;
      double cutCost = exact.cost;
      if (failed(limits.withOwnWork(polishCut, [&] {
            return limits.withWorkCap(limits.getWorkLimit() / 4, [&] {
              return improve(exact, "pruning the exact search's plan",
                             polished);
            });
          })))
        return failure();
      exactPolished = isCheaper(exact.cost, cutCost);
    }
    if (beatsBest) {
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
  return success();
}

FailureOr<RematPlan> PlanRun::finishBest() {
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
  return finish(
      ctx.savedFor(best.recomputed), twicePeak ? *twicePeak : best.peak,
      [&](Value v, bool recompute) { return explainSearched(v, recompute); },
      twicePeak.has_value());
}
