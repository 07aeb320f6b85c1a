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

Result<Clock::time_point> WaitApplied(http::HttpConnection& conn, uint64_t seq,
                                      Clock::time_point since) {
  const Clock::time_point deadline = Clock::now() + kProjectionTimeout;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(Health h, GetHealth(conn));
    const Clock::time_point now = Clock::now();
    if (h.applied >= seq) return now;
    if (now > deadline) {
      return Status::Unavailable(Format("projector stuck: applied %llu, waiting for %llu %s",
                                        static_cast<unsigned long long>(h.applied),
                                        static_cast<unsigned long long>(seq),
                                        h.projection_error.c_str()));
    }
    const auto step = std::clamp<Clock::duration>(
        (now - since) / 20, std::chrono::microseconds(100), std::chrono::milliseconds(1));
    std::this_thread::sleep_for(step);
  }
}

Status WaitIdle(http::HttpConnection& conn) {
  ENGRAM_ASSIGN_OR_RETURN(Health h, GetHealth(conn));
  auto r = WaitApplied(conn, h.log_head, Clock::now());
  return r.ok() ? Status::Ok() : r.status();
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
