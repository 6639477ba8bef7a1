//===- Report.cpp - the remat report: memory, saved set, recompute cost ---===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Analysis/Cost.h"
#include "remat/Analysis/MemoryAnalysis.h"
#include "remat/Dialect/Remat/IR/Remat.h"
#include "remat/Dialect/Remat/Transforms/Transforms.h"
#include "remat/Support/Format.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#define DEBUG_TYPE "remat-report"

using namespace mlir;
using namespace mlir::remat;

/// Returns the value a checkpoint yields for `value` if `value` is a
/// checkpoint result, else null.
static Value throughCheckpoint(Value value) {
  auto result = dyn_cast<OpResult>(value);
  auto checkpoint =
      result ? dyn_cast<CheckpointOp>(result.getOwner()) : CheckpointOp();
  return checkpoint
             ? checkpoint.getYield().getValues()[result.getResultNumber()]
             : Value();
}

/// Looks through checkpoint results to the value yielded inside the body,
/// and through remat.name to the named value.
static Value lookThroughRegions(Value value) {
  while (true) {
    if (Value yielded = throughCheckpoint(value))
      value = yielded;
    else if (auto name = value.getDefiningOp<NameOp>())
      value = name.getInput();
    else
      return value;
  }
}

/// Returns the tag of `value`: the name of a `remat.name` that defines it
/// (looking through checkpoint results), else an argument's name location
/// or "arg #N", else "".
static std::string getTag(Value value) {
  while (true) {
    if (auto name = value.getDefiningOp<NameOp>())
      return name.getTag().str();
    Value yielded = throughCheckpoint(value);
    if (!yielded)
      break;
    value = yielded;
  }
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    // Importers name arguments with a name location (`wte.weight`).
    if (auto name = dyn_cast<NameLoc>(arg.getLoc()))
      return name.getName().str();
    return "arg #" + std::to_string(arg.getArgNumber());
  }
  return "";
}

/// Returns `name` for a name location, `file:line:col` (base name) for a
/// file location, else the printed location.
static std::string toString(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (llvm::sys::path::filename(file.getFilename().getValue()) + ":" +
            Twine(file.getLine()) + ":" + Twine(file.getColumn()))
        .str();
  std::string text;
  llvm::raw_string_ostream os(text);
  loc.print(os);
  return text;
}

static std::string toString(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

namespace {
/// One row of the residual table.
struct Row {
  /// "argument", "activation" or "constant" (static storage, not heap).
  StringRef kind = "activation";
  std::string tag, location, type, definedBy;
  std::optional<int64_t> bytes;
  std::optional<OpCost> recompute;
  double recomputeSeconds = 0;

  std::string label() const { return tag.empty() ? location : tag; }
};
} // namespace

static Row makeRow(Value input, const TargetModel &target) {
  Row row;
  Value defined = lookThroughRegions(input);
  if (isa<BlockArgument>(input))
    row.kind = "argument";
  else if (matchPattern(defined, m_Constant()))
    row.kind = "constant";
  row.tag = getTag(input);
  row.location = toString(defined.getLoc());
  row.type = toString(input.getType());
  row.bytes = getStaticSizeInBytes(input.getType());
  if (Operation *def = defined.getDefiningOp()) {
    row.definedBy = def->getName().getStringRef().str();
    bool modeled = false;
    FailureOr<OpCost> cost = getOpCost(def, &modeled);
    if (succeeded(cost) && !modeled)
      mlir::emitRemark(def->getLoc()) << "no cost model for '" << def->getName()
                                      << "'; its recompute cost is estimated "
                                         "conservatively";
    if (succeeded(cost)) {
      row.recompute = *cost;
      row.recomputeSeconds = getRooflineSeconds(
          *cost, getComputeElementType(def), isContraction(def), target);
    }
  }
  return row;
}

/// Returns a label for the buffer rooted at `root`.
static std::string bufferLabel(Value root) {
  for (Operation *user : root.getUsers())
    if (auto name = dyn_cast<NameOp>(user))
      return name.getTag().str();
  std::string tag = getTag(root);
  return tag.empty() ? toString(root.getLoc()) : tag;
}

void mlir::remat::printRematReport(Operation *root, const TargetModel &target,
                                   raw_ostream &os, raw_ostream *jsonOs) {
  llvm::json::Array functions;
  root->walk([&](FunctionOpInterface given) {
    if (given.isExternal() ||
        !given->walk([](BackwardOp) { return WalkResult::interrupt(); })
             .wasInterrupted())
      return;
    // The step as -remat-rematerialize plans it, so that the two say the
    // same "without remat": on a copy, each backward's transposes of
    // transposed forward values folded (autograd's t(t(W)); the planner's
    // first step), and each allocation rounded up to the lowering's
    // alignment.
    OwningOpRef<Operation *> copy = given->clone();
    auto function = cast<FunctionOpInterface>(*copy);
    SmallVector<BackwardOp> backwards;
    function->walk([&](BackwardOp op) { backwards.push_back(op); });
    // (Operands the backward does not read are dropped too.)
    IRRewriter rewriter(given->getContext());
    unsigned folded = 0, dropped = 0;
    for (BackwardOp backward : backwards) {
      dropped += llvm::count_if(backward.getBody().getArguments(),
                                [](BlockArgument a) { return a.use_empty(); });
      folded += foldBackwardTransposes(rewriter, backward);
    }
    MemoryProfile profile = analyzeMemory(function, kAllocationAlignment);
    int64_t peakAsGiven =
        folded || dropped ? analyzeMemory(given, kAllocationAlignment).peakBytes
                          : profile.peakBytes;

    os << "remat-report: @" << function.getName() << " (target " << target.name
       << ")\n";
    os << "  peak: " << profile.peakBytes << " bytes at "
       << toString(profile.points[profile.peakPoint]->getLoc()) << "\n";
    if (folded || dropped)
      os << "  folded: " << folded << " transpose" << (folded == 1 ? "" : "s")
         << " of transposed forward values in the backward, " << dropped
         << " unread operand" << (dropped == 1 ? "" : "s")
         << " dropped, as -remat-rematerialize does first (peak as given: "
         << peakAsGiven << " bytes)\n";
    llvm::json::Array liveAtPeak;
    std::vector<std::pair<int64_t, std::string>> live;
    for (unsigned index : profile.liveAtPeak) {
      const Buffer &buffer = profile.buffers[index];
      std::string label = bufferLabel(buffer.root);
      liveAtPeak.push_back(
          llvm::json::Object{{"value", label}, {"bytes", buffer.bytes}});
      live.push_back({buffer.bytes, std::move(label)});
    }
    os << "  live at peak: " << formatSizeGroups(std::move(live)) << "\n";

    llvm::json::Array backwardsJson;
    for (auto [index, backward] : llvm::enumerate(backwards)) {
      os << "  backward #" << index << " at " << toString(backward.getLoc())
         << "\n";
      // The value column fits the longest label (module paths get long).
      SmallVector<Row> rows;
      int width = 24;
      for (Value input : backward.getInputs()) {
        rows.push_back(makeRow(input, target));
        width = std::max(width, static_cast<int>(rows.back().label().size()));
      }
      os << llvm::format("    %-3s %-10s %-*s %-22s %10s  %-16s %12s %12s\n",
                         "#", "kind", width, "value", "type", "bytes",
                         "defined by", "recompute", "time (us)");
      llvm::json::Array residuals;
      int64_t activationBytes = 0, residentBytes = 0, constantBytes = 0;
      unsigned activations = 0, resident = 0, constants = 0;
      unsigned activationBuffers = 0;
      // Each buffer counts once in the totals: a value and its views (a
      // reshape, a name) are two residuals of one buffer.
      llvm::DenseSet<Value> countedBuffers;
      for (auto [i, row] : llvm::enumerate(rows)) {
        std::string flops =
            row.recompute ? std::to_string(row.recompute->flops) : "-";
        std::string time =
            row.recompute
                ? llvm::formatv(
                      "{0}", llvm::format("%.4g", row.recomputeSeconds * 1e6))
                      .str()
                : "-";
        os << llvm::format("    %-3u %-10s %-*s %-22s %10s  %-16s %12s %12s\n",
                           unsigned(i), row.kind.str().c_str(), width,
                           row.label().c_str(), row.type.c_str(),
                           row.bytes ? std::to_string(*row.bytes).c_str() : "?",
                           row.definedBy.empty() ? "-" : row.definedBy.c_str(),
                           flops.c_str(), time.c_str());
        Value input = backward.getInputs()[i];
        auto buffer = profile.bufferOf.find(input);
        Value bufferRoot = buffer == profile.bufferOf.end()
                               ? input
                               : profile.buffers[buffer->second].root;
        bool newBuffer = countedBuffers.insert(bufferRoot).second;
        int64_t bytes = newBuffer ? row.bytes.value_or(0) : 0;
        if (row.kind == "argument") {
          residentBytes += bytes;
          ++resident;
        } else if (row.kind == "constant") {
          constantBytes += bytes;
          ++constants;
        } else {
          activationBytes += bytes;
          ++activations;
          activationBuffers += newBuffer;
        }
        llvm::json::Object json{
            {"index", int64_t(i)},
            {"kind", row.kind},
            {"value", row.label()},
            {"location", row.location},
            {"type", row.type},
            {"bytes", row.bytes ? llvm::json::Value(*row.bytes) : nullptr},
            {"defined_by", row.definedBy.empty()
                               ? llvm::json::Value(nullptr)
                               : llvm::json::Value(row.definedBy)},
            {"recompute_flops",
             row.recompute ? llvm::json::Value(row.recompute->flops) : nullptr},
            {"recompute_seconds", row.recompute
                                      ? llvm::json::Value(row.recomputeSeconds)
                                      : nullptr}};
        residuals.push_back(std::move(json));
      }
      os << "    activations: " << activations << " values in "
         << activationBuffers << " buffers, " << activationBytes << " bytes\n";
      os << "    resident arguments: " << resident << " values, "
         << residentBytes << " bytes\n";
      if (constants != 0)
        os << "    constants: " << constants << " values, " << constantBytes
           << " bytes\n";
      backwardsJson.push_back(
          llvm::json::Object{{"location", toString(backward.getLoc())},
                             {"activation_bytes", activationBytes},
                             {"resident_bytes", residentBytes},
                             {"constant_bytes", constantBytes},
                             {"residuals", std::move(residuals)}});
    }

    llvm::json::Array timeline;
    for (int64_t bytes : profile.timeline)
      timeline.push_back(bytes);
    functions.push_back(llvm::json::Object{
        {"name", function.getName().str()},
        {"peak_bytes", profile.peakBytes},
        {"peak_bytes_as_given", peakAsGiven},
        {"folded_transposes", int64_t(folded)},
        {"dropped_operands", int64_t(dropped)},
        {"peak_point", int64_t(profile.peakPoint)},
        {"peak_location",
         toString(profile.points[profile.peakPoint]->getLoc())},
        {"live_at_peak", std::move(liveAtPeak)},
        {"activation_bytes", profile.activationBytes},
        {"resident_bytes", profile.residentBytes},
        {"timeline", std::move(timeline)},
        {"backwards", std::move(backwardsJson)}});
  });
  if (functions.empty())
    os << "remat-report: no remat.backward\n";
  if (!jsonOs)
    return;
  llvm::json::Object document{
      {"schema", "remat-report/1"},
      {"target", llvm::json::Object{{"name", target.name},
                                    {"f32_flops", target.f32},
                                    {"tf32_flops", target.tf32},
                                    {"bf16_flops", target.bf16},
                                    {"fp8_flops", target.fp8},
                                    {"bandwidth", target.bandwidth}}},
      {"functions", std::move(functions)}};
  *jsonOs << llvm::formatv("{0:2}", llvm::json::Value(std::move(document)))
          << "\n";
}
