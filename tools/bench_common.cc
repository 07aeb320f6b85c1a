#include "bench_common.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <string_view>

namespace engram::tools {

bool IsLoopbackLiteral(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// "localhost" is a name, and /etc/hosts could map it anywhere: accept it only
// when every address it resolves to is loopback.
namespace {
bool LocalhostResolvesToLoopback() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo("localhost", nullptr, &hints, &res) != 0) return false;
  bool all_loopback = res != nullptr;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (inet_ntop(a->ai_family, addr, text, sizeof(text)) == nullptr || !IsLoopbackLiteral(text)) {
      all_loopback = false;
    }
  }
  freeaddrinfo(res);
  return all_loopback;
}
}  // namespace

// Parses http://HOST[:PORT][/] where HOST is 127.x.x.x, localhost, ::1 or
// [::1]-style bracketed IPv6. InvalidArgument for anything else, including
// https (HttpConnection speaks plain HTTP) and paths (the path is fixed).
Result<Target> ParseLoopbackUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  std::string_view rest = url;
  if (!rest.starts_with(kScheme)) {
    return Status::InvalidArgument("--url must start with http:// (got " + url + ")");
  }
  rest.remove_prefix(kScheme.size());
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) {
    return Status::InvalidArgument("--url takes no path (the webhook path is fixed): " + url);
  }
  std::string_view host;
  std::string_view port_text;
  if (rest.starts_with('[')) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("bad IPv6 host in " + url);
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return Status::InvalidArgument("bad URL " + url);
      port_text = after.substr(1);
    }
  } else if (std::count(rest.begin(), rest.end(), ':') > 1) {
    return Status::InvalidArgument("write IPv6 hosts in brackets, e.g. http://[::1]:8080");
  } else {
    size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  Target target;
  target.host = std::string(host);
  target.port = 80;
  if (!port_text.empty() || rest.ends_with(':')) {
    unsigned long port = 0;
    bool digits = !port_text.empty() && port_text.size() <= 5 &&
                  std::all_of(port_text.begin(), port_text.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    if (digits) port = std::stoul(std::string(port_text));
    if (!digits || port == 0 || port > 65535) {
      return Status::InvalidArgument("bad port in " + url);
    }
    target.port = static_cast<uint16_t>(port);
  }
  std::string lower = target.host;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool loopback =
      lower == "localhost" ? LocalhostResolvesToLoopback() : IsLoopbackLiteral(target.host);
  if (!loopback) {
    return Status::Forbidden("refusing to load-test " + target.host +
                             ": only loopback hosts (127.x.x.x, localhost, ::1) are allowed");
  }
  return target;
}

Result<std::vector<Target>> ParseLoopbackUrls(const std::string& urls) {
  constexpr size_t kMaxTargets = 16;
  std::vector<Target> targets;
  size_t start = 0;
  for (;;) {
    const size_t comma = urls.find(',', start);
    const std::string one = urls.substr(start, comma - start);
    if (targets.size() == kMaxTargets) {
      return Status::InvalidArgument("--url names more than 16 servers");
    }
    ENGRAM_ASSIGN_OR_RETURN(Target target, ParseLoopbackUrl(one));
    targets.push_back(std::move(target));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return targets;
}

double PercentileMs(const std::vector<int64_t>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted_us.size())));
  rank = std::clamp<size_t>(rank, 1, sorted_us.size());
  return static_cast<double>(sorted_us[rank - 1]) / 1000.0;
}

nlohmann::ordered_json TranscriptTurn(bool agent, const std::string& agent_id,
                                      const std::string& message, int time_in_call) {
  nlohmann::ordered_json t;
  t["role"] = agent ? "agent" : "user";
  if (agent) {
    t["agent_metadata"] = {{"agent_id", agent_id},
                           {"branch_id", nullptr},
                           {"workflow_node_id", nullptr},
                           {"version_id", nullptr}};
  }
  t["message"] = message;
  t["multivoice_message"] = nullptr;
  t["tool_calls"] = nlohmann::ordered_json::array();
  t["tool_results"] = nlohmann::ordered_json::array();
  t["feedback"] = nullptr;
  t["llm_override"] = nullptr;
  t["time_in_call_secs"] = time_in_call;
  t["conversation_turn_metrics"] = nullptr;
  t["rag_retrieval_info"] = nullptr;
  t["llm_usage"] = nullptr;
  t["interrupted"] = false;
  t["original_message"] = nullptr;
  t["source_medium"] = "audio";
  return t;
}

nlohmann::ordered_json PostCallEnvelope(const std::string& agent_id,
                                        const std::string& conversation_id,
                                        const std::string& user_id, int64_t event_timestamp) {
  nlohmann::ordered_json doc;
  doc["type"] = "post_call_transcription";
  doc["event_timestamp"] = event_timestamp;
  nlohmann::ordered_json& data = doc["data"];
  data["agent_id"] = agent_id;
  data["agent_name"] = "Sage - Tandem Desk Support";
  data["conversation_id"] = conversation_id;
  data["status"] = "done";
  data["user_id"] = user_id;
  data["branch_id"] = nullptr;
  data["version_id"] = nullptr;
  data["environment"] = nullptr;
  data["has_audio"] = true;
  data["has_user_audio"] = true;
  data["has_response_audio"] = true;
  return doc;
}

nlohmann::ordered_json LatencyMsJson(const std::vector<int64_t>& sorted_us) {
  auto round3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  long double sum = 0;
  for (int64_t v : sorted_us) sum += v;
  const double mean = sorted_us.empty() ? 0 : static_cast<double>(sum / sorted_us.size()) / 1000.0;
  return {{"p50", round3(PercentileMs(sorted_us, 50))},
          {"p95", round3(PercentileMs(sorted_us, 95))},
          {"p99", round3(PercentileMs(sorted_us, 99))},
          {"max", round3(PercentileMs(sorted_us, 100))},
          {"mean", round3(mean)}};
}

std::optional<double> PrometheusValue(std::string_view text, std::string_view name,
                                      std::string_view labels) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.starts_with(name)) continue;
    std::string_view rest = line.substr(name.size());
    if (labels.empty()) {
      if (!rest.starts_with(' ')) continue;
    } else {
      if (rest.size() < labels.size() + 3 || rest[0] != '{' ||
          rest.substr(1, labels.size()) != labels || rest[labels.size() + 1] != '}') {
        continue;
      }
      rest.remove_prefix(labels.size() + 2);
    }
    // "<space>value[ timestamp]"; from_chars has no "+Inf", which no gauge
    // read here takes.
    while (rest.starts_with(' ')) rest.remove_prefix(1);
    double value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec != std::errc()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

double MeanMs(const std::vector<int64_t>& us) {
  if (us.empty()) return 0;
  long double sum = 0;
  for (int64_t v : us) sum += v;
  return static_cast<double>(sum / us.size()) / 1000.0;
}

double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

std::string Format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, args);
  va_end(args);
  return out;
}

}  // namespace engram::tools
