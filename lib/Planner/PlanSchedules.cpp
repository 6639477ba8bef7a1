//===- PlanSchedules.cpp - the fixed schedules of the field ---------------===//
//
// The plans of torch.utils.checkpoint per layer (full), every-Nth-layer and
// sqrt(L) segments, Megatron-LM's selective recompute of the attention core,
// and PyTorch's min-cut partitioner, each as a set of forward values to save.
//
//===----------------------------------------------------------------------===//

#include "PlannerImpl.h"

#include "remat/Dialect/Remat/Transforms/Transforms.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringMap.h"

#include <cmath>
#include <queue>

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

bool mlir::remat::detail::isFixedSchedule(PlanStrategy strategy) {
  switch (strategy) {
  case PlanStrategy::Full:
  case PlanStrategy::EveryN:
  case PlanStrategy::Sqrt:
  case PlanStrategy::Selective:
  case PlanStrategy::MinCut:
    return true;
  default:
    return false;
  }
}

SmallVector<Operation *>
mlir::remat::detail::getForwardOps(BackwardOp backward) {
  SmallVector<Operation *> ops;
  for (Operation &op : *backward->getBlock()) {
    if (&op == backward.getOperation())
      break;
    ops.push_back(&op);
  }
  return ops;
}
static SmallVector<Operation *> getForwardOps(PlanContext &ctx) {
  return getForwardOps(ctx.backward);
}

//===----------------------------------------------------------------------===//
// Layer segments: full, every-n, sqrt
//===----------------------------------------------------------------------===//

ArrayRef<PlanContext::LayerCrossing> PlanContext::getLayerCrossings() {
  if (layerCrossings)
    return *layerCrossings;
  SmallVector<LayerCrossing> &crossings = layerCrossings.emplace();
  const ForwardLayers &forwardLayers = getLayers();
  auto layerOf = [&](Operation *op) {
    auto it = forwardLayers.layerOf.find(op);
    return it == forwardLayers.layerOf.end() || it->second < 0 ? -1
                                                               : it->second;
  };
  for (Operation *op : getForwardOps(backward)) {
    int to = layerOf(op);
    for (Value u : getRecomputeInputs(op)) {
      Operation *def = u.getDefiningOp();
      if (!def || def->getBlock() != op->getBlock() ||
          def->hasTrait<OpTrait::ConstantLike>())
        continue;
      int from = layerOf(def);
      if (from != to)
        crossings.push_back({u, from, to});
    }
  }
  return crossings;
}

/// Segments of `n` consecutive layers. Every value that crosses into a
/// segment (or out of every layer) is saved; the other residuals of a
/// segment are recomputed from them, as checkpointing each segment does.
static FailureOr<Schedule> buildSegments(PlanContext &ctx,
                                         PlanStrategy strategy,
                                         std::string &error, unsigned everyN) {
  // What the reasons need outlives this function.
  struct Segments {
    std::shared_ptr<const ForwardLayers> layers;
    llvm::DenseMap<Value, int> inputOf;
    unsigned n = 1;

    int segmentOf(Operation *op) const {
      auto it = layers->layerOf.find(op);
      if (!op || it == layers->layerOf.end() || it->second < 0)
        return -1;
      return it->second / static_cast<int>(n);
    }
    std::string describe(int segment) const {
      const SmallVector<std::string> &names = layers->names;
      if (n == 1)
        return "layer " + names[segment];
      size_t first = segment * n;
      size_t last = std::min(names.size(), first + n) - 1;
      return "segment " + names[first] + ".." + names[last];
    }
  };
  auto segments = std::make_shared<Segments>();
  segments->layers = ctx.getSharedLayers();
  StringRef name = stringifyPlanStrategy(strategy);
  if (segments->layers->names.empty()) {
    error = "remat: strategy " + name.str() +
            " needs layers, but no forward op has a name location with a "
            "numeric path component (such as 'blocks.0.attn.mm') and no "
            "sequence of ops repeats";
    return failure();
  }
  unsigned &n = segments->n;
  if (strategy == PlanStrategy::EveryN)
    n = std::max(1u, everyN ? everyN : ctx.options.everyN);
  else if (strategy == PlanStrategy::Sqrt)
    n = std::max(1u,
                 static_cast<unsigned>(std::lround(std::sqrt(
                     static_cast<double>(segments->layers->names.size())))));

  Schedule schedule;
  // (Values read within their own layer stay within their segment.)
  auto segmentOfLayer = [&](int layer) {
    return layer < 0 ? -1 : layer / static_cast<int>(n);
  };
  for (const PlanContext::LayerCrossing &c : ctx.getLayerCrossings()) {
    int segment = segmentOfLayer(c.to);
    if (segmentOfLayer(c.from) == segment)
      continue;
    schedule.saved.insert(c.value);
    segments->inputOf.try_emplace(c.value, segment);
  }
  // Residuals outside every layer stay saved.
  for (Value v : ctx.inputs)
    if (segments->segmentOf(v.getDefiningOp()) < 0 || !ctx.groupOf.count(v))
      schedule.saved.insert(v);
  schedule.reason = [segments](Value v, bool recompute) {
    if (recompute)
      return "inside " +
             segments->describe(segments->segmentOf(v.getDefiningOp())) +
             ", not one of its inputs";
    auto it = segments->inputOf.find(v);
    if (it != segments->inputOf.end())
      return it->second < 0 ? std::string("read outside every layer")
                            : "input of " + segments->describe(it->second);
    return std::string("outside every ") +
           (segments->n == 1 ? "layer" : "segment");
  };
  return schedule;
}

//===----------------------------------------------------------------------===//
// Selective: the attention core
//===----------------------------------------------------------------------===//

/// The attention cores: for each batch matmul fed, through ops that are not
/// contractions, by another batch matmul, the first matmul and the ops on
/// the paths between them (scores, scale, mask, softmax, dropout).
static FailureOr<Schedule> buildSelective(PlanContext &ctx,
                                          std::string &error) {
  SmallVector<Operation *> forward = getForwardOps(ctx);
  llvm::DenseSet<Operation *> inForward(forward.begin(), forward.end());
  auto core = std::make_shared<llvm::DenseMap<Operation *, std::string>>();
  for (Operation *second : forward) {
    if (!isa<linalg::BatchMatmulOp>(second))
      continue;
    // Ops between the inputs of `second` and the contractions above them.
    llvm::DenseSet<Operation *> between;
    SmallVector<Operation *> firsts;
    SmallVector<Value> work(getRecomputeInputs(second));
    while (!work.empty()) {
      Operation *def = work.pop_back_val().getDefiningOp();
      if (!def || !inForward.contains(def) || !between.insert(def).second)
        continue;
      if (isContraction(def)) {
        if (isa<linalg::BatchMatmulOp>(def))
          firsts.push_back(def);
        continue;
      }
      work.append(getRecomputeInputs(def));
    }
    // The core: what is reachable from a first matmul within `between`.
    std::string layer = getLayerKey(second);
    for (Operation *first : firsts) {
      SmallVector<Operation *> stack{first};
      while (!stack.empty()) {
        Operation *op = stack.pop_back_val();
        if (!core->try_emplace(op, layer).second)
          continue;
        for (Operation *user : op->getUsers())
          if (between.contains(user) && user != first)
            stack.push_back(user);
      }
    }
  }
  // A fused attention (-remat-fuse-attention) is a core by itself: its
  // output and log-sum-exp are recomputed, as Megatron recomputes
  // FlashAttention's forward.
  for (Operation *op : forward)
    if (isa<AttentionOp>(op))
      core->try_emplace(op, getLayerKey(op));
  if (core->empty()) {
    error = "remat: strategy selective found no attention core (a batch "
            "matmul fed, through ops that are not contractions, by another "
            "batch matmul, or a remat.attention)";
    return failure();
  }
  auto schedule = std::make_shared<Schedule>();
  auto coreOf = [core](Value v) -> const std::string * {
    for (Value x : {v, getViewRoot(v)})
      if (Operation *def = x.getDefiningOp()) {
        auto it = core->find(def);
        if (it != core->end())
          return &it->second;
      }
    return nullptr;
  };
  for (Value v : ctx.inputs)
    if (!ctx.groupOf.count(v) || !coreOf(v))
      schedule->saved.insert(v);
  schedule->reason = [coreOf](Value v, bool recompute) {
    if (!recompute)
      return std::string("outside the attention core");
    const std::string *layer = coreOf(v);
    return "in the attention core" +
           (layer && !layer->empty() ? " of " + *layer : std::string());
  };
  return *schedule;
}

//===----------------------------------------------------------------------===//
// Min-cut
//===----------------------------------------------------------------------===//

namespace {
/// Dinic's maximum flow on a graph with 64-bit capacities.
class MaxFlow {
public:
  static constexpr int64_t kInfinity = int64_t(1) << 60;

  explicit MaxFlow(unsigned nodes) : adjacency(nodes) {}

  void addEdge(unsigned from, unsigned to, int64_t capacity) {
    adjacency[from].push_back(edges.size());
    edges.push_back({to, capacity});
    adjacency[to].push_back(edges.size());
    edges.push_back({from, 0});
  }

  int64_t run(unsigned source, unsigned sink) {
    int64_t total = 0;
    while (levelGraph(source, sink)) {
      next.assign(adjacency.size(), 0);
      while (int64_t pushed = push(source, sink, kInfinity))
        total += pushed;
    }
    return total;
  }

  /// The nodes reachable from `source` in the residual graph.
  std::vector<bool> reachable(unsigned source) const {
    std::vector<bool> seen(adjacency.size(), false);
    std::vector<unsigned> stack{source};
    seen[source] = true;
    while (!stack.empty()) {
      unsigned node = stack.back();
      stack.pop_back();
      for (unsigned e : adjacency[node])
        if (edges[e].capacity > 0 && !seen[edges[e].to]) {
          seen[edges[e].to] = true;
          stack.push_back(edges[e].to);
        }
    }
    return seen;
  }

private:
  struct Edge {
    unsigned to;
    int64_t capacity;
  };

  bool levelGraph(unsigned source, unsigned sink) {
    level.assign(adjacency.size(), -1);
    std::queue<unsigned> queue;
    level[source] = 0;
    queue.push(source);
    while (!queue.empty()) {
      unsigned node = queue.front();
      queue.pop();
      for (unsigned e : adjacency[node])
        if (edges[e].capacity > 0 && level[edges[e].to] < 0) {
          level[edges[e].to] = level[node] + 1;
          queue.push(edges[e].to);
        }
    }
    return level[sink] >= 0;
  }

  /// One augmenting path in the level graph (iterative DFS).
  int64_t push(unsigned source, unsigned sink, int64_t limit) {
    std::vector<unsigned> path; // edge indices
    unsigned node = source;
    while (true) {
      if (node == sink) {
        int64_t flow = limit;
        for (unsigned e : path)
          flow = std::min(flow, edges[e].capacity);
        for (unsigned e : path) {
          edges[e].capacity -= flow;
          edges[e ^ 1].capacity += flow;
        }
        return flow;
      }
      bool advanced = false;
      for (unsigned &i = next[node]; i < adjacency[node].size(); ++i) {
        unsigned e = adjacency[node][i];
        if (edges[e].capacity > 0 && level[edges[e].to] == level[node] + 1) {
          path.push_back(e);
          node = edges[e].to;
          advanced = true;
          break;
        }
      }
      if (advanced)
        continue;
      // Dead end: retreat.
      level[node] = -1;
      if (path.empty())
        return 0;
      node = edges[path.back() ^ 1].to;
      path.pop_back();
      ++next[node];
    }
  }

  std::vector<std::vector<unsigned>> adjacency;
  std::vector<Edge> edges;
  std::vector<int> level;
  std::vector<unsigned> next;
};
} // namespace

/// Ops the min-cut partitioner may recompute: element-wise ops, views,
/// fills, transposes and broadcasts. Contractions and reductions are
/// computed once, in the forward.
static bool isCheapToRecompute(Operation *op) {
  if (op->hasTrait<OpTrait::ConstantLike>() || isViewLike(op) ||
      isa<tensor::EmptyOp, tensor::ConcatOp, tensor::InsertSliceOp,
          tensor::PadOp>(op))
    return true;
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    return linalgOp.getNumReductionLoops() == 0;
  return op->hasTrait<OpTrait::Elementwise>();
}

/// Each forward value v is an edge in(v) -> out(v) whose capacity is its
/// bytes (arguments and constants: free). Values of ops that may not be
/// recomputed hang from the source; residuals feed the sink. The minimum
/// cut is the set of values to save with the fewest bytes from which every
/// residual is recomputed by cheap ops only.
static FailureOr<Schedule> buildMinCut(PlanContext &ctx) {
  SmallVector<Operation *> forward = getForwardOps(ctx);
  // Views share the node of the buffer they alias.
  llvm::DenseMap<Value, unsigned> nodeOf;
  SmallVector<Value> values;
  for (BlockArgument arg : ctx.function.getArguments()) {
    nodeOf[arg] = values.size();
    values.push_back(arg);
  }
  for (Operation *op : forward)
    for (Value r : op->getResults()) {
      Value root = getViewRoot(r);
      auto it = nodeOf.find(root);
      if (it != nodeOf.end()) {
        nodeOf[r] = it->second;
        continue;
      }
      nodeOf[r] = values.size();
      values.push_back(r);
    }
  unsigned source = 2 * values.size(), sink = source + 1;
  MaxFlow flow(sink + 1);
  for (auto [index, v] : llvm::enumerate(values)) {
    unsigned in = 2 * index, out = in + 1;
    Operation *def = v.getDefiningOp();
    bool free = !def || def->hasTrait<OpTrait::ConstantLike>();
    int64_t bytes = free ? 0 : getStaticSizeInBytes(v.getType()).value_or(0);
    flow.addEdge(in, out, bytes);
    if (free || !canRecomputeIn(def, ctx.backward) || !isCheapToRecompute(def))
      flow.addEdge(source, in, MaxFlow::kInfinity);
  }
  for (Operation *op : forward) {
    if (isViewLike(op))
      continue;
    for (Value u : getRecomputeInputs(op)) {
      auto it = nodeOf.find(u);
      if (it == nodeOf.end())
        continue;
      for (Value r : op->getResults())
        flow.addEdge(2 * it->second + 1, 2 * nodeOf.lookup(r),
                     MaxFlow::kInfinity);
    }
  }
  for (Value v : ctx.inputs) {
    auto it = nodeOf.find(v);
    if (it != nodeOf.end())
      flow.addEdge(2 * it->second + 1, sink, MaxFlow::kInfinity);
  }
  flow.run(source, sink);
  std::vector<bool> reach = flow.reachable(source);
  auto schedule = std::make_shared<Schedule>();
  auto onCut = [&](unsigned index) {
    return reach[2 * index] && !reach[2 * index + 1];
  };
  for (auto [index, v] : llvm::enumerate(values))
    if (v.getDefiningOp() && onCut(index))
      schedule->saved.insert(v);
  // Residuals that alias a saved buffer, and non-candidates (constants,
  // effects), stay saved.
  for (Value v : ctx.inputs) {
    auto it = nodeOf.find(v);
    if (!ctx.groupOf.count(v) || (it != nodeOf.end() && onCut(it->second)))
      schedule->saved.insert(v);
  }
  schedule->reason = [](Value v, bool recompute) {
    if (recompute)
      return std::string("recomputed by cheap ops from the minimum cut");
    Operation *def = getViewRoot(v).getDefiningOp();
    if (def && !isCheapToRecompute(def))
      return "on the minimum cut: '" + def->getName().getStringRef().str() +
             "' is not cheap to recompute";
    return std::string("on the minimum cut of saved bytes");
  };
  return *schedule;
}

unsigned mlir::remat::detail::countLayers(BackwardOp backward) {
  return findForwardLayers(backward).names.size();
}

FailureOr<Schedule> mlir::remat::detail::buildSchedule(PlanContext &ctx,
                                                       PlanStrategy strategy,
                                                       std::string &error,
                                                       unsigned everyN) {
  switch (strategy) {
  case PlanStrategy::Full:
  case PlanStrategy::EveryN:
  case PlanStrategy::Sqrt:
    return buildSegments(ctx, strategy, error, everyN);
  case PlanStrategy::Selective:
    return buildSelective(ctx, error);
  case PlanStrategy::MinCut:
    return buildMinCut(ctx);
  default:
    return failure();
  }
}
