// What the route fuzz targets share: one in-process Engram, built once per
// fuzzing process, as `engram serve` assembles it (RocksDB log in a temp
// folder, SQLite read model, memory index, metrics) but with a stand-in
// embedder, so no model file is needed, and no background threads, so every
// input runs alone. Header-only: each target is one executable.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/crypto.h"
#include "http/router.h"
#include "http/telemetry.h"
#include "log/rocksdb_event_log.h"
#include "memory/embedder.h"
#include "memory/memory_index.h"
#include "memory/query_cache.h"
#include "projections/read_model.h"
#include "projections/read_queries.h"

namespace engram::fuzz {

inline constexpr char kToolSecret[] = "tsk_fuzz_0123456789abcdef";
inline constexpr char kAdminToken[] = "adm_fuzz_0123456789abcdef";
inline constexpr char kMetricsToken[] = "met_fuzz_0123456789abcdef";

// Words hashed into 16 dimensions: deterministic, no files.
class HashEmbedder final : public memory::Embedder {
 public:
  std::string ModelId() const override { return "fuzz/hash-16"; }
  int Dimensions() const override { return 16; }
  bool IsDeterministic() const override { return true; }
  Result<std::vector<float>> Embed(std::string_view text) override {
    std::vector<float> v(16, 0.0f);
    uint32_t h = 2166136261u;
    for (char c : text) {
      if (c == ' ') {
        v[h % 16] += 1.0f;
        h = 2166136261u;
      } else {
        h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
      }
    }
    v[h % 16] += 1.0f;
    float norm = 0;
    for (float x : v) norm += x * x;
    for (float& x : v) x /= std::sqrt(norm);
    return v;
  }
};

struct World {
  World() {
    dir =
        (std::filesystem::temp_directory_path() / ("engram-fuzz-world-" + std::to_string(getpid())))
            .string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    log::RocksDbEventLogOptions o;
    o.path = dir + "/log";
    o.sync = false;  // speed: durability is not what these targets check
    log = Must(log::RocksDbEventLog::Open(o, SystemClock::Instance()));
    log_identity = Must(log->Identity());
    (void)Must(projections::OpenReadModel(db_path()));
    queries = Must(projections::ReadQueries::Open(db_path()));
    services.log = log.get();
    services.clock = &SystemClock::Instance();
    services.post_call.insecure_no_signature = true;  // reach the payload parsers
    services.queries = queries.get();
    services.index = &index;
    services.embedder = &embedder;
    services.recall_cache = &recall_cache;
    services.tools.secret = kToolSecret;
    services.telemetry = &telemetry;
    services.admin_token = kAdminToken;
    services.metrics_token = kMetricsToken;
    // Warm up lazily built state (OpenSSL, registries) so one-time
    // allocations are not taken for per-input leaks.
    (void)crypto::Sha256Hex("warm up");
    (void)telemetry.registry().Render();
  }
  ~World() { std::filesystem::remove_all(dir); }

  std::string db_path() const { return dir + "/engram.db"; }

  template <typename T>
  static T Must(Result<T> r) {
    if (!r.ok()) {
      std::fprintf(stderr, "fuzz world: %s\n", r.status().ToString().c_str());
      std::abort();
    }
    return std::move(r).value();
  }

  // HandleRequest as the server runs it: an exception becomes a 500.
  http::HttpResponse Handle(const http::HttpRequest& r) {
    try {
      return http::HandleRequest(r, services);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "handler threw on %s %s: %s\n", r.method.c_str(), r.target.c_str(),
                   e.what());
      std::abort();  // the server would answer 500: a bug either way
    }
  }

  std::string dir;
  std::unique_ptr<log::RocksDbEventLog> log;
  std::string log_identity;
  std::unique_ptr<projections::ReadQueries> queries;
  HashEmbedder embedder;
  memory::MemoryIndex index{16};
  memory::RecallCache recall_cache{1000, std::chrono::seconds(30)};
  http::Telemetry telemetry{/*access_log=*/false};
  http::Services services;
};

}  // namespace engram::fuzz
