//===- CheckAhead.h - a plan's check beside the search ---------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The bufferized check of the plan the search is likely to return, run on
/// a thread of its own while the search goes on. On a deep model the check
/// (one-shot bufferization of the whole step) costs about as much as the
/// search.
///
/// It bufferizes a copy of the step: the spare copy on which the search
/// evaluated plans side by side until then (it evaluates one at a time
/// from then on), or, where the search made none, a copy its thread makes
/// once the search's first evaluation is done, on the core greedy's search
/// leaves idle. (At 96 layers a copy costs 0.1 to 0.15 s; a third one,
/// made beside the search's two at its start, slowed that start.)
///
/// The check starts once greedy's plan and the layered search's are found:
/// on the layered plan where it already costs less (on a deep model at a
/// low budget; pruning it is then most often cut by the work limit),
/// overlapping greedy's pruning; otherwise on greedy's plan once pruned.
/// It then overlaps the field's schedules and the plan's description.
/// While it runs the search evaluates one plan at a time, not two side by
/// side: the check has the other core.
///
/// It is speculative and invisible: its result is used only when the plan
/// the search returns is the plan it checked (the same saved values, no
/// value recomputed twice, nothing offloaded), and that result is the one
/// the check would have given on the search's thread. It spends no work
/// of the limits and counts no evaluation; a check that fails is dropped
/// (the search's thread checks again, and reports the error). Diagnostics
/// from its thread are dropped.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_PLANNER_CHECKAHEAD_H
#define REMAT_LIB_PLANNER_CHECKAHEAD_H

#include "PlannerImpl.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace mlir::remat::detail {

class CheckAhead {
public:
  CheckAhead(func::FuncOp function, BackwardOp backward, bool fusePointwise);
  /// Waits for a check still running (or drops a copy no check started).
  ~CheckAhead();
  CheckAhead(const CheckAhead &) = delete;
  CheckAhead &operator=(const CheckAhead &) = delete;

  /// Whether checks can run ahead in `context`: it has threads.
  static bool isAvailable(MLIRContext *context);

  /// Starts the thread, which waits for start() (once; not after wait()).
  /// With `copyNow` it first copies the function, for a search that will
  /// have no copy to hand over. The search calls it once its first
  /// evaluation is done, when the second core would be idle.
  void prepare(bool copyNow);
  /// Starts checking the plan that saves `toCheck` (and recomputes every
  /// other residual once), on `copy` (a copy of the function, `mapping`
  /// into it) when given. Only the first call starts a check.
  void start(const ValueSet &toCheck, OwningOpRef<func::FuncOp> copy = nullptr,
             IRMapping mapping = {});
  /// The bufferized peak of `plan`, and what is live at it into `live`,
  /// when `plan` is the plan the check ran on and the check succeeded
  /// (waiting for it); std::nullopt otherwise.
  std::optional<int64_t> take(const RematPlan &plan, std::string *live);
  /// Waits for a check still running, or drops the copy when no check
  /// started (before the search registers handlers that keep
  /// diagnostics). No check starts after it.
  void wait();

private:
  /// The thread's work: the copy (unless handed one), then the check once
  /// started.
  void run(bool copyNow);

  struct Result {
    std::optional<int64_t> peak;
    std::string live;
  };
  func::FuncOp function;
  BackwardOp backward;
  bool fusePointwise;
  /// Guards `started`, `closed` and `saved` between the two threads.
  std::mutex mutex;
  std::condition_variable wake;
  /// Whether start() was called, and whether no check may start any more.
  bool started = false;
  bool closed = false;
  /// The saved values of the plan checked, and the copy start() handed
  /// over, if any.
  ValueSet saved;
  OwningOpRef<func::FuncOp> handed;
  IRMapping handedMapping;
  std::thread thread;
  Result result;
};

} // namespace mlir::remat::detail

#endif // REMAT_LIB_PLANNER_CHECKAHEAD_H
