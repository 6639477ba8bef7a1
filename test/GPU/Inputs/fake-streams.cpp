//===- fake-streams.cpp - the fake libcuda's stream order -----------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
//
// A copy out on one stream and a copy back on another, through pinned host
// memory, as -remat-gpu-copy-streams issues them. With `event` the copy
// back's stream waits for an event recorded after the copy out; without
// it, nothing orders the two. Prints the value the copy back delivers, then
// what a copy that a free overtakes delivers.
//
//===----------------------------------------------------------------------===//

#include "cuda.h"

#include <cstdio>
#include <cstring>

#define CHECK(call)                                                            \
  do {                                                                         \
    CUresult status = (call);                                                  \
    if (status != CUDA_SUCCESS) {                                              \
      std::printf("%s: error %d\n", #call, static_cast<int>(status));          \
      return 1;                                                                \
    }                                                                          \
  } while (false)

int main(int argc, char **argv) {
  bool event = argc > 1 && std::strcmp(argv[1], "event") == 0;
  CUdevice device;
  CUcontext context;
  CHECK(cuInit(0));
  CHECK(cuDeviceGet(&device, 0));
  CHECK(cuDevicePrimaryCtxRetain(&context, device));
  CHECK(cuCtxSetCurrent(context));

  CUdeviceptr value, result;
  CHECK(cuMemAlloc(&value, 4));
  CHECK(cuMemAlloc(&result, 4));
  void *host = nullptr;
  CHECK(cuMemAllocHost(&host, 4));
  std::memset(host, 0, 4);
  CUstream compute, copy;
  CHECK(cuStreamCreate(&compute, CU_STREAM_NON_BLOCKING));
  CHECK(cuStreamCreate(&copy, CU_STREAM_NON_BLOCKING));
  CUevent written, copied;
  CHECK(cuEventCreate(&written, CU_EVENT_DISABLE_TIMING));
  CHECK(cuEventCreate(&copied, CU_EVENT_DISABLE_TIMING));

  // The value is written on the compute stream and copied out on the copy
  // stream, after an event.
  CHECK(cuMemsetD32Async(value, 7, 1, compute));
  CHECK(cuEventRecord(written, compute));
  CHECK(cuStreamWaitEvent(copy, written, 0));
  CHECK(cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(host), value, 4, copy));
  if (event) {
    CHECK(cuEventRecord(copied, copy));
    CHECK(cuStreamWaitEvent(compute, copied, 0));
  }
  // The copy back, on the compute stream.
  CHECK(cuMemcpyAsync(result, reinterpret_cast<CUdeviceptr>(host), 4, compute));
  CHECK(cuStreamSynchronize(compute));
  unsigned delivered = 0;
  std::memcpy(&delivered, reinterpret_cast<void *>(result), 4);
  std::printf("copied back: %u\n", delivered);

  // Freeing the value runs the copy out of it that is still queued.
  CHECK(cuStreamSynchronize(copy));
  std::memset(host, 0, 4);
  CHECK(cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(host), value, 4, copy));
  CHECK(cuMemFree(value));
  std::memcpy(&delivered, host, 4);
  std::printf("copied out before the free: %u\n", delivered);

  CHECK(cuStreamSynchronize(copy));
  CHECK(cuStreamDestroy(compute));
  CHECK(cuStreamDestroy(copy));
  CHECK(cuEventDestroy(written));
  CHECK(cuEventDestroy(copied));
  CHECK(cuMemFree(result));
  CHECK(cuMemFreeHost(host));
  return 0;
}
