// The planner as a library (remat/Planner/Planner.h), with no pass: plans
// each function of a file with a remat.backward at a budget and prints the
// plan summary as -remat-rematerialize's plan-file holds it.
//   remat-plan FILE BUDGET
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/InitRemat.h"
#include "remat/Planner/Planner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace mlir;

int main(int argc, char **argv) {
  if (argc != 3) {
    llvm::errs() << "usage: remat-plan FILE BUDGET\n";
    return 2;
  }
  DialectRegistry registry;
  remat::registerRemat(registry);
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(argv[1], &context);
  if (!module)
    return 1;
  remat::PlanOptions options;
  std::string error;
  options.budget = remat::parseBudget(argv[2], &error);
  if (!options.budget) {
    llvm::errs() << error << "\n";
    return 1;
  }
  llvm::json::Array plans;
  int status = 0;
  module->walk([&](func::FuncOp function) {
    if (!function
             .walk([](remat::BackwardOp) { return WalkResult::interrupt(); })
             .wasInterrupted())
      return;
    FailureOr<remat::RematPlan> plan = remat::planWithRewrites(
        function, options, remat::PlanRewrites::None, /*remarks=*/false);
    if (failed(plan)) {
      status = 1;
      return;
    }
    plans.push_back(remat::planToJSON(function.getSymName(), *plan));
  });
  llvm::outs() << llvm::formatv(
      "{0:2}\n", llvm::json::Value(llvm::json::Object{
                     {"schema", "remat-plan/1"}, {"plans", std::move(plans)}}));
  return status;
}
