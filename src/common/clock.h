// Clock: the only source of wall-clock time outside tests. Injected so that
// signature expiry and receive times can be tested with fixed instants.
// Projectors never read a Clock: their times come from events.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace engram {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch.
  virtual int64_t NowMicros() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // A process-wide instance; stateless, so sharing it is safe.
  static const SystemClock& Instance() {
    static const SystemClock kClock;
    return kClock;
  }
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_micros) : now_(now_micros) {}
  int64_t NowMicros() const override { return now_.load(); }
  void SetMicros(int64_t now_micros) { now_.store(now_micros); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace engram
