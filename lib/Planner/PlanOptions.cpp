//===- PlanOptions.cpp - the planner's strategy and budget options ------===//
//
// Part of the remat project.
//
// The names of the strategies and the budgets users write (`6GiB`, `40%`),
// parsed with a message for each malformed one.
//
//===----------------------------------------------------------------------===//

#include "remat/Planner/Planner.h"

#include "llvm/ADT/Twine.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::remat;

static const std::pair<PlanStrategy, StringLiteral> kStrategyNames[] = {
    {PlanStrategy::None, "none"},
    {PlanStrategy::Full, "full"},
    {PlanStrategy::EveryN, "every-n"},
    {PlanStrategy::Sqrt, "sqrt"},
    {PlanStrategy::Selective, "selective"},
    {PlanStrategy::MinCut, "mincut"},
    {PlanStrategy::Greedy, "greedy"},
    {PlanStrategy::Optimal, "optimal"},
    {PlanStrategy::Exhaustive, "exhaustive"},
    {PlanStrategy::Layered, "layered"},
    {PlanStrategy::Auto, "auto"},
};

std::optional<PlanStrategy> mlir::remat::parsePlanStrategy(StringRef name) {
  for (auto [strategy, text] : kStrategyNames)
    if (text == name)
      return strategy;
  return std::nullopt;
}

StringRef mlir::remat::stringifyPlanStrategy(PlanStrategy strategy) {
  for (auto [s, text] : kStrategyNames)
    if (s == strategy)
      return text;
  return "?";
}

std::optional<Budget> mlir::remat::parseBudget(StringRef text,
                                               std::string *error) {
  std::string original = text.str();
  auto fail = [&](const Twine &why) -> std::optional<Budget> {
    if (error)
      *error = ("budget '" + original + "' " + why).str();
    return std::nullopt;
  };
  text = text.trim();
  Budget budget;
  bool percent = text.consume_back("%");
  static const std::pair<StringRef, int64_t> units[] = {
      {"GiB", int64_t(1) << 30},
      {"MiB", int64_t(1) << 20},
      {"KiB", int64_t(1) << 10},
      {"GB", 1000000000},
      {"MB", 1000000},
      {"KB", 1000},
      {"B", 1}};
  int64_t scale = 1;
  if (!percent)
    for (auto [suffix, factor] : units)
      if (text.consume_back(suffix)) {
        scale = factor;
        break;
      }
  double value;
  if (text.trim().getAsDouble(value))
    return fail("is malformed (expected e.g. 512MiB, 6GiB, 4096 or 40%)");
  // (NaN fails every comparison.)
  if (!(value > 0) || !std::isfinite(value))
    return fail("must be a positive, finite size or percentage");
  if (percent) {
    budget.fraction = value / 100.0;
    return budget;
  }
  double bytes = value * static_cast<double>(scale);
  if (!(bytes <= static_cast<double>(kMaxModeledTotalBytes)))
    return fail("is larger than remat plans for (at most " +
                Twine(kMaxModeledTotalBytes >> 60) + " EiB)");
  budget.bytes = static_cast<int64_t>(bytes);
  return budget;
}

int64_t mlir::remat::scaleBytes(double fraction, int64_t bytes) {
  double scaled = fraction * static_cast<double>(bytes);
  // (2^63 is exactly representable; anything at or above it saturates.)
  if (!(scaled < 9223372036854775808.0))
    return std::numeric_limits<int64_t>::max();
  return scaled > 0 ? static_cast<int64_t>(scaled) : 0;
}

std::string mlir::remat::describePlanStrategy(PlanStrategy strategy,
                                              unsigned everyN) {
  std::string name = stringifyPlanStrategy(strategy).str();
  if (strategy == PlanStrategy::EveryN && everyN)
    name += " (every=" + std::to_string(everyN) + ")";
  return name;
}
