// Deferrable appends (NewEvent::deferrable): background appends share the
// sync of the next append a request waits for, while such appends flow, and
// are written at once on a quiet log. Against a real RocksDB log.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.h"
#include "log/rocksdb_event_log.h"
#include "support/test_support.h"

namespace engram::log {
namespace {

using engram::testing::TempDir;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

NewEvent MakeEvent(const std::string& key, bool deferrable) {
  NewEvent e;
  e.type = deferrable ? "memories_extracted" : "post_call_transcription";
  e.route = "/webhook/post-call";
  e.idempotency_key = key;
  e.body = "{}";
  e.deferrable = deferrable;
  return e;
}

std::unique_ptr<RocksDbEventLog> OpenLog(const std::string& path, milliseconds window) {
  RocksDbEventLogOptions o;
  o.path = path;
  o.defer_window = window;
  auto log = RocksDbEventLog::Open(o, SystemClock::Instance());
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return std::move(log).value();
}

// Urgent appends at the rate of a flow (8, back to back).
void Flow(RocksDbEventLog& log, const std::string& prefix) {
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(log.Append(MakeEvent(prefix + std::to_string(i), false)).ok());
  }
}

// Starts an append; the future holds its result once its sync is done.
std::future<Result<AppendResult>> Start(RocksDbEventLog& log, NewEvent e) {
  auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
  auto future = promise->get_future();
  log.AppendAsync(std::move(e), [promise](Result<AppendResult> r) { promise->set_value(r); });
  return future;
}

TEST(DeferrableAppends, WaitForTheNextUrgentAppendWhileUrgentOnesFlow) {
  TempDir dir;
  auto log = OpenLog(dir / "log", milliseconds(2'000));
  Flow(*log, "urgent-");
  auto deferred = Start(*log, MakeEvent("background", true));
  EXPECT_EQ(deferred.wait_for(milliseconds(300)), std::future_status::timeout)
      << "written alone although an urgent append was written just before";
  auto urgent = Start(*log, MakeEvent("urgent-after", false));
  ASSERT_EQ(urgent.wait_for(milliseconds(1'000)), std::future_status::ready);
  ASSERT_EQ(deferred.wait_for(milliseconds(1'000)), std::future_status::ready);
  auto d = deferred.get();
  auto u = urgent.get();
  ASSERT_TRUE(d.ok() && u.ok());
  EXPECT_EQ(d->seq, 9u) << "kept its place in the log";
  EXPECT_EQ(u->seq, 10u);
  EXPECT_GE(log->Head(), d->seq) << "acknowledged only once durable";
}

TEST(DeferrableAppends, AreHeldNoLongerThanTheWindow) {
  TempDir dir;
  auto log = OpenLog(dir / "log", milliseconds(400));
  Flow(*log, "urgent-");
  const auto start = Clock::now();
  auto deferred = Start(*log, MakeEvent("background", true));
  ASSERT_EQ(deferred.wait_for(milliseconds(5'000)), std::future_status::ready);
  const auto waited = Clock::now() - start;
  ASSERT_TRUE(deferred.get().ok());
  EXPECT_GE(waited, milliseconds(300)) << "not held at all";
  EXPECT_LT(waited, milliseconds(3'000)) << "held past its window";
}

TEST(DeferrableAppends, AreWrittenAtOnceOnAQuietLog) {
  TempDir dir;
  auto log = OpenLog(dir / "log", milliseconds(60'000));
  // Nothing urgent was ever written: nothing to share a sync with.
  auto first = Start(*log, MakeEvent("background-1", true));
  ASSERT_EQ(first.wait_for(milliseconds(10'000)), std::future_status::ready);
  ASSERT_TRUE(first.get().ok());
  // A lone urgent append (one call's acknowledgement) is not a flow: the
  // outcome that follows it is not held waiting for another.
  ASSERT_TRUE(log->Append(MakeEvent("urgent", false)).ok());
  auto after_one = Start(*log, MakeEvent("background-2", true));
  ASSERT_EQ(after_one.wait_for(milliseconds(10'000)), std::future_status::ready);
  // A flow that stopped long ago (16 windows) counts as quiet too.
  auto quiet = OpenLog(dir / "log2", milliseconds(250));
  Flow(*quiet, "urgent-");
  std::this_thread::sleep_for(milliseconds(4'200));
  const auto start = Clock::now();
  auto later = Start(*quiet, MakeEvent("background-3", true));
  ASSERT_EQ(later.wait_for(milliseconds(10'000)), std::future_status::ready);
  EXPECT_LT(Clock::now() - start, milliseconds(200)) << "held although urgent appends stopped";
}

}  // namespace
}  // namespace engram::log
