// Clock: the only source of wall-clock time outside tests. Injected so that
// signature expiry and receive times can be tested with fixed instants.
// Projectors never read a Clock: their times come from events.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace engram {

// Milliseconds since the Unix epoch as "2026-12-02T23:00:14Z" (UTC, whole
// seconds, RFC 3339): how Engram's answers, audits and console write a time.
inline std::string UtcSecondsText(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

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
