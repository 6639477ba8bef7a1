//===- SearchLimits.cpp - the work and time a planning may spend ----------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "SearchLimits.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::remat;
using namespace mlir::remat::detail;

/// What a cut names the work limit of the options (work-limit).
static constexpr llvm::StringLiteral kWorkLimitName = "the work limit";

SearchLimits::SearchLimits(uint64_t workLimit, double timeLimit)
    : workLimit(workLimit), timeLimit(timeLimit),
      named{kWorkLimitName.str(), workLimit},
      start(std::chrono::steady_clock::now()) {}

double SearchLimits::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

bool SearchLimits::outOfTime() const {
  return timeLimit > 0 && elapsed() > timeLimit;
}

void SearchLimits::recordCut(Cut limit, StringRef part) {
  std::string where = part.str() + sharedAs;
  for (const CutAt &cut : cuts)
    if (cut.where == where && cut.isBy(limit, named))
      return;
  cuts.push_back({limit, std::move(where), named});
}

bool SearchLimits::checkTime(StringRef where) {
  if (!outOfTime())
    return true;
  recordCut(Cut::Time, where);
  return false;
}

bool SearchLimits::spend(uint64_t work, StringRef where) {
  if (spent - freshFrom + work > workLimit) {
    recordCut(Cut::Work, where);
    return false;
  }
  if (!checkTime(where))
    return false;
  spent += work;
  return true;
}

std::string SearchLimits::cutNote() const {
  std::string text;
  llvm::raw_string_ostream os(text);
  // Each limit (work ones by name, in the order they first cut), then the
  // parts it cut.
  SmallVector<std::pair<Cut, LimitName>> limits;
  for (const CutAt &cut : cuts) {
    std::pair<Cut, LimitName> key = {
        cut.limit, cut.limit == Cut::Work ? cut.by : LimitName{}};
    if (!llvm::is_contained(limits, key))
      limits.push_back(key);
  }
  // The work limit first, then those of parts with their own, then time.
  auto rank = [&](const std::pair<Cut, LimitName> &l) {
    return l.first == Cut::Time ? 2 : l.second.name == kWorkLimitName ? 0 : 1;
  };
  llvm::stable_sort(
      limits, [&](const auto &a, const auto &b) { return rank(a) < rank(b); });
  for (const auto &[limit, by] : limits) {
    SmallVector<StringRef> places;
    for (const CutAt &cut : cuts)
      if (cut.isBy(limit, by))
        places.push_back(cut.where);
    if (!text.empty())
      os << "; ";
    if (limit == Cut::Work)
      os << by.name << " (" << by.value << " op visits) cut ";
    else
      os << "the time limit (" << llvm::format("%g", timeLimit) << " s) cut ";
    for (auto [i, where] : llvm::enumerate(places))
      os << (i == 0 ? "" : i + 1 == places.size() ? " and " : ", ") << where;
    if (limit == Cut::Time)
      os << "; this plan depends on the machine's speed and load";
  }
  return text;
}
