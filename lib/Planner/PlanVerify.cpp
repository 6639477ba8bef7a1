//===- PlanVerify.cpp - check plans on the bufferized program -------------===//
//
// planRematerialization: the search (planOnce) runs on the memory analysis
// of the rewritten tensor program; the plan it returns is checked on the
// bufferized program, and the search runs again under a tighter budget
// when the model was optimistic, or checks plans below the model's lowest
// peak (and the field's schedules) when it was pessimistic. Also applies a
// plan to the IR.
//
//===----------------------------------------------------------------------===//

#include "CheckAhead.h"
#include "PlannerImpl.h"
#include "remat/Planner/Planner.h"

#include "remat/Analysis/Cost.h"
#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// The bufferized peak of `function` with `plan` applied. (`plan.saved`
/// holds every backward input it keeps.)
FailureOr<int64_t> mlir::remat::detail::verifyPlan(func::FuncOp function,
                                                   BackwardOp backward,
                                                   const RematPlan &plan,
                                                   bool fusePointwise,
                                                   std::string *live) {
  ValueSet saved(plan.saved.begin(), plan.saved.end());
  ValueSet duplicated = duplicatedSet(plan);
  ValueSet offloaded(plan.offloaded.begin(), plan.offloaded.end());
  OwningOpRef<func::FuncOp> copy =
      cloneWithPlan(function, backward, saved, &duplicated, &offloaded);
  if (!offloaded.empty() && plan.transferTarget)
    copy->walk([&](BackwardOp b) {
      (void)scheduleReloads(b, *plan.transferTarget, plan.linkBandwidth);
    });
  func::FuncOp owned = copy.release();
  OwningOpRef<ModuleOp> module = wrapInModule(owned, function->getParentOp());
  return getBufferizedPeak(*module, owned, live, fusePointwise);
}

/// The error of a search that found nothing: no single search's error, but
/// the first of `held` (the user's search) with a note on what was checked.
static void emitHeld(MLIRContext *context, SmallVectorImpl<Diagnostic> &held,
                     std::optional<int64_t> lowestVerified,
                     StringRef lowestVerifiedBy, const SearchLimits &limits) {
  if (held.empty())
    return;
  if (lowestVerified)
    held.front().attachNote()
        << "on the bufferized program, the lowest peak of the plans checked "
           "is "
        << *lowestVerified << " bytes (" << lowestVerifiedBy << ")";
  if (limits.wasCut())
    held.front().attachNote() << limits.cutNote();
  for (Diagnostic &d : held)
    context->getDiagEngine().emit(std::move(d));
}

FailureOr<RematPlan> mlir::remat::planRematerialization(
    func::FuncOp function, const PlanOptions &options, RematPlan *infeasible) {
  BackwardOp backward;
  unsigned count = 0;
  function.walk([&](BackwardOp op) {
    backward = op;
    ++count;
  });
  if (!backward)
    return RematPlan();
  if (count > 1)
    return mlir::emitError(function.getLoc(),
                           "remat: the planner handles one remat.backward "
                           "per function, found ")
           << count;
  if (failed(checkModeledSizes(function)))
    return failure();
  MLIRContext *context = function.getContext();
  SearchLimits limits(options.workLimit, options.timeLimit);
  uint64_t opCount = 0;
  function.walk([&](Operation *) { ++opCount; });
  const uint64_t bufferizedWork = kBufferizedWorkFactor * opCount;
  // The search's own figures, once a plan is chosen.
  auto done = [&](FailureOr<RematPlan> plan) -> FailureOr<RematPlan> {
    if (failed(plan))
      return plan;
    // Offload, the third choice, among what the plan recomputes.
    if (options.offload &&
        failed(chooseOffloads(function, backward, options, limits, *plan)))
      return failure();
    plan->planSeconds = limits.elapsed();
    plan->work = limits.getSpent();
    if (limits.wasCut()) {
      plan->searchComplete = false;
      plan->searchNote +=
          (plan->searchNote.empty() ? "" : "; ") + limits.cutNote();
    }
    return plan;
  };
  if (!options.verify || options.peakModel)
    return done(planOnce(function, backward, options, options.budget, true,
                         limits, infeasible));
  // The search runs on the memory analysis of the rewritten function; the
  // plan's peak comes from the bufferized program. (The baseline, and so a
  // percentage budget, is the analysis's: bufferizing the unplanned step as
  // well would double the check's cost. The two can differ by a few percent
  // on small steps, which matters only near the baseline; see below.)
  std::optional<Budget> searchBudget = options.budget;
  std::optional<int64_t> budget;
  unsigned evaluations = 0;
  bool fixed = options.strategy == PlanStrategy::None ||
               isFixedSchedule(options.strategy);
  // Near the model's baseline, where its error matters, a budget the model
  // says needs recomputation may already be met without it: then nothing is
  // recomputed.
  if (options.budget && options.budget->bytes &&
      options.budgetOn == BudgetOn::Peak && !fixed) {
    int64_t bytes = *options.budget->bytes;
    // The model's baseline: the unplanned function, analyzed in place.
    int64_t modelBaseline =
        analyzeMemory(function, kAllocationAlignment).peakBytes;
    if (modelBaseline > bytes && bytes >= modelBaseline - modelBaseline / 10) {
      PlanOptions keep = options;
      keep.strategy = PlanStrategy::None;
      FailureOr<RematPlan> none =
          planOnce(function, backward, keep, std::nullopt, false, limits);
      if (failed(none))
        return failure();
      FailureOr<int64_t> verified =
          verifyPlan(function, backward, *none, options.fusePointwise);
      if (failed(verified))
        return failure();
      if (*verified <= bytes) {
        none->baselinePeak = none->predictedPeak = *verified;
        none->budgetBytes = bytes;
        none->hasBudget = true;
        none->requestedStrategy = options.strategy;
        none->evaluations += 1;
        for (PlanDecision &d : none->decisions)
          d.reason = "the bufferized peak without remat already meets the "
                     "budget";
        return done(none);
      }
      ++evaluations;
    }
  }
  // The search model can be optimistic (a plan then misses the budget on
  // the bufferized program: the search runs again under a tighter budget)
  // or pessimistic (a budget it finds infeasible may be met there).
  constexpr unsigned kAttempts = 4;
  // The plan with the lowest bufferized peak among those that missed it.
  std::optional<RematPlan> lowestMissed;
  // With threads, the plan the first search is likely to return is checked
  // beside the rest of that search. (A fixed schedule has no search to
  // overlap.)
  std::optional<CheckAhead> checkAhead;
  if (!fixed && CheckAhead::isAvailable(context))
    checkAhead.emplace(function, backward, options.fusePointwise);
  for (unsigned attempt = 0; attempt < kAttempts; ++attempt) {
    // (Its thread is done before the search's diagnostics are held again.)
    if (attempt > 0 && checkAhead)
      checkAhead->wait();
    // (A search again is optional work.)
    if (attempt > 0 &&
        !limits.spend(bufferizedWork,
                      "searching again after a plan missed the budget on "
                      "the bufferized program"))
      break;
    // The search's error is held back until plans from the model's lowest
    // peak up have been checked on the bufferized program. `checked`: the
    // bufferized peak of a plan that check found.
    std::optional<int64_t> lowestVerified, checked;
    std::string lowestVerifiedBy;
    SmallVector<Diagnostic> held;
    FailureOr<RematPlan> plan = failure();
    RematPlan searchInfeasible;
    std::optional<RematPlan> lowestPlan;
    {
      ScopedDiagnosticHandler hold(context, [&](Diagnostic &d) {
        held.push_back(std::move(d));
        return success();
      });
      plan = planOnce(function, backward, options, searchBudget, false, limits,
                      &searchInfeasible, &lowestPlan,
                      attempt == 0 && checkAhead ? &*checkAhead : nullptr);
    }
    // The search model's lowest peak, when the search found the budget
    // infeasible.
    std::optional<int64_t> lowest;
    if (!searchInfeasible.feasible)
      lowest = searchInfeasible.predictedPeak;
    // The search budget k sixths of the way from the model's lowest peak to
    // no remat (the model's baseline bounds every search budget from
    // above).
    constexpr int kSteps = 6;
    auto stepUp = [&](int k) {
      return *lowest + (searchInfeasible.baselinePeak - *lowest) * k / kSteps;
    };
    // The user's budget, in bytes (a fraction is of the baseline).
    auto userBudget = [&](const RematPlan &p) -> int64_t {
      return budget ? *budget
             : options.budget->bytes
                 ? *options.budget->bytes
                 : scaleBytes(*options.budget->fraction, p.baselinePeak);
    };
    // Plans the checks search for: their failures are this search's
    // (held above), not errors of their own. (Their exact searches share
    // the work left, as the checks do; what a limit cuts in them is named
    // with `which`.)
    auto quietly = [&](const PlanOptions &o, std::optional<Budget> b,
                       StringRef which) {
      ScopedDiagnosticHandler quiet(context,
                                    [](Diagnostic &) { return success(); });
      return limits.withSharedLimits(which, [&] {
        return planOnce(function, backward, o, b, false, limits);
      });
    };
    constexpr StringLiteral kHigher = "at higher search budgets";
    // The lowest plan with offloads, when they did not meet the budget.
    std::optional<RematPlan> lowestOffloaded;
    if (failed(plan) && lowest && options.budgetOn == BudgetOn::Peak) {
      auto costOf = [&](const RematPlan &p) {
        return options.cost == PlanCost::Flops
                   ? static_cast<double>(p.recomputeWeightedFlops)
                   : p.recomputeSeconds;
      };
      // Checks `candidate` on the bufferized program (optional work); it
      // becomes the plan if it meets the budget (and, with `cheaper`, costs
      // less). Fails only when the bufferized program cannot be built.
      bool stopped = false;
      auto consider = [&](FailureOr<RematPlan> candidate, bool cheaper,
                          StringRef label) -> LogicalResult {
        if (failed(candidate))
          return success();
        FailureOr<int64_t> verified =
            verifyPlan(function, backward, *candidate, options.fusePointwise);
        if (failed(verified))
          return failure();
        ++evaluations;
        if (!lowestVerified || *verified < *lowestVerified) {
          lowestVerified = *verified;
          lowestVerifiedBy = label.str();
        }
        if (*verified > userBudget(*candidate) ||
            (cheaper && succeeded(plan) && costOf(*candidate) >= costOf(*plan)))
          return success();
        candidate->budgetBytes = userBudget(*candidate);
        plan = candidate;
        checked = *verified;
        return success();
      };
      auto mayCheck = [&] {
        stopped =
            stopped || !limits.spend(bufferizedWork,
                                     "checking plans below the search model's "
                                     "lowest peak on the bufferized program");
        return !stopped;
      };
      // The two peaks do not move together plan by plan, so several plans
      // between the model's lowest peak and no remat are checked, cheapest
      // (highest search budget) first.
      // The search's lowest plan is checked first (one check, not
      // optional: the error's note gives its peak); it is the plan if it
      // meets the budget there. Then plans at higher search budgets, which
      // cost less, highest first: the first that meets the budget is the
      // plan, or, after the lowest plan, one that costs less than it.
      // (The search at the lowest peak, the dearest, is not run again.)
      if (lowestPlan && failed(consider(*lowestPlan, false,
                                        "the search model's lowest plan")))
        return failure();
      bool meets = succeeded(plan);
      for (int k = kSteps - 1; k >= 1; --k) {
        if ((succeeded(plan) && !meets) || !mayCheck())
          break;
        int64_t at = stepUp(k);
        if (failed(consider(
                quietly(options, Budget{at, std::nullopt}, kHigher), meets,
                "the " + stringifyPlanStrategy(options.strategy).str() +
                    " plan at a search budget of " + std::to_string(at) +
                    " bytes")))
          return failure();
      }
      // auto also checks the field's schedules there, so that none of them
      // beats it at its own peak. (Those that do not apply to this step are
      // skipped.)
      // (every-n for every n from 2 to the number of layers.)
      if ((failed(plan) || meets) && options.strategy == PlanStrategy::Auto) {
        SmallVector<std::pair<PlanStrategy, unsigned>> field = {
            {PlanStrategy::Selective, 0},
            {PlanStrategy::MinCut, 0},
            {PlanStrategy::Sqrt, 0},
            {PlanStrategy::Full, 0}};
        for (unsigned n = 2, e = countLayers(backward); n <= e; ++n)
          field.push_back({PlanStrategy::EveryN, n});
        for (auto [kind, every] : field) {
          PlanOptions schedule = options;
          schedule.strategy = kind;
          if (every)
            schedule.everyN = every;
          if (!mayCheck())
            break;
          if (failed(consider(
                  quietly(schedule, std::nullopt, "for a field's schedule"),
                  true,
                  "the " + describePlanStrategy(kind, every) + " schedule")))
            return failure();
        }
      }
    }
    // Offload, the third choice, where recomputing cannot meet the budget:
    // residuals of a plan go to host memory. The plans it starts from, in
    // turn until one meets the budget: the search's lowest plan, then the
    // plans searched at one and two sixths of the way from the model's
    // lowest peak to no remat (they save more, and have more to offload),
    // each searched with the whole work limit, so that what offload starts
    // from does not depend on what the checks spent.
    bool offloading = failed(plan) && lowest && options.offload &&
                      options.budgetOn == BudgetOn::Peak;
    for (int base = 0; offloading && failed(plan) && base < 3; ++base) {
      std::optional<RematPlan> lowestFound;
      if (base == 0 && lowestPlan) {
        lowestFound = *lowestPlan;
      } else {
        int64_t at = stepUp(base);
        FailureOr<RematPlan> fresh = limits.withFreshWork([&] {
          return quietly(options, Budget{at, std::nullopt}, kHigher);
        });
        if (succeeded(fresh))
          lowestFound = *fresh;
      }
      if (!lowestFound)
        continue;
      int64_t target = userBudget(*lowestFound);
      int64_t searchTarget = target;
      // (The search model can be optimistic: once more, tighter.)
      for (int k = 0; k < 2 && failed(plan); ++k) {
        RematPlan trial = *lowestFound;
        FailureOr<bool> any = offloadToBudget(function, backward, options,
                                              limits, trial, searchTarget);
        if (failed(any))
          return failure();
        if (!*any)
          break;
        ++evaluations;
        if (!lowestVerified || trial.predictedPeak < *lowestVerified) {
          lowestVerified = trial.predictedPeak;
          lowestVerifiedBy = "the lowest plan with " +
                             std::to_string(trial.offloaded.size()) +
                             " residuals offloaded to host memory";
          lowestOffloaded = trial;
        }
        if (trial.predictedPeak <= target) {
          trial.budgetBytes = target;
          trial.feasible = true;
          checked = trial.predictedPeak;
          plan = std::move(trial);
          break;
        }
        searchTarget -= std::max<int64_t>(trial.predictedPeak - target, 64);
      }
    }
    if (failed(plan)) {
      emitHeld(context, held, lowestVerified, lowestVerifiedBy, limits);
      if (infeasible && !searchInfeasible.feasible) {
        // The user's budget, and the lowest peak on the bufferized program
        // where plans were checked there.
        *infeasible = searchInfeasible;
        if (budget)
          infeasible->budgetBytes = *budget;
        else if (options.budget && options.budget->bytes)
          infeasible->budgetBytes = *options.budget->bytes;
        // (The search model's lowest, as the error says, unless a plan
        // checked on the bufferized program peaked lower.)
        if (lowestVerified && options.budgetOn == BudgetOn::Peak)
          infeasible->predictedPeak =
              std::min(infeasible->predictedPeak, *lowestVerified);
        // (The plan file describes the lowest plan with offloads when it
        // is the lowest.)
        if (lowestOffloaded &&
            lowestOffloaded->predictedPeak == infeasible->predictedPeak) {
          int64_t budgetBytes = infeasible->budgetBytes;
          *infeasible = *lowestOffloaded;
          infeasible->budgetBytes = budgetBytes;
          infeasible->feasible = false;
          infeasible->decisions.clear();
        }
        infeasible->work = limits.getSpent();
        infeasible->searchComplete = !limits.wasCut();
        infeasible->searchNote = limits.cutNote();
      }
      return failure();
    }
    if (!budget && options.budget)
      budget = plan->budgetBytes;
    evaluations += plan->evaluations;
    plan->evaluations = evaluations;
    if (budget)
      plan->budgetBytes = *budget;
    // (A plan the fallback found is checked already, and meets the budget:
    // `live` is only read when a plan misses it.)
    std::string live;
    std::optional<int64_t> ahead;
    if (!checked && checkAhead) {
      ahead = checkAhead->take(*plan, &live);
      plan->checkAheadUsed = ahead.has_value();
    }
    FailureOr<int64_t> verified =
        checked ? FailureOr<int64_t>(*checked)
        : ahead ? FailureOr<int64_t>(*ahead)
                : verifyPlan(function, backward, *plan, options.fusePointwise,
                             &live);
    if (failed(verified))
      return failure();
    if (!checked) {
      ++plan->evaluations;
      ++evaluations;
    }
    plan->predictedPeak = *verified;
    // (A budget on activations is met by the search itself.)
    if (!budget || options.budgetOn == BudgetOn::Activations ||
        *verified <= *budget)
      return done(plan);
    if (!lowestMissed || plan->predictedPeak < lowestMissed->predictedPeak)
      lowestMissed = *plan;
    if (fixed && infeasible) {
      *infeasible = *plan;
      infeasible->feasible = false;
      infeasible->decisions.clear();
    }
    if (fixed)
      return mlir::emitError(function.getLoc(), "remat: budget of ")
             << *budget << " bytes is infeasible for strategy "
             << stringifyPlanStrategy(options.strategy)
             << ": its plan peaks at " << *verified
             << " bytes (without remat: " << plan->baselinePeak
             << " bytes); at that peak live: " << live;
    // The search model was optimistic: search again below the budget by
    // what the plan missed it by.
    int64_t tighter =
        (searchBudget && searchBudget->bytes ? *searchBudget->bytes : *budget) -
        std::max<int64_t>(*verified - *budget, 64);
    searchBudget = Budget{tighter, std::nullopt};
  }
  InFlightDiagnostic diag =
      mlir::emitError(function.getLoc(), "remat: budget of ");
  diag << *budget << " bytes: every plan the search found peaks above it "
       << "on the bufferized program (each search again under a tighter "
       << "budget for the search model)";
  if (limits.wasCut())
    diag.attachNote() << limits.cutNote();
  if (infeasible && lowestMissed) {
    *infeasible = *lowestMissed;
    infeasible->feasible = false;
    infeasible->decisions.clear();
    infeasible->work = limits.getSpent();
    infeasible->searchComplete = !limits.wasCut();
    infeasible->searchNote = limits.cutNote();
  }
  return diag;
}

void mlir::remat::applyRematPlan(RewriterBase &rewriter, func::FuncOp function,
                                 const RematPlan &plan) {
  if (plan.recomputed.empty() && plan.offloaded.empty())
    return;
  ValueSet duplicated = duplicatedSet(plan);
  ValueSet offloaded(plan.offloaded.begin(), plan.offloaded.end());
  function.walk([&](BackwardOp backward) {
    ValueSet saved = keptInputs(backward, plan);
    recomputeBackwardInputs(
        rewriter, backward, [&](Value v) { return !saved.contains(v); },
        [&](Value v) { return duplicated.contains(v); }, {},
        [&](Value v) { return offloaded.contains(v); });
    if (!offloaded.empty() && plan.transferTarget)
      (void)scheduleReloads(backward, *plan.transferTarget, plan.linkBandwidth);
  });
}

ValueSet mlir::remat::detail::keptInputs(BackwardOp backward,
                                         const RematPlan &plan) {
  ValueSet saved(plan.saved.begin(), plan.saved.end());
  ValueSet dropped(plan.recomputed.begin(), plan.recomputed.end());
  dropped.insert(plan.offloaded.begin(), plan.offloaded.end());
  // Non-candidate operands (arguments, constants, effects) stay saved.
  for (Value input : backward.getInputs())
    if (!dropped.contains(input))
      saved.insert(input);
  return saved;
}
