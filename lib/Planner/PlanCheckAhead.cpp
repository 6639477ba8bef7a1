//===- PlanCheckAhead.cpp - a plan's bufferized check beside the search ---===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "CheckAhead.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/IRMapping.h"

#include <thread>

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

CheckAhead::CheckAhead(func::FuncOp function, BackwardOp backward,
                       bool fusePointwise)
    : function(function), backward(backward), fusePointwise(fusePointwise) {
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
}

void CheckAhead::prepare(bool copyNow) {
  std::lock_guard<std::mutex> lock(mutex);
  if (thread.joinable() || closed)
    return;
  // (A thread of its own, not the context's pool: the search's parallel
  // loops wait for every task they put in the pool.)
  thread = std::thread([this, copyNow] { run(copyNow); });
}

CheckAhead::~CheckAhead() { wait(); }

void CheckAhead::wait() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    closed = true;
  }
  wake.notify_one();
  if (thread.joinable())
    thread.join();
}

bool CheckAhead::isAvailable(MLIRContext *context) {
  return context->isMultithreadingEnabled() && context->getNumThreads() > 1;
}

void CheckAhead::start(const ValueSet &toCheck, OwningOpRef<func::FuncOp> copy,
                       IRMapping mapping) {
  prepare(/*copyNow=*/false);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (started || closed)
      return;
    started = true;
    saved = toCheck;
    handed = std::move(copy);
    handedMapping = std::move(mapping);
  }
  wake.notify_one();
}

void CheckAhead::run(bool copyNow) {
  // The copy the check rewrites: made here while greedy's search runs (on
  // a deep model it costs an eighth of the check), or handed over.
  IRMapping mapping;
  OwningOpRef<func::FuncOp> own;
  if (copyNow)
    own = function.clone(mapping);
  {
    std::unique_lock<std::mutex> lock(mutex);
    wake.wait(lock, [this] { return started || closed; });
    if (!started)
      return;
  }
  if (handed) {
    own = std::move(handed);
    mapping = std::move(handedMapping);
  } else if (!own) {
    own = function.clone(mapping);
  }
  func::FuncOp copy = own.release();
  OwningOpRef<ModuleOp> module = wrapInModule(copy, function->getParentOp());
  MLIRContext *context = function.getContext();
  std::thread::id self = std::this_thread::get_id();
  // Drops this thread's diagnostics; the others go on to the handlers
  // below. (Handlers the search registers later either drop everything
  // or, as parallel loops do, pass on what is not theirs.)
  ScopedDiagnosticHandler drop(context, [self](Diagnostic &) {
    return success(std::this_thread::get_id() == self);
  });
  // As verifyPlan does it: the plan applied, then bufferized.
  applyPlanToCopy(mapping, backward, saved, /*duplicated=*/nullptr,
                  /*offloaded=*/nullptr);
  FailureOr<int64_t> peak =
      getBufferizedPeak(*module, copy, &result.live, fusePointwise);
  if (succeeded(peak))
    result.peak = *peak;
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
