//===- PlanDuplicates.cpp - recompute a shared value once per residual ----===//
//
// The rewrite clones a value that several recomputed residuals need once,
// before the first of them, and holds it for the others. Recomputing it
// for each of them instead can lower the peak at the cost of more
// recomputation; this search tries the shared values, the largest first.
//
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/Interfaces/DestinationStyleOpInterface.h"

#define DEBUG_TYPE "remat-rematerialize"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// Recomputes values shared by several recomputed residuals once for each
/// of them where that lowers the peak of saving `saved` (`peak` now), the
/// largest first (at most 32 tries), until the peak is at most `stopAt`. Each
/// kept value is appended to `plan.duplicated`. Returns the peak reached.
FailureOr<int64_t>
mlir::remat::detail::recomputeTwice(PlanContext &ctx, const ValueSet &saved,
                                    int64_t peak, std::optional<int64_t> stopAt,
                                    RematPlan &plan) {
  constexpr unsigned kMaxTrials = 32;
  plan.duplicated.clear();
  SmallVector<Value> shared;
  ctx.forEachRecomputed(
      saved, nullptr, [](Value, const PlanCostSum &) {}, &shared);
  auto bytesOf = [](Value v) {
    return getStaticSizeInBytes(v.getType()).value_or(0);
  };
  llvm::stable_sort(shared,
                    [&](Value a, Value b) { return bytesOf(a) > bytesOf(b); });
  ValueSet duplicated;
  PlanCostSum before = ctx.cost(saved, &duplicated);
  // A second recompute frees a clone only where it was held for a later
  // residual, so only the clones live at every peak point of the memory
  // analysis are tried. (The analysis runs on the evaluations' scratch
  // copy: a copy of its own cost a 96-layer plan about 100 ms.)
  llvm::BitVector held;
  auto analyze = [&] { held = ctx.heldAtPeak(saved, &duplicated, shared); };
  if (!shared.empty())
    analyze();
  unsigned trials = 0;
  for (auto [index, v] : llvm::enumerate(shared)) {
    if ((stopAt && peak <= *stopAt) || trials == kMaxTrials)
      break;
    if (!held.test(index))
      continue;
    // A value is recomputed with the values whose buffer it writes or
    // views: a destination-style op's inits (its result is computed in
    // place, so one init shared by two clones would hold one buffer from
    // the first to the second) and a view's source.
    SmallVector<Value> chain;
    SmallVector<Value> work{v};
    while (!work.empty()) {
      Value u = work.pop_back_val();
      Operation *def = u.getDefiningOp();
      if (!def || saved.contains(u) || duplicated.contains(u) ||
          !canRecomputeIn(def, ctx.backward) || llvm::is_contained(chain, u))
        continue;
      chain.push_back(u);
      if (isViewLike(def))
        work.push_back(def->getOperand(0));
      else if (auto dps = dyn_cast<DestinationStyleOpInterface>(def))
        llvm::append_range(work, dps.getDpsInits());
    }
    if (chain.empty())
      continue;
    // A trial evaluates the plan, and analyzes it again when kept.
    if (!ctx.limits.spend(2 * ctx.evaluationWork(),
                          "recomputing shared values once per residual"))
      break;
    duplicated.insert(chain.begin(), chain.end());
    ++trials;
    FailureOr<int64_t> p = ctx.peak(saved, nullptr, &duplicated);
    if (failed(p))
      return failure();
    if (*p >= peak) {
      for (Value u : chain)
        duplicated.erase(u);
      continue;
    }
    PlanCostSum after = ctx.cost(saved, &duplicated);
    plan.duplicated.push_back({v, chain, getLabel(v), bytesOf(v), peak, *p,
                               after.cost.flops - before.cost.flops,
                               after.seconds - before.seconds});
    peak = *p;
    before = after;
    analyze();
  }
  return peak;
}
