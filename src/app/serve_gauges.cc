// The gauges of `engram serve`, registered by the Application.
#include "app/serve_gauges.h"

#include <filesystem>

namespace engram::app {

double FileBytes(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0.0 : static_cast<double>(n);
}

// What /metrics reads at scrape time, beside the per-request metrics.
void RegisterServeGauges(metrics::Registry& r, const log::EventLog& log,
                         const std::string& log_bytes_metric, std::function<double()> log_bytes,
                         const projections::ProjectorRunner& runner,
                         projections::ReadQueries& queries, const memory::MemoryIndex& index,
                         const projections::ExtractionCache& cache, const std::string& data_dir,
                         const http::Services& services) {
  // Which node this is and what it runs on: one series of value 1 (the
  // backends by kind only; their addresses are in /healthz).
  auto kind = [](const std::string& description) {
    return description.substr(0, description.find(' '));
  };
  r.AddGauge("engram_node_info", "This node: its name and the kinds of its log and read model",
             {{"node", services.node.name},
              {"log", kind(services.node.log)},
              {"read_model", kind(services.node.read_model)}},
             [] { return 1.0; });
  r.AddGauge("engram_log_head", "Highest durable seq in the event log", {},
             [&log] { return static_cast<double>(log.Head()); });
  r.AddGauge("engram_log_writable", "1 while the event log accepts writes, 0 after a failed one",
             {}, [&log] { return log.WriteHealth().ok() ? 1.0 : 0.0; });
  r.AddGauge("engram_projection_applied", "Seq every projector has applied", {},
             [&runner] { return static_cast<double>(runner.Applied()); });
  r.AddGauge("engram_projector_active",
             "1 while this node projects the read model, 0 while it stands by", {},
             [&runner] { return runner.Active() ? 1.0 : 0.0; });
  r.AddGauge("engram_projection_lag_events", "Events appended but not yet projected (queue depth)",
             {}, [&log, &runner] {
               return static_cast<double>(log.Head()) - static_cast<double>(runner.Applied());
             });
  r.AddGauge("engram_projection_failures",
             "Events stored but not projected (engram dead-letters list --projection)", {},
             [&runner] { return static_cast<double>(runner.ProjectionFailures()); });
  for (const char* status : {"pending", "done", "failed", "dead"}) {
    r.AddGauge("engram_webhook_events", "webhook_events rows by status", {{"status", status}},
               [&queries, s = std::string(status)] {
                 auto n = queries.CountWebhookEvents(s);
                 return n.ok() ? static_cast<double>(*n) : -1.0;
               });
  }
  const std::string db = data_dir + "/engram.db";  // the read model (cli/commands.h)
  r.AddGauge("engram_sqlite_bytes", "Read model file sizes", {{"file", "db"}},
             [db] { return FileBytes(db); });
  r.AddGauge("engram_sqlite_bytes", "Read model file sizes", {{"file", "wal"}},
             [db] { return FileBytes(db + "-wal"); });
  r.AddGauge(log_bytes_metric, "Event log size on disk", {}, std::move(log_bytes));
  r.AddGauge("engram_memories_indexed", "Current memories in the in-memory index", {},
             [&index] { return static_cast<double>(index.TotalCount()); });
  r.AddGauge(
      "engram_extraction_cache_total", "Extraction cache lookups", {{"result", "hit"}},
      [&cache] { return static_cast<double>(cache.hits()); }, "counter");
  r.AddGauge(
      "engram_extraction_cache_total", "Extraction cache lookups", {{"result", "miss"}},
      [&cache] { return static_cast<double>(cache.misses()); }, "counter");
  const auto& pc = services.post_call_counters;
  r.AddGauge(
      "engram_post_call_total", "Post-call webhooks by outcome", {{"outcome", "accepted"}},
      [&pc] { return static_cast<double>(pc.accepted.load()); }, "counter");
  r.AddGauge(
      "engram_post_call_total", "Post-call webhooks by outcome", {{"outcome", "duplicate"}},
      [&pc] { return static_cast<double>(pc.duplicates.load()); }, "counter");
  r.AddGauge(
      "engram_post_call_total", "Post-call webhooks by outcome", {{"outcome", "rejected"}},
      [&pc] { return static_cast<double>(pc.rejected.load()); }, "counter");
  r.AddGauge(
      "engram_post_call_total", "Post-call webhooks by outcome", {{"outcome", "busy"}},
      [&pc] { return static_cast<double>(pc.refused_busy.load()); }, "counter");
  r.AddGauge("engram_post_call_appends_pending",
             "Post-call appends waiting for their fsync (bounded by --max-pending-appends)", {},
             [&pc] { return static_cast<double>(pc.pending_appends.load()); });
}

void RegisterServerGauges(metrics::Registry& r, const http::HttpServer& server) {
  r.AddGauge("engram_http_open_connections", "Connections open now (reserve slots included)", {},
             [&server] { return static_cast<double>(server.stats().open_connections); });
  r.AddGauge(
      "engram_http_refused_connections_total",
      "Connections answered 503 and closed at once (connection cap reached, or no descriptors)", {},
      [&server] { return static_cast<double>(server.stats().refused_connections); }, "counter");
  r.AddGauge(
      "engram_http_accept_errors_total", "accept() failures (e.g. out of file descriptors)", {},
      [&server] { return static_cast<double>(server.stats().accept_errors); }, "counter");
  r.AddGauge("engram_http_inflight_body_bytes",
             "Request body bytes reserved from --max-inflight-body-bytes now", {},
             [&server] { return static_cast<double>(server.stats().inflight_body_bytes); });
  r.AddGauge(
      "engram_http_body_budget_refusals_total",
      "Requests answered 503 because --max-inflight-body-bytes was taken", {},
      [&server] { return static_cast<double>(server.stats().body_budget_refusals); }, "counter");
}

}  // namespace engram::app
