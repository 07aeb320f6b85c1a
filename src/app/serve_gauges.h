// The gauges `engram serve` registers on /metrics, read at scrape time.
#pragma once

#include <functional>
#include <string>

#include "common/metrics.h"
#include "http/server.h"
#include "http/services.h"
#include "log/event_log.h"
#include "memory/memory_index.h"
#include "projections/extraction_cache.h"
#include "projections/projector_runner.h"
#include "projections/read_queries.h"

namespace engram::app {

// Size of a file, 0 when missing.
double FileBytes(const std::string& path);

// `log_bytes` is the log's size, published as `log_bytes_metric`.
void RegisterServeGauges(metrics::Registry& r, const log::EventLog& log,
                         const std::string& log_bytes_metric, std::function<double()> log_bytes,
                         const projections::ProjectorRunner& runner,
                         projections::ReadQueries& queries, const memory::MemoryIndex& index,
                         const projections::ExtractionCache& cache, const std::string& data_dir,
                         const http::Services& services);

// The connection and body-budget counters of the HTTP server.
void RegisterServerGauges(metrics::Registry& r, const http::HttpServer& server);

}  // namespace engram::app
