// Alerts fire once, clear once, show on /metrics and reach the webhook.
#include "http/alerts.h"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "http/server.h"

namespace engram::http {
namespace {

using nlohmann::json;

// A local receiver for alert webhooks.
class Receiver {
 public:
  Receiver() {
    ServerOptions o;
    o.port = 0;
    o.handler_threads = 2;
    server_ = std::make_unique<HttpServer>(o, [this](const HttpRequest& r) {
      std::lock_guard lock(mu_);
      received_.push_back(json::parse(r.body));
      return HttpResponse::Json(200, {{"ok", true}});
    });
    EXPECT_TRUE(server_->Start().ok());
  }
  ~Receiver() { server_->Stop(std::chrono::milliseconds(0)); }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/alerts";
  }
  std::vector<json> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<json> received_;
};

TEST(AlertMonitor, FiresOnceClearsOnceAndPostsBoth) {
  Receiver receiver;
  metrics::Registry registry;
  double depth = 0;
  auto client = MakeCurlHttpClient();
  AlertThresholds t;
  t.queue_depth = 100;
  AlertMonitor monitor(registry, {[&] { return depth; }, [] { return 0.0; }}, t, client.get(),
                       receiver.url());
  auto& post_call =
      registry.GetHistogram("engram_http_request_duration_ms",
                            "Server-side latency from request read to response ready, by route",
                            {{"route", "/webhook/post-call"}});

  monitor.EvaluateOnce();
  EXPECT_TRUE(monitor.Firing().empty());
  for (int i = 0; i < 20; ++i) post_call.Observe(120);  // over the 50 ms budget
  depth = 500;
  monitor.EvaluateOnce();
  monitor.EvaluateOnce();  // no new traffic: latency has no evidence, depth still high
  EXPECT_EQ(monitor.Firing(), std::vector<std::string>{"queue_depth"});
  EXPECT_NE(registry.Render().find("engram_alert_firing{alert=\"queue_depth\"} 1"),
            std::string::npos);
  for (int i = 0; i < 20; ++i) post_call.Observe(1);
  depth = 0;
  monitor.EvaluateOnce();
  EXPECT_TRUE(monitor.Firing().empty());

  std::vector<std::string> seen;
  for (const json& j : receiver.received()) {
    seen.push_back(j["alert"].get<std::string>() + ":" + j["state"].get<std::string>());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"post_call_latency:firing", "queue_depth:firing",
                                            "post_call_latency:cleared", "queue_depth:cleared"}));
}

TEST(AlertMonitor, ExtractionFailureShareNeedsEnoughEvidence) {
  metrics::Registry registry;
  AlertMonitor monitor(registry, {[] { return 0.0; }, [] { return 0.0; }}, {}, nullptr, "");
  auto& failed = registry.GetCounter("engram_extractions_total", "Extractions by outcome",
                                     {{"outcome", "failed"}});
  failed.Inc(2);
  monitor.EvaluateOnce();
  EXPECT_TRUE(monitor.Firing().empty()) << "two failures are not enough to judge";
  failed.Inc(8);
  monitor.EvaluateOnce();
  EXPECT_EQ(monitor.Firing(), std::vector<std::string>{"extraction_failures"});
}

}  // namespace
}  // namespace engram::http

namespace engram::http {
namespace {

TEST(AlertMonitor, ProjectionFailuresFireWhileAnyStoredEventIsNotProjected) {
  metrics::Registry registry;
  double failures = 0;
  AlertInputs inputs{[] { return 0.0; }, [] { return 0.0; }};
  inputs.projection_failures = [&] { return failures; };
  AlertMonitor monitor(registry, inputs, {}, nullptr, "");
  monitor.EvaluateOnce();
  EXPECT_TRUE(monitor.Firing().empty());
  failures = 1;
  monitor.EvaluateOnce();
  EXPECT_EQ(monitor.Firing(), std::vector<std::string>{"projection_failures"});
  EXPECT_NE(registry.Render().find("engram_alert_firing{alert=\"projection_failures\"} 1"),
            std::string::npos);
  failures = 0;  // retried successfully
  monitor.EvaluateOnce();
  EXPECT_TRUE(monitor.Firing().empty());
}

}  // namespace
}  // namespace engram::http
