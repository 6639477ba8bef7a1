//===- PlanContext.h - what the planner's strategies work on -*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The planner's context for one backward: its candidate residuals and
/// their groups, and the evaluation of plans (a plan's peak on a scratch
/// copy of the step, its recompute cost, bounds), memoized and counted
/// against the search's limits. PlannerImpl.h has the searches built on it.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_PLANNER_PLANCONTEXT_H
#define REMAT_LIB_PLANNER_PLANCONTEXT_H

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Planner/Planner.h"

#include "BackgroundCopies.h"
#include "SearchLimits.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/DenseSet.h"

#include <map>
#include <memory>
#include <optional>

namespace mlir {
namespace remat {
namespace detail {

class CheckAhead;

/// A set of forward values.
using ValueSet = llvm::DenseSet<Value>;

/// Plan costs are sums of doubles taken in different orders: one plan is
/// cheaper than another only by more than this fraction of the other's.
constexpr double kCostTolerance = 1e-12;
/// The cost a plan must be under to be cheaper than one costing `cost`.
inline double cheaperThan(double cost) { return cost * (1 - kCostTolerance); }
/// Whether `cost` is cheaper than `than`, beyond the tolerance.
inline bool isCheaper(double cost, double than) {
  return cost < cheaperThan(than);
}

/// The label of a forward value: its remat.name tag, else its name
/// location, else its op name.
std::string getLabel(Value value);
/// True for the ops whose result aliases their first operand's buffer.
bool isViewLike(Operation *op);
/// The value whose buffer `value` aliases (through view-like ops).
Value getViewRoot(Value value);
/// "label (bytes), ..." of the buffers live at the peak.
std::string describeLiveAtPeak(const MemoryProfile &profile);

/// Residuals that alias one buffer: recomputed together or not at all.
struct Group {
  Value root;
  SmallVector<Value> members;
  int64_t bytes = 0;
  std::string label;
};

struct PlanCostSum {
  OpCost cost;
  double seconds = 0;
};

/// The forward ops: those of the backward's block before it.
SmallVector<Operation *> getForwardOps(BackwardOp backward);

/// The layers of the forward before `backward` (PlanLayers.cpp): named by
/// location (getLayerKey), or, when no op names one, found as the longest
/// run of a repeated op sequence (`structural`; named "#0", "#1", ...).
struct ForwardLayers {
  SmallVector<std::string> names;
  /// The layer of each forward op (an index into `names`), -1 outside
  /// every layer.
  llvm::DenseMap<Operation *, int> layerOf;
  bool structural = false;
};
ForwardLayers findForwardLayers(BackwardOp backward);
/// What identifies an op in a repeated layer: its name, operand and result
/// types, and attributes (not its location or its operands' identity).
llvm::hash_code getLayerSignature(Operation *op);

struct ChainMenu;

/// What every strategy works on: the candidates of one backward, and the
/// evaluation of plans (peak and recompute cost).
class PlanContext {
public:
  PlanContext(func::FuncOp function, BackwardOp backward,
              const PlanOptions &options, SearchLimits &limits);
  /// Waits for the copy startCopies' thread is making.
  ~PlanContext();
  PlanContext(const PlanContext &) = delete;
  PlanContext &operator=(const PlanContext &) = delete;

  /// The work of one plan evaluation: the function's op count, times
  /// kBufferizedWorkFactor when the search bufferizes each plan (a
  /// `peakModel` is given).
  uint64_t evaluationWork() const {
    return options.peakModel ? kBufferizedWorkFactor * opCount : opCount;
  }
  /// Spends one evaluation's work on optional search (SearchLimits::spend).
  bool spendEvaluation(llvm::StringRef where) {
    return limits.spend(evaluationWork(), where);
  }
  /// Spends the work of one walk over the plan's recompute closures (a cost
  /// or a marginal cost): an eighth of the function's op count.
  bool spendWalk(llvm::StringRef where) {
    return limits.spend(opCount / 8 + 1, where);
  }

  /// What an evaluation shows before the plan is undone: its memory
  /// profile, each recomputed forward value's first clone, and the ops the
  /// plan inserted (all in the scratch copy of the function).
  using Inspect = function_ref<void(const MemoryProfile &,
                                    const llvm::DenseMap<Value, Value> &,
                                    ArrayRef<Operation *>)>;
  /// The peak with `saved` saved and every other residual recomputed (the
  /// values in `duplicated` once per residual that needs them), counted.
  /// `inspect` needs peaks from the memory analysis (no `peakModel`).
  FailureOr<int64_t> peak(const ValueSet &saved,
                          std::string *liveAtPeak = nullptr,
                          const ValueSet *duplicated = nullptr,
                          Inspect inspect = nullptr);
  /// The same for the groups set in `recomputed` (memoized). With none
  /// set, the function as it is, analyzed in place (no copy needed).
  FailureOr<int64_t> peak(const llvm::BitVector &recomputed);
  /// Where the search evaluates ahead (`canEvaluateAhead`), starts making
  /// its two copies of the function on a thread of its own, one after the
  /// other, so that the search's first steps overlap them; an evaluation
  /// waits only for the copy it uses. Otherwise copies are made on first
  /// use.
  void startCopies();
  /// The memo's key of the groups set in `recomputed`.
  static std::string cacheKey(const llvm::BitVector &recomputed);
  /// Whether `peaksAhead` evaluates plans side by side: the context has
  /// more than one thread, the budget is on the peak, peaks come from the
  /// memory analysis (no `peakModel`) and no bufferized check runs beside
  /// the search (it has the other core).
  bool canEvaluateAhead() const;
  /// The peaks of several plans (the groups set in each of `recomputed`),
  /// evaluated side by side on the context's threads, each on a copy of
  /// the function of its own. Not counted and not memoized: a search
  /// evaluates ahead of its walk, and calls `usePeak` for each result the
  /// walk reaches, so that its figures (evaluations, the memo) are those
  /// of a walk that evaluated one plan at a time.
  SmallVector<FailureOr<int64_t>>
  peaksAhead(ArrayRef<llvm::BitVector> recomputed);
  /// Counts and memoizes `peak`, from `peaksAhead`, as `peak(recomputed)`
  /// would have.
  void usePeak(const llvm::BitVector &recomputed, int64_t peak);
  /// Hands over the last copy `peaksAhead` made beyond the first (its plan
  /// undone, so it is the function again), with the mapping from the
  /// function into it; null when there is none. Once a check runs beside
  /// the search, plans are evaluated one at a time on the first copy, and
  /// the check bufferizes this one instead of copying the function again.
  OwningOpRef<func::FuncOp> takeSpareCopy(IRMapping &mapping);
  /// Whether `takeSpareCopy` would hand one over.
  bool hasSpareCopy() const;
  /// For each of `values` (forward values the plan recomputes), whether
  /// the buffer of its first recompute clone is live at every peak point
  /// of the plan saving `saved` (those in `duplicated` recomputed once per
  /// residual). Analyzed on the scratch copy, as `peak` is; not counted as
  /// an evaluation.
  llvm::BitVector heldAtPeak(const ValueSet &saved, const ValueSet *duplicated,
                             ArrayRef<Value> values);
  /// The highest point of an evaluated plan's timeline that is an op of
  /// the step (not a recompute clone): its bytes, and the groups the plan
  /// saves whose buffers are live there. A plan that recomputes these
  /// groups and more keeps every buffer live there but those of the
  /// groups it adds, and each clone no later than this plan makes it, so
  /// it peaks at least at `bytes` less the added groups' held bytes
  /// (docs/Design.md, "the exact search").
  struct HeldPoint {
    int64_t bytes = 0;
    /// Per group, the bytes of its buffer if it is held there (aligned as
    /// the analysis allocates), else 0.
    SmallVector<int64_t> held;
    /// Where the point is a recompute clone (`anchor`, a forward op of the
    /// function, cloned as part of the recomputation inserted before the
    /// backward's op `before`): the bound holds only for plans whose added
    /// groups' recomputations, inserted no later than `before`, do not
    /// clone `anchor` (they would clone it earlier).
    Operation *anchor = nullptr;
    Operation *before = nullptr;
  };
  /// The peak of `recomputed` (memoized, counted), the highest point that
  /// is an op of the step (`point`) and the highest point of all when it
  /// is a clone (`clonePoint`, whose `anchor` is then set).
  FailureOr<int64_t> peakAndPoint(const llvm::BitVector &recomputed,
                                  HeldPoint &point, HeldPoint &clonePoint);
  /// The peak of `recomputed` (memoized, counted), the live bytes at
  /// each point of its timeline (`timeline`) and, per group, the first
  /// point where an op of the backward reads it (saved, or recomputed),
  /// moved back over the recompute clones inserted just before that op
  /// (`useAt`; the timeline's size where none does).
  FailureOr<int64_t> peakAndUses(const llvm::BitVector &recomputed,
                                 SmallVectorImpl<int64_t> &timeline,
                                 SmallVectorImpl<unsigned> &useAt);
  /// The saved activation bytes with `saved` saved: each distinct buffer
  /// (view root) of a forward value that is not a constant, once; with
  /// `withFrontier`, also the forward values that recomputing the other
  /// candidates reads but cannot recompute (the rewrite saves those).
  int64_t activationBytes(const ValueSet &saved,
                          bool withFrontier = true) const;
  /// What the budget bounds (options.budgetOn): the peak, or the saved
  /// activation bytes.
  FailureOr<int64_t> measure(const ValueSet &saved,
                             std::string *liveAtPeak = nullptr);
  FailureOr<int64_t> measure(const llvm::BitVector &recomputed);

  /// The ops recomputing `value` from `saved` (and arguments), except those
  /// in `done`, which the walk adds them to (and to `added`), and those in
  /// `already`, which it neither counts nor walks through; and their cost.
  /// `onReuse` is called with each value the walk reaches whose op was in
  /// `done` before this walk.
  PlanCostSum closure(Value value, const ValueSet &saved,
                      llvm::DenseSet<Operation *> &done,
                      const llvm::DenseSet<Operation *> *already = nullptr,
                      SmallVectorImpl<Operation *> *added = nullptr,
                      function_ref<void(Value)> onReuse = nullptr);
  /// Calls `fn` with each candidate outside `saved`, in the order the
  /// rewrite clones them, and the cost of the ops it clones for it (the
  /// values in `duplicated` are cloned again for each residual that needs
  /// them). With `reused`, collects the values a residual reads from the
  /// clones made for an earlier one: what could be recomputed twice.
  void forEachRecomputed(const ValueSet &saved, const ValueSet *duplicated,
                         function_ref<void(Value, const PlanCostSum &)> fn,
                         SmallVectorImpl<Value> *reused = nullptr);
  /// The cost of recomputing every candidate outside `saved`. Without
  /// `duplicated`, `cloned` (if given) receives the recompute graph's ops
  /// the plan clones (by RecomputeGraph index).
  PlanCostSum cost(const ValueSet &saved, const ValueSet *duplicated = nullptr,
                   llvm::BitVector *cloned = nullptr);
  double objective(const OpCost &cost, double seconds) const;
  /// The forward's layers (findForwardLayers), found once (shared with the
  /// schedules' reasons).
  const ForwardLayers &getLayers() { return *getSharedLayers(); }
  std::shared_ptr<const ForwardLayers> getSharedLayers() {
    if (!layers)
      layers =
          std::make_shared<const ForwardLayers>(findForwardLayers(backward));
    return layers;
  }
  /// A value a forward op reads from an op of another layer (or from
  /// outside every layer, -1), in forward order: what a segment schedule
  /// saves when the two layers fall in different segments
  /// (PlanSchedules.cpp). Found once.
  struct LayerCrossing {
    Value value;
    int from, to;
  };
  ArrayRef<LayerCrossing> getLayerCrossings();
  /// The modeled time of the whole step without remat: the roofline seconds
  /// of every op of the function's body and the backward's (ops nested in
  /// a structured op's body are part of its cost).
  double stepSeconds();
  double objective(const llvm::BitVector &recomputed);
  /// The candidates outside `saved`, in the order the rewrite clones them.
  SmallVector<Value> droppedInOrder(const ValueSet &saved) const;
  /// The backward inputs minus the members of the groups in `recomputed`.
  ValueSet savedFor(const llvm::BitVector &recomputed) const;
  /// The groups a plan that saves `saved` recomputes: those with no member
  /// saved.
  llvm::BitVector recomputedFor(const ValueSet &saved) const;

  /// A lower bound on the peak of every plan that recomputes only groups
  /// in `mayRecompute`: the peak of the function without remat (memory
  /// analysis) less, at each point, the groups in `mayRecompute` whose
  /// buffers are held there only for the backward. Recomputing changes no
  /// forward op and no backward temporary, and clones only add buffers.
  /// With a budget on activations: their bytes with all of `mayRecompute`
  /// recomputed (exact, as they only fall).
  int64_t lowerBound(const llvm::BitVector &mayRecompute);
  /// The peak part of lowerBound, whatever the budget bounds.
  int64_t peakLowerBound(const llvm::BitVector &mayRecompute);
  /// Per group, the recompute graph's ops (by index) its recomputation
  /// clones: from its members' ops up to the backward's inputs. A plan
  /// clones the union of its groups' (a walk that reaches another
  /// recomputed group's value goes on through that group's own ops).
  ArrayRef<llvm::BitVector> getGroupClones();
  /// A lower bound on the cost that a plan recomputing the groups set in
  /// `recomputed` and some of `undecided` adds to theirs, so that its peak
  /// lower bound meets `budget`: wherever the bound with `recomputed` alone
  /// is above the budget, the undecided groups held there only for the
  /// backward must free the excess, and group g adds at least
  /// `addedCost[g]`. Each such stretch of the timeline is a fractional
  /// knapsack; the bound is the dearest. Infinity when the undecided
  /// groups cannot free the excess.
  double costToMeetBound(const llvm::BitVector &recomputed,
                         ArrayRef<unsigned> undecided,
                         ArrayRef<double> addedCost, int64_t budget);

  /// With a budget on activations, a second bound, on the peak: a plan
  /// whose activations meet `activationBudget` but whose peak is above
  /// `peakCap` measures `activationBudget + 1` (it misses). auto sets it to
  /// the peak of the cheapest fixed schedule that meets the activation
  /// budget, so that schedule beats its plan on neither count.
  void setPeakCap(int64_t activationBudget, int64_t cap) {
    capBudget = activationBudget;
    peakCap = cap;
  }

  func::FuncOp function;
  BackwardOp backward;
  const PlanOptions &options;
  SearchLimits &limits;
  /// Every backward input.
  ValueSet inputs;
  /// The residuals that may be recomputed, in operand order, and their
  /// groups.
  SmallVector<Value> candidates;
  SmallVector<Group> groups;
  llvm::DenseMap<Value, unsigned> groupOf;
  unsigned evaluations = 0;
  /// Set once a bufferized check runs beside the search (CheckAhead.h).
  bool besideCheck = false;
  /// The layered search's chain and menu (getChainMenu).
  std::shared_ptr<const ChainMenu> chainMenu;

  /// The cost of one op (memoized).
  std::pair<OpCost, double> getCost(Operation *op);

  /// The forward ops a recompute may clone, and per op its inputs made by
  /// such ops with the input value (which a plan may save) and the value's
  /// number: what cost() walks. Built once, on first use.
  struct RecomputeGraph {
    struct Edge {
      unsigned input;
      Value value;
      unsigned valueId;
    };
    SmallVector<Operation *> ops;
    llvm::DenseMap<Operation *, unsigned> index;
    SmallVector<SmallVector<Edge>> edges;
    /// Each op's cost, the numbers of the edges' values, and the ops of the
    /// candidates.
    SmallVector<std::pair<OpCost, double>> costs;
    llvm::DenseMap<Value, unsigned> valueId;
    SmallVector<std::pair<Value, unsigned>> candidateOps;
  };
  const RecomputeGraph &getRecomputeGraph();

private:
  void computeBound();
  /// The peak of the function without remat (computeBound's analysis).
  int64_t boundPeak = 0;
  /// Per point, the bytes of the groups in `mayRecompute` held there only
  /// for the backward.
  SmallVector<int64_t> freedTimeline(const llvm::BitVector &mayRecompute);
  std::optional<RecomputeGraph> graph;
  /// `bytes` of activations, or `capBudget + 1` when they meet the
  /// activation budget but the plan's peak (`peakOf`; not evaluated when
  /// the lower bound for `recomputed`, if given, is above the cap already)
  /// is above the peak cap.
  FailureOr<int64_t> capActivations(int64_t bytes,
                                    const llvm::BitVector *recomputed,
                                    function_ref<FailureOr<int64_t>()> peakOf);

  /// Live bytes per point without remat, and each group's [first, last]
  /// points held only for the backward.
  SmallVector<int64_t> boundTimeline;
  SmallVector<std::pair<unsigned, unsigned>> heldForBackward;
  std::optional<SmallVector<llvm::BitVector>> groupClones;
  bool boundReady = false;
  std::optional<int64_t> peakCap;
  int64_t capBudget = 0;
  llvm::DenseMap<Value, unsigned> firstUse;
  llvm::DenseMap<Operation *, std::pair<OpCost, double>> opCosts;
  std::map<std::string, int64_t> peakCache;
  std::shared_ptr<const ForwardLayers> layers;
  std::optional<SmallVector<LayerCrossing>> layerCrossings;
  uint64_t opCount = 0;
  /// A copy of the function peaks are evaluated on: a plan is applied to
  /// it, analyzed and undone.
  struct Scratch {
    OwningOpRef<func::FuncOp> function;
    IRMapping mapping;
    BackwardOp backward;
    /// The inverse of `mapping`'s op map, made on first use.
    llvm::DenseMap<Operation *, Operation *> original;
    /// The analysis of the copy, its tables kept between evaluations.
    MemoryAnalyzer analyzer;
  };
  /// The copies, made on first use: the first for `peak`, one more for each
  /// plan `peaksAhead` evaluates side by side.
  SmallVector<std::unique_ptr<Scratch>> scratches;
  /// The first copies, made on a thread of their own (startCopies).
  std::unique_ptr<BackgroundCopies> copies;
  Scratch &getScratch(unsigned index);
  /// The peak of `saved` on `scratch` (see `peak`). `inspect`, if given,
  /// sees the plan's memory profile and each recomputed forward value's
  /// first clone (both in the scratch copy) before the plan is undone.
  int64_t peakOn(Scratch &scratch, const ValueSet &saved,
                 std::string *liveAtPeak, const ValueSet *duplicated,
                 Inspect inspect = nullptr);
  /// `peak` of the groups set in `recomputed`, memoized.
  FailureOr<int64_t> peakOfSet(const llvm::BitVector &recomputed,
                               Inspect inspect);
};

} // namespace detail
} // namespace remat
} // namespace mlir

#endif // REMAT_LIB_PLANNER_PLANCONTEXT_H
