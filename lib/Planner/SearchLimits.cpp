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

SearchLimits::SearchLimits(uint64_t workLimit, double timeLimit)
    : workLimit(workLimit), timeLimit(timeLimit),
      start(std::chrono::steady_clock::now()) {}

double SearchLimits::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

bool SearchLimits::outOfTime() const {
  return timeLimit > 0 && elapsed() > timeLimit;
}

void SearchLimits::recordCut(Cut limit, StringRef where) {
  for (const auto &[l, w] : cuts)
    if (l == limit && w == where)
      return;
  cuts.push_back({limit, where.str()});
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
  for (Cut limit : {Cut::Work, Cut::Time}) {
    SmallVector<StringRef> places;
    for (const auto &[l, where] : cuts)
      if (l == limit)
        places.push_back(where);
    if (places.empty())
      continue;
    if (!text.empty())
      os << "; ";
    if (limit == Cut::Work)
      os << "the work limit (" << workLimit << " op visits) cut ";
    else
      os << "the time limit (" << llvm::format("%g", timeLimit) << " s) cut ";
    for (auto [i, where] : llvm::enumerate(places))
      os << (i == 0 ? "" : i + 1 == places.size() ? " and " : ", ") << where;
    if (limit == Cut::Time)
      os << "; this plan depends on the machine's speed and load";
  }
  return text;
}
