// engram-bench-memory: statistics and the report (table and JSON).
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench_memory.h"

namespace engram::tools::memory_bench {
namespace {

ordered_json RunSetJson(const RunSet& set) {
  ordered_json runs = ordered_json::array();
  for (size_t i = 0; i < set.runs.size(); ++i) {
    ordered_json r = set.runs[i].Json();
    r["throughput_rps"] = Round3(set.throughput[i]);
    runs.push_back(std::move(r));
  }
  ordered_json out = {{"requests", set.requests},
                      {"errors", set.errors},
                      {"median_ms", set.MedianLatency().Json()},
                      {"median_throughput_rps", Round3(Median(set.throughput))},
                      {"runs_ms", std::move(runs)}};
  if (!set.error_samples.empty()) out["error_samples"] = set.error_samples;
  return out;
}

}  // namespace

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---------------------------------------------------------------------------
// Reporting.

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("model name")) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

ordered_json LevelJson(const LevelResult& l) {
  const IngestResult& in = l.ingest;
  const ExtractionResult& ex = l.extraction;
  std::vector<int64_t> added = ex.added;
  double mean_added = 0;
  for (int64_t a : added) mean_added += static_cast<double>(a);
  if (!added.empty()) mean_added /= static_cast<double>(added.size());
  return {{"target_memories", l.target},
          {"current_memories", l.memories},
          {"memories_ever", l.memories_ever},
          {"conversations", l.conversations},
          // Ingestion stops on an estimate (in-flight calls count at the mean
          // yield), so a reached size may be a few memories short of it.
          {"reached_target", !l.ingest.budget_hit},
          {"ingest",
           {{"calls", in.calls},
            {"memories_before", in.memories_before},
            {"memories_after", in.memories_after},
            {"secs", Round3(in.secs)},
            {"calls_per_sec", Round3(in.CallsPerSec())},
            {"memories_per_sec", Round3(in.MemoriesPerSec())},
            {"memories_per_call",
             Round3(in.calls ? static_cast<double>(in.memories_after - in.memories_before) /
                                   static_cast<double>(in.calls)
                             : 0)},
            {"budget_hit", in.budget_hit},
            {"timeline_secs_calls_memories", in.timeline}}},
          {"extraction",
           {{"samples", ex.apply_us.size()},
            {"memories_from", ex.memories_from},
            {"memories_to", ex.memories_to},
            {"apply_ms", Latency::Of(ex.apply_us).Json()},
            {"post_call_applied_ms", Latency::Of(ex.post_call_us).Json()},
            {"ack_ms", Latency::Of(ex.ack_us).Json()},
            {"memories_per_call", Round3(mean_added)}}},
          {"memory_tool", RunSetJson(l.tool)},
          {"init_webhook", RunSetJson(l.init)}};
}

std::string Table(const Flags& flags, const std::vector<LevelResult>& levels) {
  std::string out = Format(
      "engram-bench-memory: %s, caller %s, %d connections closed loop, %d run(s) per size "
      "(medians)\n",
      flags.url.c_str(), flags.user_id.c_str(), flags.connections, flags.runs);
  out +=
      "\nlearning: signed post-call webhooks (22-turn support calls), bulk with the projector "
      "busy\n"
      "  target   memories  calls  | bulk calls   secs  calls/s  mem/s  mem/call | "
      "extraction ms p50     p95     max  (n, ack p50)\n";
  for (const LevelResult& l : levels) {
    const IngestResult& in = l.ingest;
    const Latency ex = Latency::Of(l.extraction.apply_us);
    const Latency ack = Latency::Of(l.extraction.ack_us);
    out += Format(
        "  %7lld %9lld %6lld  | %10llu %6.1f %8.2f %6.0f %8.1f | %16.1f %7.1f %7.1f  (%zu, "
        "%.2f)%s\n",
        static_cast<long long>(l.target), static_cast<long long>(l.memories),
        static_cast<long long>(l.conversations), static_cast<unsigned long long>(in.calls), in.secs,
        in.CallsPerSec(), in.MemoriesPerSec(),
        in.calls ? static_cast<double>(in.memories_after - in.memories_before) /
                       static_cast<double>(in.calls)
                 : 0.0,
        ex.p50, ex.p95, ex.max, l.extraction.apply_us.size(), ack.p50,
        in.budget_hit ? "  [ingest budget hit]" : "");
  }
  auto section = [&](const char* title, const RunSet LevelResult::*member) {
    out += Format("\n%s, ms\n  memories    p50     p95     p99     max    req/s | p95 per run\n",
                  title);
    for (const LevelResult& l : levels) {
      const RunSet& set = l.*member;
      const Latency m = set.MedianLatency();
      std::string per_run;
      for (const Latency& r : set.runs) per_run += Format(" %.3f", r.p95);
      out += Format(
          "  %8lld %7.3f %7.3f %7.3f %7.2f %8.0f |%s%s\n", static_cast<long long>(l.memories),
          m.p50, m.p95, m.p99, m.max, Median(set.throughput), per_run.c_str(),
          set.errors
              ? Format("  (%llu errors)", static_cast<unsigned long long>(set.errors)).c_str()
              : "");
    }
  };
  section("memory tool POST /tools/memory-query (limit 5)", &LevelResult::tool);
  section("init webhook POST /webhook/conversation-init (known caller)", &LevelResult::init);
  return out;
}

std::optional<std::pair<double, double>> FitCallSecs(const std::vector<LevelResult>& levels) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const LevelResult& l : levels) {
    const ExtractionResult& ex = l.extraction;
    int64_t memories = ex.memories_from;
    for (size_t i = 0; i < ex.apply_us.size(); ++i) {
      const double x = static_cast<double>(memories);
      const double y = static_cast<double>(ex.apply_us[i]) / 1e6;
      n += 1;
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
      memories += ex.added[i];
    }
  }
  const double det = n * sxx - sx * sx;
  if (n < 2 || det <= 0) return std::nullopt;
  const double b = (n * sxy - sx * sy) / det;
  return std::make_pair((sy - b * sx) / n, b);
}

std::optional<double> EstimateSecsToTarget(const std::vector<LevelResult>& levels, int64_t target) {
  auto fit = FitCallSecs(levels);
  if (!fit || levels.empty()) return std::nullopt;
  const LevelResult& last = levels.back();
  const IngestResult& in = last.ingest;
  if (in.calls == 0 || in.memories_after <= in.memories_before) return std::nullopt;
  const double per_call =
      static_cast<double>(in.memories_after - in.memories_before) / static_cast<double>(in.calls);
  const double from = static_cast<double>(last.memories);
  const double to = static_cast<double>(target);
  if (to <= from) return 0.0;
  const auto [a, b] = *fit;
  return (a * (to - from) + b * (to * to - from * from) / 2) / per_call;
}

}  // namespace engram::tools::memory_bench
