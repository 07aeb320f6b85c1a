// Services: what request handlers may use. Built once by `engram serve` (or a
// test) and shared by every request; members are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "common/label_values.h"
#include "http/request.h"
#include "http/signature.h"
#include "identity/identity_key.h"
#include "log/event_log.h"
#include "memory/embedder.h"
#include "memory/memory_index.h"
#include "memory/query_cache.h"
#include "memory/recall.h"
#include "memory/summarizer.h"

namespace engram::http {
class AuthThrottle;
class Telemetry;
}  // namespace engram::http

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
  // Appends the route may have waiting at once (HandlePostCallAsync); beyond
  // it a post-call gets 503 with Retry-After (ElevenLabs retries). Each
  // holds its body until the fsync, so this bounds that memory beside the
  // server's body budget; far above what one fsync's group commit takes.
  size_t max_pending_appends = 1024;
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
  // Input limits of the two routes (a 400 names the field, a body over the
  // cap is a 413). ElevenLabs sends bodies of a few hundred bytes; these
  // bound what one request can make the server hold, embed and log.
  size_t max_body_bytes = 64 * 1024;
  size_t max_query_bytes = 2000;  // a search phrase the agent's LLM writes
  size_t max_id_bytes = 128;      // user_id, call_sid, caller_id, agent_id, ...
  // Distinct agent label values in /metrics (a deployment has a handful of
  // agents; beyond this they count as "other").
  static constexpr size_t kMaxAgentLabels = 200;
};

// call_sid -> user for calls the init webhook served. Filled at append
// time so a tool call a few milliseconds later finds it; the projector
// writes the same binding to call_bindings, which serves it after a
// restart or an eviction. A binding, once made, holds: Bind never moves a
// call to another user, so memory agrees with the log (which keeps the
// first init of a call_sid and refuses the rest as duplicates).
class CallBindings {
 public:
  // Binds `call_sid` (appended at `seq`) to `user_id` unless it is bound
  // already; returns the user it is bound to. When full, forgets the oldest
  // bindings the projector has written (seq <= `projected`): only those can
  // be found again in the read model.
  std::string Bind(const std::string& call_sid, const std::string& user_id, log::Seq seq,
                   log::Seq projected) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = map_.try_emplace(call_sid, Entry{user_id, seq});
    if (!inserted) return it->second.user_id;
    order_.push_back(call_sid);
    while (map_.size() > kMaxEntries && !order_.empty()) {
      auto oldest = map_.find(order_.front());
      if (oldest != map_.end() && oldest->second.seq > projected) break;
      if (oldest != map_.end()) map_.erase(oldest);
      order_.pop_front();
    }
    return user_id;
  }
  std::optional<std::string> Find(const std::string& call_sid) const {
    std::lock_guard lock(mu_);
    auto it = map_.find(call_sid);
    if (it == map_.end()) return std::nullopt;
    return it->second.user_id;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return map_.size();
  }

  // Live calls are few; beyond this many bindings the oldest projected ones
  // are served from the read model instead.
  static constexpr size_t kMaxEntries = 100'000;

 private:
  struct Entry {
    std::string user_id;
    log::Seq seq = 0;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> map_;
  std::deque<std::string> order_;  // call_sids in binding order
};

// Caller identity and isolation (src/identity, docs/ELEVENLABS.md).
struct IdentityConfig {
  // The installation's identity key, adopted by the log at start. Null when
  // Services are built without it (tests): raw caller ids, unkeyed user
  // ids, no call tokens.
  std::shared_ptr<const identity::IdentityKey> key;
  // Numbers without a leading '+' are read in this region (ISO 3166).
  std::string default_region = "US";
  // --strict-isolation: the memory tool answers only for a user the call is
  // bound to (a call_sid bound by init, or a call_token the init minted).
  bool strict_isolation = false;
};

struct RouteCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};
  // Post-call only: appends waiting for their fsync now, and answers of 503
  // because max_pending_appends were waiting.
  std::atomic<uint64_t> pending_appends{0};
  std::atomic<uint64_t> refused_busy{0};
};

// What /healthz and /metrics say about this node of a deployment.
struct NodeInfo {
  std::string name;        // --node-name (ENGRAM_NODE_NAME), else the host name
  std::string log;         // the event log, e.g. "rocksdb DATA/log", "jetstream nats://..."
  std::string read_model;  // "sqlite DATA/engram.db" or "postgresql" (never the URL's user)
};

// The web console (src/console, a layer above this one, so it is reached
// through this hook): set by the application when ENGRAM_ADMIN_TOKEN is set.
// Unset, every path under /console answers 404 like an unknown route.
struct ConsoleHook {
  // Answers every request for /console or /console/... (any method).
  std::function<HttpResponse(const HttpRequest&)> handle;
  // Headers every /console answer carries (the CSP and its kin), added also
  // to the answers the router makes for these paths (a body over the cap).
  std::vector<std::pair<std::string, std::string>> headers;
  // Largest request body under /console: sign-in, a query, a confirmation.
  uint64_t body_limit = 16 * 1024;
};

struct Services {
  log::EventLog* log = nullptr;  // required
  NodeInfo node;
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

  IdentityConfig identity;
  // Optional: counts 401 answers per source and slows repeated ones.
  AuthThrottle* auth_throttle = nullptr;
  // The agent label of engram_tool_calls_total comes from the request:
  // bounded to ToolConfig::kMaxAgentLabels well-formed values.
  metrics::LabelValues agent_labels{ToolConfig::kMaxAgentLabels};
  // ENGRAM_METRICS_TOKEN: when set, GET /metrics wants `Authorization:
  // Bearer <token>` (401 otherwise); empty keeps /metrics open, for a
  // scraper on a trusted network.
  std::string metrics_token;
  ConsoleHook console;
};

}  // namespace engram::http
