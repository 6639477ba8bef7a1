//===- PlanSearch.cpp - greedy, exact and exhaustive searches -------------===//
//
// The searching strategies: a greedy ranking by bytes per recompute cost
// (and pruning of its plan), and the enumeration of every subset that the
// branch and bound (PlanExact.cpp) is tested against.
//
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include <limits>
#include <queue>

#define DEBUG_TYPE "remat-rematerialize"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

//===----------------------------------------------------------------------===//
// Searching strategies
//===----------------------------------------------------------------------===//

/// The marginal cost of recomputing group `g` too: its members dropped
/// from `saved` for the walk (and put back), the ops in `cloned` (cloned
/// for the groups already recomputed) not counted again.
static double marginalCost(PlanContext &ctx, unsigned g, ValueSet &saved,
                           const llvm::DenseSet<Operation *> &cloned) {
  ArrayRef<Value> members = ctx.groups[g].members;
  for (Value m : members)
    saved.erase(m);
  llvm::DenseSet<Operation *> done;
  OpCost cost;
  double seconds = 0;
  for (Value m : members) {
    PlanCostSum c = ctx.closure(m, saved, done, &cloned);
    cost += c.cost;
    seconds += c.seconds;
  }
  saved.insert(members.begin(), members.end());
  return ctx.objective(cost, seconds);
}

/// Adds group `g` to a walk's recomputed groups: its members leave `saved`
/// and the ops recomputing them join `cloned`.
static void addRecomputed(PlanContext &ctx, unsigned g, ValueSet &saved,
                          llvm::DenseSet<Operation *> &cloned) {
  for (Value m : ctx.groups[g].members) {
    saved.erase(m);
    ctx.closure(m, saved, cloned);
  }
}

SmallVector<unsigned>
mlir::remat::detail::rankGroups(PlanContext &ctx,
                                std::optional<ArrayRef<unsigned>> among) {
  size_t n = ctx.groups.size();
  ValueSet saved(ctx.inputs);
  llvm::DenseSet<Operation *> cloned;
  auto score = [&](unsigned g) {
    return static_cast<double>(ctx.groups[g].bytes) /
           std::max(marginalCost(ctx, g, saved, cloned), 1e-30);
  };
  using Entry = std::pair<double, unsigned>;
  std::priority_queue<Entry> queue;
  if (among) {
    for (unsigned g : *among)
      queue.push({score(g), g});
  } else {
    for (unsigned g = 0; g < n; ++g)
      queue.push({score(g), g});
  }
  SmallVector<unsigned> order;
  while (!queue.empty()) {
    auto [stale, g] = queue.top();
    queue.pop();
    double fresh = score(g);
    if (!queue.empty() && fresh < queue.top().first) {
      queue.push({fresh, g});
      continue;
    }
    order.push_back(g);
    addRecomputed(ctx, g, saved, cloned);
  }
  return order;
}

llvm::BitVector mlir::remat::detail::prefixSet(PlanContext &ctx,
                                               ArrayRef<unsigned> order,
                                               size_t k) {
  llvm::BitVector set(ctx.groups.size());
  for (size_t i = 0; i < k && i < order.size(); ++i)
    set.set(order[i]);
  return set;
}

/// Greedy: the shortest prefix of the ranking whose peak meets `budget`.
/// Peaks do not fall monotonically along the ranking (a value shared by
/// several residuals is recomputed once, at the first use, and held), so
/// up to 64 groups every prefix is tried in order; beyond, prefixes on a
/// geometric grid, then a binary search between the last one that missed
/// and the first one that met the budget. When none meets it, `lowest` is
/// the lowest peak among the prefixes tried and `lowestPrefix` its length.
FailureOr<Incumbent> mlir::remat::detail::planGreedy(
    PlanContext &ctx, int64_t budget, SmallVectorImpl<unsigned> &order,
    int64_t &lowest, size_t &lowestPrefix,
    function_ref<void(const llvm::BitVector &)> onMet) {
  order = rankGroups(ctx);
  size_t n = order.size();
  Incumbent result;
  lowest = std::numeric_limits<int64_t>::max();
  // A prefix whose lower bound is above the budget misses without an
  // evaluation; its bound is kept, for the lowest peak when none meets the
  // budget. (The bound is the peak itself wherever the peak is that of
  // the saved set at the forward's end, as on most prefixes of a deep
  // model: most evaluations are saved.) The bound is not proven sound
  // against every in-place write a recompute allows (an op writing into a
  // recomputed value that dies there instead of a new buffer; one such
  // hole has been fixed), so the largest recomputed group is taken off it
  // here as a margin.
  // (Between a prefix that missed and one that met the budget, a missed
  // in-place write only costs a longer prefix; there, `tight`.)
  auto boundOf = [&](const llvm::BitVector &set, bool tight = false) {
    int64_t largest = 0;
    if (!tight)
      for (unsigned g : set.set_bits())
        largest = std::max(largest, ctx.groups[g].bytes);
    return ctx.lowerBound(set) - largest;
  };
  // Prefix `k`'s measure, which lowers `lowest` when it can.
  auto evaluate = [&](size_t k) -> FailureOr<int64_t> {
    FailureOr<int64_t> p = ctx.measure(prefixSet(ctx, order, k));
    if (succeeded(p) && *p < lowest) {
      lowest = *p;
      lowestPrefix = k;
    }
    return p;
  };
  SmallVector<std::pair<int64_t, size_t>> missedByBound;
  auto at = [&](size_t k, bool tight = false) -> FailureOr<int64_t> {
    int64_t bound = boundOf(prefixSet(ctx, order, k), tight);
    if (bound > budget) {
      missedByBound.push_back({bound, k});
      return bound;
    }
    return evaluate(k);
  };
  // The shortest prefix in [lo, hi] whose bound meets the budget (hi if
  // none does), by a binary search on the bounds alone.
  auto firstByBound = [&](size_t lo, size_t hi, bool tight) {
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (boundOf(prefixSet(ctx, order, mid), tight) > budget)
        lo = mid + 1;
      else
        hi = mid;
    }
    return hi;
  };
  size_t found = 0, missed = 0;
  bool met = false;
  int64_t peakFound = 0;
  // Evaluates prefix `k`: true when it meets the budget (it is then
  // `found`, with `peakFound`).
  auto meets = [&](size_t k, bool tight = false) -> FailureOr<bool> {
    FailureOr<int64_t> p = at(k, tight);
    if (failed(p))
      return failure();
    if (*p > budget)
      return false;
    found = k;
    peakFound = *p;
    if (onMet)
      onMet(prefixSet(ctx, order, k));
    return true;
  };
  for (size_t k = 1; k <= n && !met;
       k = n <= 64 ? k + 1 : std::max(k + 1, k + k / 2)) {
    // Where the grid's step passes prefixes that the bounds say may meet
    // the budget, the shortest of them is evaluated first.
    SmallVector<size_t, 2> tries;
    if (k > missed + 1 && boundOf(prefixSet(ctx, order, k)) <= budget)
      if (size_t first = firstByBound(missed + 1, k, /*tight=*/false);
          first < k)
        tries.push_back(first);
    tries.push_back(k);
    for (size_t t : tries) {
      FailureOr<bool> m = meets(t);
      if (failed(m))
        return failure();
      if ((met = *m))
        break;
      missed = t;
    }
    if (!met && n > 64 && k < n && std::max(k + 1, k + k / 2) > n)
      k = n - 1; // The last step tries the whole ranking.
  }
  if (!met) {
    // The lowest peak: prefixes by bound, lowest first, while one could
    // still be below the lowest peak measured.
    llvm::sort(missedByBound);
    for (auto [bound, k] : missedByBound) {
      if (bound >= lowest)
        break;
      if (failed(evaluate(k)))
        return failure();
    }
    return result;
  }
  size_t lo = missed + 1, hi = found;
  // The shortest prefix whose bound meets the budget is evaluated first:
  // where the bound is the peak, that one evaluation ends the search.
  for (bool first = true; lo < hi; first = false) {
    size_t mid =
        first ? firstByBound(lo, hi, /*tight=*/true) : lo + (hi - lo) / 2;
    if (mid == hi)
      break; // (No shorter prefix's bound meets the budget.)
    FailureOr<bool> m = meets(mid, /*tight=*/true);
    if (failed(m))
      return failure();
    if (*m)
      hi = mid;
    else
      lo = mid + 1;
  }
  result.recomputed = prefixSet(ctx, order, hi);
  result.peak = peakFound;
  result.cost = ctx.objective(result.recomputed);
  result.valid = true;
  return result;
}

/// Tries to keep each recomputed group saved again, latest-ranked first,
/// while the budget still holds and the limits allow.
///
/// Where the context has threads, the walk evaluates the trial after the
/// current one beside it, as if the current one went as the last did (a
/// pruning mostly keeps every group or none). A trial evaluated ahead is
/// used only when the walk reaches it; the walk, its evaluations and its
/// plan are those of one evaluating a trial at a time.
LogicalResult mlir::remat::detail::pruneGreedy(PlanContext &ctx, int64_t budget,
                                               ArrayRef<unsigned> order,
                                               Incumbent &plan,
                                               StringRef where) {
  SmallVector<unsigned> walk(llvm::reverse(order));
  // The first position from `from` whose group `base` recomputes and whose
  // trial the cheap lower bound does not rule out (such a trial costs no
  // evaluation).
  auto nextTrial = [&](size_t from,
                       const llvm::BitVector &base) -> std::optional<size_t> {
    for (size_t i = from; i < walk.size(); ++i) {
      if (!base.test(walk[i]))
        continue;
      llvm::BitVector trial = base;
      trial.reset(walk[i]);
      if (ctx.lowerBound(trial) <= budget)
        return i;
    }
    return std::nullopt;
  };
  bool ahead = ctx.canEvaluateAhead();
  bool lastKept = true;
  // A trial evaluated ahead, and its peak.
  std::optional<std::pair<llvm::BitVector, FailureOr<int64_t>>> ready;
  for (std::optional<size_t> at = nextTrial(0, plan.recomputed); at;
       at = nextTrial(*at + 1, plan.recomputed)) {
    llvm::BitVector trial = plan.recomputed;
    trial.reset(walk[*at]);
    if (!ctx.spendEvaluation(where))
      break;
    FailureOr<int64_t> p = failure();
    if (ready && ready->first == trial) {
      p = ready->second;
      if (succeeded(p))
        ctx.usePeak(trial, *p);
    } else if (ahead) {
      // The next trial if this one goes as the last did.
      const llvm::BitVector &base = lastKept ? trial : plan.recomputed;
      ready.reset();
      SmallVector<llvm::BitVector, 2> trials = {trial};
      if (std::optional<size_t> then = nextTrial(*at + 1, base)) {
        trials.push_back(base);
        trials.back().reset(walk[*then]);
      }
      SmallVector<FailureOr<int64_t>> peaks = ctx.peaksAhead(trials);
      p = peaks[0];
      if (succeeded(p))
        ctx.usePeak(trial, *p);
      if (trials.size() > 1)
        ready.emplace(std::move(trials[1]), peaks[1]);
    } else {
      p = ctx.measure(trial);
    }
    if (failed(p))
      return failure();
    lastKept = *p <= budget;
    if (lastKept) {
      plan.recomputed = trial;
      plan.peak = *p;
      plan.cost = ctx.objective(trial);
    }
  }
  return success();
}

/// Exchanges one recomputed group of `plan` for saved ones: the group whose
/// recompute costs the most first, for saved groups in the greedy
/// ranking's order while together they cost less. An exchange is
/// evaluated only once the lower bound lets it meet the budget; the first
/// that meets it is kept, and the walk starts over from the new plan.
/// Bounded by the work limit (and 64 exchanges).
LogicalResult mlir::remat::detail::exchangeGroups(PlanContext &ctx,
                                                  int64_t budget,
                                                  ArrayRef<unsigned> order,
                                                  Incumbent &plan,
                                                  unsigned &exchanges) {
  size_t n = ctx.groups.size();
  // Each group's cost recomputed alone.
  SmallVector<double> alone(n);
  ValueSet all(ctx.inputs);
  llvm::DenseSet<Operation *> none;
  for (unsigned g = 0; g < n; ++g)
    alone[g] = marginalCost(ctx, g, all, none);
  constexpr unsigned kMaxRounds = 64;
  StringRef where = "exchanging groups of the plan";
  for (unsigned round = 0; round < kMaxRounds; ++round) {
    // The recomputed groups by what saving them again spares.
    SmallVector<std::pair<double, unsigned>> spared;
    for (unsigned g : plan.recomputed.set_bits()) {
      if (!ctx.spendWalk(where))
        return success();
      llvm::BitVector without = plan.recomputed;
      without.reset(g);
      spared.push_back({plan.cost - ctx.objective(without), g});
    }
    llvm::stable_sort(spared,
                      [](auto &a, auto &b) { return a.first > b.first; });
    bool improved = false;
    double limit = cheaperThan(plan.cost);
    for (auto [gain, g] : spared) {
      if (gain <= 0)
        break;
      // Saved groups join, in the ranking's order, while the plan still
      // costs less (by their marginal cost; the exact cost once the bound
      // lets it meet the budget, when it is evaluated).
      if (!ctx.spendWalk(where))
        return success();
      llvm::BitVector trial = plan.recomputed;
      trial.reset(g);
      ValueSet saved = ctx.savedFor(trial);
      llvm::DenseSet<Operation *> cloned;
      for (unsigned r : trial.set_bits())
        addRecomputed(ctx, r, saved, cloned);
      double cost = plan.cost - gain;
      for (unsigned h : order) {
        if (h == g || trial.test(h) || cost + alone[h] >= limit)
          continue;
        double marginal = marginalCost(ctx, h, saved, cloned);
        if (cost + marginal >= limit)
          continue;
        trial.set(h);
        addRecomputed(ctx, h, saved, cloned);
        cost += marginal;
        if (ctx.lowerBound(trial) > budget)
          continue;
        if (!ctx.spendWalk(where))
          return success();
        double exact = ctx.objective(trial);
        if (exact >= limit)
          break;
        if (!ctx.spendEvaluation(where))
          return success();
        FailureOr<int64_t> p = ctx.measure(trial);
        if (failed(p))
          return failure();
        if (*p > budget)
          continue;
        plan.recomputed = trial;
        plan.peak = *p;
        plan.cost = exact;
        improved = true;
        ++exchanges;
        break;
      }
      if (improved)
        break;
    }
    if (!improved)
      return success();
  }
  return success();
}

/// Makes `set` (of cost `cost`) the incumbent if its peak meets `budget`;
/// returns whether it does.
FailureOr<bool> mlir::remat::detail::offerPlan(PlanContext &ctx,
                                               const llvm::BitVector &set,
                                               double cost, int64_t budget,
                                               Incumbent &best) {
  FailureOr<int64_t> p = ctx.measure(set);
  if (failed(p))
    return failure();
  if (*p > budget)
    return false;
  best.recomputed = set;
  best.peak = *p;
  best.cost = cost;
  best.valid = true;
  return true;
}

/// The subset of `n` groups whose bits `mask` sets.
static llvm::BitVector subsetOf(size_t n, uint64_t mask) {
  llvm::BitVector set(n);
  for (unsigned g = 0; g < n; ++g)
    if (mask & (uint64_t(1) << g))
      set.set(g);
  return set;
}

/// Every subset of the groups (for verification; at most
/// kExhaustiveGroupLimit groups).
FailureOr<Incumbent> mlir::remat::detail::planExhaustive(PlanContext &ctx,
                                                         int64_t budget,
                                                         bool &complete) {
  size_t n = ctx.groups.size();
  Incumbent best;
  complete = true;
  for (uint64_t mask = 0; mask < (uint64_t(1) << n); ++mask) {
    // The reference enumeration is not bounded by work, only by the time
    // limit (checked every 1024 subsets).
    if (mask % 1024 == 1023 && !ctx.limits.checkTime("the enumeration")) {
      complete = false;
      break;
    }
    llvm::BitVector set = subsetOf(n, mask);
    double cost = ctx.objective(set);
    if (best.valid && cost >= best.cost)
      continue;
    if (failed(offerPlan(ctx, set, cost, budget, best)))
      return failure();
  }
  return best;
}

FailureOr<std::optional<TwicePlan>>
mlir::remat::detail::planExhaustiveTwice(PlanContext &ctx, int64_t budget,
                                         bool searched, bool &complete) {
  size_t n = ctx.groups.size();
  // Second recomputes free at most the bytes of the values shared by
  // several residuals' recomputes.
  auto freeableBytes = [&](const ValueSet &saved) {
    SmallVector<Value> shared;
    ctx.forEachRecomputed(
        saved, nullptr, [](Value, const PlanCostSum &) {}, &shared);
    int64_t bytes = 0;
    for (Value v : shared)
      bytes += getStaticSizeInBytes(v.getType()).value_or(0);
    return bytes;
  };
  complete = true;
  if (searched) {
    // No subset can meet the budget when recomputing every group cannot:
    // a smaller set has a higher peak bound and fewer shared values.
    llvm::BitVector all(n, true);
    if (ctx.peakLowerBound(all) - freeableBytes(ctx.savedFor(all)) > budget)
      return std::optional<TwicePlan>();
  }
  // The subsets, the cheapest first (ties in enumeration order): the cost
  // of a plan with second recomputes is at least its subset's.
  SmallVector<std::pair<double, uint64_t>> order;
  for (uint64_t mask = 0; mask < (uint64_t(1) << n); ++mask)
    order.push_back({ctx.objective(subsetOf(n, mask)), mask});
  llvm::stable_sort(order, llvm::less_first());
  std::optional<TwicePlan> best;
  for (auto [i, entry] : llvm::enumerate(order)) {
    auto [cost, mask] = entry;
    if (best && cost >= best->cost)
      break;
    if (!searched && i % 64 == 63 && !ctx.limits.checkTime("the enumeration")) {
      complete = false;
      break;
    }
    llvm::BitVector set = subsetOf(n, mask);
    ValueSet saved = ctx.savedFor(set);
    int64_t freeable = freeableBytes(saved);
    if (searched) {
      if (ctx.peakLowerBound(set) - freeable > budget)
        continue;
      if (!ctx.spendEvaluation("second recomputes of every subset")) {
        complete = false;
        break;
      }
    }
    // (Cached: the reference evaluated every subset before.)
    FailureOr<int64_t> peak = ctx.peak(set);
    if (failed(peak))
      return failure();
    if (*peak - freeable > budget)
      continue;
    RematPlan twice;
    FailureOr<int64_t> reached =
        recomputeTwice(ctx, saved, *peak, budget, twice);
    if (failed(reached))
      return failure();
    if (*reached > budget)
      continue;
    ValueSet duplicated = duplicatedSet(twice);
    PlanCostSum sum = ctx.cost(saved, &duplicated);
    double total = ctx.objective(sum.cost, sum.seconds);
    if (!best || total < best->cost)
      best = TwicePlan{std::move(saved), *reached, std::move(twice.duplicated),
                       total};
  }
  return best;
}
