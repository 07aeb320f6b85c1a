// engram-bench-memory: the server as the tool sees it (/healthz polls) and
// closed-loop request runs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_memory.h"

namespace engram::tools::memory_bench {

Result<Health> GetHealth(http::HttpConnection& conn) {
  ENGRAM_ASSIGN_OR_RETURN(http::ClientResponse r, conn.Send("GET", "/healthz", ""));
  if (r.status != 200) {
    return Status::Unavailable("GET /healthz answered " + std::to_string(r.status) + ": " + r.body);
  }
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("log_head") || !j.contains("applied")) {
    return Status::Unavailable("GET /healthz: unexpected answer " + r.body);
  }
  Health h;
  h.log_head = j["log_head"].get<uint64_t>();
  h.applied = j["applied"].get<uint64_t>();
  if (j.contains("projection_error")) h.projection_error = j["projection_error"].dump();
  return h;
}

namespace {

// The poll interval after waiting since `since`: ~5% of the wait, 0.1 ms to
// 1 ms.
Clock::duration PollStep(Clock::time_point now, Clock::time_point since) {
  return std::clamp<Clock::duration>((now - since) / 20, std::chrono::microseconds(100),
                                     std::chrono::milliseconds(1));
}

Status Stuck(const Health& h, uint64_t seq, const char* what) {
  return Status::Unavailable(Format("projector stuck: applied %llu, waiting for %llu%s %s",
                                    static_cast<unsigned long long>(h.applied),
                                    static_cast<unsigned long long>(seq), what,
                                    h.projection_error.c_str()));
}

}  // namespace

Result<Clock::time_point> WaitApplied(http::HttpConnection& conn, uint64_t seq,
                                      Clock::time_point since) {
  const Clock::time_point deadline = Clock::now() + kProjectionTimeout;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(Health h, GetHealth(conn));
    const Clock::time_point now = Clock::now();
    if (h.applied >= seq) return now;
    if (now > deadline) return Stuck(h, seq, "");
    std::this_thread::sleep_for(PollStep(now, since));
  }
}

Result<Clock::time_point> WaitLearnt(http::HttpConnection& conn, ReadModelProbe& probe,
                                     uint64_t seq, Clock::time_point since,
                                     Clock::time_point* post_call_applied) {
  const Clock::time_point deadline = Clock::now() + kProjectionTimeout;
  bool seen_applied = false;
  // "applied" when the row's status was last read: it can only change when
  // the projector applies something, so unchanged means no new read.
  uint64_t status_read_at = 0;
  // The log head once the outcome was seen committed; 0 until then.
  uint64_t outcome_head = 0;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(Health h, GetHealth(conn));
    Clock::time_point now = Clock::now();
    if (h.applied >= seq && !seen_applied) {
      seen_applied = true;
      if (post_call_applied) *post_call_applied = now;
    }
    if (seen_applied && outcome_head == 0 && h.applied != status_read_at) {
      status_read_at = h.applied;
      ENGRAM_ASSIGN_OR_RETURN(std::string status, probe.EventStatus(seq));
      if (status == "dead" || status == "failed") {
        return Status::Unavailable(
            Format("call at seq %llu was not learnt: webhook_events.status %s",
                   static_cast<unsigned long long>(seq), status.c_str()));
      }
      if (status != "pending") {
        // Read the head after the row: it covers the outcome's seq.
        ENGRAM_ASSIGN_OR_RETURN(h, GetHealth(conn));
        now = Clock::now();
        outcome_head = std::max<uint64_t>(h.log_head, seq);
      }
    }
    if (outcome_head != 0 && h.applied >= outcome_head) return now;
    if (now > deadline) return Stuck(h, seq, seen_applied ? "'s extraction" : "");
    std::this_thread::sleep_for(PollStep(now, since));
  }
}

Status WaitIdle(http::HttpConnection& conn, ReadModelProbe& probe) {
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + kProjectionTimeout;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(Health h, GetHealth(conn));
    ENGRAM_RETURN_IF_ERROR(WaitApplied(conn, h.log_head, start).status());
    // Every outcome a pending transcript waits for is appended after its
    // transcript was applied, so with none pending the log is fully learnt.
    ENGRAM_ASSIGN_OR_RETURN(int64_t pending, probe.PendingExtractions());
    if (pending == 0) {
      // The last outcome's rows are committed; its index update lands before
      // "applied" reaches it.
      ENGRAM_ASSIGN_OR_RETURN(h, GetHealth(conn));
      return WaitApplied(conn, h.log_head, start).status();
    }
    const Clock::time_point now = Clock::now();
    if (now > deadline) {
      return Status::Unavailable(Format("extraction stuck: %lld transcripts still pending",
                                        static_cast<long long>(pending)));
    }
    std::this_thread::sleep_for(PollStep(now, start));
  }
}

LoopResult RunClosedLoop(std::vector<std::unique_ptr<http::HttpConnection>>& conns,
                         const RequestKind& kind, uint64_t first, uint64_t count) {
  std::vector<LoopResult> per(conns.size());
  std::atomic<uint64_t> next{0};
  std::latch start(1);
  std::vector<std::thread> threads;
  for (size_t c = 0; c < conns.size(); ++c) {
    threads.emplace_back([&, c] {
      LoopResult& out = per[c];
      out.latency_us.reserve(count / conns.size() + 16);
      start.wait();
      for (;;) {
        const uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
        if (i >= count) break;
        const std::string body = kind.body(first + i);
        const Clock::time_point sent = Clock::now();
        auto r = conns[c]->Send("POST", kind.path, body, kind.headers);
        const Clock::time_point done = Clock::now();
        out.sent++;
        out.latency_us.push_back(Micros(done - sent));
        std::string error = r.ok() ? kind.check(*r) : r.status().ToString();
        if (!error.empty()) {
          out.errors++;
          if (out.error_samples.size() < kMaxErrorSamples) out.error_samples.push_back(error);
        }
      }
    });
  }
  const Clock::time_point t0 = Clock::now();
  start.count_down();
  for (auto& t : threads) t.join();
  LoopResult all;
  all.secs = Seconds(Clock::now() - t0);
  for (LoopResult& r : per) {
    all.sent += r.sent;
    all.errors += r.errors;
    all.latency_us.insert(all.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
    for (auto& e : r.error_samples) {
      if (all.error_samples.size() < kMaxErrorSamples) all.error_samples.push_back(std::move(e));
    }
  }
  return all;
}

}  // namespace engram::tools::memory_bench
