//===- Format.h - sizes and shares as people read them ----------*- C++ -*-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#ifndef REMAT_SUPPORT_FORMAT_H
#define REMAT_SUPPORT_FORMAT_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mlir {
namespace remat {

/// `bytes` in the largest binary unit that keeps it at least 1, with three
/// significant digits: "512 B", "3.50 KiB", "2.84 GiB".
std::string formatBytes(int64_t bytes);

/// `part` as a percentage of `whole` with one decimal ("49.9%"); "-" when
/// `whole` is not positive.
std::string formatPercent(double part, double whole);

/// Sized, named items (buffers live at a peak) as people read a long list:
/// the total and count, then the items largest first (names in natural
/// order: blocks.2 before blocks.10), those of one size in one group ("3 x 785
/// MiB (a, b, c)"), at most `maxGroups` groups and `maxNames` names per group,
/// then what was left out and its size: "2.32 GiB in 11 buffers: 3 x 785 MiB
/// (a, b, c), 16.0 KiB (d), and 7 more (24.1 MiB)".
std::string formatSizeGroups(std::vector<std::pair<int64_t, std::string>> items,
                             const std::string &noun = "buffer",
                             size_t maxGroups = 6, size_t maxNames = 4);

} // namespace remat
} // namespace mlir

#endif // REMAT_SUPPORT_FORMAT_H
