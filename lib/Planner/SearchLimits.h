//===- SearchLimits.h - the work and time a planning may spend --*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The planner bounds its searches by work (op visits), never by wall-clock
/// time alone, so that a pass's output depends only on its input and
/// options; the time limit is a safety net that says so when it cuts.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_PLANNER_SEARCHLIMITS_H
#define REMAT_LIB_PLANNER_SEARCHLIMITS_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SaveAndRestore.h"

#include <cassert>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

namespace mlir {
namespace remat {
namespace detail {

/// What the optional parts of one planning may spend (PlanOptions'
/// workLimit and timeLimit), shared by every search of a
/// planRematerialization call. Optional work asks `spend` before it is
/// done; the greedy plan, the fixed schedules and the first check of a plan
/// are not optional and spend nothing.
class SearchLimits {
public:
  SearchLimits(uint64_t workLimit, double timeLimit);

  /// Spends `work` if both limits allow it; otherwise records the first
  /// limit that stopped the search (and `where`), and returns false.
  bool spend(uint64_t work, llvm::StringRef where);
  /// True once the time limit has passed.
  bool outOfTime() const;
  /// False, recording the cut at `where`, once the time limit has passed:
  /// for searches the work limit does not bound (the reference
  /// enumeration).
  bool checkTime(llvm::StringRef where);
  double elapsed() const;

  /// Which limits cut which parts of the search, or "" when none did.
  std::string cutNote() const;
  bool wasCut() const { return !cuts.empty(); }
  uint64_t getSpent() const { return spent; }
  /// Runs `fn` with the whole work limit available again (what it spends
  /// still counts in getSpent): for work whose result must equal that of
  /// a planning of its own, such as a fixed schedule's second recomputes.
  template <typename Fn>
  auto withFreshWork(Fn &&fn) {
    llvm::SaveAndRestore<uint64_t> fresh(freshFrom, spent);
    return fn();
  }

  /// Runs `fn` with a work limit of its own that also leaves the work
  /// after it as it was (what it spends still counts in getSpent), and
  /// whose cuts are not the search's (`cut` says whether a limit cut it):
  /// for work beside the search, such as lowering the infeasible error's
  /// lowest peak.
  template <typename Fn>
  auto withOwnWork(bool &cut, Fn &&fn) {
    size_t cutsBefore = cuts.size();
    auto result = aside(workLimit, named, std::forward<Fn>(fn));
    cut = cuts.size() > cutsBefore;
    cuts.resize(cutsBefore);
    return result;
  }

  /// Runs `fn` with at most `cap` work (within the work left, which it
  /// spends from): for a search among several that share a budget.
  template <typename Fn>
  auto withWorkCap(uint64_t cap, Fn &&fn) {
    uint64_t savedLimit = workLimit, savedFrom = freshFrom;
    workLimit = std::min(cap, getWorkLeft());
    freshFrom = spent;
    auto result = fn();
    workLimit = savedLimit;
    freshFrom = savedFrom;
    return result;
  }
  /// Runs `fn` with at most `cap` work, spent from the work left, as one
  /// part of a search: a limit that cuts it is not recorded as the
  /// search's.
  template <typename Fn>
  auto withWorkShare(uint64_t cap, Fn &&fn) {
    size_t cutsBefore = cuts.size();
    auto result = withWorkCap(cap, std::forward<Fn>(fn));
    cuts.resize(cutsBefore);
    return result;
  }
  /// Runs `fn` under a work limit of its own, `limit` (named `name` where
  /// it cuts, such as "the exact search's work limit"), that leaves the
  /// work after it as it was (what it spends still counts in getSpent).
  /// Unlike withOwnWork, its cuts are the search's.
  template <typename Fn>
  auto withOwnLimit(llvm::StringRef name, uint64_t limit, Fn &&fn) {
    if (!sharedAs.empty())
      return fn();
    return aside(limit, LimitName{name.str(), limit}, std::forward<Fn>(fn));
  }
  /// Runs `fn` with the parts that have a limit of their own
  /// (withOwnLimit) drawing on the work left instead: for searches beside
  /// the one asked for, such as those at higher budgets that an
  /// infeasible budget's checks run, which share what is left. A part
  /// they cut is named with ` ` and `which` after it (such as "at higher
  /// search budgets"), apart from the same part of the search asked for.
  template <typename Fn>
  auto withSharedLimits(llvm::StringRef which, Fn &&fn) {
    assert(!which.empty() && "shared searches are named");
    llvm::SaveAndRestore<std::string> shared(sharedAs, " " + which.str());
    return fn();
  }
  uint64_t getWorkLimit() const { return workLimit; }
  /// The work the current limit leaves.
  uint64_t getWorkLeft() const {
    return workLimit - std::min(workLimit, spent - freshFrom);
  }

private:
  enum class Cut { Work, Time };
  void recordCut(Cut limit, llvm::StringRef where);

  /// A work limit as a cut names it: "the work limit" and the option's
  /// value, or one of withOwnLimit's.
  struct LimitName {
    std::string name;
    uint64_t value;
    bool operator==(const LimitName &o) const {
      return name == o.name && value == o.value;
    }
  };
  struct CutAt {
    Cut limit;
    std::string where;
    /// (For a cut by work.)
    LimitName by;
    /// Whether this cut is by `other`, `otherBy` naming a work limit.
    bool isBy(Cut other, const LimitName &otherBy) const {
      return limit == other && (limit == Cut::Time || by == otherBy);
    }
  };

  /// Runs `fn` under `limit`, named `name` where it cuts, leaving the work
  /// after it as it was (what it spends still counts in getSpent): the
  /// accounting of withOwnWork and withOwnLimit.
  template <typename Fn>
  auto aside(uint64_t limit, LimitName name, Fn &&fn) {
    uint64_t savedLimit = workLimit, savedFrom = freshFrom, before = spent;
    LimitName savedName = std::exchange(named, std::move(name));
    workLimit = limit;
    freshFrom = spent;
    auto result = fn();
    workLimit = savedLimit;
    freshFrom = savedFrom + (spent - before);
    named = std::move(savedName);
    return result;
  }

  uint64_t workLimit;
  double timeLimit;
  /// The work limit in force, as cuts name it.
  LimitName named;
  /// Inside withSharedLimits: what it appends to the parts cut (empty
  /// outside it).
  std::string sharedAs;
  uint64_t spent = 0;
  /// What was spent when the current fresh budget began (withFreshWork).
  uint64_t freshFrom = 0;
  /// Each limit and the part it cut, once, in the order they happened.
  SmallVector<CutAt> cuts;
  std::chrono::steady_clock::time_point start;
};

} // namespace detail
} // namespace remat
} // namespace mlir

#endif // REMAT_LIB_PLANNER_SEARCHLIMITS_H
