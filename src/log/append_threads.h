// AppendThreads: a few threads of its own on which a log whose appends block
// (JetStream's publish-and-wait, a key made before a sealed append) runs
// the work behind EventLog::AppendAsync, so the caller's thread never waits.
//
// Thread-safe. The destructor runs what is queued, then joins: declare it
// last among a log's members, so it is destroyed first, while everything
// the queued work uses is still there.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace engram::log {

class AppendThreads {
 public:
  // `threads` >= 1: how many blocking appends may wait at once; the rest
  // queue (each still holds its caller's completion).
  explicit AppendThreads(int threads);
  ~AppendThreads();
  AppendThreads(const AppendThreads&) = delete;
  AppendThreads& operator=(const AppendThreads&) = delete;

  // Runs `work` on one of the threads; works start in submission order.
  void Run(std::function<void()> work);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace engram::log
