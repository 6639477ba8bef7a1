//===- Planner.h - choose what to recompute under a memory budget ---------===//
//
// The automatic planner behind -remat-rematerialize, as a library: embedders
// call planRematerialization and applyRematPlan without a pass manager.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_PLANNER_PLANNER_H
#define REMAT_PLANNER_PLANNER_H

#include "remat/Analysis/Cost.h"
#include "remat/Analysis/MemoryAnalysis.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/Support/JSON.h"

#include <functional>
#include <optional>
#include <string>

namespace mlir {
namespace remat {

/// How the planner chooses what to save. The first six are fixed schedules
/// of the field: they ignore the budget except to check it.
enum class PlanStrategy {
  /// Keep autograd's saved set.
  None,
  /// Save only layer inputs (torch.utils.checkpoint on every layer).
  Full,
  /// Save only the inputs of every `everyN`-th layer (segments of N layers).
  EveryN,
  /// EveryN with N = round(sqrt(layers)) (Chen et al.'s sqrt(L) schedule).
  Sqrt,
  /// Megatron-LM's selective recompute: the attention core (scores, mask,
  /// softmax, dropout between the two batch matmuls) is recomputed.
  Selective,
  /// PyTorch's min-cut partitioner: the minimum saved bytes such that only
  /// cheap ops (element-wise, views, fills) are recomputed.
  MinCut,
  /// Cost-aware greedy: recompute by best bytes freed per recompute cost
  /// until the predicted peak meets the budget.
  Greedy,
  /// Exact: the least recompute cost over all subsets of the residuals
  /// whose predicted peak meets the budget (branch and bound).
  Optimal,
  /// Every subset of the candidates (at most kExhaustiveGroupLimit groups):
  /// the reference the exact search is tested against.
  Exhaustive,
  /// The layered search alone: per-layer recompute patterns combined by a
  /// dynamic program over the chain of layers and segments.
  Layered,
  /// The best plan found within the work limit: the exact search where it
  /// is tractable, greedy, the layered search and the fixed schedules as
  /// incumbents.
  Auto,
};

/// The default work limit (PlanOptions::workLimit), in op visits: about 2 s
/// of search on the development machine.
constexpr uint64_t kDefaultWorkLimit = 1000000;
/// The default work limit of the exact search (PlanOptions::exactWorkLimit),
/// in op visits. It runs only on steps of at most exactCandidateLimit
/// groups, where an evaluation is cheap: on the corpus models it is up to
/// about a second of search on the development machine.
constexpr uint64_t kDefaultExactWorkLimit = 4000000;
/// What a check on the bufferized program costs, in plan evaluations.
constexpr uint64_t kBufferizedWorkFactor = 16;
/// The default time limit, in seconds: far above what the corpus takes.
constexpr double kDefaultTimeLimit = 300;

/// The most candidate groups strategy=exhaustive enumerates (2^26 subsets;
/// graphs of up to 25 candidate residuals, as the exact search is checked
/// on, fit).
constexpr unsigned kExhaustiveGroupLimit = 26;

/// Returns the strategy named `name` (none, full, every-n, sqrt, selective,
/// mincut, greedy, optimal, exhaustive, auto).
std::optional<PlanStrategy> parsePlanStrategy(llvm::StringRef name);
llvm::StringRef stringifyPlanStrategy(PlanStrategy strategy);
/// The strategy's name, with its segment length for every-n when `everyN`
/// is set: "every-n (every=4)".
std::string describePlanStrategy(PlanStrategy strategy, unsigned everyN);

/// What the planner minimizes.
enum class PlanCost { Time, Flops };

/// Parses `6GiB`, `512MiB`, `100KiB`, `4096` (bytes) or `40%` (of the peak
/// without remat). Returns nullopt, with the reason in `error`, on malformed
/// input, a size that is not positive and finite, or one above
/// kMaxModeledTotalBytes.
struct Budget {
  std::optional<int64_t> bytes;
  std::optional<double> fraction;
};
std::optional<Budget> parseBudget(llvm::StringRef text,
                                  std::string *error = nullptr);

/// `fraction` of `bytes`, rounded down, saturating at INT64_MAX.
int64_t scaleBytes(double fraction, int64_t bytes);

/// What a budget bounds: the step's peak, or the activation bytes the
/// forward saves for the backward (as the field's schedules are often
/// compared).
enum class BudgetOn { Peak, Activations };

/// Predicts the peak of a function (with its plan applied).
using PeakModel = std::function<FailureOr<int64_t>(func::FuncOp)>;

// (kAllocationAlignment, the alignment the default peak model rounds each
// buffer up to, is the memory analysis's: remat/Analysis/MemoryAnalysis.h.)

/// When the rewrite recomputes a value once for each residual that needs
/// it, instead of holding one clone from the first such residual to the
/// last.
enum class RecomputeTwice {
  /// Never: one clone serves every residual.
  Never,
  /// Only to meet a budget the plan misses otherwise (the least recompute
  /// cost at the budget).
  ToFit,
  /// Whenever it lowers the plan's predicted peak (tried within the work
  /// limit), and to meet a budget.
  Peak,
};

struct PlanOptions {
  PlanStrategy strategy = PlanStrategy::Auto;
  PlanCost cost = PlanCost::Time;
  /// No budget: the searching strategies recompute nothing.
  std::optional<Budget> budget;
  /// What `budget` bounds; a percentage is of the same quantity without
  /// remat.
  BudgetOn budgetOn = BudgetOn::Peak;
  TargetModel target = *TargetModel::getPreset("h100");
  /// Layers per segment of the every-n strategy.
  unsigned everyN = 2;
  /// The work the optional parts of the search may do, in op visits: each
  /// plan the memory analysis evaluates costs the function's op count (a
  /// check on the bufferized program kBufferizedWorkFactor times that), each
  /// node of the exact search a 32nd of it. Pruning the greedy plan, the
  /// layered search, second recomputes and the searches again after a
  /// failed check draw on it; the greedy plan and the fixed schedules do
  /// not, nor does the exact search (exactWorkLimit). Plans depend only on
  /// the function and the options while these limits, not the time limit,
  /// are what stop a search.
  uint64_t workLimit = kDefaultWorkLimit;
  /// The work the exact search for the least-cost plan may do (optimal, and
  /// auto up to exactCandidateLimit groups), in op visits, beside
  /// workLimit.
  uint64_t exactWorkLimit = kDefaultExactWorkLimit;
  /// Wall-clock seconds, an outer safety net: where it stops a search, the
  /// plan depends on the machine's speed and load, and says so. 0: none.
  double timeLimit = kDefaultTimeLimit;
  /// Auto runs the exact search only up to this many candidates.
  unsigned exactCandidateLimit = 48;
  /// When a value shared by several recomputed residuals is recomputed for
  /// each of them (tried largest first, at most 32 values per plan).
  RecomputeTwice recomputeTwice = RecomputeTwice::Peak;
  /// The model the search evaluates plans with. Null: the memory analysis
  /// on the rewritten function (tensors), with buffers rounded up to
  /// kAllocationAlignment: fast, and close to the bufferized program's.
  PeakModel peakModel;
  /// With the default search model: the baseline, the budget's percentage
  /// and the chosen plan's peak come from the bufferized program
  /// (predictBufferizedPeak), which is what the CPU run allocates; a plan
  /// that misses the budget there is searched again under a tighter one.
  bool verify = true;
  /// The bufferized program fuses element-wise chains first
  /// (`-linalg-fuse-elementwise-ops`), as `-remat-lower-to-nvvm` compiles
  /// the step; fusion changes which temporaries exist, so a GPU build's
  /// peak is predicted with it.
  bool fusePointwise = false;
  /// Offload as a third choice: after the search, each recomputed buffer
  /// whose copy back from host memory over `link` costs less modeled time
  /// than recomputing it is offloaded instead, while the peak still meets
  /// the budget (chooseOffloads, PlanOffload.cpp).
  bool offload = false;
  HostLink link = *parseHostLink("pcie5");
};

/// One value and what the planner decided for it.
struct PlanDecision {
  Value value;
  std::string label;
  int64_t bytes = 0;
  int64_t flops = 0;    ///< FLOPs to recompute it (marginal, in rewrite
                        ///< order), when recomputed.
  double seconds = 0.0; ///< roofline time of the same.
  bool recompute = false;
  /// Offloaded to host memory and reloaded (not recomputed).
  bool offload = false;
  std::string reason;
};

/// A value the rewrite recomputes once for each residual that needs it,
/// and what that changed.
struct PlanDuplicate {
  Value value;
  /// `value` and the values whose buffer it views or writes in place (a
  /// view's source, a destination-style op's inits, recursively): all
  /// recomputed once per residual.
  SmallVector<Value> chain;
  std::string label;
  int64_t bytes = 0;
  /// The predicted peak (search model) before and after.
  int64_t peakBefore = 0;
  int64_t peakAfter = 0;
  /// The recompute cost it adds.
  int64_t extraFlops = 0;
  double extraSeconds = 0.0;
};

struct RematPlan {
  /// The strategy whose plan this is (for auto: the one that won).
  PlanStrategy strategy = PlanStrategy::None;
  /// Layers per segment, for an every-n plan.
  unsigned everyN = 0;
  /// For a layered plan: its segments of layers and the pattern menu.
  std::string layout;
  /// The strategy the options asked for.
  PlanStrategy requestedStrategy = PlanStrategy::None;
  /// False for the figures of a budget that cannot be met (see
  /// planRematerialization): `predictedPeak` is then the lowest peak
  /// reached (or `activationBytes` the lowest activations), and there are
  /// no decisions.
  bool feasible = true;
  /// True when the exact search completed: no cheaper plan meets the
  /// budget among the subsets of residuals.
  bool provenOptimal = false;
  /// False when a limit cut part of the strategy's search (the work limit,
  /// the time limit, or auto's exact-limit); `searchNote` then says which
  /// and where.
  bool searchComplete = true;
  std::string searchNote;
  /// The work the search spent, in op visits (see PlanOptions::workLimit).
  uint64_t work = 0;
  /// The residuals the plan could recompute.
  unsigned candidates = 0;
  int64_t baselinePeak = 0;
  int64_t predictedPeak = 0;
  int64_t budgetBytes = 0; ///< bounds what `budgetOn` says.
  /// False when the options set no budget (`budgetBytes` is then the
  /// figure without remat).
  bool hasBudget = false;
  BudgetOn budgetOn = BudgetOn::Peak;
  /// Saved activation bytes (each buffer once) without remat and after the
  /// plan.
  int64_t baselineActivationBytes = 0;
  int64_t activationBytes = 0;
  /// Raw FLOPs (transcendental ops count 1 each), as the report and
  /// -remat-test-print-costs count them.
  int64_t recomputeFlops = 0;
  /// What `cost=flops` minimizes: FLOPs with transcendental ops weighted
  /// kTranscendentalWeight times.
  int64_t recomputeWeightedFlops = 0;
  double recomputeSeconds = 0.0;
  /// The modeled time of the whole step without remat (forward and
  /// backward, roofline): the recompute time's overhead is relative to it.
  double baselineStepSeconds = 0.0;
  /// The rewrites applied before planning (planWithRewrites: "chunk-loss"),
  /// and what they change in the step's modeled time without remat
  /// (negative when the rewritten step is faster). The baseline figures
  /// above are those of the step before them.
  SmallVector<std::string> rewrites;
  double rewriteSeconds = 0.0;
  /// Peak evaluations (and bufferized checks) and wall time the planning
  /// took.
  unsigned evaluations = 0;
  double planSeconds = 0.0;
  /// Whether the plan's bufferized check ran beside the search (the search
  /// returned the plan that check ran on). It does not change the plan.
  bool checkAheadUsed = false;
  SmallVector<PlanDecision> decisions;
  /// The residuals to drop from the backward's saved set.
  SmallVector<Value> recomputed;
  /// The values recomputed once per residual that needs them, in the order
  /// they were chosen (the totals above include their cost).
  SmallVector<PlanDuplicate> duplicated;
  /// The buffers offloaded to host memory (PlanOptions::offload): each is
  /// copied out after its definition and back before the backward needs
  /// it. Their bytes, and the modeled link time the step waits for (the
  /// copies back; the copies out overlap the forward).
  SmallVector<Value> offloaded;
  int64_t offloadedBytes = 0;
  double transferSeconds = 0.0;
  /// The link the transfers were modeled on ("" without offload), its
  /// bandwidth, and the target whose compute hides them: applyRematPlan
  /// places each copy back early enough to hide it (scheduleReloads).
  std::string link;
  double linkBandwidth = 0;
  std::optional<TargetModel> transferTarget;
  /// The values to save: the residuals kept and, for min-cut plans, forward
  /// values that become residuals. Every other forward value the
  /// recomputation needs is recomputed too.
  SmallVector<Value> saved;
};

/// The dialects the planner loads: those of the passes that check a plan on
/// the bufferized program (one-shot bufferization and what precedes it). A
/// pass that plans (such as -remat-rematerialize) declares them, so that
/// they are loaded before it runs.
void getPlannerDependentDialects(DialectRegistry &registry);

/// Builds the plan for `function` (one `remat.backward`). Fails with a
/// diagnostic on the function when the budget cannot be met, naming the
/// lowest peak the strategy reached and what holds it.
///
/// When the budget cannot be met and `infeasible` is given, it receives the
/// plan's figures with `feasible` false: the budget, the baseline, and the
/// lowest peak (or activations) the strategy reached.
FailureOr<RematPlan> planRematerialization(func::FuncOp function,
                                           const PlanOptions &options,
                                           RematPlan *infeasible = nullptr);

/// The rewrites of the step the planner may apply before it plans.
enum class PlanRewrites {
  None,          ///< plan the step as given.
  ChunkLoss,     ///< chunk the loss (-remat-chunk-loss) first, then plan.
  FuseAttention, ///< fuse attention (-remat-fuse-attention) first.
  All,           ///< both rewrites first, then plan.
  Auto,          ///< plan the step as given and with each combination of
                 ///< the rewrites; take the plan that meets the budget in
                 ///< the least modeled step time.
};

/// What -remat-rematerialize runs on each function: folds the backward's
/// transposes of transposed weights (foldBackwardTransposes) first, so that
/// it gives the pass's plan; then planRematerialization, with the rewrites
/// `rewrites` allows tried on a copy of `function` first (the loss's chunk
/// chosen on options.target, attention in blocks of 64). A percentage budget is
/// of the step as given, and so are the plan's baseline figures;
/// `rewriteSeconds` and `rewrites` say what the rewrite did. When the chosen
/// plan uses a rewrite, `function`'s body becomes the rewritten one (the plan's
/// values live in it). The rewrite's remarks, and with `remarks` one saying
/// which plan was chosen and why, are emitted only with `remarks`; the chosen
/// plan's diagnostics (an infeasible budget's error) always.
FailureOr<RematPlan> planWithRewrites(func::FuncOp function,
                                      const PlanOptions &options,
                                      PlanRewrites rewrites, bool remarks,
                                      RematPlan *infeasible = nullptr);

/// The plan summary of `function` as the plan file writes it (one entry of
/// its "plans"; docs/plan.schema.json): raw bytes, FLOPs and seconds.
llvm::json::Value planToJSON(llvm::StringRef function, const RematPlan &plan);

/// Applies `plan`: recomputes its values in the backward, `duplicated` once
/// per residual (see recomputeBackwardInputs).
void applyRematPlan(RewriterBase &rewriter, func::FuncOp function,
                    const RematPlan &plan);

/// The peak of the bufferized program: the function alone in a fresh
/// module, through `-remat-bufferize{deallocate=false}` (the memory analysis
/// ends each buffer at its last use, where the frees would go), then the
/// memory analysis. The other functions of `symbols` (default: the
/// function's parent) are declared in that module, so calls verify.
/// With `fusePointwise`, element-wise chains are fused first, as
/// `-remat-lower-to-nvvm` compiles the step.
FailureOr<int64_t> predictBufferizedPeak(func::FuncOp function,
                                         std::string *liveAtPeak = nullptr,
                                         Operation *symbols = nullptr,
                                         bool fusePointwise = false);

/// The layer of a forward op: the prefix of its name location up to the
/// first numeric path component (`blocks.3` for `blocks.3.attn.mm`), or ""
/// when it has none.
std::string getLayerKey(Operation *op);

} // namespace remat
} // namespace mlir

#endif // REMAT_PLANNER_PLANNER_H
