#include "http/telemetry.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace engram::http {

namespace {
constexpr std::string_view kRoutes[] = {"/webhook/post-call", "/tools/memory-query",
                                        "/webhook/conversation-init", "/healthz", "/metrics"};
}

Telemetry::Telemetry(bool access_log) {
  if (access_log) {
    access_ = spdlog::get("access");
    if (!access_) {
      access_ = spdlog::stdout_logger_mt("access");
      access_->set_pattern("%v");
    }
  }
}

std::string Telemetry::RouteLabel(std::string_view path) {
  for (std::string_view r : kRoutes) {
    if (r == path) return std::string(r);
  }
  return "other";
}

void Telemetry::Observe(const HttpRequest& request, const HttpResponse& response,
                        double latency_ms) {
  const std::string route = RouteLabel(request.Path());
  registry_
      .GetHistogram("engram_http_request_duration_ms",
                    "Server-side latency from request read to response ready, by route",
                    {{"route", route}})
      .Observe(latency_ms);
  registry_
      .GetCounter("engram_http_responses_total", "Responses by route and HTTP status",
                  {{"route", route}, {"status", std::to_string(response.status)}})
      .Inc();
  if (access_) {
    nlohmann::json line = {{"route", route},
                           {"method", request.method},
                           {"status", response.status},
                           {"latency_ms", std::round(latency_ms * 1000) / 1000},
                           {"remote", request.remote_address}};
    if (response.log_seq) line["seq"] = response.log_seq;
    access_->info(line.dump());
  }
}

}  // namespace engram::http
