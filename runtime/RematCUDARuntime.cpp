//===- RematCUDARuntime.cpp - mgpu* ABI and device heap on the CUDA driver
//-===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Host code lowered by `remat-lower-to-nvvm` and translated to LLVM IR calls
/// the `mgpu*` functions of MLIR's GPU-to-LLVM ABI: streams, events, device
/// memory, module loading (from global constructors, before `main`) and
/// kernel launches. This library implements them on the CUDA driver API, for
/// executables compiled ahead of time, and records every device allocation,
/// so that a run can report its device high-water mark and hold it against
/// the memory model's prediction.
///
/// It also exports the functions of the CPU runtime (RematRuntime.cpp) with
/// the same output formats: `rematHeap*` and `rematPrintHeapStats` report
/// device memory, and the tensor printers, loaders and savers work on host
/// memrefs (RematRuntimeIO.h holds the code the two share).
///
/// Every entry point makes the primary context of the default device (0
/// unless mgpuSetDefaultDevice says otherwise) current on the calling
/// thread, retaining it on first use. A failing driver call prints the call
/// and the error's name to stderr and exits with status 1.
///
//===----------------------------------------------------------------------===//

#include "RematRuntimeIO.h"

#include "cuda.h"

#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

using remat::runtime::HeapStats;

namespace {
/// Devices whose primary context can be retained.
constexpr int32_t kMaxDevices = 64;

/// Kernels that ask for more dynamic shared memory than this need an opt-in.
constexpr int32_t kDefaultMaxSharedBytes = 48 * 1024;

/// The device whose primary context the entry points make current.
std::atomic<int32_t> defaultDevice{0};

/// Primary contexts retained so far, by device ordinal; guarded by
/// contextMutex. They are never released: the driver tears them down at
/// exit, after the global destructors that unload the modules.
std::mutex contextMutex;
CUcontext primaryContexts[kMaxDevices];
std::atomic<bool> anyContext{false};

/// Set by the first fatal driver error: the exit it starts runs the global
/// destructors, whose module unloads must then do nothing.
std::atomic<bool> failing{false};

/// The context this thread made current last, and its device.
thread_local CUcontext threadContext = nullptr;
thread_local int32_t threadDevice = -1;
} // namespace

/// Prints the failing driver call `what` with the error's name and string,
/// then exits with status 1.
[[noreturn]] static void cudaFail(CUresult result, const char *what) {
  // A failure while exiting from an earlier one must not exit again.
  if (failing.exchange(true))
    std::_Exit(1);
  const char *name = nullptr;
  const char *message = nullptr;
  if (cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = "<unknown CUresult>";
  if (cuGetErrorString(result, &message) != CUDA_SUCCESS || !message)
    message = "";
  // The toolkit's stub libcuda cannot name its own error.
  if (result == CUDA_ERROR_STUB_LIBRARY) {
    name = "CUDA_ERROR_STUB_LIBRARY";
    message = "the CUDA toolkit's stub libcuda.so.1 was loaded instead of "
              "the driver; check LD_LIBRARY_PATH";
  }
  std::fflush(stdout);
  std::fprintf(stderr, "remat-cuda: %s failed with %s (%d): %s\n", what, name,
               static_cast<int>(result), message);
  std::exit(1);
}

/// Exits through cudaFail when `expr` does not return CUDA_SUCCESS.
#define REMAT_CUDA_CHECK(expr)                                                 \
  do {                                                                         \
    CUresult rematResult = (expr);                                             \
    if (rematResult != CUDA_SUCCESS)                                           \
      cudaFail(rematResult, #expr);                                            \
  } while (false)

/// Retains the primary context of `device`; returns the failing call, or
/// null on success. The caller holds contextMutex.
static const char *retainPrimaryContext(int32_t device, CUresult &result) {
  result = cuInit(/*Flags=*/0);
  if (result != CUDA_SUCCESS)
    return "cuInit(0)";
  CUdevice handle = 0;
  result = cuDeviceGet(&handle, device);
  if (result != CUDA_SUCCESS)
    return "cuDeviceGet(&handle, device)";
  result = cuDevicePrimaryCtxRetain(&primaryContexts[device], handle);
  if (result != CUDA_SUCCESS)
    return "cuDevicePrimaryCtxRetain(&context, handle)";
  anyContext.store(true);
  return nullptr;
}

/// Retains the primary context of the default device on first use and makes
/// it current on the calling thread; returns it.
static CUcontext ensureContext() {
  int32_t device = defaultDevice.load(std::memory_order_relaxed);
  if (threadContext && threadDevice == device)
    return threadContext;
  CUcontext context = nullptr;
  CUresult result = CUDA_SUCCESS;
  const char *failed = nullptr;
  {
    std::lock_guard<std::mutex> lock(contextMutex);
    if (!primaryContexts[device])
      failed = retainPrimaryContext(device, result);
    context = primaryContexts[device];
  }
  // Fail outside the lock: exiting runs destructors that call back in.
  if (failed)
    cudaFail(result, failed);
  REMAT_CUDA_CHECK(cuCtxSetCurrent(context));
  threadContext = context;
  threadDevice = device;
  return context;
}

/// Waits for all work of the default device's context.
static void synchronizeDevice() {
  ensureContext();
  REMAT_CUDA_CHECK(cuCtxSynchronize());
}

/// Waits for the device before the host reads memory that a copy may still
/// be writing; nothing to wait for when CUDA was never used.
static void synchronizeIfUsed() {
  if (anyContext.load())
    synchronizeDevice();
}

/// The device allocations of this process. It is never destroyed, so that
/// code run from global destructors may still free.
static HeapStats &deviceHeap() {
  static HeapStats *heap = new HeapStats();
  return *heap;
}

/// The pinned host buffers of offloaded values (`gpu.alloc host_shared`),
/// apart from the device heap.
static HeapStats &hostHeap() {
  static HeapStats *heap = new HeapStats();
  return *heap;
}

/// Pinned host buffers the program has freed whose copies may still run:
/// each waits for an event recorded on the stream that freed it.
/// cuMemFreeHost synchronizes the device, so they are returned to the
/// driver where the host waits anyway (mgpuStreamSynchronize).
struct PendingHostFree {
  void *ptr;
  CUevent event;
};
static std::vector<PendingHostFree> &pendingHostFrees() {
  static auto *pending = new std::vector<PendingHostFree>();
  return *pending;
}

/// Returns to the driver the pinned buffers whose copies are done.
static void returnHostBuffers() {
  auto &pending = pendingHostFrees();
  size_t kept = 0;
  for (PendingHostFree &entry : pending) {
    CUresult status = cuEventQuery(entry.event);
    if (status == CUDA_ERROR_NOT_READY) {
      pending[kept++] = entry;
      continue;
    }
    REMAT_CUDA_CHECK(status);
    REMAT_CUDA_CHECK(cuEventDestroy(entry.event));
    REMAT_CUDA_CHECK(cuMemFreeHost(entry.ptr));
  }
  pending.resize(kept);
}

/// The step timer of rematTimerStart/rematTimerStop.
static remat::runtime::StepTimer &timer() {
  static remat::runtime::StepTimer stepTimer;
  return stepTimer;
}

/// Allows `function` to use `smem` bytes of dynamic shared memory, which
/// needs an opt-in above 48 KiB; exits when the device has fewer.
static void prepareSharedMemory(CUfunction function, int32_t smem) {
  if (smem <= kDefaultMaxSharedBytes)
    return;
  CUdevice device = 0;
  REMAT_CUDA_CHECK(cuCtxGetDevice(&device));
  int maxShared = 0;
  REMAT_CUDA_CHECK(cuDeviceGetAttribute(
      &maxShared, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
      device));
  if (smem > maxShared) {
    std::fflush(stdout);
    std::fprintf(stderr,
                 "remat-cuda: a kernel asks for %d bytes of shared memory; "
                 "the device allows %d\n",
                 smem, maxShared);
    std::exit(1);
  }
  REMAT_CUDA_CHECK(cuFuncSetAttribute(
      function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem));
}

/// Bytes spanned by a strided memref: from its first element to its last.
static uint64_t memrefSpanBytes(int64_t rank,
                                const StridedMemRefType<char, 1> *descriptor,
                                int64_t elementSizeBytes) {
  const int64_t *sizes = descriptor->sizes;
  const int64_t *strides = sizes + rank;
  int64_t lastElement = 0;
  for (int64_t dim = 0; dim < rank; ++dim) {
    if (sizes[dim] == 0)
      return 0;
    lastElement += (sizes[dim] - 1) * strides[dim];
  }
  return static_cast<uint64_t>(lastElement + 1) *
         static_cast<uint64_t>(elementSizeBytes);
}

// The names below are fixed by MLIR's GPU-to-LLVM ABI and by the remat
// runtime's.
// NOLINTBEGIN(readability-identifier-naming)
extern "C" {

//===----------------------------------------------------------------------===//
// Modules and kernels
//===----------------------------------------------------------------------===//

/// Loads a cubin or fatbin (`format=bin`, `format=fatbin`); `gpuBlobSize` is
/// the blob's size, which the driver does not need.
MLIR_CRUNNERUTILS_EXPORT CUmodule mgpuModuleLoad(void *data,
                                                 size_t /*gpuBlobSize*/) {
  ensureContext();
  CUmodule module = nullptr;
  REMAT_CUDA_CHECK(cuModuleLoadData(&module, data));
  return module;
}

/// Loads PTX text (`format=isa`), which the driver JIT-compiles at
/// `optLevel`; a failure prints the JIT's log.
MLIR_CRUNNERUTILS_EXPORT CUmodule mgpuModuleLoadJIT(void *data, int optLevel) {
  ensureContext();
  char errorLog[8192] = {0};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_OPTIMIZATION_LEVEL};
  void *values[] = {errorLog, reinterpret_cast<void *>(sizeof(errorLog)),
                    reinterpret_cast<void *>(static_cast<intptr_t>(optLevel))};
  CUmodule module = nullptr;
  CUresult result = cuModuleLoadDataEx(
      &module, data, sizeof(options) / sizeof(options[0]), options, values);
  if (result != CUDA_SUCCESS) {
    std::fflush(stdout);
    std::fprintf(stderr, "remat-cuda: PTX JIT log:\n%s\n", errorLog);
    cudaFail(result, "cuModuleLoadDataEx(&module, data, ...)");
  }
  return module;
}

/// Unloads a module; called from global destructors, so a driver that is
/// already shut down, or a module that was never loaded, is not an error.
MLIR_CRUNNERUTILS_EXPORT void mgpuModuleUnload(CUmodule module) {
  // Null when its load never ran, as when a load before it failed.
  if (!module || failing.load())
    return;
  ensureContext();
  CUresult result = cuModuleUnload(module);
  if (result != CUDA_SUCCESS && result != CUDA_ERROR_DEINITIALIZED)
    cudaFail(result, "cuModuleUnload(module)");
}

/// Returns the kernel `name` of `module`.
MLIR_CRUNNERUTILS_EXPORT CUfunction mgpuModuleGetFunction(CUmodule module,
                                                          const char *name) {
  ensureContext();
  CUfunction function = nullptr;
  CUresult result = cuModuleGetFunction(&function, module, name);
  if (result != CUDA_SUCCESS) {
    std::string what =
        std::string("cuModuleGetFunction(&function, module, \"") + name + "\")";
    cudaFail(result, what.c_str());
  }
  return function;
}

/// Launches `function` on `stream`. Sizes are intptr_t, MLIR's index type;
/// `paramsCount` (the number of `params`) is not needed by the driver.
MLIR_CRUNNERUTILS_EXPORT void
mgpuLaunchKernel(CUfunction function, intptr_t gridX, intptr_t gridY,
                 intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                 intptr_t blockZ, int32_t smem, CUstream stream, void **params,
                 void **extra, size_t /*paramsCount*/) {
  ensureContext();
  prepareSharedMemory(function, smem);
  REMAT_CUDA_CHECK(cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY,
                                  blockZ, smem, stream, params, extra));
}

/// Launches `function` with thread-block clusters (sm_90 and later).
MLIR_CRUNNERUTILS_EXPORT void mgpuLaunchClusterKernel(
    CUfunction function, intptr_t clusterX, intptr_t clusterY,
    intptr_t clusterZ, intptr_t gridX, intptr_t gridY, intptr_t gridZ,
    intptr_t blockX, intptr_t blockY, intptr_t blockZ, int32_t smem,
    CUstream stream, void **params, void **extra, size_t /*paramsCount*/) {
  ensureContext();
  prepareSharedMemory(function, smem);
  if (clusterX * clusterY * clusterZ > 8)
    REMAT_CUDA_CHECK(cuFuncSetAttribute(
        function, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1));
  CUlaunchAttribute attribute = {};
  attribute.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attribute.value.clusterDim.x = static_cast<unsigned>(clusterX);
  attribute.value.clusterDim.y = static_cast<unsigned>(clusterY);
  attribute.value.clusterDim.z = static_cast<unsigned>(clusterZ);
  CUlaunchConfig config = {};
  config.gridDimX = static_cast<unsigned>(gridX);
  config.gridDimY = static_cast<unsigned>(gridY);
  config.gridDimZ = static_cast<unsigned>(gridZ);
  config.blockDimX = static_cast<unsigned>(blockX);
  config.blockDimY = static_cast<unsigned>(blockY);
  config.blockDimZ = static_cast<unsigned>(blockZ);
  config.sharedMemBytes = static_cast<unsigned>(smem);
  config.hStream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  REMAT_CUDA_CHECK(cuLaunchKernelEx(&config, function, params, extra));
}

//===----------------------------------------------------------------------===//
// Streams and events
//===----------------------------------------------------------------------===//

/// Creates a stream that does not synchronize with the legacy stream.
MLIR_CRUNNERUTILS_EXPORT CUstream mgpuStreamCreate() {
  ensureContext();
  CUstream stream = nullptr;
  REMAT_CUDA_CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  return stream;
}

MLIR_CRUNNERUTILS_EXPORT void mgpuStreamDestroy(CUstream stream) {
  ensureContext();
  REMAT_CUDA_CHECK(cuStreamDestroy(stream));
}

MLIR_CRUNNERUTILS_EXPORT void mgpuStreamSynchronize(CUstream stream) {
  ensureContext();
  REMAT_CUDA_CHECK(cuStreamSynchronize(stream));
  returnHostBuffers();
}

MLIR_CRUNNERUTILS_EXPORT void mgpuStreamWaitEvent(CUstream stream,
                                                  CUevent event) {
  ensureContext();
  REMAT_CUDA_CHECK(cuStreamWaitEvent(stream, event, /*Flags=*/0));
}

/// Creates an event for ordering only (no timing).
MLIR_CRUNNERUTILS_EXPORT CUevent mgpuEventCreate() {
  ensureContext();
  CUevent event = nullptr;
  REMAT_CUDA_CHECK(cuEventCreate(&event, CU_EVENT_DISABLE_TIMING));
  return event;
}

MLIR_CRUNNERUTILS_EXPORT void mgpuEventDestroy(CUevent event) {
  ensureContext();
  REMAT_CUDA_CHECK(cuEventDestroy(event));
}

MLIR_CRUNNERUTILS_EXPORT void mgpuEventSynchronize(CUevent event) {
  ensureContext();
  REMAT_CUDA_CHECK(cuEventSynchronize(event));
}

MLIR_CRUNNERUTILS_EXPORT void mgpuEventRecord(CUevent event, CUstream stream) {
  ensureContext();
  REMAT_CUDA_CHECK(cuEventRecord(event, stream));
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

/// Allocates `sizeBytes` of device memory and records it in the device
/// heap, or, when `isHostShared` (`gpu.alloc host_shared`: what
/// -remat-gpu-device-memory makes of an offloaded buffer), of page-locked
/// host memory, recorded in the host arena. An empty allocation returns
/// null and is not recorded.
MLIR_CRUNNERUTILS_EXPORT void *
mgpuMemAlloc(uint64_t sizeBytes, CUstream /*stream*/, bool isHostShared) {
  if (sizeBytes == 0)
    return nullptr;
  ensureContext();
  if (isHostShared) {
    void *host = nullptr;
    REMAT_CUDA_CHECK(cuMemAllocHost(&host, sizeBytes));
    return hostHeap().record(host, sizeBytes);
  }
  CUdeviceptr ptr = 0;
  CUresult result = cuMemAlloc(&ptr, sizeBytes);
  if (result != CUDA_SUCCESS) {
    std::fflush(stdout);
    std::fprintf(stderr,
                 "remat-cuda: allocating %llu bytes with %" PRId64
                 " bytes live on the device\n",
                 static_cast<unsigned long long>(sizeBytes),
                 deviceHeap().live());
    cudaFail(result, "cuMemAlloc(&ptr, sizeBytes)");
  }
  return deviceHeap().record(reinterpret_cast<void *>(ptr), sizeBytes);
}

/// Frees memory of mgpuMemAlloc; null is ignored. A pinned host buffer
/// leaves the host arena now and goes back to the driver once what
/// `stream` issued before the free (its last copy) is done.
MLIR_CRUNNERUTILS_EXPORT void mgpuMemFree(void *ptr, CUstream stream) {
  if (!ptr)
    return;
  ensureContext();
  if (hostHeap().owns(ptr)) {
    hostHeap().release(ptr);
    CUevent event = nullptr;
    REMAT_CUDA_CHECK(cuEventCreate(&event, CU_EVENT_DISABLE_TIMING));
    REMAT_CUDA_CHECK(cuEventRecord(event, stream));
    pendingHostFrees().push_back({ptr, event});
    return;
  }
  deviceHeap().release(ptr);
  REMAT_CUDA_CHECK(cuMemFree(reinterpret_cast<CUdeviceptr>(ptr)));
}

/// Copies `sizeBytes` on `stream`, in any direction (unified addressing).
MLIR_CRUNNERUTILS_EXPORT void mgpuMemcpy(void *dst, void *src, size_t sizeBytes,
                                         CUstream stream) {
  ensureContext();
  REMAT_CUDA_CHECK(cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                                 reinterpret_cast<CUdeviceptr>(src), sizeBytes,
                                 stream));
}

/// Sets `count` 32-bit words at `dst` to `value` on `stream`.
MLIR_CRUNNERUTILS_EXPORT void mgpuMemset32(void *dst, unsigned int value,
                                           size_t count, CUstream stream) {
  ensureContext();
  REMAT_CUDA_CHECK(cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value,
                                    count, stream));
}

/// Sets `count` 16-bit words at `dst` to `value` on `stream`.
MLIR_CRUNNERUTILS_EXPORT void mgpuMemset16(void *dst, unsigned short value,
                                           size_t count, CUstream stream) {
  ensureContext();
  REMAT_CUDA_CHECK(cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value,
                                    count, stream));
}

/// Page-locks host memory and maps it for the device (`gpu.host_register`).
MLIR_CRUNNERUTILS_EXPORT void mgpuMemHostRegister(void *ptr,
                                                  uint64_t sizeBytes) {
  ensureContext();
  REMAT_CUDA_CHECK(cuMemHostRegister(ptr, sizeBytes, /*Flags=*/0));
}

/// Registers the bytes a ranked memref of rank `rank` spans.
MLIR_CRUNNERUTILS_EXPORT void
mgpuMemHostRegisterMemRef(int64_t rank, StridedMemRefType<char, 1> *descriptor,
                          int64_t elementSizeBytes) {
  uint64_t sizeBytes = memrefSpanBytes(rank, descriptor, elementSizeBytes);
  if (sizeBytes == 0)
    return;
  mgpuMemHostRegister(descriptor->data + descriptor->offset * elementSizeBytes,
                      sizeBytes);
}

MLIR_CRUNNERUTILS_EXPORT void mgpuMemHostUnregister(void *ptr) {
  ensureContext();
  REMAT_CUDA_CHECK(cuMemHostUnregister(ptr));
}

/// Unregisters what mgpuMemHostRegisterMemRef registered.
MLIR_CRUNNERUTILS_EXPORT void
mgpuMemHostUnregisterMemRef(int64_t rank,
                            StridedMemRefType<char, 1> *descriptor,
                            int64_t elementSizeBytes) {
  if (memrefSpanBytes(rank, descriptor, elementSizeBytes) == 0)
    return;
  mgpuMemHostUnregister(descriptor->data +
                        descriptor->offset * elementSizeBytes);
}

/// Selects the device whose primary context later calls make current.
MLIR_CRUNNERUTILS_EXPORT void mgpuSetDefaultDevice(int32_t device) {
  if (device < 0 || device >= kMaxDevices) {
    std::fflush(stdout);
    std::fprintf(stderr,
                 "remat-cuda: mgpuSetDefaultDevice(%d): no such "
                 "device ordinal\n",
                 device);
    std::exit(1);
  }
  defaultDevice.store(device);
}

//===----------------------------------------------------------------------===//
// The remat runtime: device heap, tensors, timer
//===----------------------------------------------------------------------===//

/// Returns the highest number of device bytes live at once so far.
MLIR_CRUNNERUTILS_EXPORT int64_t rematHeapPeakBytes() {
  return deviceHeap().peak();
}

/// Returns the number of device bytes live now.
MLIR_CRUNNERUTILS_EXPORT int64_t rematHeapLiveBytes() {
  return deviceHeap().live();
}

/// Restarts the device high-water mark from the bytes live now;
/// `phase_peak_bytes` is the high-water mark above what was live at the
/// reset.
MLIR_CRUNNERUTILS_EXPORT void rematHeapResetPeak() {
  deviceHeap().resetPeak();
  hostHeap().resetPeak();
}

/// Prints the `remat-heap:` line of the CPU runtime with the device heap's
/// figures, then `remat-device-heap:` with what the driver reports in use
/// on the whole device (other processes, the context and the allocator's
/// rounding included).
MLIR_CRUNNERUTILS_EXPORT void rematPrintHeapStats() {
  deviceHeap().print();
  if (hostHeap().allocations)
    hostHeap().print("remat-host");
  ensureContext();
  size_t freeBytes = 0;
  size_t totalBytes = 0;
  REMAT_CUDA_CHECK(cuMemGetInfo(&freeBytes, &totalBytes));
  std::printf("remat-device-heap: driver_used_bytes=%zu driver_free_bytes=%zu "
              "driver_total_bytes=%zu\n",
              totalBytes - freeBytes, freeBytes, totalBytes);
  std::fflush(stdout);
}

/// Prints `tensor <id>: v0 v1 ...` for a host f32 memref (the CPU runtime's
/// format), after the device has finished writing to it.
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematPrintTensorF32(int64_t id, UnrankedMemRefType<float> *m) {
  synchronizeIfUsed();
  remat::runtime::printTensorF32(id, m);
}

/// Fills a host f32 memref with `$REMAT_INPUTS/<id>.bin`.
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematLoadTensorF32(int64_t id, UnrankedMemRefType<float> *m) {
  synchronizeIfUsed();
  remat::runtime::loadTensor("rematLoadTensorF32", id, m);
}

/// Fills a host i64 memref with `$REMAT_INPUTS/<id>.bin`.
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematLoadTensorI64(int64_t id, UnrankedMemRefType<int64_t> *m) {
  synchronizeIfUsed();
  remat::runtime::loadTensor("rematLoadTensorI64", id, m);
}

/// Fills a host i1 memref (one byte, 0 or 1, per element, as MLIR stores
/// i1) with `$REMAT_INPUTS/<id>.bin`.
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematLoadTensorI1(int64_t id, UnrankedMemRefType<bool> *m) {
  synchronizeIfUsed();
  remat::runtime::loadTensor("rematLoadTensorI1", id, m);
}

/// Prints `tensor <id>: numel=<n> sum=<s> abs_sum=<a>` for a host f32 memref
/// and writes it to `$REMAT_OUTPUTS/<id>.bin` when that is set.
MLIR_CRUNNERUTILS_EXPORT void
_mlir_ciface_rematSaveTensorF32(int64_t id, UnrankedMemRefType<float> *m) {
  synchronizeIfUsed();
  remat::runtime::saveTensorF32("rematSaveTensorF32", id, m);
}

/// Waits for the device, then starts the step timer.
MLIR_CRUNNERUTILS_EXPORT void rematTimerStart() {
  synchronizeDevice();
  timer().start();
}

/// Waits for the device, then prints `remat-time: step_ms=<ms>`.
MLIR_CRUNNERUTILS_EXPORT void rematTimerStop() {
  synchronizeDevice();
  timer().stop();
}

/// Prints `remat-device: name="<name>" cc=<major>.<minor> total_bytes=<n>`
/// for the default device, initializing CUDA if needed. The AOT harness
/// calls it before the step.
MLIR_CRUNNERUTILS_EXPORT void rematCUDAPrintDevice() {
  ensureContext();
  CUdevice device = 0;
  REMAT_CUDA_CHECK(cuCtxGetDevice(&device));
  char name[256] = {0};
  REMAT_CUDA_CHECK(cuDeviceGetName(name, sizeof(name) - 1, device));
  int major = 0;
  int minor = 0;
  REMAT_CUDA_CHECK(cuDeviceGetAttribute(
      &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device));
  REMAT_CUDA_CHECK(cuDeviceGetAttribute(
      &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device));
  size_t totalBytes = 0;
  REMAT_CUDA_CHECK(cuDeviceTotalMem(&totalBytes, device));
  std::printf("remat-device: name=\"%s\" cc=%d.%d total_bytes=%zu\n", name,
              major, minor, totalBytes);
  std::fflush(stdout);
}
}
// NOLINTEND(readability-identifier-naming)
