//===- PlannerImpl.h - planner internals shared by its sources --*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The planner's searches (greedy, exact, layered, the field's schedules),
/// their explanation and offload, built on the context of one backward
/// (PlanContext.h), and shared by the planner's sources.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_PLANNER_PLANNERIMPL_H
#define REMAT_LIB_PLANNER_PLANNERIMPL_H

#include "PlanContext.h"

#include <limits>

namespace mlir {
namespace remat {
namespace detail {

/// A candidate plan: the groups recomputed, and its figures.
struct Incumbent {
  llvm::BitVector recomputed;
  int64_t peak = 0;
  double cost = 0;
  bool valid = false;
};

//===----------------------------------------------------------------------===//
// Plan evaluation (PlanContext.cpp)
//===----------------------------------------------------------------------===//

/// A copy of `function` in which every residual of `backward` outside
/// `saved` is recomputed, or offloaded when in `offloaded` (the plan
/// applied to the copy). `mapping`, when given, receives the copy's value
/// of each value of `function` (before the plan).
OwningOpRef<func::FuncOp> cloneWithPlan(func::FuncOp function,
                                        BackwardOp backward,
                                        const ValueSet &saved,
                                        const ValueSet *duplicated = nullptr,
                                        const ValueSet *offloaded = nullptr,
                                        IRMapping *mapping = nullptr);
/// Applies the plan that saves `saved` (recomputing, or offloading when in
/// `offloaded`, every other residual of `backward`) to the copy of
/// `backward`'s function that `mapping` maps into.
void applyPlanToCopy(const IRMapping &mapping, BackwardOp backward,
                     const ValueSet &saved, const ValueSet *duplicated,
                     const ValueSet *offloaded);
/// A fresh module holding `owned`, a private declaration of every other
/// function of `symbols`, and a copy of its other ops (globals the step
/// reads, for example), so that the function still verifies there.
OwningOpRef<ModuleOp> wrapInModule(func::FuncOp owned, Operation *symbols);
/// Bufferizes `module` in place (it holds `function`) and returns the peak
/// of `function` under the memory analysis.
FailureOr<int64_t> getBufferizedPeak(ModuleOp module, func::FuncOp function,
                                     std::string *liveAtPeak,
                                     bool fusePointwise);
/// Loads the dialects `getBufferizedPeak`'s passes depend on into
/// `context` (getPlannerDependentDialects), as running them would: a
/// thread that checks beside the search must not load dialects while the
/// search uses the context.
void loadBufferizedCheckDialects(MLIRContext *context);
/// The bytes of the buffer `value` aliases when it is an activation (not an
/// argument or a constant) that `roots` does not hold yet, which it then
/// does; otherwise 0.
int64_t newActivationBytes(Value value, llvm::DenseSet<Value> &roots);

//===----------------------------------------------------------------------===//
// Searches (PlanSearch.cpp, PlanDuplicates.cpp)
//===----------------------------------------------------------------------===//

/// Orders `groups` cheapest per byte first: group g frees `bytes(g)` for
/// `cost[g]` (stable, so ties keep their order).
void sortByCostPerByte(SmallVectorImpl<unsigned> &groups,
                       function_ref<int64_t(unsigned)> bytes,
                       ArrayRef<double> cost);
/// The fractional knapsack that bounds what freeing `need` bytes costs:
/// `groups` (sorted by sortByCostPerByte) are taken whole, cheapest per
/// byte first, then a fraction of the last. Any subset of them that frees
/// `need` bytes costs at least this. Groups with `bytes(g) <= 0` are
/// skipped; infinity when the others free less than `need`.
double fractionalCover(ArrayRef<unsigned> groups,
                       function_ref<int64_t(unsigned)> bytes,
                       ArrayRef<double> cost, int64_t need);

/// The greedy order of the groups (`among` only, when given): repeatedly
/// the group with the most bytes per marginal recompute cost, against what
/// is already recomputed (lazy re-scoring: a popped group whose score went
/// stale is re-queued).
SmallVector<unsigned>
rankGroups(PlanContext &ctx,
           std::optional<ArrayRef<unsigned>> among = std::nullopt);
/// The first `k` groups of `order`, as a set.
llvm::BitVector prefixSet(PlanContext &ctx, ArrayRef<unsigned> order, size_t k);
/// Greedy: ranks the groups into `order` and returns the shortest prefix of
/// the ranking that meets `budget` (invalid when none does; `lowest` is then
/// the lowest measure seen, at prefix `lowestPrefix`). `onMet` sees each
/// prefix found to meet the budget: the plan returned is one of them, and
/// costs no more than any.
FailureOr<Incumbent>
planGreedy(PlanContext &ctx, int64_t budget, SmallVectorImpl<unsigned> &order,
           int64_t &lowest, size_t &lowestPrefix,
           function_ref<void(const llvm::BitVector &)> onMet = nullptr);
/// Saves again each group of `plan` the budget allows, latest-ranked first.
LogicalResult pruneGreedy(PlanContext &ctx, int64_t budget,
                          ArrayRef<unsigned> order, Incumbent &plan,
                          StringRef where = "pruning the greedy plan");
/// Exchanges a group `plan` recomputes for one it saves while that lowers
/// its cost and the budget holds (within the work limit); counts them in
/// `exchanges`.
LogicalResult exchangeGroups(PlanContext &ctx, int64_t budget,
                             ArrayRef<unsigned> order, Incumbent &plan,
                             unsigned &exchanges);
/// The branch and bound from incumbent `best` (PlanExact.cpp); `complete`
/// is false when a limit cut it. With `anyPlan`, the first plan that meets
/// the budget ends it.
LogicalResult runExactSearch(PlanContext &ctx, int64_t budget, Incumbent &best,
                             bool &complete, bool anyPlan = false);
/// Makes `set` (of cost `cost`) the incumbent if its peak meets `budget`;
/// returns whether it does.
FailureOr<bool> offerPlan(PlanContext &ctx, const llvm::BitVector &set,
                          double cost, int64_t budget, Incumbent &best);
/// Where no plan met the budget: lowers `lowest` (a peak some plan reaches,
/// that of `lowestSaved`, found `lowestHow`) by the exact search, looking
/// for plans below it. Returns the highest peak known to be missed (no
/// plan peaks at or below it, under the search's bounds). The work limit
/// cuts it (noted). (PlanExact.cpp)
FailureOr<int64_t> lowerTheFloor(PlanContext &ctx, int64_t &lowest,
                                 ValueSet &lowestSaved, std::string &lowestHow);
/// Every subset of the groups; `complete` is false when the time limit cut
/// the enumeration.
FailureOr<Incumbent> planExhaustive(PlanContext &ctx, int64_t budget,
                                    bool &complete);
/// A plan that meets its budget only with shared values recomputed once
/// per residual: the values saved, the peak reached, the second recomputes
/// and the cost with them.
struct TwicePlan {
  ValueSet saved;
  int64_t peak = 0;
  SmallVector<PlanDuplicate> duplicated;
  double cost = 0;
};
/// Where no subset meets `budget` as it is: every subset, the cheapest
/// first, with its shared values recomputed once per residual
/// (recomputeTwice); the least-cost one that meets the budget, if any.
/// As the reference (`searched` false) it evaluates every subset until the
/// time limit; as a search it skips a subset whose peak lower bound, less
/// every shared value's bytes, is above the budget, and spends work on
/// each evaluation. `complete` is false when a limit cut it.
FailureOr<std::optional<TwicePlan>> planExhaustiveTwice(PlanContext &ctx,
                                                        int64_t budget,
                                                        bool searched,
                                                        bool &complete);
/// At most this many groups get planExhaustiveTwice as a search.
constexpr unsigned kTwiceEnumerationGroupLimit = 16;
/// Recomputes values shared by several recomputed residuals once for each
/// of them where that lowers the peak of saving `saved` (`peak` now), the
/// largest first, until the peak is at most `stopAt`. Each kept value is
/// appended to `plan.duplicated`. Returns the peak reached.
FailureOr<int64_t> recomputeTwice(PlanContext &ctx, const ValueSet &saved,
                                  int64_t peak, std::optional<int64_t> stopAt,
                                  RematPlan &plan);

//===----------------------------------------------------------------------===//
// The layered search (PlanLayered.cpp)
//===----------------------------------------------------------------------===//

struct LayeredStart;
/// A plan of the layered search, and how it is built.
struct LayeredPlan {
  Incumbent plan;
  /// False when the forward has no chain of two layers with the same ops.
  bool hasChain = false;
  /// The groups the layout recomputes (before auto prunes and exchanges).
  llvm::BitVector planned;
  /// Per forward layer: its segment's description and the pattern it
  /// recomputes ("" outside every planned layer).
  llvm::DenseMap<int, std::string> layerReason;
  /// "3 segments (4+4+4 layers), patterns ...", for the summary.
  std::string summary;
};
/// The layered search: per-layer recompute patterns (found on one layer,
/// mapped onto every layer isomorphic to it) combined by a dynamic program
/// over the chain of layers and the segments between saved layer outputs,
/// checked with the plan evaluation. `lowest` is lowered to the lowest
/// measure it saw (and `lowestPlan` to its groups). Invalid when it found
/// no plan meeting `budget` (or the forward has fewer than 2 layers).
/// Layouts whose modeled cost reaches `costCap` (an incumbent's, with
/// room for what pruning saves) are not considered.
/// With `started` (startLayered's, for the same budget), its first dynamic
/// program is the one solved beside the caller.
FailureOr<LayeredPlan>
planLayered(PlanContext &ctx, int64_t budget, int64_t &lowest,
            llvm::BitVector &lowestPlan,
            double costCap = std::numeric_limits<double>::infinity(),
            LayeredStart *started = nullptr);
/// The layered search up to its first dynamic program, which then runs on
/// a thread of its own, uncapped until greedy's search, run meanwhile,
/// lowers its cost cap (lowerLayeredCostCap): planLayered picks its layout
/// under the final cap, the one it would have found. Null where the step
/// has no chain or the context no threads.
std::shared_ptr<LayeredStart> startLayered(PlanContext &ctx, int64_t budget);
/// Lowers the cost cap of `start`'s first dynamic program, while it runs,
/// to `costCap`: at least the cap planLayered will be given.
void lowerLayeredCostCap(LayeredStart &start, double costCap);
/// The layered search's chain of layers and its menu of patterns (see
/// PlanLayerChain.h), built on first use and kept in `ctx`: a search can
/// build them early, where a step waits for nothing else.
const ChainMenu &getChainMenu(PlanContext &ctx);

//===----------------------------------------------------------------------===//
// Decisions (PlanExplain.cpp)
//===----------------------------------------------------------------------===//

/// The values `plan` recomputes once per residual that needs them.
ValueSet duplicatedSet(const RematPlan &plan);
/// Fills `plan`'s decisions and totals for saving `saved`; `reason` explains
/// each value's fate.
void describePlan(PlanContext &ctx, const ValueSet &saved, RematPlan &plan,
                  function_ref<std::string(Value, bool)> reason);
/// The bufferized peak of `function` with `plan` applied (PlanVerify.cpp).
FailureOr<int64_t> verifyPlan(func::FuncOp function, BackwardOp backward,
                              const RematPlan &plan, bool fusePointwise,
                              std::string *live = nullptr);
/// What `plan` keeps saved: `plan.saved` and every input of `backward` it
/// neither recomputes nor offloads (arguments, constants, effects).
ValueSet keptInputs(BackwardOp backward, const RematPlan &plan);

//===----------------------------------------------------------------------===//
// Offload (PlanOffload.cpp)
//===----------------------------------------------------------------------===//

/// With options.offload: offloads recomputed buffers of the feasible
/// `plan` (its figures and decisions updated) where that lowers the
/// modeled step time and the peak still meets the budget.
LogicalResult chooseOffloads(func::FuncOp function, BackwardOp backward,
                             const PlanOptions &options, SearchLimits &limits,
                             RematPlan &plan);

/// With options.offload, where no plan meets the budget by recomputing:
/// offloads residuals `plan` keeps on the device (forward values, largest
/// first, each kept while it lowers the search model's peak) until the
/// peak meets `budget` or none is left. Returns whether it offloaded any;
/// then `plan`'s decisions and figures are updated, its `predictedPeak` the
/// bufferized program's (with options.verify) or the peak model's.
FailureOr<bool> offloadToBudget(func::FuncOp function, BackwardOp backward,
                                const PlanOptions &options,
                                SearchLimits &limits, RematPlan &plan,
                                int64_t budget);

/// Moves each `remat.reload` of `backward`'s body up, in order, so that its
/// copy over a link of `bandwidth` bytes per second (one copy at a time)
/// ends by its first use, as far as the compute before it on `target`
/// allows; returns the seconds of copying it cannot hide.
double scheduleReloads(BackwardOp backward, const TargetModel &target,
                       double bandwidth);

/// Emits the infeasible-budget error.
LogicalResult emitInfeasible(PlanContext &ctx, int64_t budget, int64_t baseline,
                             StringRef strategy, int64_t reached, StringRef how,
                             StringRef live);

//===----------------------------------------------------------------------===//
// One search (Planner.cpp)
//===----------------------------------------------------------------------===//

/// Plans `backward` with `options.strategy` under `searchBudget` on the
/// memory analysis (no bufferized check). `checkFixed`: a fixed schedule's
/// plan that misses the budget is an error. When the budget is infeasible,
/// fills `infeasible` with the lowest figures reached and `lowestPlan`
/// with the whole plan that reaches them (for the checks on the bufferized
/// program, which can find it meets the budget there). With `checkAhead`,
/// the plan the search is likely to return is checked on the bufferized
/// program beside the rest of the search (CheckAhead.h).
FailureOr<RematPlan> planOnce(func::FuncOp function, BackwardOp backward,
                              const PlanOptions &options,
                              std::optional<Budget> searchBudget,
                              bool checkFixed, SearchLimits &limits,
                              RematPlan *infeasible = nullptr,
                              std::optional<RematPlan> *lowestPlan = nullptr,
                              CheckAhead *checkAhead = nullptr);

/// A fixed schedule's plan: what it saves, and why for each value.
struct Schedule {
  ValueSet saved;
  std::function<std::string(Value, bool)> reason;
};

/// True for the strategies that are fixed schedules (full, every-n, sqrt,
/// selective, mincut).
bool isFixedSchedule(PlanStrategy strategy);
/// Builds the plan of a fixed schedule (PlanSchedules.cpp). Fails, with
/// the reason in `error`, when the function lacks what the schedule needs.
/// `everyN` overrides the options' segment length for every-n (0: keep).
FailureOr<Schedule> buildSchedule(PlanContext &ctx, PlanStrategy strategy,
                                  std::string &error, unsigned everyN = 0);
/// The number of layers of the forward before `backward`; 0 without any.
unsigned countLayers(BackwardOp backward);

} // namespace detail
} // namespace remat
} // namespace mlir

#endif // REMAT_LIB_PLANNER_PLANNERIMPL_H
