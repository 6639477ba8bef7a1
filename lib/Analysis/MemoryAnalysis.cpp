//===- MemoryAnalysis.cpp - program-order liveness and peak ---------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The model follows what remat's CPU pipeline does to a step (one-shot
/// bufferization across function boundaries, frees after last use):
///
/// - views (`extract_slice`, `expand_shape`, `collapse_shape`, `cast`,
///   `reshape`, `bitcast`, `remat.name`, `remat.barrier`) alias their
///   source;
/// - the entry arguments of `remat.checkpoint` and `remat.backward` alias
///   the op's operands, and the op's results alias the yielded values;
/// - a destination-passing op writes into its init's buffer when that
///   buffer dies at the op, and into a new buffer otherwise (an init that is
///   `tensor.empty` always means a new buffer);
/// - an element-wise arith or math op on tensors writes into the buffer of
///   its first operand of the result's type when that buffer dies at the op
///   (as `-convert-elementwise-to-linalg` and one-shot bufferization do),
///   function arguments included, and into a new buffer otherwise;
/// - a returned value that lives in a function argument or a constant is
///   copied into a new buffer at the return, as deallocation does, except
///   an argument a private function returns (bufferization drops that
///   result: -drop-equivalent-buffer-results);
/// - constants are static storage, not heap;
/// - a `remat.offload` result is a host buffer: it is counted in a host
///   arena of its own, not in the timeline (nor is a memref in
///   `#remat.memory_space<host>` after bufferization);
/// - an op with WorkspaceOpInterface (a fused op that loops over chunks)
///   also holds its temporary buffers, at its own program point only.
///
/// It reads bufferized programs as well: `memref.alloc` and
/// `bufferization.clone` are heap buffers, `memref.get_global` and
/// `memref.alloca` static storage, views alias their source, and a buffer
/// lives until its last use, which is its dealloc when it has one. An
/// aligned `memref.alloc` counts its size rounded up to the alignment.
///
//===----------------------------------------------------------------------===//

#include "remat/Analysis/MemoryAnalysis.h"

#include "remat/Analysis/Cost.h"
#include "remat/Dialect/Remat/IR/Remat.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <algorithm>

#define DEBUG_TYPE "remat-memory-analysis"

using namespace mlir;
using namespace mlir::remat;

/// Returns true for the types that hold a buffer: tensors and memrefs.
static bool isBufferType(Type type) {
  return isa<TensorType, BaseMemRefType>(type);
}

/// What the model keeps beside the profile while it runs.
struct MemoryAnalyzer::Tables {
  /// Each numbered op's first and last program point (its own, and the
  /// last of the ops in its flattened regions).
  llvm::DenseMap<Operation *, std::pair<unsigned, unsigned>> pointsOf;
  /// Per buffer, the last use of the values aliased to it so far.
  SmallVector<unsigned> lastUses;
  /// Per program point, the last point of the ops nested in it.
  SmallVector<unsigned> ends;
  /// Per program point, the change in live (and host) bytes.
  SmallVector<int64_t> delta, hostDelta;

  /// Empties the tables, keeping their memory.
  void clear() {
    pointsOf.clear();
    lastUses.clear();
    ends.clear();
    delta.clear();
    hostDelta.clear();
  }
};

namespace {
class MemoryModel {
public:
  MemoryModel(MemoryProfile &profile, MemoryAnalyzer::Tables &tables,
              int64_t tensorAlignment)
      : profile(profile), tensorAlignment(tensorAlignment),
        pointsOf(tables.pointsOf), lastUses(tables.lastUses), ends(tables.ends),
        delta(tables.delta), hostDelta(tables.hostDelta) {}

  void run(FunctionOpInterface function);

private:
  /// Returns true if the regions of `op` run in program order as part of the
  /// step (as opposed to scalar bodies of compute ops).
  static bool isFlattened(Operation *op) {
    return isa<CheckpointOp, BackwardOp, RegionBranchOpInterface>(op) &&
           !isa<CostOpInterface>(op);
  }

  /// Gives each op of `block` (and of its flattened regions) its program
  /// point, in order, and records in `ends` the last point of each.
  void number(Block &block, SmallVectorImpl<unsigned> &ends);
  void assign(Block &block);
  void assignResults(Operation *op);
  unsigned newBuffer(Value root, BufferKind kind, unsigned start);
  void alias(Value value, unsigned buffer) {
    profile.bufferOf[value] = buffer;
    lastUses[buffer] = std::max(lastUses[buffer], lastUseOf(value));
  }
  /// Adds the temporary buffers of a WorkspaceOpInterface op, live at its
  /// program point only.
  void addWorkspace(Operation *op);
  /// Returns the program point at which `user` uses a value defined in
  /// `defRegion`.
  unsigned usePoint(Operation *user, Region *defRegion) const;
  /// Returns the last point at which `value` is used (0 if never).
  unsigned lastUseOf(Value value) const;
  /// Returns the last point at which any current member of `buffer` is used.
  unsigned lastUse(unsigned buffer) const {
    return std::max(profile.buffers[buffer].start, lastUses[buffer]);
  }
  /// Buffer for a result written in place into `candidate`'s buffer if that
  /// buffer dies at `op`, else a new one.
  unsigned inPlaceOrNew(Operation *op, Value result, Value candidate);

  MemoryProfile &profile;
  int64_t tensorAlignment;
  // (The tables of MemoryAnalyzer::Tables.)
  llvm::DenseMap<Operation *, std::pair<unsigned, unsigned>> &pointsOf;
  unsigned startOf(Operation *op) const { return pointsOf.lookup(op).first; }
  unsigned endOf(Operation *op) const { return pointsOf.lookup(op).second; }
  SmallVector<unsigned> &lastUses;
  SmallVector<unsigned> &ends;
  SmallVector<int64_t> &delta, &hostDelta;
  unsigned lastPoint = 0;
  /// Whether a returned argument stays in place (a private function).
  bool returnsArgumentsInPlace = false;
};
} // namespace

void MemoryModel::number(Block &block, SmallVectorImpl<unsigned> &ends) {
  for (Operation &op : block) {
    unsigned point = profile.points.size();
    profile.points.push_back(&op);
    ends.push_back(point);
    if (isFlattened(&op))
      for (Region &region : op.getRegions())
        for (Block &nested : region)
          number(nested, ends);
    ends[point] = profile.points.size() - 1;
  }
}

unsigned MemoryModel::newBuffer(Value root, BufferKind kind, unsigned start) {
  Buffer buffer;
  buffer.root = root;
  buffer.kind = kind;
  buffer.start = buffer.end = start;
  std::optional<int64_t> bytes = getStaticSizeInBytes(root.getType());
  if (!bytes)
    profile.unsized.push_back(root);
  buffer.bytes = bytes.value_or(0);
  if ((kind == BufferKind::Allocated || kind == BufferKind::Host) &&
      isa<TensorType>(root.getType()))
    buffer.bytes = static_cast<int64_t>(
        llvm::alignTo(buffer.bytes, static_cast<uint64_t>(tensorAlignment)));
  profile.buffers.push_back(buffer);
  lastUses.push_back(0);
  unsigned index = profile.buffers.size() - 1;
  alias(root, index);
  return index;
}

void MemoryModel::addWorkspace(Operation *op) {
  auto workspace = dyn_cast<WorkspaceOpInterface>(op);
  if (!workspace || op->getNumResults() == 0)
    return;
  unsigned point = endOf(op);
  for (int64_t bytes : workspace.getWorkspaceBuffers()) {
    Buffer buffer;
    // (Labelled by the op's first result; no value lives in it.)
    buffer.root = op->getResult(0);
    buffer.start = buffer.end = point;
    buffer.bytes = static_cast<int64_t>(
        llvm::alignTo(bytes, static_cast<uint64_t>(tensorAlignment)));
    profile.buffers.push_back(buffer);
    lastUses.push_back(0);
  }
}

unsigned MemoryModel::usePoint(Operation *user, Region *defRegion) const {
  // The nearest ancestor that has a program point.
  Operation *numbered = user;
  while (numbered && !pointsOf.count(numbered))
    numbered = numbered->getParentOp();
  if (!numbered)
    return lastPoint;
  unsigned point = startOf(numbered);
  if (isa<func::ReturnOp>(numbered))
    return lastPoint;
  // A use inside a loop that does not contain the definition lasts until
  // the loop ends.
  for (Operation *op = numbered->getParentOp(); op; op = op->getParentOp()) {
    if (defRegion && op->isAncestor(defRegion->getParentOp()))
      break;
    if (isa<LoopLikeOpInterface>(op) && pointsOf.count(op))
      point = std::max(point, endOf(op));
  }
  return point;
}

unsigned MemoryModel::lastUseOf(Value value) const {
  unsigned last = 0;
  Region *region = value.getParentRegion();
  for (Operation *user : value.getUsers())
    last = std::max(last, usePoint(user, region));
  return last;
}

unsigned MemoryModel::inPlaceOrNew(Operation *op, Value result,
                                   Value candidate) {
  unsigned point = endOf(op);
  if (candidate && !candidate.getDefiningOp<tensor::EmptyOp>()) {
    auto it = profile.bufferOf.find(candidate);
    if (it != profile.bufferOf.end() &&
        profile.buffers[it->second].kind != BufferKind::Constant &&
        lastUse(it->second) <= startOf(op)) {
      alias(result, it->second);
      return it->second;
    }
  }
  return newBuffer(result, BufferKind::Allocated, point);
}

void MemoryModel::assignResults(Operation *op) {
  unsigned point = endOf(op);
  auto lookupBuffer = [&](Value v) -> std::optional<unsigned> {
    auto it = profile.bufferOf.find(v);
    if (it == profile.bufferOf.end())
      return std::nullopt;
    return it->second;
  };

  // Views and identities alias their source.
  if (isa<tensor::ExtractSliceOp, tensor::ExpandShapeOp,
          tensor::CollapseShapeOp, tensor::CastOp, tensor::ReshapeOp,
          tensor::BitcastOp, NameOp>(op)) {
    if (std::optional<unsigned> source = lookupBuffer(op->getOperand(0)))
      alias(op->getResult(0), *source);
    else
      newBuffer(op->getResult(0), BufferKind::Allocated, point);
    return;
  }
  if (isa<BarrierOp>(op)) {
    for (auto [operand, result] :
         llvm::zip(op->getOperands(), op->getResults()))
      if (std::optional<unsigned> source = lookupBuffer(operand))
        alias(result, *source);
    return;
  }
  // Region ops: results alias the yielded values.
  if (isa<CheckpointOp, BackwardOp>(op)) {
    auto yield = cast<YieldOp>(op->getRegion(0).front().getTerminator());
    for (auto [yielded, result] :
         llvm::zip(yield.getValues(), op->getResults()))
      if (std::optional<unsigned> source = lookupBuffer(yielded))
        alias(result, *source);
    return;
  }
  if (isa<arith::ConstantOp>(op)) {
    if (isBufferType(op->getResult(0).getType()))
      newBuffer(op->getResult(0), BufferKind::Constant, point);
    return;
  }
  if (isa<tensor::EmptyOp>(op))
    return; // Materializes only through the op that writes into it.
  if (isa<OffloadOp>(op)) {
    newBuffer(op->getResult(0), BufferKind::Host, point);
    return;
  }

  // Buffers after bufferization: heap allocations and copies, static
  // storage, and views.
  if (isa<memref::AllocOp, bufferization::CloneOp>(op)) {
    bool host = isHostMemRef(op->getResult(0).getType());
    unsigned buffer =
        newBuffer(op->getResult(0),
                  host ? BufferKind::Host : BufferKind::Allocated, point);
    // An aligned allocation is rounded up to its alignment, as the LLVM
    // lowering does for aligned_alloc.
    if (auto alloc = dyn_cast<memref::AllocOp>(op))
      if (std::optional<uint64_t> alignment = alloc.getAlignment())
        profile.buffers[buffer].bytes = static_cast<int64_t>(
            llvm::alignTo(profile.buffers[buffer].bytes, *alignment));
    return;
  }
  if (isa<memref::AllocaOp, memref::GetGlobalOp>(op)) {
    newBuffer(op->getResult(0), BufferKind::Constant, point);
    return;
  }
  if (auto view = dyn_cast<ViewLikeOpInterface>(op)) {
    if (std::optional<unsigned> source = lookupBuffer(view.getViewSource()))
      for (Value result : op->getResults())
        if (isBufferType(result.getType()))
          alias(result, *source);
    return;
  }
  if (auto metadata = dyn_cast<memref::ExtractStridedMetadataOp>(op)) {
    if (std::optional<unsigned> source = lookupBuffer(metadata.getSource()))
      alias(metadata.getBaseBuffer(), *source);
    return;
  }

  if (auto dps = dyn_cast<DestinationStyleOpInterface>(op)) {
    for (OpResult result : op->getResults())
      if (isBufferType(result.getType()))
        inPlaceOrNew(op, result, dps.getTiedOpOperand(result)->get());
    return;
  }
  if (op->hasTrait<OpTrait::Elementwise>() && op->getNumResults() == 1 &&
      isBufferType(op->getResult(0).getType())) {
    Value result = op->getResult(0);
    // The first operand of the result's type; canonicalization puts
    // constants last in commutative ops, so those never come first.
    bool commutative = op->hasTrait<OpTrait::IsCommutative>();
    Value candidate;
    for (Value operand : op->getOperands())
      if (operand.getType() == result.getType() &&
          !(commutative && matchPattern(operand, m_Constant()))) {
        candidate = operand;
        break;
      }
    inPlaceOrNew(op, result, candidate);
    return;
  }
  for (Value result : op->getResults())
    if (isBufferType(result.getType()))
      newBuffer(result, BufferKind::Allocated, point);
}

void MemoryModel::assign(Block &block) {
  for (Operation &op : block) {
    if (isa<CheckpointOp, BackwardOp>(op)) {
      Block &body = op.getRegion(0).front();
      for (auto [operand, arg] :
           llvm::zip(op.getOperands(), body.getArguments())) {
        auto it = profile.bufferOf.find(operand);
        if (it != profile.bufferOf.end())
          alias(arg, it->second);
      }
      assign(body);
    } else if (isFlattened(&op)) {
      // Other region ops: arguments of their blocks are new buffers.
      for (Region &region : op.getRegions())
        for (Block &nested : region) {
          for (BlockArgument arg : nested.getArguments())
            if (isBufferType(arg.getType()))
              newBuffer(arg, BufferKind::Allocated, startOf(&op));
          assign(nested);
        }
      for (Value result : op.getResults())
        if (isBufferType(result.getType()))
          newBuffer(result, BufferKind::Allocated, endOf(&op));
      continue;
    }
    assignResults(&op);
    addWorkspace(&op);
    // A returned function argument or constant is copied out; except an
    // argument a private function returns, a result bufferization drops
    // (its callers read the argument; -drop-equivalent-buffer-results).
    if (isa<func::ReturnOp>(op))
      for (Value operand : op.getOperands()) {
        auto it = profile.bufferOf.find(operand);
        if (it == profile.bufferOf.end())
          continue;
        BufferKind kind = profile.buffers[it->second].kind;
        if (kind == BufferKind::Allocated ||
            (kind == BufferKind::Resident && returnsArgumentsInPlace))
          continue;
        newBuffer(operand, BufferKind::Allocated, startOf(&op));
      }
  }
}

void MemoryModel::run(FunctionOpInterface function) {
  Region &body = function.getFunctionBody();
  if (body.empty())
    return;
  Block &entry = body.front();
  auto symbol = dyn_cast<SymbolOpInterface>(function.getOperation());
  returnsArgumentsInPlace = symbol && symbol.isPrivate();
  number(entry, ends);
  // (The maps are sized once: growing them cost a fifth of an analysis of
  // a large step. A step has fewer tensor values than ops; a map reserved
  // for more would also be shrunk, then grown again, when a
  // MemoryAnalyzer clears it.)
  size_t ops = profile.points.size();
  pointsOf.reserve(ops);
  for (auto [point, op] : llvm::enumerate(profile.points))
    pointsOf[op] = {static_cast<unsigned>(point), ends[point]};
  profile.bufferOf.reserve(ops);
  lastPoint = profile.points.empty() ? 0 : profile.points.size() - 1;
  for (BlockArgument arg : entry.getArguments())
    if (isBufferType(arg.getType())) {
      unsigned buffer = newBuffer(arg, BufferKind::Resident, 0);
      profile.residentBytes += profile.buffers[buffer].bytes;
    }
  assign(entry);

  // Live ranges and the timeline.
  delta.assign(profile.points.size() + 1, 0);
  for (auto [index, buffer] : llvm::enumerate(profile.buffers)) {
    if (buffer.kind == BufferKind::Resident) {
      buffer.end = lastPoint;
      continue;
    }
    buffer.end = std::max(buffer.start, lastUse(index));
    if (buffer.kind == BufferKind::Host) {
      hostDelta.resize(profile.points.size() + 1, 0);
      hostDelta[buffer.start] += buffer.bytes;
      hostDelta[buffer.end + 1] -= buffer.bytes;
      profile.hostBytes += buffer.bytes;
    }
    if (buffer.kind != BufferKind::Allocated)
      continue;
    delta[buffer.start] += buffer.bytes;
    delta[buffer.end + 1] -= buffer.bytes;
  }
  int64_t hostLive = 0;
  for (int64_t d : hostDelta)
    profile.hostPeakBytes = std::max(profile.hostPeakBytes, hostLive += d);
  int64_t live = 0;
  for (unsigned point = 0; point < profile.points.size(); ++point) {
    live += delta[point];
    profile.timeline.push_back(live);
    if (live > profile.peakBytes) {
      profile.peakBytes = live;
      profile.peakPoint = point;
    }
  }
  for (auto [index, buffer] : llvm::enumerate(profile.buffers))
    if (buffer.kind == BufferKind::Allocated && buffer.bytes > 0 &&
        buffer.start <= profile.peakPoint && profile.peakPoint <= buffer.end)
      profile.liveAtPeak.push_back(index);
  llvm::stable_sort(profile.liveAtPeak, [&](unsigned a, unsigned b) {
    return profile.buffers[a].bytes > profile.buffers[b].bytes;
  });

  // Residuals: what backward regions read that the step allocates.
  llvm::SmallDenseSet<unsigned> counted;
  // (Backward ops sit in flattened regions: the numbered ops hold them all.)
  for (Operation *op : profile.points) {
    auto backward = dyn_cast<BackwardOp>(op);
    if (!backward)
      continue;
    for (Value input : backward.getInputs()) {
      auto it = profile.bufferOf.find(input);
      if (it == profile.bufferOf.end() ||
          profile.buffers[it->second].kind != BufferKind::Allocated)
        continue;
      profile.residuals.push_back(input);
      if (counted.insert(it->second).second)
        profile.activationBytes += profile.buffers[it->second].bytes;
    }
  }
}

MemoryProfile mlir::remat::analyzeMemory(Operation *function,
                                         int64_t tensorAlignment) {
  MemoryProfile profile;
  MemoryAnalyzer::Tables tables;
  if (auto fn = dyn_cast<FunctionOpInterface>(function))
    MemoryModel(profile, tables, std::max<int64_t>(tensorAlignment, 1)).run(fn);
  return profile;
}

void MemoryProfile::clear() {
  points.clear();
  buffers.clear();
  bufferOf.clear();
  timeline.clear();
  peakBytes = 0;
  peakPoint = 0;
  liveAtPeak.clear();
  residentBytes = 0;
  hostPeakBytes = 0;
  hostBytes = 0;
  residuals.clear();
  activationBytes = 0;
  unsized.clear();
}

MemoryAnalyzer::MemoryAnalyzer() : tables(std::make_unique<Tables>()) {}
MemoryAnalyzer::~MemoryAnalyzer() = default;

const MemoryProfile &MemoryAnalyzer::analyze(Operation *function,
                                             int64_t tensorAlignment) {
  // (Cleared, not made anew: new tables would be allocated, and their
  // pages faulted in, again on each call.)
  profile.clear();
  tables->clear();
  if (auto fn = dyn_cast<FunctionOpInterface>(function))
    MemoryModel(profile, *tables, std::max<int64_t>(tensorAlignment, 1))
        .run(fn);
  return profile;
}
