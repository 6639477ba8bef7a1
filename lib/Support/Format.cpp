//===- Format.cpp - sizes and shares as people read them ------------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "remat/Support/Format.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

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
