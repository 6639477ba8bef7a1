//===- PlanRun.h - one search of the planner --------------------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The state of one search (planOnce): the plan being built, the incumbent
/// and where it came from, and the lowest peak seen for the error of a
/// budget no plan meets. Its steps live in the files of their concern:
///
/// - Planner.cpp: the order of the steps, the fixed schedules, greedy, the
///   layered and exact searches, and the plan returned;
/// - PlanField.cpp: auto's field of schedules (selective, mincut, full,
///   sqrt and every-n) as incumbents, pruned like greedy's plan;
/// - PlanInfeasible.cpp: a budget no plan meets (the floor, second
///   recomputes, the error and the lowest plan);
/// - PlanExplain.cpp: each decision's reason.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_PLANNER_PLANRUN_H
#define REMAT_LIB_PLANNER_PLANRUN_H

#include "PlannerImpl.h"

#include <limits>

namespace mlir::remat::detail {

class PlanRun {
public:
  PlanRun(func::FuncOp function, BackwardOp backward,
          const PlanOptions &options, std::optional<Budget> searchBudget,
          bool checkFixed, SearchLimits &limits, RematPlan *infeasible,
          std::optional<RematPlan> *lowestPlan, CheckAhead *checkAhead)
      : function(function), backward(backward), options(options),
        searchBudget(searchBudget), checkFixed(checkFixed), limits(limits),
        infeasible(infeasible), lowestPlan(lowestPlan), checkAhead(checkAhead),
        ctx(function, backward, options, limits), strategy(options.strategy) {}

  /// The search (planOnce).
  FailureOr<RematPlan> run();

private:
  //===--------------------------------------------------------------------===//
  // Planner.cpp
  //===--------------------------------------------------------------------===//

  /// The plan saving `saved`, whose measure (what the budget bounds) is
  /// `measured`. Shared values are recomputed twice as
  /// options.recomputeTwice says (already done, into plan.duplicated, when
  /// `twiceDone`; `measured` is then the peak).
  FailureOr<RematPlan> finish(const ValueSet &saved, int64_t measured,
                              function_ref<std::string(Value, bool)> reason,
                              bool twiceDone = false);
  /// The figures of an infeasible budget into `*infeasible`: `reached` is
  /// the lowest peak (or activations) the strategy reached.
  void reportInfeasible(int64_t reached);
  /// A fixed schedule (or none): its plan, whatever the budget; a budget
  /// is only checked.
  FailureOr<RematPlan> planFixed();
  /// A searched plan has its groups pruned, then exchanged (counting the
  /// exchanges that lowered its cost); it changes only where that lowers
  /// its cost.
  LogicalResult improve(Incumbent &candidate, StringRef pruning,
                        unsigned &exchanged);
  /// Starts the bufferized check of `candidate` beside the search.
  void startCheck(const Incumbent &candidate);
  /// Greedy's plan, the incumbent's first (not for exhaustive or layered).
  LogicalResult runGreedy();
  /// Whether the layered search runs: where auto runs no exact search, and
  /// for the strategy layered.
  bool layeredRuns() const;
  /// The layered search, into `found` (its plan not yet pruned).
  LogicalResult searchLayered();
  /// The layered search's plan, pruned and exchanged, becomes the
  /// incumbent when it costs less.
  LogicalResult adoptLayered();
  /// Whether the exact search runs: optimal, and auto on few groups.
  bool exactRuns() const;
  /// The exact search and the exhaustive reference.
  LogicalResult runExact();
  /// The plan returned once the budget is met.
  FailureOr<RematPlan> finishBest();

  //===--------------------------------------------------------------------===//
  // PlanField.cpp
  //===--------------------------------------------------------------------===//

  /// Builds `field`: the field's schedules that apply to the step, with
  /// their costs, cheapest first.
  void buildField();
  /// With a budget on activations: caps auto's peak at that of the
  /// cheapest schedule that meets the budget (`capPlan`).
  LogicalResult capByField();
  /// The field's schedules as incumbents, cheapest first; the winner, and
  /// the dearer ones that meet the budget, pruned.
  LogicalResult offerField();
  /// Prunes a schedule's plan `recomputed` like greedy's; it becomes the
  /// incumbent when it meets the budget and costs less.
  LogicalResult pruneSchedule(const llvm::BitVector &recomputed,
                              PlanStrategy kind, unsigned every,
                              StringRef where);
  /// Second recomputes on auto's plan must not lift its final peak above
  /// the cap schedule's (or that schedule is the plan); sets `twicePeak`.
  LogicalResult capTwicePeak();

  //===--------------------------------------------------------------------===//
  // PlanInfeasible.cpp
  //===--------------------------------------------------------------------===//

  /// Lowers the lowest peak by the exact search where it ran (and takes a
  /// plan it finds below the budget); sets `floorNote`.
  LogicalResult lowerFloor();
  /// No plan met the budget: second recomputes, then the error with the
  /// lowest peak (and the lowest plan, for the checks).
  FailureOr<RematPlan> failWithLowest();

  //===--------------------------------------------------------------------===//
  // PlanExplain.cpp
  //===--------------------------------------------------------------------===//

  /// Why a searched plan recomputes or saves `v`.
  std::string explainSearched(Value v, bool recompute);

  //===--------------------------------------------------------------------===//
  // State
  //===--------------------------------------------------------------------===//

  func::FuncOp function;
  BackwardOp backward;
  const PlanOptions &options;
  std::optional<Budget> searchBudget;
  bool checkFixed;
  SearchLimits &limits;
  RematPlan *infeasible;
  std::optional<RematPlan> *lowestPlan;
  /// Checks the likely plan on the bufferized program beside the search.
  CheckAhead *checkAhead;

  RematPlan plan;
  PlanContext ctx;
  PlanStrategy strategy;
  /// The peak without remat, and what the budget bounds without it (the
  /// peak or the activations).
  int64_t baseline = 0, unplanned = 0;
  int64_t budget = 0;
  bool onPeak = true;
  std::string recomputingAll;

  /// The greedy ranking, and each group's rank (from 1).
  SmallVector<unsigned> order;
  llvm::DenseMap<unsigned, unsigned> rank;
  Incumbent best;
  std::string source;
  /// Exchanges that lowered the incumbent's cost.
  unsigned exchanges = 0;
  /// Whether the exact search's plan, cut by the work limit, was made
  /// cheaper by pruning and exchanges after the cut.
  bool exactPolished = false;
  /// Set when auto chose a fixed schedule.
  std::optional<Schedule> bestSchedule;
  PlanStrategy bestScheduleKind = PlanStrategy::None;
  unsigned bestEveryN = 0;
  /// The layered search's first dynamic program, solved beside greedy's
  /// search.
  std::shared_ptr<LayeredStart> layeredStart;
  /// The layered search's result, before adoptLayered.
  std::optional<LayeredPlan> found;
  /// The layered search's plan, when it is the incumbent's.
  std::optional<LayeredPlan> layered;

  /// The lowest peak seen, for the infeasible-budget error, its plan and
  /// how it was reached.
  int64_t lowest = std::numeric_limits<int64_t>::max();
  ValueSet lowestSaved;
  std::string lowestHow;
  /// Which strategy's plan it is (auto's lowest plan names it).
  PlanStrategy lowestKind = PlanStrategy::Greedy;
  unsigned lowestEvery = 0;
  /// What the search for a lower peak found, for the error.
  std::string floorNote;

  /// Auto's field of schedules (every-n for every n from 2 to the number
  /// of layers; 1 is full), cheapest first.
  struct FieldPlan {
    PlanStrategy kind;
    unsigned every;
    Schedule schedule;
    double cost;
  };
  SmallVector<FieldPlan> field;
  /// With a budget on activations, the cheapest schedule that meets it.
  std::optional<FieldPlan> capPlan;
  /// The schedule a pruned plan came from, when it is the incumbent.
  std::optional<PlanStrategy> prunedFrom;
  unsigned prunedEveryN = 0;
  /// The plan's final peak, with second recomputes, when capTwicePeak
  /// computed it.
  std::optional<int64_t> twicePeak;
};

} // namespace mlir::remat::detail

#endif // REMAT_LIB_PLANNER_PLANRUN_H
