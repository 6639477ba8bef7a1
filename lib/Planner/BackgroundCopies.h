//===- BackgroundCopies.h - copies made beside a search -------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Copies of a function made one after the other on a thread of their own,
/// while the thread that asked for them goes on reading the function (and
/// only reading it: a copy reads every op). On a deep model a copy costs
/// about as much as three plan evaluations, and the search's first steps
/// need none: the baseline is analyzed in place and greedy ranks the
/// groups on the function itself.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_LIB_PLANNER_BACKGROUNDCOPIES_H
#define REMAT_LIB_PLANNER_BACKGROUNDCOPIES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/OwningOpRef.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace mlir::remat::detail {

class BackgroundCopies {
public:
  struct Copy {
    OwningOpRef<func::FuncOp> function;
    IRMapping mapping;
  };
  /// Starts making `count` copies of `function`.
  BackgroundCopies(func::FuncOp function, unsigned count);
  /// Stops after the copy being made and waits for it. (Only it stops the
  /// thread: no take() can be waiting then.)
  ~BackgroundCopies();
  BackgroundCopies(const BackgroundCopies &) = delete;
  BackgroundCopies &operator=(const BackgroundCopies &) = delete;

  /// Copy `index`, waiting until it is made; an empty copy when `index` is
  /// beyond the count or was taken already.
  Copy take(unsigned index);

private:
  void run();

  func::FuncOp function;
  SmallVector<Copy> copies;
  /// Guards `made` and `stop` between the two threads.
  std::mutex mutex;
  std::condition_variable madeOne;
  unsigned made = 0;
  bool stop = false;
  // (Last: the thread starts once the rest is set.)
  std::thread thread;
};

} // namespace mlir::remat::detail

#endif // REMAT_LIB_PLANNER_BACKGROUNDCOPIES_H
