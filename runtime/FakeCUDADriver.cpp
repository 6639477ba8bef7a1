//===- FakeCUDADriver.cpp - a libcuda.so.1 on host memory, for tests ------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A stand-in for the CUDA driver, so that executables built on the CUDA
/// runtime (RematCUDARuntime.cpp) run on machines without a GPU. It is built
/// as `libcuda.so.1` in a directory of its own; putting that directory on
/// LD_LIBRARY_PATH makes the dynamic linker pick it instead of the real
/// driver.
///
/// It implements the driver entry points the remat runtime calls, under the
/// names cuda.h maps them to (`cuMemAlloc` is `cuMemAlloc_v2`):
/// - device memory is aligned host memory whose address is the CUdeviceptr,
///   and copies and memsets are memcpy and loops, so that loads, saves,
///   allocation sizes and peaks are real;
/// - modules are checked to hold PTX, a cubin or a fatbin, and a kernel that
///   a PTX or cubin module lacks is CUDA_ERROR_NOT_FOUND;
/// - kernels do not run (their results are garbage); launches are checked
///   and counted; with REMAT_FAKE_CUDA_KERNELS, they run on the CPU from
///   their host-compiled form (FakeCUDAEmulator.h);
/// - calls that need a context fail without a current one, as the real
///   driver does;
/// - copies and memsets run when issued, or, with
///   REMAT_FAKE_CUDA_STREAMS=deferred, in stream order as late as events
///   allow (FakeCUDAStreams.h).
///
/// At exit it prints `fake-cuda: launches=<n>` to stderr, then a line with
/// the module and allocation counts. `REMAT_FAKE_CUDA_TOTAL_BYTES` sets the
/// device's memory size (default 80 GiB); allocations beyond it fail with
/// CUDA_ERROR_OUT_OF_MEMORY.
///
//===----------------------------------------------------------------------===//

#include "FakeCUDAEmulator.h"
#include "FakeCUDAStreams.h"

#include "cuda.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace {
/// What the fake device reports.
constexpr const char *kDeviceName = "remat fake CUDA device";
constexpr int kComputeMajor = 9;
constexpr int kComputeMinor = 0;
constexpr size_t kDefaultTotalBytes = size_t(80) << 30;
constexpr size_t kAllocationAlignment = 256;

struct FakeFunction;

/// Handles of contexts, modules, kernels, streams and events point at these.
struct FakeContext {
  int device = 0;
};

struct FakeModule {
  /// The text to find kernel names in: PTX, or a cubin's bytes; empty for a
  /// fatbin (whose images may be compressed), whose names are not checked.
  std::string image;
  std::unordered_map<std::string, FakeFunction *> functions;
};

struct FakeFunction {
  FakeModule *module;
  std::string name;
  /// The kernel's CPU form, when kernels are emulated, and whether it has
  /// barriers.
  remat::emu::Entry entry = nullptr;
  bool syncs = true;
};

using FakeStream = remat::fake::Stream;
using FakeEvent = remat::fake::Event;

/// The driver's state; never destroyed, so that global destructors of the
/// program that run after ours can still call in.
struct Driver {
  std::mutex mutex;
  bool initialized = false;
  FakeContext primaryContext;
  int primaryRetains = 0;
  size_t totalBytes = kDefaultTotalBytes;
  std::unordered_map<CUdeviceptr, size_t> allocations;
  /// cuMemAllocHost's buffers and their sizes.
  std::unordered_map<void *, size_t> hostAllocations;
  std::unordered_set<FakeModule *> modules;
  std::unordered_set<FakeStream *> streams;
  std::unordered_set<FakeEvent *> events;
  size_t liveBytes = 0;
  size_t peakBytes = 0;
  int64_t allocationCount = 0;
  int64_t modulesLoaded = 0;
  std::atomic<int64_t> launches{0};
};
} // namespace

static Driver &driver() {
  static Driver *state = new Driver();
  return *state;
}

/// The context current on this thread (cuCtxSetCurrent).
static thread_local CUcontext currentContext = nullptr;

/// CUDA_SUCCESS when the driver is initialized and this thread has a
/// current context, the error the real driver returns otherwise.
static CUresult needContext() {
  {
    std::lock_guard<std::mutex> lock(driver().mutex);
    if (!driver().initialized)
      return CUDA_ERROR_NOT_INITIALIZED;
  }
  return currentContext ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

#define FAKE_NEED_CONTEXT()                                                    \
  do {                                                                         \
    CUresult status = needContext();                                           \
    if (status != CUDA_SUCCESS)                                                \
      return status;                                                           \
  } while (false)

/// Reads REMAT_FAKE_CUDA_TOTAL_BYTES, if set.
static size_t configuredTotalBytes() {
  const char *value = std::getenv("REMAT_FAKE_CUDA_TOTAL_BYTES");
  if (!value || !*value)
    return kDefaultTotalBytes;
  char *end = nullptr;
  unsigned long long bytes = std::strtoull(value, &end, 10);
  if (*end || bytes == 0) {
    std::fprintf(stderr,
                 "fake-cuda: ignoring REMAT_FAKE_CUDA_TOTAL_BYTES=%s (not a "
                 "positive byte count)\n",
                 value);
    return kDefaultTotalBytes;
  }
  return static_cast<size_t>(bytes);
}

/// Allocates `bytes` of aligned host memory as fake device memory.
static CUresult allocate(CUdeviceptr *dptr, size_t bytes) {
  if (!dptr || bytes == 0)
    return CUDA_ERROR_INVALID_VALUE;
  Driver &state = driver();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.liveBytes + bytes > state.totalBytes)
    return CUDA_ERROR_OUT_OF_MEMORY;
  size_t rounded = (bytes + kAllocationAlignment - 1) / kAllocationAlignment *
                   kAllocationAlignment;
  void *ptr = std::aligned_alloc(kAllocationAlignment, rounded);
  if (!ptr)
    return CUDA_ERROR_OUT_OF_MEMORY;
  *dptr = reinterpret_cast<CUdeviceptr>(ptr);
  state.allocations[*dptr] = bytes;
  state.liveBytes += bytes;
  if (state.liveBytes > state.peakBytes)
    state.peakBytes = state.liveBytes;
  ++state.allocationCount;
  return CUDA_SUCCESS;
}

/// Finds a loaded module's image: PTX text up to its NUL, a cubin up to the
/// end of its header tables; a fatbin gives an empty image. Returns false
/// for data that is none of these.
static bool readImage(const void *data, std::string &image) {
  if (!data)
    return false;
  const auto *bytes = static_cast<const unsigned char *>(data);
  static const unsigned char elfMagic[] = {0x7f, 'E', 'L', 'F'};
  if (std::memcmp(bytes, elfMagic, sizeof(elfMagic)) == 0) {
    if (bytes[4] != 2) // ELFCLASS64
      return false;
    // The image ends with the later of its two header tables (ptxas puts
    // the program headers last).
    auto tableEnd = [&](unsigned offsetAt, unsigned sizeAt) {
      uint64_t offset = 0;
      uint16_t size = 0, count = 0;
      std::memcpy(&offset, bytes + offsetAt, sizeof(offset));
      std::memcpy(&size, bytes + sizeAt, sizeof(size));
      std::memcpy(&count, bytes + sizeAt + 2, sizeof(count));
      return offset + uint64_t(size) * count;
    };
    image.assign(reinterpret_cast<const char *>(bytes),
                 std::max(tableEnd(0x20, 0x36), tableEnd(0x28, 0x3a)));
    return true;
  }
  uint32_t magic = 0;
  std::memcpy(&magic, bytes, sizeof(magic));
  if (magic == 0xBA55ED50u) { // fatbinary container
    image.clear();
    return true;
  }
  const char *text = static_cast<const char *>(data);
  if (std::strstr(text, ".version") && std::strstr(text, ".target")) {
    image = text;
    return true;
  }
  return false;
}

static CUresult loadModule(CUmodule *module, const void *image) {
  if (!module)
    return CUDA_ERROR_INVALID_VALUE;
  auto *fake = new FakeModule();
  if (!readImage(image, fake->image)) {
    delete fake;
    return CUDA_ERROR_INVALID_IMAGE;
  }
  std::lock_guard<std::mutex> lock(driver().mutex);
  driver().modules.insert(fake);
  ++driver().modulesLoaded;
  *module = reinterpret_cast<CUmodule>(fake);
  return CUDA_SUCCESS;
}

/// Whether `name` is a kernel of `module`'s image, as far as the fake can
/// tell.
static bool hasKernel(const FakeModule &module, const std::string &name) {
  if (module.image.empty())
    return true;
  size_t at = module.image.find(name);
  while (at != std::string::npos) {
    size_t end = at + name.size();
    bool startsWord =
        at == 0 ||
        !(std::isalnum(static_cast<unsigned char>(module.image[at - 1])) ||
          module.image[at - 1] == '_');
    bool endsWord =
        end == module.image.size() ||
        !(std::isalnum(static_cast<unsigned char>(module.image[end])) ||
          module.image[end] == '_');
    if (startsWord && endsWord)
      return true;
    at = module.image.find(name, at + 1);
  }
  return false;
}

/// Checks and counts a launch; runs it on the CPU when kernels are
/// emulated.
static CUresult launch(CUfunction f, unsigned gridX, unsigned gridY,
                       unsigned gridZ, unsigned blockX, unsigned blockY,
                       unsigned blockZ, void **params) {
  if (!f)
    return CUDA_ERROR_INVALID_HANDLE;
  if (!gridX || !gridY || !gridZ || !blockX || !blockY || !blockZ ||
      uint64_t(blockX) * blockY * blockZ > 1024 || blockZ > 64)
    return CUDA_ERROR_INVALID_VALUE;
  driver().launches.fetch_add(1);
  auto *function = reinterpret_cast<FakeFunction *>(f);
  if (!function->entry)
    return CUDA_SUCCESS;
  const unsigned grid[3] = {gridX, gridY, gridZ};
  const unsigned block[3] = {blockX, blockY, blockZ};
  std::string error;
  if (!remat::emu::launch(function->entry, function->syncs, grid, block, params,
                          error)) {
    std::fprintf(stderr, "fake-cuda: cannot emulate %s: %s\n",
                 function->name.c_str(), error.c_str());
    return CUDA_ERROR_LAUNCH_FAILED;
  }
  return CUDA_SUCCESS;
}

/// Prints the launch count and what is still loaded or allocated.
__attribute__((destructor)) static void report() {
  Driver &state = driver();
  std::fflush(stdout);
  std::fprintf(stderr, "fake-cuda: launches=%" PRId64 "\n",
               state.launches.load());
  std::fprintf(stderr,
               "fake-cuda: modules_loaded=%" PRId64 " modules_live=%zu "
               "allocations=%" PRId64 " peak_bytes=%zu live_bytes=%zu\n",
               state.modulesLoaded, state.modules.size(), state.allocationCount,
               state.peakBytes, state.liveBytes);
  remat::fake::report();
}

// The names below are the CUDA driver's.
// NOLINTBEGIN(readability-identifier-naming)
/// Issues the memset of `count` words of type `Word` at `dst` to `value`
/// on `stream`.
template <typename Word>
CUresult issueFill(CUstream stream, CUdeviceptr dst, Word value, size_t count) {
  if (count && !dst)
    return CUDA_ERROR_INVALID_VALUE;
  return remat::fake::issue(remat::fake::streamOf(stream), dst,
                            count * sizeof(Word), 0, 0, /*isCopy=*/false, [=] {
                              std::fill_n(reinterpret_cast<Word *>(dst), count,
                                          value);
                              return CUDA_SUCCESS;
                            });
}

/// Creates a fake stream or event (an element of `live`) with `flags`, and
/// returns it through `handle` as the driver's opaque handle type.
template <typename Fake, typename Handle>
CUresult createHandle(std::unordered_set<Fake *> &live, Handle *handle,
                      unsigned int flags) {
  if (!handle)
    return CUDA_ERROR_INVALID_VALUE;
  auto *fake = new Fake{flags};
  std::lock_guard<std::mutex> lock(driver().mutex);
  live.insert(fake);
  *handle = reinterpret_cast<Handle>(fake);
  return CUDA_SUCCESS;
}

/// Destroys the fake stream or event `handle`, which must be in `live`.
template <typename Fake, typename Handle>
CUresult destroyHandle(std::unordered_set<Fake *> &live, Handle handle) {
  auto *fake = reinterpret_cast<Fake *>(handle);
  std::lock_guard<std::mutex> lock(driver().mutex);
  if (!live.erase(fake))
    return CUDA_ERROR_INVALID_HANDLE;
  delete fake;
  return CUDA_SUCCESS;
}

extern "C" {

//===----------------------------------------------------------------------===//
// Initialization, errors, devices, contexts
//===----------------------------------------------------------------------===//

CUresult cuInit(unsigned int flags) {
  if (flags != 0)
    return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(driver().mutex);
  if (!driver().initialized) {
    driver().totalBytes = configuredTotalBytes();
    driver().initialized = true;
  }
  return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *version) {
  if (!version)
    return CUDA_ERROR_INVALID_VALUE;
  *version = CUDA_VERSION;
  return CUDA_SUCCESS;
}

CUresult cuGetErrorName(CUresult error, const char **name) {
  if (!name)
    return CUDA_ERROR_INVALID_VALUE;
  switch (error) {
#define FAKE_ERROR(code)                                                       \
  case code:                                                                   \
    *name = #code;                                                             \
    return CUDA_SUCCESS;
    FAKE_ERROR(CUDA_SUCCESS)
    FAKE_ERROR(CUDA_ERROR_INVALID_VALUE)
    FAKE_ERROR(CUDA_ERROR_OUT_OF_MEMORY)
    FAKE_ERROR(CUDA_ERROR_NOT_INITIALIZED)
    FAKE_ERROR(CUDA_ERROR_DEINITIALIZED)
    FAKE_ERROR(CUDA_ERROR_INVALID_DEVICE)
    FAKE_ERROR(CUDA_ERROR_INVALID_IMAGE)
    FAKE_ERROR(CUDA_ERROR_INVALID_CONTEXT)
    FAKE_ERROR(CUDA_ERROR_INVALID_HANDLE)
    FAKE_ERROR(CUDA_ERROR_NOT_FOUND)
    FAKE_ERROR(CUDA_ERROR_NOT_SUPPORTED)
#undef FAKE_ERROR
  default:
    *name = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult cuGetErrorString(CUresult error, const char **message) {
  if (!message)
    return CUDA_ERROR_INVALID_VALUE;
  const char *name = nullptr;
  if (cuGetErrorName(error, &name) != CUDA_SUCCESS) {
    *message = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
  }
  *message = "reported by the remat fake CUDA driver";
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count) {
  if (!count)
    return CUDA_ERROR_INVALID_VALUE;
  *count = 1;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (!device)
    return CUDA_ERROR_INVALID_VALUE;
  if (ordinal != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = 0;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice device) {
  if (!name || len <= 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (device != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  std::snprintf(name, static_cast<size_t>(len), "%s", kDeviceName);
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                              CUdevice device) {
  if (!value)
    return CUDA_ERROR_INVALID_VALUE;
  if (device != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  switch (attribute) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *value = kComputeMajor;
    break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *value = kComputeMinor;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *value = 227 * 1024;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
    *value = 48 * 1024;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
    *value = 1024;
    break;
  case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
    *value = 32;
    break;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    *value = 132;
    break;
  case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
    *value = 1;
    break;
  default:
    *value = 0;
    break;
  }
  return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem(size_t *bytes, CUdevice device) {
  if (!bytes)
    return CUDA_ERROR_INVALID_VALUE;
  if (device != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::mutex> lock(driver().mutex);
  if (!driver().initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  *bytes = driver().totalBytes;
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice device) {
  if (!context)
    return CUDA_ERROR_INVALID_VALUE;
  if (device != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::mutex> lock(driver().mutex);
  if (!driver().initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  ++driver().primaryRetains;
  *context = reinterpret_cast<CUcontext>(&driver().primaryContext);
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice device) {
  if (device != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::mutex> lock(driver().mutex);
  if (driver().primaryRetains == 0)
    return CUDA_ERROR_INVALID_CONTEXT;
  --driver().primaryRetains;
  return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext context) {
  if (context &&
      context != reinterpret_cast<CUcontext>(&driver().primaryContext))
    return CUDA_ERROR_INVALID_CONTEXT;
  currentContext = context;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *context) {
  if (!context)
    return CUDA_ERROR_INVALID_VALUE;
  *context = currentContext;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice *device) {
  if (!device)
    return CUDA_ERROR_INVALID_VALUE;
  FAKE_NEED_CONTEXT();
  *device = 0;
  return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize() {
  FAKE_NEED_CONTEXT();
  return remat::fake::synchronizeAll();
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

CUresult cuMemGetInfo(size_t *freeBytes, size_t *totalBytes) {
  if (!freeBytes || !totalBytes)
    return CUDA_ERROR_INVALID_VALUE;
  FAKE_NEED_CONTEXT();
  std::lock_guard<std::mutex> lock(driver().mutex);
  *totalBytes = driver().totalBytes;
  *freeBytes = driver().totalBytes - driver().liveBytes;
  return CUDA_SUCCESS;
}

CUresult cuMemAlloc(CUdeviceptr *dptr, size_t bytes) {
  FAKE_NEED_CONTEXT();
  return allocate(dptr, bytes);
}

CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytes,
                           unsigned int flags) {
  FAKE_NEED_CONTEXT();
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST)
    return CUDA_ERROR_INVALID_VALUE;
  return allocate(dptr, bytes);
}

CUresult cuMemFree(CUdeviceptr dptr) {
  FAKE_NEED_CONTEXT();
  if (!dptr)
    return CUDA_SUCCESS;
  Driver &state = driver();
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    auto it = state.allocations.find(dptr);
    if (it == state.allocations.end())
      return CUDA_ERROR_INVALID_VALUE;
    bytes = it->second;
  }
  // Only the queued work on these bytes must be done before they go.
  if (CUresult status = remat::fake::runTouching(dptr, bytes))
    return status;
  std::lock_guard<std::mutex> lock(state.mutex);
  auto it = state.allocations.find(dptr);
  state.liveBytes -= it->second;
  state.allocations.erase(it);
  std::free(reinterpret_cast<void *>(dptr));
  return CUDA_SUCCESS;
}

CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  FAKE_NEED_CONTEXT();
  if (bytes && (!dst || !src))
    return CUDA_ERROR_INVALID_VALUE;
  if (CUresult status = remat::fake::synchronizeAll())
    return status;
  if (bytes)
    std::memmove(reinterpret_cast<void *>(dst),
                 reinterpret_cast<const void *>(src), bytes);
  return CUDA_SUCCESS;
}

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                       CUstream stream) {
  FAKE_NEED_CONTEXT();
  if (bytes && (!dst || !src))
    return CUDA_ERROR_INVALID_VALUE;
  return remat::fake::issue(remat::fake::streamOf(stream), dst, bytes, src,
                            bytes, /*isCopy=*/true, [=] {
                              if (bytes)
                                std::memmove(
                                    reinterpret_cast<void *>(dst),
                                    reinterpret_cast<const void *>(src), bytes);
                              return CUDA_SUCCESS;
                            });
}

CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int value, size_t count,
                          CUstream stream) {
  FAKE_NEED_CONTEXT();
  return issueFill(stream, dst, value, count);
}

CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short value, size_t count,
                          CUstream stream) {
  FAKE_NEED_CONTEXT();
  return issueFill(stream, dst, value, count);
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t count,
                         CUstream stream) {
  FAKE_NEED_CONTEXT();
  return issueFill(stream, dst, value, count);
}

/// Page-locked host memory: plain host memory here, apart from the device's
/// (cuMemGetInfo does not count it).
CUresult cuMemAllocHost(void **pp, size_t bytes) {
  FAKE_NEED_CONTEXT();
  if (!pp || bytes == 0)
    return CUDA_ERROR_INVALID_VALUE;
  size_t rounded = (bytes + kAllocationAlignment - 1) / kAllocationAlignment *
                   kAllocationAlignment;
  *pp = std::aligned_alloc(kAllocationAlignment, rounded);
  if (!*pp)
    return CUDA_ERROR_OUT_OF_MEMORY;
  std::lock_guard<std::mutex> lock(driver().mutex);
  driver().hostAllocations[*pp] = bytes;
  return CUDA_SUCCESS;
}

CUresult cuMemFreeHost(void *p) {
  FAKE_NEED_CONTEXT();
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(driver().mutex);
    auto it = driver().hostAllocations.find(p);
    if (it == driver().hostAllocations.end())
      return CUDA_ERROR_INVALID_VALUE;
    bytes = it->second;
    driver().hostAllocations.erase(it);
  }
  if (CUresult status =
          remat::fake::runTouching(reinterpret_cast<uintptr_t>(p), bytes))
    return status;
  std::free(p);
  return CUDA_SUCCESS;
}

CUresult cuMemHostRegister(void *ptr, size_t bytes, unsigned int /*flags*/) {
  FAKE_NEED_CONTEXT();
  return ptr && bytes ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuMemHostUnregister(void *ptr) {
  FAKE_NEED_CONTEXT();
  return ptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

//===----------------------------------------------------------------------===//
// Modules and kernels
//===----------------------------------------------------------------------===//

CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  FAKE_NEED_CONTEXT();
  return loadModule(module, image);
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                            unsigned int numOptions, CUjit_option * /*options*/,
                            void ** /*optionValues*/) {
  FAKE_NEED_CONTEXT();
  if (numOptions > 64)
    return CUDA_ERROR_INVALID_VALUE;
  return loadModule(module, image);
}

CUresult cuModuleUnload(CUmodule module) {
  FAKE_NEED_CONTEXT();
  auto *fake = reinterpret_cast<FakeModule *>(module);
  std::lock_guard<std::mutex> lock(driver().mutex);
  if (!driver().modules.erase(fake))
    return CUDA_ERROR_INVALID_HANDLE;
  for (auto &entry : fake->functions)
    delete entry.second;
  delete fake;
  return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *function, CUmodule module,
                             const char *name) {
  FAKE_NEED_CONTEXT();
  if (!function || !name)
    return CUDA_ERROR_INVALID_VALUE;
  auto *fake = reinterpret_cast<FakeModule *>(module);
  std::lock_guard<std::mutex> lock(driver().mutex);
  if (!driver().modules.count(fake))
    return CUDA_ERROR_INVALID_HANDLE;
  FakeFunction *&entry = fake->functions[name];
  if (!entry) {
    if (!hasKernel(*fake, name)) {
      fake->functions.erase(name);
      return CUDA_ERROR_NOT_FOUND;
    }
    remat::emu::Entry cpu = nullptr;
    bool syncs = true;
    if (remat::emu::enabled()) {
      std::string error = "a fatbin's kernels are not emulated";
      if (!fake->image.empty())
        cpu = remat::emu::lookup(remat::emu::imageKey(fake->image), name, syncs,
                                 error);
      if (!cpu) {
        std::fprintf(stderr, "fake-cuda: cannot emulate %s: %s\n", name,
                     error.c_str());
        fake->functions.erase(name);
        return CUDA_ERROR_NOT_FOUND;
      }
    }
    entry = new FakeFunction{fake, name, cpu, syncs};
  }
  *function = reinterpret_cast<CUfunction>(entry);
  return CUDA_SUCCESS;
}

CUresult cuFuncSetAttribute(CUfunction function,
                            CUfunction_attribute /*attribute*/, int /*value*/) {
  FAKE_NEED_CONTEXT();
  return function ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX,
                        unsigned int gridDimY, unsigned int gridDimZ,
                        unsigned int blockDimX, unsigned int blockDimY,
                        unsigned int blockDimZ, unsigned int /*sharedMemBytes*/,
                        CUstream stream, void **kernelParams,
                        void ** /*extra*/) {
  FAKE_NEED_CONTEXT();
  if (CUresult status =
          remat::fake::beforeKernel(remat::fake::streamOf(stream)))
    return status;
  return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY,
                blockDimZ, kernelParams);
}

CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f,
                          void **kernelParams, void ** /*extra*/) {
  FAKE_NEED_CONTEXT();
  if (!config)
    return CUDA_ERROR_INVALID_VALUE;
  if (CUresult status =
          remat::fake::beforeKernel(remat::fake::streamOf(config->hStream)))
    return status;
  return launch(f, config->gridDimX, config->gridDimY, config->gridDimZ,
                config->blockDimX, config->blockDimY, config->blockDimZ,
                kernelParams);
}

//===----------------------------------------------------------------------===//
// Streams and events: work runs when it is issued, or in stream order with
// REMAT_FAKE_CUDA_STREAMS=deferred (FakeCUDAStreams.h).
//===----------------------------------------------------------------------===//

CUresult cuStreamCreate(CUstream *stream, unsigned int flags) {
  FAKE_NEED_CONTEXT();
  if (!stream)
    return CUDA_ERROR_INVALID_VALUE;
  FakeStream *fake = remat::fake::createStream(flags);
  std::lock_guard<std::mutex> lock(driver().mutex);
  driver().streams.insert(fake);
  *stream = reinterpret_cast<CUstream>(fake);
  return CUDA_SUCCESS;
}

/// The fake stream of `stream` (null: the legacy stream), or null when it
/// is not a live stream.
static FakeStream *liveStream(CUstream stream) {
  auto *fake = remat::fake::streamOf(stream);
  if (!stream)
    return fake;
  std::lock_guard<std::mutex> lock(driver().mutex);
  return driver().streams.count(fake) ? fake : nullptr;
}

static FakeEvent *liveEvent(CUevent event) {
  auto *fake = reinterpret_cast<FakeEvent *>(event);
  std::lock_guard<std::mutex> lock(driver().mutex);
  return driver().events.count(fake) ? fake : nullptr;
}

CUresult cuStreamDestroy(CUstream stream) {
  FAKE_NEED_CONTEXT();
  FakeStream *fake = liveStream(stream);
  if (!stream || !fake)
    return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult status = remat::fake::destroyStream(fake))
    return status;
  std::lock_guard<std::mutex> lock(driver().mutex);
  driver().streams.erase(fake);
  return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream stream) {
  FAKE_NEED_CONTEXT();
  FakeStream *fake = liveStream(stream);
  if (!fake)
    return CUDA_ERROR_INVALID_HANDLE;
  return remat::fake::synchronizeStream(fake);
}

CUresult cuStreamWaitEvent(CUstream stream, CUevent event,
                           unsigned int /*flags*/) {
  FAKE_NEED_CONTEXT();
  FakeStream *fakeStream = liveStream(stream);
  FakeEvent *fakeEvent = liveEvent(event);
  if (!fakeStream || !fakeEvent)
    return CUDA_ERROR_INVALID_HANDLE;
  remat::fake::waitEvent(fakeStream, fakeEvent);
  return CUDA_SUCCESS;
}

CUresult cuEventCreate(CUevent *event, unsigned int flags) {
  FAKE_NEED_CONTEXT();
  return createHandle(driver().events, event, flags);
}

CUresult cuEventDestroy(CUevent event) {
  FAKE_NEED_CONTEXT();
  return destroyHandle(driver().events, event);
}

CUresult cuEventRecord(CUevent event, CUstream stream) {
  FAKE_NEED_CONTEXT();
  FakeStream *fakeStream = liveStream(stream);
  FakeEvent *fakeEvent = liveEvent(event);
  if (!fakeStream || !fakeEvent)
    return CUDA_ERROR_INVALID_HANDLE;
  remat::fake::recordEvent(fakeEvent, fakeStream);
  return CUDA_SUCCESS;
}

CUresult cuEventQuery(CUevent event) {
  FAKE_NEED_CONTEXT();
  FakeEvent *fake = liveEvent(event);
  if (!fake)
    return CUDA_ERROR_INVALID_HANDLE;
  return remat::fake::eventDone(fake) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

CUresult cuEventSynchronize(CUevent event) {
  FAKE_NEED_CONTEXT();
  FakeEvent *fake = liveEvent(event);
  if (!fake)
    return CUDA_ERROR_INVALID_HANDLE;
  return remat::fake::synchronizeEvent(fake);
}
}
// NOLINTEND(readability-identifier-naming)
