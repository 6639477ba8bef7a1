//===- FakeCUDAStreams.h - stream order for the fake libcuda --------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// By default the fake libcuda (FakeCUDADriver.cpp) does all work when it
/// is issued, which hides a missing event between two streams. With
/// REMAT_FAKE_CUDA_STREAMS=deferred it keeps each stream's copies and
/// memsets in a queue and runs them as late as the stream order allows:
/// - a kernel runs when it is launched, after what its own stream issued
///   before it (and, through cuStreamWaitEvent, what that waits for);
/// - cuStreamSynchronize, cuEventSynchronize and cuCtxSynchronize run what
///   they wait for; a synchronous cuMemcpy runs everything first;
/// - cuMemFree and cuMemFreeHost run only the queued work that touches the
///   freed bytes (and what it waits for): a program may not count on the
///   real driver's implicit synchronization to order anything else.
/// So a copy on one stream that a kernel on another needs, without an
/// event between them, runs after that kernel, and the kernel reads stale
/// data. At exit the driver prints how many copies were deferred, how many
/// a kernel on another stream overtook (copies that overlapped compute),
/// and how many were never run (the program did not wait for them).
///
//===----------------------------------------------------------------------===//

#ifndef REMAT_RUNTIME_FAKECUDASTREAMS_H
#define REMAT_RUNTIME_FAKECUDASTREAMS_H

#include "cuda.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

namespace remat {
namespace fake {

/// Work issued on a stream and not yet run.
struct QueuedWork {
  /// The bytes it writes and reads (none for a wait).
  uintptr_t dst = 0, src = 0;
  size_t dstBytes = 0, srcBytes = 0;
  bool isCopy = false;
  /// A kernel on another stream ran while it waited.
  bool overtaken = false;
  std::function<CUresult()> run;
  /// For cuStreamWaitEvent: run `waitFor` up to `waitPosition` first.
  struct Stream *waitFor = nullptr;
  uint64_t waitPosition = 0;
};

struct Stream {
  unsigned flags = 0;
  std::deque<QueuedWork> queue;
  /// How much work was issued on it, and how much of that has run.
  uint64_t issued = 0, done = 0;
};

struct Event {
  unsigned flags = 0;
  /// The stream it was last recorded on, and that stream's issued count.
  Stream *stream = nullptr;
  uint64_t position = 0;
};

/// Whether REMAT_FAKE_CUDA_STREAMS=deferred.
bool deferred();

/// A new stream, and the end of one (after its queued work has run; the
/// object stays, for the waits that name it).
Stream *createStream(unsigned flags);
CUresult destroyStream(Stream *stream);

/// The stream a CUstream handle names: null is the legacy stream.
Stream *streamOf(CUstream handle);

/// Issues a copy or memset on `stream`: runs `run` now, or queues it.
CUresult issue(Stream *stream, uintptr_t dst, size_t dstBytes, uintptr_t src,
               size_t srcBytes, bool isCopy, std::function<CUresult()> run);

/// Before a kernel on `stream`: runs what `stream` issued before it.
CUresult beforeKernel(Stream *stream);

void recordEvent(Event *event, Stream *stream);
void waitEvent(Stream *stream, Event *event);
CUresult synchronizeStream(Stream *stream);
CUresult synchronizeEvent(Event *event);
/// Whether the work an event waits for has run (cuEventQuery).
bool eventDone(Event *event);
CUresult synchronizeAll();

/// Runs the queued work that touches [ptr, ptr + bytes), and what it
/// waits for.
CUresult runTouching(uintptr_t ptr, size_t bytes);

/// Prints the `fake-cuda: streams` line (deferred mode only).
void report();

} // namespace fake
} // namespace remat

#endif // REMAT_RUNTIME_FAKECUDASTREAMS_H
