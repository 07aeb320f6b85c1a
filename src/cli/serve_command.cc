// engram serve: the HTTP server, the event log and the projectors.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/application.h"
#include "cli/commands.h"
#include "cli/embedder_flags.h"
#include "cli/finite_in.h"
#include "cli/log_backend.h"
#include "common/data_dir_lock.h"
#include "common/json_guard.h"
#include "http/server.h"
#include "identity/caller_ids.h"
#include "log/event_log.h"
#include "memory/recall.h"
#include "memory/use_embedder.h"
#include "nats_log/jetstream_event_log.h"
#include "projections/memory_engine.h"
#include "projections/projector_runner.h"
#include "projections/read_model.h"

namespace engram::cli {
namespace {

struct ServeFlags {
  std::string data_dir = "./data";
  LogFlags log;            // --log, --log-replicas (cli/log_backend.h)
  std::string read_model;  // --read-model: a postgresql:// URL; empty: DATA_DIR/engram.db
  std::string node_name;   // --node-name (ENGRAM_NODE_NAME): "" for the host name
  std::string listen = "127.0.0.1:8080";
  bool insecure_no_signature = false;
  bool keep_audio = false;
  uint64_t max_body_bytes = 64ull << 20;
  int read_timeout_secs = 30;
  int handler_threads = 64;
  size_t max_pending_appends = 1024;
  int64_t log_defer_ms = 5;
  int io_threads = 2;
  int projector_nice = 10;
  size_t learning_state_memories = projections::kMaxLearningMemories;
  int64_t jobs_ack_wait_ms = 30'000;  // --jobs-ack-wait-ms, with --log nats://
  bool insecure_no_tool_secret = false;
  std::string tool_secret_header = "X-Engram-Secret";
  std::string embeddings;
  EmbedderFlags embedder;
  bool lexical_weight_given = false;  // else the embedder's own default applies
  std::string dynamic_variables_file;
  memory::RecallWeights weights;
  bool access_log = true;
  http::AlertThresholds alerts;
  projections::ExtractionWorkerOptions extraction;
  // Caller identity and isolation (src/identity).
  bool strict_isolation = false;
  std::string default_region = "US";
  std::string master_key_file;  // --master-key-file (src/keys/master_key.h)
  size_t max_connections = 4096;
  uint64_t max_inflight_body_bytes = 256ull << 20;
  console::ConsoleOptions console;  // --console-* (with ENGRAM_ADMIN_TOKEN)
};

// Secrets shorter than this fall to guessing; refuse them at start.
constexpr size_t kMinSecretLength = 16;

// Exit code 2 with a message when one of the secrets is set but too short.
bool SecretsLongEnough() {
  bool ok = true;
  for (const char* name : {"ENGRAM_WEBHOOK_SECRET", "ENGRAM_TOOL_SECRET", "ENGRAM_ADMIN_TOKEN",
                           "ENGRAM_METRICS_TOKEN"}) {
    const char* value = std::getenv(name);
    const size_t length = value ? std::strlen(value) : 0;
    if (length > 0 && length < kMinSecretLength) {
      spdlog::critical(
          "{} is {} characters long: refusing to start. Secrets must have at least {} "
          "characters; make one with `openssl rand -hex 32`.",
          name, length, kMinSecretLength);
      ok = false;
    }
  }
  return ok;
}

// {"name": default, ...} from a JSON file: the variables the agent defines.
Result<nlohmann::json> LoadDynamicVariables(const std::string& path) {
  if (path.empty()) return nlohmann::json::object();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  ENGRAM_ASSIGN_OR_RETURN(nlohmann::json j, ParseJsonGuarded(text.str(), {.what = path}));
  if (!j.is_object()) {
    return Status::InvalidArgument(path + " must hold a JSON object {name: default value}");
  }
  for (const auto& [k, v] : j.items()) {
    if (k.starts_with("system__")) return Status::InvalidArgument("variable " + k + " is reserved");
    if (!(v.is_string() || v.is_number() || v.is_boolean())) {
      return Status::InvalidArgument("variable " + k + " must be a string, number or boolean");
    }
  }
  return j;
}

int Serve(const ServeFlags& flags) {
  if (!SecretsLongEnough()) return 2;
  const char* secret_env = std::getenv("ENGRAM_WEBHOOK_SECRET");
  std::string secret = secret_env ? secret_env : "";
  if (secret.empty() && !flags.insecure_no_signature) {
    spdlog::critical(
        "ENGRAM_WEBHOOK_SECRET is not set: refusing to start. Set it to the HMAC secret of "
        "the ElevenLabs post-call webhook, or pass --insecure-no-signature for local use.");
    return 2;
  }
  const char* tool_secret_env = std::getenv("ENGRAM_TOOL_SECRET");
  std::string tool_secret = tool_secret_env ? tool_secret_env : "";
  if (tool_secret.empty() && !flags.insecure_no_tool_secret) {
    spdlog::critical(
        "ENGRAM_TOOL_SECRET is not set: refusing to start. Set it to the value ElevenLabs sends "
        "in the {} header of the memory tool and init webhook, or pass "
        "--insecure-no-tool-secret for local use.",
        flags.tool_secret_header);
    return 2;
  }
  if (flags.insecure_no_tool_secret) {
    spdlog::warn(
        "*** --insecure-no-tool-secret: the memory tool and init webhook accept "
        "requests without {}. ***",
        flags.tool_secret_header);
  }
  auto extra_vars = LoadDynamicVariables(flags.dynamic_variables_file);
  if (!extra_vars.ok()) {
    spdlog::critical("--dynamic-variables: {}", extra_vars.status().ToString());
    return 2;
  }
  if (flags.insecure_no_signature) {
    spdlog::warn(
        "*** --insecure-no-signature: post-call webhooks are accepted WITHOUT "
        "signature checks. Anyone who can reach this port can write to the log. ***");
  }
  auto colon = flags.listen.rfind(':');
  if (colon == std::string::npos) {
    spdlog::critical("--listen wants HOST:PORT, got {}", flags.listen);
    return 2;
  }
  http::ServerOptions server_options;
  server_options.host = flags.listen.substr(0, colon);
  try {
    server_options.port = static_cast<uint16_t>(std::stoi(flags.listen.substr(colon + 1)));
  } catch (const std::exception&) {
    spdlog::critical("--listen wants HOST:PORT, got {}", flags.listen);
    return 2;
  }
  server_options.body_limit = flags.max_body_bytes;
  server_options.read_timeout = std::chrono::seconds(flags.read_timeout_secs);
  server_options.handler_threads = flags.handler_threads;
  server_options.io_threads = flags.io_threads;
  server_options.max_connections = flags.max_connections;
  server_options.max_inflight_body_bytes = flags.max_inflight_body_bytes;
  if (flags.max_inflight_body_bytes != 0 && flags.max_inflight_body_bytes < flags.max_body_bytes) {
    spdlog::warn(
        "--max-inflight-body-bytes {} is below --max-body-bytes {}: a body larger than the "
        "budget is always answered 503",
        flags.max_inflight_body_bytes, flags.max_body_bytes);
  }

  // Block the stop signals before starting threads, so they all inherit the
  // mask and sigwait below is the only place they arrive.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (!MakeDataDirPrivateOrSay(flags.data_dir)) return 1;
  // The log, the read model and the cache all write here; a read-only folder
  // would otherwise surface as whichever SQLite or RocksDB error comes first.
  if (access(flags.data_dir.c_str(), W_OK) != 0) {
    spdlog::critical("data dir {} is not writable: {}", flags.data_dir,
                     std::error_code(errno, std::generic_category()).message());
    return 1;
  }
  // Ours, before anything opens: a second writer on this folder loses
  // acknowledged events, whatever happened to RocksDB's own LOCK file.
  auto data_dir_lock = DataDirLock::Acquire(flags.data_dir, "engram serve");
  if (!data_dir_lock.ok()) {
    spdlog::critical("{}", data_dir_lock.status().message());
    return 1;
  }
  app::ApplicationOptions options;
  options.data_dir = flags.data_dir;
  options.read_model = flags.read_model;
  options.node_name = flags.node_name;
  if (!flags.log.log.empty()) {
    options.open_log = [&flags] {
      return OpenServeLog(flags.log, flags.data_dir, SystemClock::Instance());
    };
  }
  options.server = server_options;
  options.access_log = flags.access_log;
  options.webhook_secret = secret;
  options.insecure_no_signature = flags.insecure_no_signature;
  options.keep_audio = flags.keep_audio;
  options.max_pending_appends = flags.max_pending_appends;
  options.log_defer = std::chrono::milliseconds(flags.log_defer_ms);
  options.tool_secret = tool_secret;
  options.tool_secret_header = flags.tool_secret_header;
  options.insecure_no_tool_secret = flags.insecure_no_tool_secret;
  options.extra_dynamic_variables = *extra_vars;
  options.weights = flags.weights;
  if (const char* admin = std::getenv("ENGRAM_ADMIN_TOKEN")) options.admin_token = admin;
  if (const char* m = std::getenv("ENGRAM_METRICS_TOKEN")) options.metrics_token = m;
  options.console = flags.console;
  options.alerts = flags.alerts;
  if (const char* url = std::getenv("ENGRAM_ALERT_WEBHOOK_URL")) options.alert_webhook_url = url;
  options.extraction = flags.extraction;
  options.projector_nice = flags.projector_nice;
  options.learning_state_memories = flags.learning_state_memories;
  if (!flags.log.log.empty()) {
    // The log's servers carry the extraction queue too (docs/CLUSTER.md).
    auto urls = nats_log::ParseNatsUrls(flags.log.log);
    if (urls.ok()) options.job_queue.urls = *urls;  // checked when the flag was parsed
    options.job_queue.replicas = flags.log.replicas;
    options.job_queue.ack_wait = std::chrono::milliseconds(flags.jobs_ack_wait_ms);
  }
  options.strict_isolation = flags.strict_isolation;
  options.default_region = flags.default_region;
  options.master_key_file = flags.master_key_file;
  options.engine = projections::MemoryEngineOptionsFromEnv();
  if (!flags.embeddings.empty()) options.engine.embeddings_path = flags.embeddings;
  ApplyEmbedderFlags(flags.embedder, options.engine);
  options.engine.cache_path = flags.data_dir + "/cache.db";
  if (options.engine.embedder == "use" && !flags.lexical_weight_given) {
    options.weights.hybrid.lexical = memory::kUseLexicalWeight;
  }
  app::StartupError failure;
  std::unique_ptr<app::Application> application = app::Application::Open(options, &failure);
  if (!application) {
    spdlog::critical("{}", failure.setting ? failure.status.message() : failure.status.ToString());
    return failure.setting ? 2 : 1;
  }
  if (Status started = application->Start(); !started.ok()) {
    spdlog::critical("{}", started.ToString());
    return 1;
  }
  data_dir_lock->RecordHolder();  // only now: a refused start leaves the folder as it was
  spdlog::info("engram listening on {}:{} (data dir {}, log {}, head {})", server_options.host,
               application->port(), flags.data_dir, application->stored_log().description,
               application->log().Head());

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  application->Stop();
  spdlog::info("stopped at log head {}, applied {}", application->log().Head(),
               application->runner().Applied());
  return 0;
}

}  // namespace

void RegisterServe(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand("serve", "Run the HTTP server (webhooks, memory tool)");
  cmd->add_option("--data-dir", flags->data_dir, "Folder for the event log and read model")
      ->capture_default_str();
  AddLogFlags(*cmd, flags->log);
  cmd->add_option("--node-name", flags->node_name,
                  "How /healthz and /metrics name this node (default: the host name)")
      ->envname("ENGRAM_NODE_NAME")
      ->check([](const std::string& name) -> std::string {
        // A metrics label and a JSON field: short and printable.
        if (name.empty() || name.size() > 64) return "wants 1 to 64 characters";
        for (unsigned char c : name) {
          if (c < 0x20 || c == 0x7F) return "holds a control character";
        }
        return "";
      });
  cmd->add_option("--read-model", flags->read_model,
                  "postgresql://USER@HOST:PORT/DB: keep the read model in PostgreSQL, shared "
                  "by several nodes (one projects at a time); default: DATA_DIR/engram.db")
      ->check([](const std::string& url) {
        return projections::IsReadModelUrl(url) ? "" : "wants postgresql://USER@HOST:PORT/DB";
      });
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on")->capture_default_str();
  cmd->add_flag("--insecure-no-signature", flags->insecure_no_signature,
                "Accept post-call webhooks without ElevenLabs-Signature (local use only)");
  cmd->add_flag("--keep-audio", flags->keep_audio,
                "Keep post_call_audio's base64 audio in the log (default: keep size and SHA-256)");
  cmd->add_option("--max-body-bytes", flags->max_body_bytes, "Largest request body accepted")
      ->capture_default_str();
  cmd->add_option("--read-timeout-secs", flags->read_timeout_secs,
                  "Time allowed to receive one request")
      ->capture_default_str();
  cmd->add_option("--handler-threads", flags->handler_threads,
                  "Threads for the routes that may block (memory tool, init, admin); "
                  "post-calls hold no thread while their append waits for its fsync")
      ->capture_default_str();
  cmd->add_option("--max-pending-appends", flags->max_pending_appends,
                  "Post-call appends waiting for their fsync at once; beyond, 503 with "
                  "Retry-After")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--log-defer-ms", flags->log_defer_ms,
                  "Longest an extraction outcome waits to share the fsync of a request's "
                  "append while requests flow (0: never; RocksDB log only)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000}))
      ->capture_default_str();
  cmd->add_option("--io-threads", flags->io_threads, "Network threads")->capture_default_str();
  cmd->add_option("--max-connections", flags->max_connections,
                  "Connections served at once (lowered to fit RLIMIT_NOFILE); beyond it new "
                  "connections get 503")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  cmd->add_option("--max-inflight-body-bytes", flags->max_inflight_body_bytes,
                  "Request body bytes held at once by all requests; beyond it 503 with "
                  "Retry-After (0: no budget)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 40));
  cmd->add_flag("--insecure-no-tool-secret", flags->insecure_no_tool_secret,
                "Accept memory-tool and init requests without the secret header (local use only)");
  cmd->add_option("--tool-secret-header", flags->tool_secret_header,
                  "Header carrying ENGRAM_TOOL_SECRET")
      ->capture_default_str();
  cmd->add_option("--embeddings", flags->embeddings,
                  "GloVe file made by engram-convert-glove (default: models/glove-100d.bin "
                  "beside the binary, or ENGRAM_EMBEDDINGS)");
  AddEmbedderFlags(*cmd, flags->embedder);
  cmd->add_option("--dynamic-variables", flags->dynamic_variables_file,
                  "JSON file {name: default}: extra variables every init answer carries");
  auto& w = flags->weights;
  // Recall weights: finite (CLI::Range lets NaN through, and one NaN weight
  // makes every score NaN) and within bounds.
  const CLI::Validator weight = FiniteIn(0, 100);
  cmd->add_option("--weight-similarity", w.similarity, "Composite score: similarity weight")
      ->check(weight)
      ->capture_default_str();
  cmd->add_option("--weight-salience", w.salience, "Composite score: salience weight")
      ->check(weight)
      ->capture_default_str();
  cmd->add_option("--weight-recency", w.recency, "Composite score: recency weight")
      ->check(weight)
      ->capture_default_str();
  cmd->add_option("--weight-link", w.link, "Composite score: waypoint link weight")
      ->check(weight)
      ->capture_default_str();
  cmd->add_option("--lexical-weight", w.hybrid.lexical,
                  "Similarity: weight of the BM25 score (normalised by the query's best; 0.5 "
                  "with --embedder use unless given)")
      ->check(weight)
      ->capture_default_str();
  cmd->add_option("--dense-weight", w.hybrid.dense, "Similarity: weight of the dense cosine")
      ->check(weight)
      ->capture_default_str();
  cmd->add_option("--expansion-weight", w.expansion.weight,
                  "Query expansion: BM25 weight of a word's nearest neighbours, times their "
                  "cosine (0: off; needs word vectors, i.e. GloVe)")
      ->check(FiniteIn(0, 1))
      ->capture_default_str();
  cmd->add_option("--expansion-neighbours", w.expansion.per_word,
                  "Query expansion: neighbours per query word")
      ->check(CLI::Range(0, 20))
      ->capture_default_str();
  cmd->add_option("--expansion-min-cosine", w.expansion.min_cosine,
                  "Query expansion: least cosine of a neighbour to the query word")
      ->check(FiniteIn(0, 1))
      ->capture_default_str();
  cmd->add_option("--expansion-min-rank", w.expansion.min_rank,
                  "Query expansion: only words rarer than this many most frequent ones")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--recency-half-life-days", w.recency_half_life_days,
                  "Recency halves every this many days")
      ->check(FiniteIn(0.001, 36500))
      ->capture_default_str();
  cmd->add_option("--access-log", flags->access_log,
                  "One JSON line per request on stdout (route, status, latency, seq)")
      ->capture_default_str();
  cmd->add_option("--alert-post-call-p95-ms", flags->alerts.post_call_p95_ms,
                  "Alert when the post-call p95 over a 5 s window exceeds this")
      ->capture_default_str();
  cmd->add_option("--alert-tool-p95-ms", flags->alerts.tool_p95_ms, "Alert: memory tool p95")
      ->capture_default_str();
  cmd->add_option("--alert-init-p95-ms", flags->alerts.init_p95_ms, "Alert: init webhook p95")
      ->capture_default_str();
  cmd->add_option("--alert-queue-depth", flags->alerts.queue_depth,
                  "Alert when this many events wait to be projected")
      ->capture_default_str();
  cmd->add_option("--alert-extraction-failure-share", flags->alerts.extraction_failure_share,
                  "Alert when this share of extractions fails over a window")
      ->capture_default_str();
  cmd->add_option("--alert-wal-bytes", flags->alerts.wal_bytes,
                  "Alert when the read model's WAL file grows past this")
      ->capture_default_str();
  cmd->add_option("--alert-projection-failures", flags->alerts.projection_failures,
                  "Alert when more events than this failed projection")
      ->capture_default_str();
  cmd->add_option("--alert-auth-failures-per-min", flags->alerts.auth_failures_per_min,
                  "Alert when more authentications than this fail within a minute")
      ->capture_default_str();
  auto& x = flags->extraction;
  cmd->add_option("--extraction-workers", x.workers,
                  "Extraction threads (jobs of one caller run in order, one at a time)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--extraction-attempts", x.max_attempts,
                  "Attempts per extraction before it becomes a dead letter")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_option_function<int64_t>(
         "--extraction-backoff-base-ms",
         [&x](int64_t ms) { x.backoff_base = std::chrono::milliseconds(ms); },
         "First retry delay; doubles per attempt, jittered into [d/2, d] (default 1000)")
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));
  cmd->add_option_function<int64_t>(
         "--extraction-backoff-cap-ms",
         [&x](int64_t ms) { x.backoff_cap = std::chrono::milliseconds(ms); },
         "Longest retry delay (default 60000)")
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));
  cmd->add_option("--jobs-ack-wait-ms", flags->jobs_ack_wait_ms,
                  "With --log nats://: how long a job whose node died waits before another node "
                  "takes it (set when the first node makes the queue)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1'000}, int64_t{3'600'000}));
  cmd->add_option("--learning-state-memories", flags->learning_state_memories,
                  "Memories the projector keeps in its per-caller learning states, in all "
                  "(least recently learnt callers dropped first; ~3 KB each)")
      ->check(CLI::Range(size_t{1}, size_t{100'000'000}))
      ->capture_default_str();
  cmd->add_option("--projector-nice", flags->projector_nice,
                  "Niceness of the projector and extraction threads (0-19; higher yields more "
                  "CPU to requests)")
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  cmd->add_flag("--strict-isolation", flags->strict_isolation,
                "Memory tool: answer only for a user the call is bound to (the call_sid the "
                "init webhook bound, or the call_token it handed the agent); refuse otherwise");
  cmd->add_option("--default-region", flags->default_region,
                  "Region (ISO 3166, e.g. US, GB) for caller numbers without a leading '+'; "
                  "fixed once the log records it")
      ->capture_default_str();
  cmd->add_option("--master-key-file", flags->master_key_file,
                  "File with the master key that wraps the caller keys (default: "
                  "ENGRAM_MASTER_KEY, else DATA_DIR/master.key, made at first start)");
  cmd->add_option("--console-session-minutes", flags->console.session_minutes,
                  "Web console (/console/, with ENGRAM_ADMIN_TOKEN): minutes a sign-in lasts")
      ->envname("ENGRAM_CONSOLE_SESSION_MINUTES")
      ->check(CLI::Range(int64_t{1}, int64_t{7 * 24 * 60}))
      ->capture_default_str();
  cmd->add_flag("--console-secure-cookie", flags->console.secure_cookie,
                "Web console: always mark the session cookie Secure (behind a TLS proxy that "
                "sends no X-Forwarded-Proto)")
      ->envname("ENGRAM_CONSOLE_SECURE_COOKIE");
  // Tests: the health ring's interval, so a test need not wait 10 s.
  // Hidden (group ""), so CLI11 leaves the name out of its messages: the
  // check names it.
  cmd->add_option("--console-sample-secs", flags->console.sample_secs)
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            return CLI::Range(1, 60)(value).empty() ? "" : "--console-sample-secs wants 1 to 60";
          },
          "1-60"))
      ->group("");
  cmd->callback([flags, exit_code, cmd] {
    flags->lexical_weight_given = cmd->count("--lexical-weight") > 0;
    *exit_code = Serve(*flags);
  });
}

}  // namespace engram::cli
