// Services: what request handlers may use. Built once by `engram serve` (or a
// test) and shared by every request; members are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "http/signature.h"
#include "log/event_log.h"
#include "memory/embedder.h"
#include "memory/memory_index.h"
#include "memory/query_cache.h"
#include "memory/recall.h"
#include "memory/summarizer.h"

namespace engram::http {
class Telemetry;
}

namespace engram::projections {
class ProjectorRunner;
class ReadQueries;
}  // namespace engram::projections

namespace engram::http {

struct PostCallConfig {
  std::string webhook_secret;          // ENGRAM_WEBHOOK_SECRET
  bool insecure_no_signature = false;  // accept unsigned post-call webhooks
  bool keep_audio = false;             // keep data.full_audio in the log
  SignaturePolicy signature_policy;
};

// The memory tool and the init webhook (ElevenLabs sends a secret header).
struct ToolConfig {
  std::string secret;  // ENGRAM_TOOL_SECRET
  std::string header = "X-Engram-Secret";
  bool insecure_no_secret = false;  // accept requests without the header
  memory::RecallWeights weights;
  size_t default_limit = 5;
  size_t max_limit = 50;  // bounds the answer the agent's LLM must read
  // Variables every init answer carries, with these defaults, because
  // ElevenLabs requires every variable defined on the agent to be present.
  nlohmann::json extra_dynamic_variables = nlohmann::json::object();
};

// call_sid -> user for calls the init webhook served. Filled at append
// time so a tool call a few milliseconds later finds it; the projector
// writes the same binding to call_bindings for after a restart.
class CallBindings {
 public:
  void Bind(const std::string& call_sid, const std::string& user_id) {
    std::lock_guard lock(mu_);
    // Live calls are few; drop everything rather than grow without bound.
    if (map_.size() >= kMaxEntries) map_.clear();
    map_[call_sid] = user_id;
  }
  std::optional<std::string> Find(const std::string& call_sid) const {
    std::lock_guard lock(mu_);
    auto it = map_.find(call_sid);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

 private:
  static constexpr size_t kMaxEntries = 100'000;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> map_;
};

struct RouteCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};
};

struct Services {
  log::EventLog* log = nullptr;                       // required
  const Clock* clock = nullptr;                       // required
  projections::ProjectorRunner* projector = nullptr;  // optional: health reporting
  PostCallConfig post_call;
  RouteCounters post_call_counters;

  // The memory routes; all required for them, unused by the post-call route.
  projections::ReadQueries* queries = nullptr;
  memory::MemoryIndex* index = nullptr;
  memory::Embedder* embedder = nullptr;
  memory::Summarizer* answer_summarizer = nullptr;  // optional: extractive when null
  memory::RecallCache* recall_cache = nullptr;      // optional
  ToolConfig tools;
  CallBindings bindings;
  RouteCounters tool_counters;
  RouteCounters init_counters;

  Telemetry* telemetry = nullptr;  // optional: GET /metrics answers 404 without it

  // ENGRAM_ADMIN_TOKEN: the /v1/admin routes want `Authorization: Bearer
  // <token>`; empty disables them (404).
  std::string admin_token;
  // POST /v1/admin/read-model/swap: switches to the read model at a path
  // and describes the switch (replay/swap.h); unset: the route answers 404.
  std::function<Result<nlohmann::json>(const std::string& path)> swap_read_model;
  // ENGRAM_METRICS_TOKEN: when set, GET /metrics wants `Authorization:
  // Bearer <token>` (401 otherwise); empty keeps /metrics open, for a
  // scraper on a trusted network.
  std::string metrics_token;
};

}  // namespace engram::http
