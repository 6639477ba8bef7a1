//===- Planner.h - choose what to recompute under a memory budget ---------===//
//
// The automatic planner behind -remat-rematerialize, as a library: embedders
// call planRematerialization and applyRematPlan without a pass manager.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_DIALECT_REMAT_TRANSFORMS_PLANNER_H
#define REMAT_DIALECT_REMAT_TRANSFORMS_PLANNER_H

#include "remat/Analysis/Cost.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"

#include <functional>
#include <optional>
#include <string>

namespace mlir {
namespace remat {

/// How the planner searches.
enum class PlanStrategy {
  /// Keep autograd's saved set.
  None,
  /// Cost-aware greedy: recompute the residual with the most bytes per
  /// recompute second until the predicted peak meets the budget.
  Greedy,
};

/// What the planner minimizes.
enum class PlanCost { Time, Flops };

/// Parses `6GiB`, `512MiB`, `100KiB`, `4096` (bytes) or `40%` (of the peak
/// without remat). Returns nullopt on malformed input.
struct Budget {
  std::optional<int64_t> bytes;
  std::optional<double> fraction;
};
std::optional<Budget> parseBudget(llvm::StringRef text);

/// Predicts the peak of a function: by default the bufferized program's
/// (the function alone in a fresh module, through `-remat-bufferize`, then
/// the memory analysis), which is what the CPU run allocates.
using PeakModel = std::function<FailureOr<int64_t>(func::FuncOp)>;

struct PlanOptions {
  PlanStrategy strategy = PlanStrategy::Greedy;
  PlanCost cost = PlanCost::Time;
  /// No budget: recompute nothing (the plan reports the baseline).
  std::optional<Budget> budget;
  TargetModel target = *TargetModel::getPreset("h100");
  /// Null: the bufferized model above.
  PeakModel peakModel;
};

/// One residual and what the planner decided for it.
struct PlanDecision {
  Value value;
  std::string label;
  int64_t bytes = 0;
  int64_t flops = 0;    ///< FLOPs to recompute it (marginal, when chosen).
  double seconds = 0.0; ///< roofline time to recompute it.
  bool recompute = false;
  std::string reason;
};

struct RematPlan {
  int64_t baselinePeak = 0;
  int64_t predictedPeak = 0;
  int64_t budgetBytes = 0;
  int64_t activationBytes = 0; ///< saved activation bytes after the plan.
  int64_t recomputeFlops = 0;
  double recomputeSeconds = 0.0;
  SmallVector<PlanDecision> decisions;
  /// The residuals to drop from the backward's saved set.
  SmallVector<Value> recomputed;
  /// The residuals that stay saved; every other forward value the
  /// recomputation needs is recomputed too.
  SmallVector<Value> saved;
};

/// Builds the plan for `function` (one `remat.backward`). Fails with a
/// diagnostic on the function when the budget cannot be met, naming the
/// lowest peak the strategy reached and what holds it.
FailureOr<RematPlan> planRematerialization(func::FuncOp function,
                                           const PlanOptions &options);

/// Applies `plan`: recomputes its values in the backward (see
/// recomputeBackwardInputs).
void applyRematPlan(RewriterBase &rewriter, func::FuncOp function,
                    const RematPlan &plan);

/// The default peak model (bufferized program). Requires the
/// `remat-bufferize` pipeline to be registered.
FailureOr<int64_t> predictBufferizedPeak(func::FuncOp function,
                                         std::string *liveAtPeak = nullptr);

} // namespace remat
} // namespace mlir

#endif // REMAT_DIALECT_REMAT_TRANSFORMS_PLANNER_H
