// engram dead-letters list [--projection] | retry SEQ | retry --all
//
// list reads the read model (read-only; works while the server runs): the
// dead letters, then the events whose projection failed (--projection: only
// those). retry appends extraction_requeued events for dead letters and a
// projection_retry_requested event for failed projections:
//   - with --url, through the running server's admin API (ENGRAM_ADMIN_TOKEN);
//   - without, straight into the log of --data-dir, which only works while
//     the server is stopped (RocksDB allows one writer); the next
//     `engram serve` extracts them.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/data_dir_lock.h"
#include "common/json_guard.h"
#include "http_client/http_client.h"
#include "log/rocksdb_event_log.h"
#include "projections/dead_letters.h"
#include "projections/pg_db.h"
#include "projections/projection_failures.h"
#include "projections/read_model.h"
#include "projections/sqlite_db.h"

namespace engram::cli {
namespace {

using nlohmann::json;

struct DeadLetterFlags {
  std::string data_dir = "./data";
  std::string url;         // retry through a running server
  std::string read_model;  // list: a cluster's postgresql:// read model
  bool json_output = false;
  bool all = false;
  int64_t seq = 0;
  bool projection = false;  // list: only the failed projections
};

// The events whose projection failed, as a table (nothing when none).
void PrintProjectionFailures(const std::vector<projections::ProjectionFailure>& failed) {
  if (failed.empty()) return;
  std::printf("%-8s %-24s %-36s %8s  %s\n", "SEQ", "TYPE", "CONVERSATION", "ATTEMPTS",
              "LAST ERROR");
  for (const auto& f : failed) {
    std::printf("%-8llu %-24s %-36s %8lld  %s\n", static_cast<unsigned long long>(f.seq),
                f.type.c_str(), f.conversation_id.c_str(), static_cast<long long>(f.attempts),
                f.last_error.c_str());
  }
  std::printf(
      "%zu event(s) failed projection; after a fix, re-project with `engram dead-letters "
      "retry SEQ` or `--all`\n",
      failed.size());
}

Result<std::unique_ptr<projections::SqliteDb>> OpenReadModelReadOnly(const std::string& data_dir) {
  auto db =
      projections::SqliteDb::Open(ReadModelPath(data_dir), projections::SqliteDb::Mode::kReadOnly);
  if (!db.ok()) {
    return Status(db.status().code(),
                  "cannot read " + ReadModelPath(data_dir) + ": " + db.status().message());
  }
  return db;
}

// DATA_DIR's SQLite read model, or the cluster's PostgreSQL one.
Result<std::unique_ptr<projections::ReadModelDb>> OpenListed(const DeadLetterFlags& flags) {
  if (flags.read_model.empty()) {
    ENGRAM_ASSIGN_OR_RETURN(auto db, OpenReadModelReadOnly(flags.data_dir));
    return std::unique_ptr<projections::ReadModelDb>(std::move(db));
  }
  if (!projections::PgDb::IsUrl(flags.read_model)) {
    return Status::InvalidArgument("--read-model takes a postgresql:// URL");
  }
  return projections::OpenReadModelReadOnly(flags.read_model);
}

int List(const DeadLetterFlags& flags) {
  auto db = OpenListed(flags);
  if (!db.ok()) {
    std::cerr << "engram dead-letters: " << db.status().ToString() << "\n";
    return 1;
  }
  auto dead = projections::ListDeadLetters(**db);
  auto failed = projections::ListProjectionFailures(**db);
  if (!dead.ok() || !failed.ok()) {
    std::cerr << "engram dead-letters: " << (dead.ok() ? failed.status() : dead.status()).ToString()
              << "\n";
    return 1;
  }
  if (flags.projection) {
    if (flags.json_output) {
      json out = json::array();
      for (const auto& f : *failed) out.push_back(projections::ToJson(f));
      std::cout << out.dump(2) << "\n";
    } else if (failed->empty()) {
      std::cout << "no failed projections\n";
    } else {
      PrintProjectionFailures(*failed);
    }
    return 0;
  }
  if (flags.json_output) {
    json out = json::array();
    for (const auto& d : *dead) out.push_back(projections::ToJson(d));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (dead->empty()) {
    std::cout << "no dead letters\n";
    PrintProjectionFailures(*failed);
    return 0;
  }
  std::printf("%-8s %-36s %-16s %8s  %s\n", "SEQ", "CONVERSATION", "USER", "ATTEMPTS",
              "LAST ERROR");
  for (const auto& d : *dead) {
    std::printf("%-8llu %-36s %-16s %8lld  %s\n", static_cast<unsigned long long>(d.seq),
                d.conversation_id.c_str(), d.user_id.c_str(), static_cast<long long>(d.attempts),
                d.last_error.c_str());
  }
  std::printf("%zu dead letter(s); retry with `engram dead-letters retry SEQ` or `--all`\n",
              dead->size());
  PrintProjectionFailures(*failed);
  return 0;
}

int RetryThroughServer(const DeadLetterFlags& flags) {
  const char* token = std::getenv("ENGRAM_ADMIN_TOKEN");
  if (!token || !*token) {
    std::cerr << "engram dead-letters: set ENGRAM_ADMIN_TOKEN to the server's admin token\n";
    return 2;
  }
  auto client = http::MakeCurlHttpClient();
  http::OutboundRequest request;
  request.url = flags.url;
  while (!request.url.empty() && request.url.back() == '/') request.url.pop_back();
  request.url.append("/v1/admin/dead-letters/retry");
  std::string auth = "Bearer ";
  auth.append(token);
  request.headers = {{"Authorization", auth}, {"Content-Type", "application/json"}};
  request.body = flags.all ? json({{"all", true}}).dump() : json({{"seq", flags.seq}}).dump();
  auto response = client->Send(request);
  if (!response.ok()) {
    std::cerr << "engram dead-letters: " << request.url << ": " << response.status().ToString()
              << "\n";
    return 1;
  }
  json body = ParseOrDiscarded(response->body, AnswerLimits());
  if (response->status != 200) {
    std::cerr << "engram dead-letters: HTTP " << response->status << ": "
              << (body.is_object() ? body.value("error", response->body) : response->body) << "\n";
    return 1;
  }
  std::cout << "requeued " << body.value("requeued", json::array()).dump() << ", re-projecting "
            << body.value("reprojected", json::array()).dump() << "\n";
  return 0;
}

int RetryOffline(const DeadLetterFlags& flags) {
  log::RocksDbEventLogOptions options;
  options.path = LogDir(flags.data_dir);
  if (!std::filesystem::exists(options.path)) {
    std::cerr << "engram dead-letters: no event log at " << options.path << "\n";
    return 1;
  }
  // Ours first: refuses while `engram serve` runs, whatever RocksDB's LOCK says.
  auto lock = DataDirLock::Acquire(flags.data_dir, "engram dead-letters retry");
  if (!lock.ok()) {
    std::cerr << "engram dead-letters: " << lock.status().message()
              << ".\nRetry through the running server: --url http://HOST:PORT with "
                 "ENGRAM_ADMIN_TOKEN set.\n";
    return 1;
  }
  lock->RecordHolder();

  auto log = log::RocksDbEventLog::Open(options, SystemClock::Instance());
  if (!log.ok()) {
    std::cerr << "engram dead-letters: cannot open the log at " << options.path << " ("
              << log.status().ToString()
              << ").\nIf `engram serve` is running on this data dir, retry through it: "
                 "--url http://HOST:PORT with ENGRAM_ADMIN_TOKEN set.\n";
    return 1;
  }
  auto db = OpenReadModelReadOnly(flags.data_dir);
  if (!db.ok()) {
    std::cerr << "engram dead-letters: " << db.status().ToString() << "\n";
    return 1;
  }
  std::optional<log::Seq> only;
  if (!flags.all) only = static_cast<log::Seq>(flags.seq);
  auto retried = projections::RetryFailed(**db, **log, only, "cli");
  if (!retried.ok()) {
    std::cerr << "engram dead-letters: " << retried.status().ToString() << "\n";
    return 1;
  }
  std::cout << "requeued " << (*retried)["requeued"].dump() << ", re-projecting "
            << (*retried)["reprojected"].dump() << "; `engram serve` applies them when it starts\n";
  return 0;
}

}  // namespace

void RegisterDeadLetters(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<DeadLetterFlags>();
  auto* cmd =
      app.add_subcommand("dead-letters",
                         "Transcripts whose extraction failed every attempt, and events whose "
                         "projection failed");
  cmd->require_subcommand(1);
  auto* list = cmd->add_subcommand("list", "List dead letters (reads the read model)");
  list->add_option("--data-dir", flags->data_dir, "The server's data dir")->capture_default_str();
  list->add_flag("--json", flags->json_output, "JSON instead of a table");
  list->add_option("--read-model", flags->read_model,
                   "A cluster's read model (postgresql://USER@HOST:PORT/DB) instead of "
                   "DATA_DIR's");
  list->add_flag("--projection", flags->projection,
                 "Only the events whose projection failed (stored, not projected)");
  list->callback([flags, exit_code] { *exit_code = List(*flags); });

  auto* retry = cmd->add_subcommand(
      "retry", "Queue dead letters for extraction again, re-project failed projections");
  retry->add_option("seq", flags->seq, "A dead letter's or failed projection's seq (`list`)");
  retry->add_flag("--all", flags->all, "Every dead letter and failed projection");
  retry->add_option("--data-dir", flags->data_dir, "The server's data dir (server stopped)")
      ->capture_default_str();
  retry->add_option("--url", flags->url,
                    "A running server (http://HOST:PORT); uses ENGRAM_ADMIN_TOKEN");
  retry->callback([flags, exit_code] {
    if (flags->all == (flags->seq > 0)) {
      std::cerr << "engram dead-letters retry: give one SEQ or --all\n";
      *exit_code = 2;
      return;
    }
    *exit_code = flags->url.empty() ? RetryOffline(*flags) : RetryThroughServer(*flags);
  });
}

}  // namespace engram::cli
