// GET health?minutes=N: the node as /healthz sees it, the health ring's
// per-route latency and projection-lag series, the alerts firing, and the
// sizes of the log and the read model.
#include "console/api.h"
#include "console/console.h"
#include "http/router.h"

namespace engram::console {
namespace {

using nlohmann::json;

struct AlertText {
  std::string_view name, severity, summary;
};

// What each alert of http/alerts.h means, in a line (docs/OPERATIONS.md).
constexpr AlertText kAlerts[] = {
    {"post_call_latency", "warning", "post-call webhook p95 above its budget"},
    {"tool_latency", "warning", "memory tool p95 above its budget"},
    {"init_latency", "warning", "init webhook p95 above its budget"},
    {"queue_depth", "warning", "events wait to be projected"},
    {"extraction_failures", "warning", "a share of extractions failed"},
    {"wal_size", "warning", "the read model's WAL file is large"},
    {"projection_failures", "critical", "events are stored but not projected"},
    {"auth_failures", "warning", "many failed authentications in the last minute"},
};

json AlertJson(const std::string& name) {
  for (const AlertText& a : kAlerts) {
    if (a.name == name) return {{"name", name}, {"severity", a.severity}, {"summary", a.summary}};
  }
  return {{"name", name}, {"severity", "warning"}, {"summary", name}};
}

}  // namespace

ApiResult ReadHealth(const ApiRequest& request, ApiContext& context) {
  http::Services& services = context.services;
  ENGRAM_ASSIGN_OR_RETURN(size_t minutes,
                          LimitParam(request, "minutes", kHealthDefaultMinutes, kHealthMaxMinutes));
  // /healthz's own answer, whatever its status (503 when the log cannot
  // write: still the node's state).
  json node = json::object();
  if (auto healthz = http::HandleHealthz(request.http, services); healthz.ok()) {
    node = json::parse(healthz->body, nullptr, false);
  }
  const int64_t now_ms = services.clock->NowMicros() / 1000;
  const int64_t since_ms = now_ms - static_cast<int64_t>(minutes) * 60'000;
  json routes = json::object();
  for (const auto& [route, points] : context.ring.Routes(since_ms)) {
    json series = json::array();
    for (const HealthRing::Point& p : points) {
      series.push_back(
          {{"t", p.t_ms}, {"count", p.count}, {"p50", p.p50}, {"p95", p.p95}, {"p99", p.p99}});
    }
    routes[route] = std::move(series);
  }
  json lag = json::array();
  for (const HealthRing::LagPoint& p : context.ring.Lag(since_ms)) {
    lag.push_back({{"t", p.t_ms}, {"events", p.events}});
  }
  json alerts = json::array();
  if (context.inputs.firing_alerts) {
    for (const std::string& name : context.inputs.firing_alerts())
      alerts.push_back(AlertJson(name));
  }
  auto bytes = [](const std::function<double()>& f) {
    return f ? static_cast<int64_t>(f()) : int64_t{0};
  };
  return http::HttpResponse::Json(
      200, {{"node", node},
            {"interval_secs", context.sample_secs},
            {"routes", routes},
            {"projection_lag", lag},
            {"alerts", alerts},
            {"sizes",
             {{"log_bytes", bytes(context.inputs.log_bytes)},
              {"read_model_bytes", bytes(context.inputs.read_model_bytes)}}}});
}

}  // namespace engram::console
