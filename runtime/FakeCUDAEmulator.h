//===- FakeCUDAEmulator.h - run kernels on the CPU for the fake libcuda ---===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The fake libcuda (FakeCUDADriver.cpp) runs no kernels by default. When
/// REMAT_FAKE_CUDA_KERNELS names a shared library of the kernels compiled
/// for the host (bench/gpu/cpu_kernels.py), or a directory holding
/// `<executable name>.so`, it runs every launch on the CPU with these
/// functions: one block after the other, each thread of a block a fiber
/// that switches to the next at `bar.sync`, so shared memory and barriers
/// behave as on the device.
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_RUNTIME_FAKECUDAEMULATOR_H
#define REMAT_RUNTIME_FAKECUDAEMULATOR_H

#include <cstdint>
#include <string>

namespace remat {
namespace emu {

/// A kernel's CPU entry point: takes cuLaunchKernel's parameter array.
using Entry = void (*)(void **params);

/// Whether REMAT_FAKE_CUDA_KERNELS is set.
bool enabled();

/// The FNV-1a 64-bit hash of a module image, as 16 hex digits (the key
/// cpu_kernels.py names a module's kernels by).
std::string imageKey(const std::string &image);

/// The entry point of kernel `name` of the module whose image has `key`,
/// and whether the kernel has barriers (`syncs`); null, with the reason in
/// `error`, when the library or the kernel is missing.
Entry lookup(const std::string &key, const std::string &name, bool &syncs,
             std::string &error);

/// Runs `entry` over the grid: the threads of a block as fibers when the
/// kernel `syncs`, else one after the other. Returns false, with the reason
/// in `error`, when a block is too large to emulate.
bool launch(Entry entry, bool syncs, const unsigned grid[3],
            const unsigned block[3], void **params, std::string &error);

} // namespace emu
} // namespace remat

#endif // REMAT_RUNTIME_FAKECUDAEMULATOR_H
