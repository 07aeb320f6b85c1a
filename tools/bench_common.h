// Shared by Engram's benchmark and load tools (tools/*.cc): the target URL,
// which must be a loopback address (load and fault traffic never leaves this
// machine), and latency percentiles.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace engram::tools {

struct Target {
  std::string host;  // as HttpConnection wants it: "127.0.0.1", "localhost", "::1"
  uint16_t port = 0;
};

// True for 127.0.0.0/8 and ::1 literals.
bool IsLoopbackLiteral(const std::string& host);

// Parses http://HOST[:PORT][/] where HOST is 127.x.x.x, localhost (only when
// it resolves to loopback alone), ::1 or [::1]. InvalidArgument for anything
// else, including https and paths.
Result<Target> ParseLoopbackUrl(const std::string& url);
// A comma-separated list of such URLs (the nodes of a cluster: each
// connection of a run goes to the next one in turn). At most 16.
Result<std::vector<Target>> ParseLoopbackUrls(const std::string& urls);

// The p-th percentile (0..100, nearest rank) of sorted microseconds, in ms.
// Mean of microseconds, in milliseconds (0 when empty).
double MeanMs(const std::vector<int64_t>& us);
// Rounded to three decimals, for JSON output.
double Round3(double v);
// printf into a std::string.
[[gnu::format(printf, 1, 2)]] std::string Format(const char* fmt, ...);

double PercentileMs(const std::vector<int64_t>& sorted_us, double p);

// One transcript entry with every field ElevenLabs sends (see the fixtures in
// shared/elevenlabs), so generated calls are as heavy as real ones.
nlohmann::ordered_json TranscriptTurn(bool agent, const std::string& agent_id,
                                      const std::string& message, int time_in_call);

// The head of a post_call_transcription body as ElevenLabs sends it: type,
// event_timestamp, and data's identity and audio fields. Callers add
// transcript, metadata and analysis under doc["data"].
nlohmann::ordered_json PostCallEnvelope(const std::string& agent_id,
                                        const std::string& conversation_id,
                                        const std::string& user_id, int64_t event_timestamp);

// {"p50", "p95", "p99", "max", "mean"} in ms (rounded to the microsecond)
// of sorted microseconds; all 0 when empty.
nlohmann::ordered_json LatencyMsJson(const std::vector<int64_t>& sorted_us);

// The value of sample `name` with exactly the label text `labels` (as the
// server writes it, e.g. R"(status="pending")"; empty for none) in a
// Prometheus text exposition (GET /metrics). nullopt when the sample is
// absent, so a metric a server version does not export can be told apart
// from a zero.
std::optional<double> PrometheusValue(std::string_view text, std::string_view name,
                                      std::string_view labels = {});

}  // namespace engram::tools
