// Telemetry: what `engram serve` reports about itself — per-route latency
// histograms and responses by status on GET /metrics, and one JSON line per
// request on the access log (route, status, latency, seq). Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "common/metrics.h"
#include "http/request.h"

namespace spdlog {
class logger;
}

namespace engram::http {

class Telemetry {
 public:
  // `access_log`: write one JSON line per request to stdout.
  explicit Telemetry(bool access_log);

  metrics::Registry& registry() { return registry_; }
  // Records one answered request.
  void Observe(const HttpRequest& request, const HttpResponse& response, double latency_ms);
  // The route label of a path: the known routes, or "other" (bounded cardinality).
  static std::string RouteLabel(std::string_view path);

 private:
  metrics::Registry registry_;
  std::shared_ptr<spdlog::logger> access_;
};

}  // namespace engram::http
