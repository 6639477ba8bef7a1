//===- PlanOffload.cpp - offload as the planner's third choice ------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A residual can be saved on the device, recomputed, or offloaded: copied
/// to host memory after its definition and back before the backward needs
/// it. On the device an offloaded buffer is free between the two copies, as
/// a recomputed one is, but it costs link time instead of recompute time.
/// The copy back is placed early enough in the backward to be hidden by
/// the compute before its first use (scheduleReloads); its buffer is
/// allocated from there, which the peak check sees.
///
/// The search chooses what to recompute; this step then offloads, among
/// the buffers the plan recomputes, those whose copy back costs less
/// modeled time than recomputing them, largest saving first, while the
/// peak still meets the budget. The link model: the copies out run on a
/// second stream, one after another over the link, from each value's
/// definition on, hidden behind the forward's compute as far as it lasts;
/// the copies back, one at a time too, each from its reload's new place,
/// hidden behind the backward's compute up to its first use.
///
/// Where no plan meets the budget by recomputing, offloadToBudget sends
/// buffers the lowest plan saves to host memory instead (those live at its
/// peak, largest first) until the budget is met. docs/Design.md, "Offload".
///
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Analysis/Cost.h"
#include "remat/Analysis/MemoryAnalysis.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// The roofline seconds of one op (0 when it has no cost model).
static double opSeconds(Operation *op, const TargetModel &target) {
  FailureOr<OpCost> cost = getOpCost(op);
  if (failed(cost))
    return 0;
  return getRooflineSeconds(*cost, getComputeElementType(op), isContraction(op),
                            target);
}

static int64_t bufferBytes(Value value) {
  return getStaticSizeInBytes(value.getType()).value_or(0);
}

namespace {
/// The link time a set of offloaded buffers adds to the step.
class TransferModel {
public:
  TransferModel(BackwardOp backward, const PlanOptions &options)
      : link(options.link.bandwidth) {
    // The forward's compute time at the end of each op.
    double t = 0;
    for (Operation *op : getForwardOps(backward)) {
      t += opSeconds(op, options.target);
      endOf[op] = t;
    }
    forwardSeconds = t;
  }

  /// The seconds the step waits for the copies out: those that outlast
  /// the forward.
  double exposedSeconds(ArrayRef<Value> offloaded) const {
    SmallVector<Value> byDefinition(offloaded);
    llvm::sort(byDefinition, [&](Value a, Value b) {
      return endOf.lookup(a.getDefiningOp()) < endOf.lookup(b.getDefiningOp());
    });
    double linkFree = 0;
    for (Value v : byDefinition) {
      double copy = static_cast<double>(bufferBytes(v)) / link;
      linkFree = std::max(linkFree, endOf.lookup(v.getDefiningOp())) + copy;
    }
    return std::max(0.0, linkFree - forwardSeconds);
  }

  double copySeconds(Value v) const {
    return static_cast<double>(bufferBytes(v)) / link;
  }

private:
  double link;
  double forwardSeconds = 0;
  llvm::DenseMap<Operation *, double> endOf;
};
} // namespace

double mlir::remat::detail::scheduleReloads(BackwardOp backward,
                                            const TargetModel &target,
                                            double bandwidth) {
  Block &body = backward.getBody().front();
  // Each op's start on the backward's compute timeline (reloads take none).
  SmallVector<Operation *> ops;
  llvm::DenseMap<Operation *, double> startOf;
  SmallVector<ReloadOp> reloads;
  double t = 0;
  for (Operation &op : body) {
    if (auto reload = dyn_cast<ReloadOp>(op)) {
      reloads.push_back(reload);
      continue;
    }
    ops.push_back(&op);
    startOf[&op] = t;
    t += opSeconds(&op, target);
  }
  double linkFree = 0, exposed = 0;
  for (ReloadOp reload : reloads) {
    // Its use: the next op that is not a reload.
    Operation *use = reload->getNextNode();
    while (use && isa<ReloadOp>(use))
      use = use->getNextNode();
    if (!use)
      continue;
    double due = startOf.lookup(use);
    double copy = static_cast<double>(bufferBytes(reload.getResult())) /
                  std::max(bandwidth, 1.0);
    // The latest op that starts early enough, but not while the link is
    // busy with the copy before.
    double wanted = std::max(due - copy, linkFree);
    Operation *at = use;
    for (Operation *op : ops) {
      if (startOf.lookup(op) > due || op == use)
        break;
      if (startOf.lookup(op) >= wanted) {
        at = op;
        break;
      }
    }
    if (at != use)
      reload->moveBefore(at);
    double start = std::max(startOf.lookup(at), linkFree);
    linkFree = start + copy;
    exposed += std::max(0.0, linkFree - due);
  }
  return exposed;
}

static std::string microseconds(double seconds) {
  return llvm::formatv("{0}", llvm::format("%.4g", seconds * 1e6)).str();
}

namespace {
/// A residual group the plan saves, which could go to host memory: its
/// buffer and the backward's inputs that view it.
struct SavedGroup {
  Value root;
  SmallVector<Value> members;
};
} // namespace

/// The groups `plan` keeps on the device whose buffer could go to host
/// memory instead (a value of the forward with a size, in no duplicated
/// chain), largest first.
static SmallVector<SavedGroup>
savedCandidates(PlanContext &ctx, BackwardOp backward, const RematPlan &plan) {
  ValueSet kept = keptInputs(backward, plan);
  ValueSet offloaded(plan.offloaded.begin(), plan.offloaded.end());
  ValueSet inDuplicates;
  for (const PlanDuplicate &d : plan.duplicated)
    inDuplicates.insert(d.chain.begin(), d.chain.end());
  SmallVector<SavedGroup> candidates;
  for (const Group &group : ctx.groups) {
    if (group.members.empty() || group.bytes <= 0 ||
        !llvm::all_of(group.members, [&](Value v) { return kept.contains(v); }))
      continue;
    Value root = getViewRoot(group.members.front());
    Operation *def = root.getDefiningOp();
    if (!def || def->getBlock() != backward->getBlock() ||
        def->hasTrait<OpTrait::ConstantLike>() || offloaded.contains(root) ||
        inDuplicates.contains(root) || bufferBytes(root) <= 0)
      continue;
    candidates.push_back({root, group.members});
  }
  llvm::stable_sort(candidates, [](const SavedGroup &a, const SavedGroup &b) {
    return bufferBytes(a.root) > bufferBytes(b.root);
  });
  return candidates;
}

/// `plan` with the buffers of `chosen` offloaded and the inputs in
/// `unsaved` (views of offloaded buffers the plan saved) no longer saved:
/// its decisions and figures. The decisions of values not in
/// `plan.offloaded` yet get `reason(value)`.
static RematPlan withOffloads(PlanContext &ctx, BackwardOp backward,
                              const PlanOptions &options, const RematPlan &plan,
                              ArrayRef<Value> chosen, const ValueSet &unsaved,
                              double transferSeconds,
                              function_ref<std::string(Value)> reason) {
  RematPlan updated = plan;
  ValueSet before(plan.offloaded.begin(), plan.offloaded.end());
  ValueSet offloaded(chosen.begin(), chosen.end());
  llvm::DenseMap<Value, std::string> reasons;
  for (const PlanDecision &d : plan.decisions)
    reasons[d.value] = d.reason;
  // (The views of a saved buffer that goes to host memory are taken again
  // from its copy brought back.)
  ValueSet kept = keptInputs(backward, plan);
  for (Value v : unsaved)
    kept.erase(v);
  kept.insert(offloaded.begin(), offloaded.end());
  describePlan(ctx, kept, updated, [&](Value v, bool) {
    if (unsaved.contains(v))
      return "a view of '" + getLabel(getViewRoot(v)) +
             "', which goes to host memory: taken again from the copy "
             "brought back";
    return reasons.lookup(v);
  });
  updated.offloaded.assign(chosen.begin(), chosen.end());
  llvm::sort(updated.offloaded, [](Value a, Value b) {
    return a.getDefiningOp()->isBeforeInBlock(b.getDefiningOp());
  });
  llvm::erase_if(updated.saved, [&](Value v) { return offloaded.contains(v); });
  updated.offloadedBytes = 0;
  for (Value v : updated.offloaded)
    updated.offloadedBytes += bufferBytes(v);
  updated.activationBytes =
      std::max<int64_t>(0, updated.activationBytes - updated.offloadedBytes);
  updated.transferSeconds = transferSeconds;
  updated.linkBandwidth = options.link.bandwidth;
  updated.transferTarget = options.target;
  ValueSet decided;
  for (PlanDecision &d : updated.decisions) {
    if (!offloaded.contains(d.value))
      continue;
    decided.insert(d.value);
    d.recompute = false;
    d.offload = true;
    d.bytes = bufferBytes(d.value);
  }
  for (Value v : updated.offloaded)
    if (!decided.contains(v)) {
      PlanDecision d;
      d.value = v;
      d.label = getLabel(v);
      d.bytes = bufferBytes(v);
      d.offload = true;
      updated.decisions.push_back(std::move(d));
    }
  for (PlanDecision &d : updated.decisions)
    if (d.offload && !before.contains(d.value))
      d.reason = reason(d.value);
  return updated;
}

/// The peak on the bufferized program of `plan` (with its reloads
/// scheduled), or the peak model's when options have one.
static FailureOr<int64_t> checkedPeak(func::FuncOp function,
                                      BackwardOp backward,
                                      const PlanOptions &options,
                                      const RematPlan &plan) {
  if (options.peakModel) {
    ValueSet duplicated = duplicatedSet(plan);
    ValueSet offloaded(plan.offloaded.begin(), plan.offloaded.end());
    OwningOpRef<func::FuncOp> copy =
        cloneWithPlan(function, backward, keptInputs(backward, plan),
                      &duplicated, &offloaded);
    copy->walk([&](BackwardOp b) {
      (void)scheduleReloads(b, options.target, options.link.bandwidth);
    });
    return options.peakModel(*copy);
  }
  return verifyPlan(function, backward, plan, options.fusePointwise);
}

LogicalResult mlir::remat::detail::chooseOffloads(func::FuncOp function,
                                                  BackwardOp backward,
                                                  const PlanOptions &options,
                                                  SearchLimits &limits,
                                                  RematPlan &plan) {
  plan.link = options.link.name;
  if (!plan.feasible || plan.recomputed.empty())
    return success();
  PlanContext ctx(function, backward, options, limits);
  ValueSet saved = keptInputs(backward, plan);
  ValueSet duplicated = duplicatedSet(plan);
  ValueSet inDuplicates;
  for (const PlanDuplicate &d : plan.duplicated)
    inDuplicates.insert(d.chain.begin(), d.chain.end());
  // The candidates: the buffers the plan recomputes (a group's root; its
  // views are recomputed from the copy brought back).
  SmallVector<Value> roots;
  ValueSet seen;
  for (Value r : plan.recomputed) {
    Value root = getViewRoot(r);
    Operation *def = root.getDefiningOp();
    if (!def || def->getBlock() != backward->getBlock() ||
        saved.contains(root) || inDuplicates.contains(root) ||
        bufferBytes(root) <= 0 || !seen.insert(root).second)
      continue;
    roots.push_back(root);
  }
  if (roots.empty())
    return success();
  TransferModel transfer(backward, options);
  auto recomputeSeconds = [&](const ValueSet &offloaded) {
    ValueSet kept = saved;
    kept.insert(offloaded.begin(), offloaded.end());
    return ctx.cost(kept, &duplicated).seconds;
  };
  // The step with a set of offloads: recompute, the copies out the forward
  // cannot hide and the copies back the backward cannot (their reloads
  // scheduled on `copy`).
  auto stepSeconds = [&](const ValueSet &set, ArrayRef<Value> list,
                         OwningOpRef<func::FuncOp> &copy) {
    copy = cloneWithPlan(function, backward, saved, &duplicated, &set);
    double back = 0;
    copy->walk([&](BackwardOp b) {
      back = scheduleReloads(b, options.target, options.link.bandwidth);
    });
    return recomputeSeconds(set) + transfer.exposedSeconds(list) + back;
  };
  // What the plan offloads already (residuals it could not keep on the
  // device under the budget) stays offloaded.
  ValueSet offloaded(plan.offloaded.begin(), plan.offloaded.end());
  SmallVector<Value> chosen(plan.offloaded);
  double planSeconds = recomputeSeconds(offloaded);
  double current = planSeconds;
  if (!chosen.empty()) {
    OwningOpRef<func::FuncOp> copy;
    current = stepSeconds(offloaded, chosen, copy);
  }
  // Each candidate's recompute time alone, per byte it would move: the
  // most recompute time saved per second of link first.
  llvm::DenseMap<Value, double> recomputeAlone;
  SmallVector<std::pair<double, Value>> order;
  for (Value root : roots) {
    ValueSet alone = offloaded;
    alone.insert(root);
    double saving = planSeconds - recomputeSeconds(alone);
    recomputeAlone[root] = saving;
    if (saving > 0)
      order.push_back({saving / static_cast<double>(bufferBytes(root)), root});
  }
  llvm::stable_sort(
      order, [](const auto &a, const auto &b) { return a.first > b.first; });
  // The peak may not rise above the budget (or, without a peak budget,
  // above the plan's).
  int64_t cap = plan.hasBudget && plan.budgetOn == BudgetOn::Peak
                    ? plan.budgetBytes
                    : plan.predictedPeak;
  int64_t peak = plan.predictedPeak;
  unsigned evaluated = 0;
  double transferNow = current - planSeconds;
  // (The choice has a work limit of its own: at scale the search spends
  // all of its.)
  limits.withFreshWork([&] {
    for (auto [saving, root] : order) {
      if (!ctx.spendEvaluation("choosing offloads"))
        break;
      ValueSet trial = offloaded;
      trial.insert(root);
      SmallVector<Value> trialList(chosen);
      trialList.push_back(root);
      OwningOpRef<func::FuncOp> copy;
      double step = stepSeconds(trial, trialList, copy);
      if (step >= current)
        continue;
      int64_t trialPeak = analyzeMemory(*copy, kAllocationAlignment).peakBytes;
      ++evaluated;
      if (trialPeak > cap)
        continue;
      offloaded = std::move(trial);
      chosen = std::move(trialList);
      current = step;
      transferNow = step - recomputeSeconds(offloaded);
      peak = trialPeak;
    }
    return 0;
  });
  plan.evaluations += evaluated;
  if (chosen.size() == plan.offloaded.size())
    return success();

  // The plan with the offloads: its decisions and figures.
  RematPlan updated = withOffloads(
      ctx, backward, options, plan, chosen, {}, transferNow, [&](Value v) {
        return "offloaded to host memory: copying it back over " +
               options.link.name + " takes " +
               microseconds(transfer.copySeconds(v)) +
               " us (hidden behind the backward's compute where it "
               "allows), recomputing it " +
               microseconds(recomputeAlone.lookup(v)) + " us";
      });
  // The peak the plan is held to: the bufferized program's when the
  // search's plan was checked there.
  updated.predictedPeak = peak;
  if (options.peakModel || options.verify) {
    FailureOr<int64_t> p = checkedPeak(function, backward, options, updated);
    if (failed(p))
      return failure();
    updated.predictedPeak = *p;
  }
  updated.evaluations = plan.evaluations + 1;
  // (A plan whose offloads miss the budget on the bufferized program is
  // kept without them.)
  if (updated.predictedPeak > cap)
    return success();
  plan = std::move(updated);
  return success();
}

FailureOr<bool> mlir::remat::detail::offloadToBudget(
    func::FuncOp function, BackwardOp backward, const PlanOptions &options,
    SearchLimits &limits, RematPlan &plan, int64_t budget) {
  PlanContext ctx(function, backward, options, limits);
  SmallVector<SavedGroup> candidates = savedCandidates(ctx, backward, plan);
  if (candidates.empty())
    return false;
  ValueSet duplicated = duplicatedSet(plan);
  TransferModel transfer(backward, options);
  // The search model's peak with a set of offloads (the views of the
  // saved ones taken from their copies), the copies back the backward
  // cannot hide, and which candidates' buffers are live at the peak (only
  // those can lower it).
  ValueSet saved = keptInputs(backward, plan);
  struct Evaluation {
    int64_t peak = 0;
    double exposedBack = 0;
    llvm::DenseSet<Value> liveAtPeak;
  };
  auto evaluate = [&](const ValueSet &set, const ValueSet &unsaved) {
    ValueSet kept = saved;
    for (Value v : unsaved)
      kept.erase(v);
    IRMapping mapping;
    OwningOpRef<func::FuncOp> copy =
        cloneWithPlan(function, backward, kept, &duplicated, &set, &mapping);
    Evaluation e;
    copy->walk([&](BackwardOp b) {
      e.exposedBack =
          scheduleReloads(b, options.target, options.link.bandwidth);
    });
    MemoryProfile profile = analyzeMemory(*copy, kAllocationAlignment);
    e.peak = profile.peakBytes;
    for (const SavedGroup &candidate : candidates) {
      auto it = profile.bufferOf.find(mapping.lookupOrNull(candidate.root));
      if (it == profile.bufferOf.end())
        continue;
      const Buffer &buffer = profile.buffers[it->second];
      if (buffer.start <= profile.peakPoint && profile.peakPoint <= buffer.end)
        e.liveAtPeak.insert(candidate.root);
    }
    return e;
  };
  ValueSet offloaded(plan.offloaded.begin(), plan.offloaded.end());
  SmallVector<Value> chosen(plan.offloaded);
  ValueSet unsaved;
  Evaluation current = evaluate(offloaded, unsaved);
  unsigned evaluated = 1;
  // Largest first, among those live at the peak, each kept while it lowers
  // the peak, until the budget is met; again while one was kept, since the
  // peak moves. (A work limit of its own, as for chooseOffloads.)
  ValueSet tried;
  limits.withFreshWork([&] {
    for (bool progress = true; progress && current.peak > budget;) {
      progress = false;
      for (const SavedGroup &candidate : candidates) {
        if (current.peak <= budget)
          break;
        if (offloaded.contains(candidate.root) ||
            !current.liveAtPeak.contains(candidate.root) ||
            !tried.insert(candidate.root).second)
          continue;
        if (!ctx.spendEvaluation("offloading saved residuals to meet the "
                                 "budget"))
          return 0;
        ValueSet trial = offloaded;
        trial.insert(candidate.root);
        ValueSet trialUnsaved = unsaved;
        trialUnsaved.insert(candidate.members.begin(), candidate.members.end());
        Evaluation e = evaluate(trial, trialUnsaved);
        ++evaluated;
        if (e.peak >= current.peak)
          continue;
        offloaded = std::move(trial);
        unsaved = std::move(trialUnsaved);
        chosen.push_back(candidate.root);
        current = std::move(e);
        // (At a new peak, what was tried may help again.)
        tried.clear();
        progress = true;
      }
    }
    return 0;
  });
  plan.evaluations += evaluated;
  if (chosen.size() == plan.offloaded.size())
    return false;
  double transferSeconds =
      transfer.exposedSeconds(chosen) + current.exposedBack;
  plan = withOffloads(ctx, backward, options, plan, chosen, unsaved,
                      transferSeconds, [&](Value v) {
                        return "offloaded to host memory: no plan that keeps "
                               "it on the device meets the budget; copying "
                               "it back over " +
                               options.link.name + " takes " +
                               microseconds(transfer.copySeconds(v)) + " us";
                      });
  plan.link = options.link.name;
  FailureOr<int64_t> checked =
      options.verify || options.peakModel
          ? checkedPeak(function, backward, options, plan)
          : FailureOr<int64_t>(current.peak);
  if (failed(checked))
    return failure();
  plan.predictedPeak = *checked;
  ++plan.evaluations;
  return true;
}
