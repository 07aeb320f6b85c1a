// UrgentFlow: whether appends a request waits for are flowing, so that a
// deferrable append (NewEvent::deferrable) is worth holding for the next
// one's sync. Owned by the RocksDB log's writer thread; not thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>

namespace engram::log {

class UrgentFlow {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // The writer wrote a batch holding at least one urgent append at `now`.
  void Record(TimePoint now) { writes_[next_++ % kWrites] = now; }

  // A flow: the last kWrites urgent writes came at least one per two
  // windows. A lone call's outcome (its acknowledgement just written,
  // nothing after it) is then written at once instead of waiting for
  // nothing.
  bool Flowing(TimePoint now, std::chrono::microseconds window) const {
    const TimePoint oldest = writes_[next_ % kWrites];
    return oldest != TimePoint{} && now - oldest <= 2 * kWrites * window;
  }

 private:
  static constexpr size_t kWrites = 8;
  std::array<TimePoint, kWrites> writes_{};
  size_t next_ = 0;
};

}  // namespace engram::log
