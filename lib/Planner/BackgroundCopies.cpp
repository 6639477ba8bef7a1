//===- BackgroundCopies.cpp - copies of a function made beside a search ---===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//

#include "BackgroundCopies.h"

using namespace mlir;
using namespace mlir::remat::detail;

BackgroundCopies::BackgroundCopies(func::FuncOp function, unsigned count)
    : function(function), copies(count), thread([this] { run(); }) {}

BackgroundCopies::~BackgroundCopies() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
  }
  thread.join();
}

void BackgroundCopies::run() {
  for (Copy &copy : copies) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stop)
        break;
    }
    copy.function = function.clone(copy.mapping);
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++made;
    }
    madeOne.notify_all();
  }
}

BackgroundCopies::Copy BackgroundCopies::take(unsigned index) {
  if (index >= copies.size())
    return {};
  std::unique_lock<std::mutex> lock(mutex);
  madeOne.wait(lock, [&] { return made > index; });
  return std::move(copies[index]);
}
