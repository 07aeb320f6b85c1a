// engram stats --url http://HOST:PORT: scrapes GET /metrics once and prints
// per-route p50/p95/p99 latency, request and error counts, queue depth and
// webhook_events by status, as a table.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/commands.h"
#include "common/metrics.h"
#include "http/http_connection.h"

namespace engram::cli {
namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// One line of the text exposition format; false for comments and blanks.
bool ParseLine(const std::string& line, Sample* out) {
  if (line.empty() || line[0] == '#') return false;
  size_t brace = line.find('{');
  size_t space = line.rfind(' ');
  if (space == std::string::npos) return false;
  out->labels.clear();
  if (brace != std::string::npos && brace < space) {
    out->name = line.substr(0, brace);
    size_t end = line.find('}', brace);
    std::string body = line.substr(brace + 1, end - brace - 1);
    size_t i = 0;
    while (i < body.size()) {
      size_t eq = body.find('=', i);
      if (eq == std::string::npos) break;
      std::string key = body.substr(i, eq - i);
      size_t q1 = body.find('"', eq);
      std::string value;
      size_t j = q1 + 1;
      for (; j < body.size() && body[j] != '"'; ++j) {
        if (body[j] == '\\' && j + 1 < body.size()) ++j;
        value += body[j];
      }
      out->labels[key] = value;
      i = j + 2;  // past the closing quote and the comma
    }
  } else {
    out->name = line.substr(0, space);
  }
  std::string v = line.substr(space + 1);
  out->value = v == "+Inf" ? 1e300 : std::strtod(v.c_str(), nullptr);
  return true;
}

int Stats(const std::string& url) {
  auto hp = http::ParseHttpUrl(url);
  if (!hp.ok()) {
    std::cerr << "engram stats: " << hp.status().message() << "\n";
    return 2;
  }
  http::HttpConnection conn(hp->first, hp->second, std::chrono::seconds(10));
  // The server's /metrics may want a bearer token (ENGRAM_METRICS_TOKEN).
  std::vector<std::pair<std::string, std::string>> headers;
  if (const char* token = std::getenv("ENGRAM_METRICS_TOKEN"); token && *token) {
    headers.emplace_back("Authorization", std::string("Bearer ") + token);
  }
  auto r = conn.Send("GET", "/metrics", "", headers);
  if (!r.ok() || r->status != 200) {
    std::cerr << "engram stats: cannot read " << url << "/metrics: "
              << (r.ok() ? "HTTP " + std::to_string(r->status) : r.status().ToString())
              << (r.ok() && r->status == 401 ? " (set ENGRAM_METRICS_TOKEN to the server's)" : "")
              << "\n";
    return 1;
  }
  struct Route {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;
    double count = 0, errors = 0, server_errors = 0;
  };
  std::map<std::string, Route> routes;
  std::map<std::string, double> plain;
  std::map<std::string, double> events;
  std::istringstream in(r->body);
  std::string line;
  Sample s;
  while (std::getline(in, line)) {
    if (!ParseLine(line, &s)) continue;
    if (s.name == "engram_http_request_duration_ms_bucket") {
      Route& rt = routes[s.labels["route"]];
      if (s.labels["le"] != "+Inf")
        rt.bounds.push_back(std::strtod(s.labels["le"].c_str(), nullptr));
      rt.cumulative.push_back(static_cast<uint64_t>(s.value));
    } else if (s.name == "engram_http_responses_total") {
      Route& rt = routes[s.labels["route"]];
      int status = std::atoi(s.labels["status"].c_str());
      rt.count += s.value;
      if (status >= 400) rt.errors += s.value;
      if (status >= 500) rt.server_errors += s.value;
    } else if (s.name == "engram_sqlite_bytes") {
      plain[s.name] += s.value;  // the database and its WAL
    } else if (s.name == "engram_webhook_events") {
      events[s.labels["status"]] = s.value;
    } else if (s.labels.empty()) {
      plain[s.name] = s.value;
    }
  }
  std::printf("%-28s %10s %8s %7s %9s %9s %9s\n", "route", "requests", "errors", "err%", "p50 ms",
              "p95 ms", "p99 ms");
  for (const auto& [name, rt] : routes) {
    if (rt.count == 0) continue;
    std::printf("%-28s %10.0f %8.0f %6.2f%% %9.3f %9.3f %9.3f\n", name.c_str(), rt.count, rt.errors,
                100.0 * rt.errors / rt.count,
                metrics::QuantileFromBuckets(rt.bounds, rt.cumulative, 0.50),
                metrics::QuantileFromBuckets(rt.bounds, rt.cumulative, 0.95),
                metrics::QuantileFromBuckets(rt.bounds, rt.cumulative, 0.99));
  }
  std::printf("\nlog head %.0f, applied %.0f, queue depth %.0f events\n", plain["engram_log_head"],
              plain["engram_projection_applied"], plain["engram_projection_lag_events"]);
  std::printf("webhook_events:");
  for (const char* st : {"pending", "done", "failed", "dead"}) {
    std::printf(" %s %.0f", st, events[st]);
  }
  std::printf(
      "\nextraction queue %.0f jobs\nmemories indexed %.0f, event log %.1f MB, read model %.1f "
      "MB\n",
      plain["engram_extraction_queue_depth"], plain["engram_memories_indexed"],
      plain["engram_rocksdb_bytes"] / 1e6, plain["engram_sqlite_bytes"] / 1e6);
  return 0;
}

}  // namespace

void RegisterStats(CLI::App& app, int* exit_code) {
  auto url = std::make_shared<std::string>("http://127.0.0.1:8080");
  auto* cmd = app.add_subcommand("stats", "Print a running server's latency, errors and queue");
  cmd->add_option("--url", *url, "The server")->capture_default_str();
  cmd->callback([url, exit_code] { *exit_code = Stats(*url); });
}

}  // namespace engram::cli
