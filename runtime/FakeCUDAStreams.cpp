//===- FakeCUDAStreams.cpp - stream order for the fake libcuda ------------===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "FakeCUDAStreams.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

using namespace remat::fake;

namespace {
/// Every stream ever created (never freed, so that a queued wait may still
/// name a destroyed one, which by then has run all its work), and the
/// counters of the report.
struct Streams {
  std::recursive_mutex mutex;
  Stream legacy;
  std::vector<Stream *> all{&legacy};
  int64_t deferredCopies = 0;
  int64_t overtakenCopies = 0;
};
} // namespace

static Streams &state() {
  static Streams *streams = new Streams();
  return *streams;
}

bool remat::fake::deferred() {
  static const bool on = [] {
    const char *value = std::getenv("REMAT_FAKE_CUDA_STREAMS");
    if (!value || !*value || std::strcmp(value, "eager") == 0)
      return false;
    if (std::strcmp(value, "deferred") == 0)
      return true;
    std::fprintf(stderr,
                 "fake-cuda: ignoring REMAT_FAKE_CUDA_STREAMS=%s (expected "
                 "eager or deferred)\n",
                 value);
    return false;
  }();
  return on;
}

Stream *remat::fake::createStream(unsigned flags) {
  auto *stream = new Stream();
  stream->flags = flags;
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  state().all.push_back(stream);
  return stream;
}

Stream *remat::fake::streamOf(CUstream handle) {
  return handle ? reinterpret_cast<Stream *>(handle) : &state().legacy;
}

/// Runs `stream`'s queued work until `position` of it has run.
static CUresult runUntil(Stream *stream, uint64_t position) {
  while (stream->done < position && !stream->queue.empty()) {
    QueuedWork work = std::move(stream->queue.front());
    stream->queue.pop_front();
    ++stream->done;
    if (work.waitFor) {
      if (CUresult status = runUntil(work.waitFor, work.waitPosition))
        return status;
      continue;
    }
    state().overtakenCopies += work.isCopy && work.overtaken;
    if (CUresult status = work.run())
      return status;
  }
  return CUDA_SUCCESS;
}

CUresult remat::fake::issue(Stream *stream, uintptr_t dst, size_t dstBytes,
                            uintptr_t src, size_t srcBytes, bool isCopy,
                            std::function<CUresult()> run) {
  if (!deferred())
    return run();
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  QueuedWork work;
  work.dst = dst;
  work.dstBytes = dstBytes;
  work.src = src;
  work.srcBytes = srcBytes;
  work.isCopy = isCopy;
  work.run = std::move(run);
  stream->queue.push_back(std::move(work));
  ++stream->issued;
  state().deferredCopies += isCopy;
  return CUDA_SUCCESS;
}

CUresult remat::fake::beforeKernel(Stream *stream) {
  if (!deferred())
    return CUDA_SUCCESS;
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  if (CUresult status = runUntil(stream, stream->issued))
    return status;
  // The copies still queued elsewhere run after this kernel.
  for (Stream *other : state().all)
    for (QueuedWork &work : other->queue)
      work.overtaken = true;
  return CUDA_SUCCESS;
}

void remat::fake::recordEvent(Event *event, Stream *stream) {
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  event->stream = stream;
  event->position = stream->issued;
}

void remat::fake::waitEvent(Stream *stream, Event *event) {
  if (!deferred() || !event->stream || event->stream->done >= event->position)
    return;
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  QueuedWork work;
  work.waitFor = event->stream;
  work.waitPosition = event->position;
  stream->queue.push_back(std::move(work));
  ++stream->issued;
}

CUresult remat::fake::synchronizeStream(Stream *stream) {
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  return runUntil(stream, stream->issued);
}

CUresult remat::fake::destroyStream(Stream *stream) {
  return synchronizeStream(stream);
}

CUresult remat::fake::synchronizeEvent(Event *event) {
  if (!event->stream)
    return CUDA_SUCCESS;
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  return runUntil(event->stream, event->position);
}

bool remat::fake::eventDone(Event *event) {
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  return !event->stream || event->stream->done >= event->position;
}

CUresult remat::fake::synchronizeAll() {
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  for (Stream *stream : state().all)
    if (CUresult status = runUntil(stream, stream->issued))
      return status;
  return CUDA_SUCCESS;
}

/// Whether [a, a + aBytes) and [b, b + bBytes) overlap.
static bool overlaps(uintptr_t a, size_t aBytes, uintptr_t b, size_t bBytes) {
  return aBytes && bBytes && a < b + bBytes && b < a + aBytes;
}

CUresult remat::fake::runTouching(uintptr_t ptr, size_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(state().mutex);
  for (Stream *stream : state().all) {
    // Up to the last queued work on this stream that touches the bytes.
    uint64_t position = stream->done;
    uint64_t at = stream->done;
    for (QueuedWork &work : stream->queue) {
      ++at;
      if (overlaps(work.dst, work.dstBytes, ptr, bytes) ||
          overlaps(work.src, work.srcBytes, ptr, bytes))
        position = at;
    }
    if (CUresult status = runUntil(stream, position))
      return status;
  }
  return CUDA_SUCCESS;
}

void remat::fake::report() {
  if (!deferred())
    return;
  Streams &streams = state();
  int64_t pending = 0;
  for (Stream *stream : streams.all)
    pending += stream->queue.size();
  std::fprintf(stderr,
               "fake-cuda: streams deferred_copies=%" PRId64
               " overtaken_copies=%" PRId64 " never_run=%" PRId64 "\n",
               streams.deferredCopies, streams.overtakenCopies, pending);
}
