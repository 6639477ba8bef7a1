//===- FakeCUDAEmulator.cpp - run kernels on the CPU for the fake libcuda -===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// See FakeCUDAEmulator.h. The kernels' host form calls back into this file
/// for the NVVM special registers (`remat_emu_tid_x` ...), the block barrier
/// (`remat_emu_barrier`) and the libdevice functions they use
/// (`__nv_expf` ...), which are the C library's here (so results agree with
/// the device's within a few ulps, not bit for bit).
///
//===----------------------------------------------------------------------===//

// Fibers leave and resume one another's stacks with _longjmp on purpose.
#undef _FORTIFY_SOURCE

#include "FakeCUDAEmulator.h"

#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <memory>
#include <ucontext.h>
#include <unistd.h>
#include <vector>

namespace {
/// The stack of each thread (fiber); kernels keep small register tiles.
constexpr size_t kStackBytes = size_t(64) << 10;

/// A thread of the block: started with makecontext/swapcontext, then
/// switched with _setjmp/_longjmp (no signal-mask system call per switch).
struct Fiber {
  ucontext_t context;
  jmp_buf resume;
  unsigned id[3] = {0, 0, 0};
  bool started = false;
  bool done = false;
};

/// The state of the launch being emulated (one at a time: the fake driver
/// runs work when it is issued).
struct Launch {
  ucontext_t scheduler;
  jmp_buf schedulerJump;
  /// Whether the threads are fibers (the kernel has barriers).
  bool fibered = false;
  Fiber *current = nullptr;
  unsigned block[3] = {1, 1, 1};
  unsigned grid[3] = {1, 1, 1};
  unsigned blockId[3] = {0, 0, 0};
  remat::emu::Entry entry = nullptr;
  void **params = nullptr;
  std::vector<Fiber> fibers;
  std::vector<std::unique_ptr<char[]>> stacks;
};

Launch &state() {
  static Launch *launch = new Launch();
  return *launch;
}

[[noreturn]] void runFiber() {
  Launch &s = state();
  s.entry(s.params);
  s.current->done = true;
  _longjmp(s.schedulerJump, 1);
}
} // namespace

bool remat::emu::enabled() {
  const char *path = std::getenv("REMAT_FAKE_CUDA_KERNELS");
  return path && *path;
}

std::string remat::emu::imageKey(const std::string &image) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : image)
    hash = (hash ^ c) * 0x100000001b3ull;
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx",
                static_cast<unsigned long long>(hash));
  return text;
}

/// The kernels' library: REMAT_FAKE_CUDA_KERNELS, or in that directory the
/// running executable's name with `.so`; opened once.
static void *library(std::string &error) {
  static void *handle = nullptr;
  static std::string openError;
  static bool tried = false;
  if (!tried) {
    tried = true;
    std::string path = std::getenv("REMAT_FAKE_CUDA_KERNELS");
    if (path.size() < 3 || path.compare(path.size() - 3, 3, ".so") != 0) {
      char exe[4096];
      ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
      std::string name = n > 0 ? std::string(exe, n) : "";
      name = name.substr(name.rfind('/') + 1);
      path += "/" + name + ".so";
    }
    handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      openError = dlerror();
  }
  error = openError;
  return handle;
}

remat::emu::Entry remat::emu::lookup(const std::string &key,
                                     const std::string &name, bool &syncs,
                                     std::string &error) {
  void *handle = library(error);
  if (!handle)
    return nullptr;
  std::string symbol = "remat_emu_" + key + "_" + name;
  void *entry = dlsym(handle, symbol.c_str());
  if (!entry)
    error = "no CPU kernel " + symbol;
  // cpu_kernels.py marks the kernels without barriers.
  syncs = !dlsym(handle, (symbol + "_nosync").c_str());
  return reinterpret_cast<Entry>(entry);
}

/// Points `thread` at the thread of linear index `t` in a block of shape
/// `block` (x fastest).
static void setThread(Fiber &thread, size_t t, const unsigned block[3]) {
  thread.id[0] = t % block[0];
  thread.id[1] = (t / block[0]) % block[1];
  thread.id[2] = t / (size_t(block[0]) * block[1]);
}

/// Calls `runBlock` for each block of the grid, in order, with the block's
/// id set.
template <typename Fn>
static void forEachBlock(Launch &s, Fn runBlock) {
  for (unsigned bz = 0; bz < s.grid[2]; ++bz)
    for (unsigned by = 0; by < s.grid[1]; ++by)
      for (unsigned bx = 0; bx < s.grid[0]; ++bx) {
        s.blockId[0] = bx;
        s.blockId[1] = by;
        s.blockId[2] = bz;
        runBlock();
      }
}

bool remat::emu::launch(Entry entry, bool syncs, const unsigned grid[3],
                        const unsigned block[3], void **params,
                        std::string &error) {
  Launch &s = state();
  size_t threads = size_t(block[0]) * block[1] * block[2];
  if (threads == 0 || threads > 1024) {
    error = "block of " + std::to_string(threads) + " threads";
    return false;
  }
  s.entry = entry;
  s.params = params;
  for (int d = 0; d < 3; ++d) {
    s.grid[d] = grid[d];
    s.block[d] = block[d];
  }
  if (!syncs) {
    // No barrier: each thread runs to its end in turn.
    Fiber thread;
    s.current = &thread;
    forEachBlock(s, [&] {
      for (size_t t = 0; t < threads; ++t) {
        setThread(thread, t, block);
        entry(params);
      }
    });
    s.current = nullptr;
    return true;
  }
  s.fibered = true;
  s.fibers.resize(threads);
  while (s.stacks.size() < threads)
    s.stacks.emplace_back(new char[kStackBytes]);
  forEachBlock(s, [&] {
    for (size_t t = 0; t < threads; ++t) {
      Fiber &f = s.fibers[t];
      setThread(f, t, block);
      f.started = false;
      f.done = false;
      getcontext(&f.context);
      f.context.uc_stack.ss_sp = s.stacks[t].get();
      f.context.uc_stack.ss_size = kStackBytes;
      f.context.uc_link = nullptr; // runFiber never returns.
      makecontext(&f.context, runFiber, 0);
    }
    // Each round runs every live thread up to its next barrier (or its
    // end): a round is one barrier phase of the block.
    size_t live = threads;
    while (live) {
      for (Fiber &f : s.fibers) {
        if (f.done)
          continue;
        s.current = &f;
        if (!_setjmp(s.schedulerJump)) {
          if (f.started)
            _longjmp(f.resume, 1);
          f.started = true;
          swapcontext(&s.scheduler, &f.context);
        }
        if (f.done)
          --live;
      }
    }
  });
  s.current = nullptr;
  s.fibered = false;
  return true;
}

// The names below are what cpu_kernels.py makes the kernels call.
// NOLINTBEGIN(readability-identifier-naming)
extern "C" {
#define REMAT_EMU_REGISTER(reg, field, index)                                  \
  unsigned remat_emu_##reg(void) { return field[index]; }
REMAT_EMU_REGISTER(tid_x, state().current->id, 0)
REMAT_EMU_REGISTER(tid_y, state().current->id, 1)
REMAT_EMU_REGISTER(tid_z, state().current->id, 2)
REMAT_EMU_REGISTER(ctaid_x, state().blockId, 0)
REMAT_EMU_REGISTER(ctaid_y, state().blockId, 1)
REMAT_EMU_REGISTER(ctaid_z, state().blockId, 2)
REMAT_EMU_REGISTER(ntid_x, state().block, 0)
REMAT_EMU_REGISTER(ntid_y, state().block, 1)
REMAT_EMU_REGISTER(ntid_z, state().block, 2)
REMAT_EMU_REGISTER(nctaid_x, state().grid, 0)
REMAT_EMU_REGISTER(nctaid_y, state().grid, 1)
REMAT_EMU_REGISTER(nctaid_z, state().grid, 2)
#undef REMAT_EMU_REGISTER

/// bar.sync 0: back to the scheduler, which resumes this thread once every
/// other thread of the block has reached a barrier or ended.
void remat_emu_barrier(void) {
  Launch &s = state();
  if (!s.fibered) {
    std::fprintf(stderr, "fake-cuda: a barrier in a kernel compiled as "
                         "having none\n");
    std::abort();
  }
  if (!_setjmp(s.current->resume))
    _longjmp(s.schedulerJump, 1);
}

// libdevice, as the C library.
float __nv_expf(float x) { return std::exp(x); }
float __nv_logf(float x) { return std::log(x); }
float __nv_tanhf(float x) { return std::tanh(x); }
float __nv_erff(float x) { return std::erf(x); }
float __nv_sqrtf(float x) { return std::sqrt(x); }
float __nv_rsqrtf(float x) { return 1.0f / std::sqrt(x); }
float __nv_powf(float x, float y) { return std::pow(x, y); }
float __nv_fabsf(float x) { return std::fabs(x); }
float __nv_sinf(float x) { return std::sin(x); }
float __nv_cosf(float x) { return std::cos(x); }
double __nv_exp(double x) { return std::exp(x); }
double __nv_log(double x) { return std::log(x); }
double __nv_tanh(double x) { return std::tanh(x); }
double __nv_erf(double x) { return std::erf(x); }
double __nv_sqrt(double x) { return std::sqrt(x); }
double __nv_rsqrt(double x) { return 1.0 / std::sqrt(x); }
}
// NOLINTEND(readability-identifier-naming)
