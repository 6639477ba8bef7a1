//===- Format.h - sizes and shares as people read them ----------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_SUPPORT_FORMAT_H
#define REMAT_SUPPORT_FORMAT_H

#include <cstdint>
#include <string>

namespace mlir {
namespace remat {

/// `bytes` in the largest binary unit that keeps it at least 1, with three
/// significant digits: "512 B", "3.50 KiB", "2.84 GiB".
std::string formatBytes(int64_t bytes);

/// `part` as a percentage of `whole` with one decimal ("49.9%"); "-" when
/// `whole` is not positive.
std::string formatPercent(double part, double whole);

} // namespace remat
} // namespace mlir

#endif // REMAT_SUPPORT_FORMAT_H
