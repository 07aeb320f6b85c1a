// engram-locomo's shared declarations: flags, the dataset, the target
// server and ingestion. What the tool measures and how: locomo_recall.cc.
// Parts: locomo_recall_dataset.cc (the dataset file and the target URL),
// locomo_recall_ingest.cc (sessions as post-call webhooks).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/http_connection.h"
#include "http/signature.h"

namespace engram::tools::locomo {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using nlohmann::ordered_json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// The cut-offs the protocol reports, and the largest one, which is also the
// limit asked of the memory tool.
inline constexpr std::array<size_t, 3> kCutoffs = {1, 5, 10};
inline constexpr size_t kMaxK = 10;
// Seconds between two turns of a replayed session: the sessions carry no
// timing, and the server only needs it to increase.
inline constexpr int kSecondsPerTurn = 10;
// How often /healthz is polled while waiting for the projection: short
// enough that the per-question settle costs milliseconds, long enough not to
// busy-spin the server.
inline constexpr auto kPollInterval = std::chrono::milliseconds(2);
// How long a server that does not accept connections yet is waited for: it
// opens RocksDB, SQLite and the GloVe file first, which takes a second or two.
inline constexpr auto kStartupGrace = std::chrono::seconds(10);
// Category names by id (README: vendors label the columns differently, so
// reports go by id; the names are only a reading aid).
inline const std::map<int, std::string> kCategoryNames = {
    {1, "multi-hop"}, {2, "temporal"}, {3, "open-domain"}, {4, "single-hop"}};

struct Flags {
  std::string url = "http://127.0.0.1:18300";
  std::string dataset = "/work/shared/datasets/locomo_dev.json";
  std::string webhook_secret;  // default: ENGRAM_WEBHOOK_SECRET
  std::string tool_secret;     // default: ENGRAM_TOOL_SECRET
  std::string tool_secret_header = "X-Engram-Secret";
  std::string id_prefix = "locomo";
  std::vector<std::string> samples;  // empty: all
  bool settle = true;
  bool dedupe = true;
  int passes = 1;
  double deadline_secs = 1200;
  int timeout_ms = 30000;
  std::string dump_path;  // per-question JSON lines, for error analysis
  bool json = false;
};

// ---------------------------------------------------------------------------
// Dataset.

struct Turn {
  std::string speaker;
  std::string dia_id;
  std::string text;
  std::string caption;  // blip_caption, "" when none
};

struct Session {
  int number = 0;
  std::string date_time;
  int64_t start_secs = 0;
  std::vector<Turn> turns;
};

struct Question {
  std::string text;
  int category = 0;
  std::vector<std::string> evidence;  // normalised, valid, unique
};

struct Sample {
  std::string id;
  std::string speaker_a, speaker_b;
  std::vector<Session> sessions;
  std::vector<Question> questions;  // categories 1-4 with valid evidence
  size_t skipped = 0;               // categories 1-4 without valid evidence
  size_t dropped_ids = 0;           // evidence ids that pointed nowhere
};

// The samples of the dataset at `path` (only those named in `only`, unless
// it is empty). NotFound when the file cannot be read or nothing is selected.
Result<std::vector<Sample>> LoadDataset(const std::string& path,
                                        const std::vector<std::string>& only);

// ---------------------------------------------------------------------------
// Target.

struct Target {
  std::string host;
  uint16_t port = 0;
};

// http://HOST:PORT with HOST a loopback literal. Names are refused, even
// "localhost": the tool writes into the server it targets, and a name could
// resolve anywhere.
Result<Target> ParseTarget(const std::string& url);

// ---------------------------------------------------------------------------
// Talking to the server.

class Server {
 public:
  Server(const Target& target, const Flags& flags, Clock::time_point deadline)
      : conn_(target.host, target.port, std::chrono::milliseconds(flags.timeout_ms)),
        flags_(flags),
        deadline_(deadline) {}

  Status CheckDeadline() const {
    if (Clock::now() > deadline_) {
      return Status::Unavailable("deadline of " + std::to_string(flags_.deadline_secs) +
                                 " s passed");
    }
    return Status::Ok();
  }

  // POST /webhook/post-call, signed now. Sets *duplicate for a redelivery.
  Status PostCall(const std::string& body, bool* duplicate) {
    ENGRAM_RETURN_IF_ERROR(CheckDeadline());
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    auto r = conn_.Send(
        "POST", "/webhook/post-call", body,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(flags_.webhook_secret, now, body)},
         {"Content-Type", "application/json"}});
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      return Status::Unavailable("post-call answered " + std::to_string(r->status) + ": " +
                                 r->body);
    }
    json answer = json::parse(r->body, nullptr, false);
    *duplicate = answer.is_object() && answer.value("status", "") == "duplicate";
    return Status::Ok();
  }

  // Waits until every logged event is projected (and the memory index
  // updated). Two consecutive polls must agree: the runner publishes
  // `applied` a moment before it hands its staged index changes over.
  Status WaitForProjection() {
    int agreeing = 0;
    for (;;) {
      ENGRAM_RETURN_IF_ERROR(CheckDeadline());
      auto r = conn_.Send("GET", "/healthz", "");
      if (!r.ok()) return r.status();
      json h = json::parse(r->body, nullptr, false);
      if (r->status != 200 || !h.is_object() || !h.contains("applied")) {
        return Status::Unavailable("/healthz answered " + std::to_string(r->status) + ": " +
                                   r->body);
      }
      if (h.contains("projection_error")) {
        return Status::Unavailable("projection error: " + h["projection_error"].dump());
      }
      if (h.value("applied", uint64_t{0}) >= h.value("log_head", uint64_t{0})) {
        if (++agreeing >= 2) return Status::Ok();
      } else {
        agreeing = 0;
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  // POST /tools/memory-query; the "memories" array of the answer.
  Result<json> Query(const std::string& query, const std::string& user_id, size_t limit) {
    ENGRAM_RETURN_IF_ERROR(CheckDeadline());
    const json body = {{"query", query}, {"user_id", user_id}, {"limit", limit}};
    auto r = conn_.Send(
        "POST", "/tools/memory-query", body.dump(),
        {{flags_.tool_secret_header, flags_.tool_secret}, {"Content-Type", "application/json"}});
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      return Status::Unavailable("memory tool answered " + std::to_string(r->status) + ": " +
                                 r->body);
    }
    json answer = json::parse(r->body, nullptr, false);
    if (!answer.is_object() || !answer.contains("memories") || !answer["memories"].is_array()) {
      return Status::Unavailable("memory tool answer has no memories array: " + r->body);
    }
    return answer["memories"];
  }

 private:
  http::HttpConnection conn_;
  const Flags& flags_;
  Clock::time_point deadline_;
};

// ---------------------------------------------------------------------------
// Ingestion (locomo_recall_ingest.cc).

// The user a speaker of a sample is replayed as.
std::string UserId(const Flags& flags, const Sample& sample, const std::string& speaker);

struct IngestStats {
  size_t conversations = 0;
  size_t duplicates = 0;
  size_t turns = 0;
  double seconds = 0;
  double projection_seconds = 0;
};

// conversation_id -> dia_id by transcript position.
using TurnMap = std::map<std::string, std::vector<std::string>>;

// Sends every session of `samples` once per speaker, then waits for the
// projection; fills *turn_map and *stats.
Status Ingest(Server& server, const Flags& flags, const std::vector<Sample>& samples,
              TurnMap* turn_map, IngestStats* stats);

}  // namespace engram::tools::locomo
