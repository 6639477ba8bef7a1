//===- Format.cpp - sizes and shares as people read them ------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Support/Format.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>

std::string mlir::remat::formatBytes(int64_t bytes) {
  static const char *const kUnits[] = {"B",   "KiB", "MiB", "GiB",
                                       "TiB", "PiB", "EiB"};
  if (bytes < 0)
    return "-" + formatBytes(bytes == INT64_MIN ? INT64_MAX : -bytes);
  std::string text;
  llvm::raw_string_ostream os(text);
  if (bytes < 1024) {
    os << bytes << " B";
    return text;
  }
  double value = static_cast<double>(bytes);
  unsigned unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  const char *format = value >= 100  ? "%.0f %s"
                       : value >= 10 ? "%.1f %s"
                                     : "%.2f %s";
  os << llvm::format(format, value, kUnits[unit]);
  return text;
}

std::string mlir::remat::formatPercent(double part, double whole) {
  if (!(whole > 0))
    return "-";
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::format("%.1f%%", 100.0 * part / whole);
  return text;
}

std::string mlir::remat::formatSizeGroups(
    std::vector<std::pair<int64_t, std::string>> items, const std::string &noun,
    size_t maxGroups, size_t maxNames) {
  std::stable_sort(
      items.begin(), items.end(), [](const auto &a, const auto &b) {
        return a.first != b.first
                   ? a.first > b.first
                   : llvm::StringRef(a.second).compare_numeric(b.second) < 0;
      });
  int64_t total = 0;
  for (const auto &item : items)
    total += item.first;
  std::string text;
  llvm::raw_string_ostream os(text);
  os << formatBytes(total) << " in " << items.size() << " " << noun
     << (items.size() == 1 ? "" : "s");
  size_t groups = 0, i = 0;
  for (; i < items.size() && groups < maxGroups; ++groups) {
    size_t j = i;
    while (j < items.size() && items[j].first == items[i].first)
      ++j;
    os << (groups == 0 ? ": " : ", ");
    if (j - i > 1)
      os << (j - i) << " x ";
    os << formatBytes(items[i].first) << " (";
    for (size_t k = i; k < j && k < i + maxNames; ++k)
      os << (k == i ? "" : ", ") << items[k].second;
    if (j - i > maxNames)
      os << ", " << (j - i - maxNames) << " more";
    os << ")";
    i = j;
  }
  if (i < items.size()) {
    int64_t rest = 0;
    for (size_t k = i; k < items.size(); ++k)
      rest += items[k].first;
    os << ", and " << (items.size() - i) << " more (" << formatBytes(rest)
       << ")";
  }
  return text;
}
