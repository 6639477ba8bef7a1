//===- PlanCheckAhead.cpp - a plan's bufferized check beside the search ---===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "CheckAhead.h"

#include "mlir/IR/Diagnostics.h"

#include <thread>

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

CheckAhead::~CheckAhead() { wait(); }

void CheckAhead::wait() {
  if (!thread.joinable())
    return;
  thread.join();
}

bool CheckAhead::isAvailable(MLIRContext *context) {
  return context->isMultithreadingEnabled() && context->getNumThreads() > 1;
}

void CheckAhead::start(const ValueSet &toCheck) {
  if (started)
    return;
  started = true;
  saved = toCheck;
  // The thread reads the function while the search reads it too (and
  // writes only copies). An op order a block computes lazily is computed
  // here first, so that neither thread writes it.
  function.walk([](Block *block) {
    if (!block->empty())
      (void)block->front().isBeforeInBlock(&block->back());
  });
  // Nor may it load a dialect while the search uses the context: the
  // check's passes load theirs here, as running them would.
  loadBufferizedCheckDialects(function.getContext());
  // (A thread of its own, not the context's pool: the search's parallel
  // loops wait for every task they put in the pool.)
  thread = std::thread([this] {
    MLIRContext *context = function.getContext();
    std::thread::id self = std::this_thread::get_id();
    // Drops this thread's diagnostics; the others go on to the handlers
    // below. (Handlers the search registers later either drop everything
    // or, as parallel loops do, pass on what is not theirs.)
    ScopedDiagnosticHandler drop(context, [self](Diagnostic &) {
      return success(std::this_thread::get_id() == self);
    });
    RematPlan checked;
    checked.saved.assign(saved.begin(), saved.end());
    FailureOr<int64_t> peak =
        verifyPlan(function, backward, checked, fusePointwise, &result.live);
    if (succeeded(peak))
      result.peak = *peak;
  });
}

std::optional<int64_t> CheckAhead::take(const RematPlan &plan,
                                        std::string *live) {
  if (!started || !plan.duplicated.empty() || !plan.offloaded.empty())
    return std::nullopt;
  if (ValueSet(plan.saved.begin(), plan.saved.end()) != saved)
    return std::nullopt;
  wait();
  if (!result.peak)
    return std::nullopt;
  if (live)
    *live = std::move(result.live);
  return result.peak;
}
