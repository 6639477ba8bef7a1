//===- PlanContext.cpp - candidates and the evaluation of plans -----------===//
//
// A plan is a set of forward values to save; every residual outside it is
// recomputed in the backward from what is saved (recomputeBackwardInputs).
// The context groups the residuals by the buffer they alias (a view and
// its root are freed together or not at all), prices each set by the ops
// its recomputation clones (PlanCost.cpp), and measures it: its peak (that
// of the rewritten function under the memory analysis, evaluated on a
// scratch copy in PlanPeaks.cpp, or the bufferized program's) or its saved
// activations.
//
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Support/Format.h"

#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"
#include "remat/Pipelines/Pipelines.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Threading.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <limits>

#define DEBUG_TYPE "remat-rematerialize"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

std::string mlir::remat::detail::getLabel(Value value) {
  if (auto name = value.getDefiningOp<NameOp>())
    return name.getTag().str();
  if (auto loc = dyn_cast<NameLoc>(value.getLoc()))
    return loc.getName().str();
  if (Operation *def = value.getDefiningOp())
    return def->getName().getStringRef().str();
  return "argument";
}

bool mlir::remat::detail::isViewLike(Operation *op) {
  return isa<NameOp, tensor::CollapseShapeOp, tensor::ExpandShapeOp,
             tensor::ExtractSliceOp, tensor::CastOp, tensor::ReshapeOp>(op);
}

Value mlir::remat::detail::getViewRoot(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (!isViewLike(def))
      break;
    value = def->getOperand(0);
  }
  return value;
}

std::string mlir::remat::getLayerKey(Operation *op) {
  auto loc = dyn_cast<NameLoc>(op->getLoc());
  if (!loc)
    return "";
  StringRef name = loc.getName().strref();
  size_t pos = 0;
  while (pos < name.size()) {
    size_t dot = name.find('.', pos);
    StringRef part = name.slice(pos, dot);
    if (!part.empty() && llvm::all_of(part, llvm::isDigit))
      return name.take_front(dot == StringRef::npos ? name.size() : dot).str();
    if (dot == StringRef::npos)
      break;
    pos = dot + 1;
  }
  return "";
}

/// The passes of the bufferized check, into `pm`. (The pipeline is built
/// here, not parsed from the pass registry: the planner works whether or
/// not remat's pipelines are registered.)
static void buildCheckPipeline(OpPassManager &pm, bool fusePointwise) {
  LowerToLLVMPipelineOptions options;
  options.deallocate = false;
  options.fusePointwise = fusePointwise;
  buildBufferizePipeline(pm, options);
}

void mlir::remat::getPlannerDependentDialects(DialectRegistry &registry) {
  for (bool fuse : {false, true}) {
    OpPassManager pm(ModuleOp::getOperationName());
    buildCheckPipeline(pm, fuse);
    pm.getDependentDialects(registry);
  }
}

void mlir::remat::detail::loadBufferizedCheckDialects(MLIRContext *context) {
  DialectRegistry registry;
  getPlannerDependentDialects(registry);
  context->appendDialectRegistry(registry);
  for (StringRef name : registry.getDialectNames())
    (void)context->getOrLoadDialect(name);
}

/// Bufferizes `module` in place (it holds `function`) and returns the peak
/// of `function` under the memory analysis.
FailureOr<int64_t>
mlir::remat::detail::getBufferizedPeak(ModuleOp module, func::FuncOp function,
                                       std::string *liveAtPeak,
                                       bool fusePointwise) {
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  // (The check reads the bufferized program's peak and throws it away; the
  // verifier after each pass would cost a third of it. Lowering the plan
  // for real verifies.)
  pm.enableVerifier(false);
  buildCheckPipeline(pm, fusePointwise);
  if (failed(pm.run(module)))
    return failure();
  // Bufferization rewrites the function op in place.
  auto bufferized = module.lookupSymbol<func::FuncOp>(function.getSymName());
  if (!bufferized)
    return failure();
  MemoryProfile profile = analyzeMemory(bufferized);
  if (liveAtPeak)
    *liveAtPeak = describeLiveAtPeak(profile);
  return profile.peakBytes;
}

std::string mlir::remat::detail::describeLiveAtPeak(const MemoryProfile &p) {
  std::vector<std::pair<int64_t, std::string>> live;
  for (unsigned index : p.liveAtPeak) {
    const Buffer &buffer = p.buffers[index];
    live.push_back({buffer.bytes, getLabel(buffer.root)});
  }
  return formatSizeGroups(std::move(live));
}

/// A fresh module holding `owned`, a private declaration of every other
/// function of `symbols`, and a copy of its other ops (globals the step
/// reads, for example), so that the function still verifies there.
OwningOpRef<ModuleOp> mlir::remat::detail::wrapInModule(func::FuncOp owned,
                                                        Operation *symbols) {
  OwningOpRef<ModuleOp> module = ModuleOp::create(owned.getLoc());
  if (symbols && symbols->getNumRegions() == 1 &&
      symbols->getRegion(0).hasOneBlock()) {
    OpBuilder builder = OpBuilder::atBlockEnd(module->getBody());
    for (Operation &op : symbols->getRegion(0).front()) {
      auto f = dyn_cast<func::FuncOp>(op);
      if (f && f.getSymName() == owned.getSymName())
        continue;
      if (!f) {
        if (!op.hasTrait<OpTrait::IsTerminator>())
          builder.clone(op);
        continue;
      }
      auto decl = func::FuncOp::create(builder, f.getLoc(), f.getSymName(),
                                       f.getFunctionType());
      decl.setPrivate();
    }
  }
  module->push_back(owned);
  return module;
}

FailureOr<int64_t> mlir::remat::predictBufferizedPeak(func::FuncOp function,
                                                      std::string *liveAtPeak,
                                                      Operation *symbols,
                                                      bool fusePointwise) {
  if (!symbols)
    symbols = function->getParentOp();
  OwningOpRef<ModuleOp> module = wrapInModule(function.clone(), symbols);
  auto copy = module->lookupSymbol<func::FuncOp>(function.getSymName());
  return getBufferizedPeak(*module, copy, liveAtPeak, fusePointwise);
}

//===----------------------------------------------------------------------===//
// PlanContext
//===----------------------------------------------------------------------===//

PlanContext::PlanContext(func::FuncOp function, BackwardOp backward,
                         const PlanOptions &options, SearchLimits &limits)
    : function(function), backward(backward), options(options), limits(limits) {
  function.walk([&](Operation *) { ++opCount; });
  // Position of each backward body op, for the rewrite's order.
  Block &body = backward.getBody().front();
  llvm::DenseMap<Operation *, unsigned> position;
  for (auto [index, op] : llvm::enumerate(body))
    position[&op] = index;
  llvm::DenseMap<Value, unsigned> groupOfRoot;
  for (auto [index, input] : llvm::enumerate(backward.getInputs())) {
    inputs.insert(input);
    Operation *def = input.getDefiningOp();
    if (!def || !canRecomputeIn(def, backward) ||
        def->hasTrait<OpTrait::ConstantLike>() || groupOf.count(input))
      continue;
    Value root = getViewRoot(input);
    // A view of an argument or of a constant frees nothing.
    // Nor does a view of a buffer that cannot be recomputed.
    Operation *rootDef = root.getDefiningOp();
    if (!rootDef || rootDef->hasTrait<OpTrait::ConstantLike>() ||
        !canRecomputeIn(rootDef, backward))
      continue;
    unsigned first = ~0u;
    for (Operation *user : body.getArgument(index).getUsers())
      if (Operation *a = body.findAncestorOpInBlock(*user))
        first = std::min(first, position.lookup(a));
    candidates.push_back(input);
    firstUse[input] = first;
    auto [it, inserted] = groupOfRoot.try_emplace(root, groups.size());
    if (inserted) {
      Group group;
      group.root = root;
      group.bytes = getStaticSizeInBytes(root.getType()).value_or(0);
      groups.push_back(group);
    }
    groups[it->second].members.push_back(input);
    groupOf[input] = it->second;
  }
  for (Group &group : groups)
    group.label = getLabel(group.members.front());
}

ValueSet PlanContext::savedFor(const llvm::BitVector &recomputed) const {
  ValueSet saved(inputs);
  for (unsigned g : recomputed.set_bits())
    for (Value member : groups[g].members)
      saved.erase(member);
  return saved;
}

llvm::BitVector PlanContext::recomputedFor(const ValueSet &saved) const {
  llvm::BitVector recomputed(groups.size());
  for (auto [g, group] : llvm::enumerate(groups))
    if (llvm::none_of(group.members,
                      [&](Value m) { return saved.contains(m); }))
      recomputed.set(g);
  return recomputed;
}

/// The bytes of the buffer `value` aliases when it is an activation (not an
/// argument or a constant) that `roots` does not hold yet, which it then
/// does; otherwise 0.
int64_t mlir::remat::detail::newActivationBytes(Value value,
                                                llvm::DenseSet<Value> &roots) {
  Value root = getViewRoot(value);
  Operation *def = root.getDefiningOp();
  if (!def || def->hasTrait<OpTrait::ConstantLike>() ||
      !roots.insert(root).second)
    return 0;
  return getStaticSizeInBytes(root.getType()).value_or(0);
}

int64_t PlanContext::activationBytes(const ValueSet &saved,
                                     bool withFrontier) const {
  llvm::DenseSet<Value> roots;
  int64_t bytes = 0;
  auto add = [&](Value v) { bytes += newActivationBytes(v, roots); };
  for (Value v : saved)
    if (inputs.contains(v))
      add(v);
  if (!withFrontier)
    return bytes;
  // The forward values the recompute reads: saved ones outside the
  // backward's inputs (a schedule's), and those it cannot recompute
  // (results of ops with effects). The rewrite passes them in too.
  SmallVector<Value> work;
  for (Value c : candidates)
    if (!saved.contains(c))
      work.push_back(c);
  llvm::DenseSet<Operation *> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *def = v.getDefiningOp();
    if (!def)
      continue;
    if (saved.contains(v) || !canRecomputeIn(def, backward)) {
      add(v);
      continue;
    }
    if (seen.insert(def).second)
      llvm::append_range(work, getRecomputeInputs(def));
  }
  return bytes;
}

FailureOr<int64_t>
PlanContext::capActivations(int64_t bytes, const llvm::BitVector *recomputed,
                            function_ref<FailureOr<int64_t>()> peakOf) {
  if (!peakCap || bytes > capBudget)
    return bytes;
  // (Activations that meet the budget with a peak above the cap miss it.)
  if (recomputed && peakLowerBound(*recomputed) > *peakCap)
    return capBudget + 1;
  FailureOr<int64_t> p = peakOf();
  if (failed(p))
    return failure();
  return *p > *peakCap ? capBudget + 1 : bytes;
}

FailureOr<int64_t> PlanContext::measure(const ValueSet &saved,
                                        std::string *liveAtPeak) {
  if (options.budgetOn == BudgetOn::Peak)
    return peak(saved, liveAtPeak);
  return capActivations(activationBytes(saved), nullptr,
                        [&] { return peak(saved); });
}

FailureOr<int64_t> PlanContext::measure(const llvm::BitVector &recomputed) {
  if (options.budgetOn == BudgetOn::Peak)
    return peak(recomputed);
  return capActivations(activationBytes(savedFor(recomputed)), &recomputed,
                        [&] { return peak(recomputed); });
}
