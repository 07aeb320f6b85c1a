// engram replay: rebuild the read model from the log; --verify compares.
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/embedder_flags.h"
#include "cli/keyed_log.h"
#include "cli/log_backend.h"
#include "common/data_dir_lock.h"
#include "common/json_guard.h"
#include "http_client/http_client.h"
#include "identity/identity_scheme.h"
#include "log/rocksdb_event_log.h"
#include "projections/memory_engine.h"
#include "projections/sqlite_db.h"
#include "replay/memory_diff.h"
#include "replay/rebuild.h"
#include "replay/replay_origin.h"
#include "replay/swap.h"

namespace engram::cli {
namespace {

struct ReplayFlags {
  std::string data_dir = "./data";
  std::string out;
  bool verify = false;
  bool force = false;
  bool re_extract = false;
  std::string config;  // re-extract with these settings
  std::string embeddings;
  std::string master_key_file;
  std::string read_model;  // --verify against this PostgreSQL read model
  EmbedderFlags embedder;  // as for engram serve
  LogFlags log;            // --log: the JetStream stream instead of DATA_DIR/log
};

// A progress line on a terminal: events done of total, rate, time left.
replay::ProgressFn TerminalProgress() {
  if (!isatty(STDERR_FILENO)) return {};
  auto start = std::chrono::steady_clock::now();
  return [start](log::Seq done, log::Seq total) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double rate = secs > 0 ? done / secs : 0;
    double left = rate > 0 ? (total - done) / rate : 0;
    std::fprintf(stderr, "\rreplay: %llu/%llu events, %.0f/s, %.0fs left   ",
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                 rate, left);
    if (done >= total) std::fprintf(stderr, "\n");
  };
}

Status Stamp(const OpenedLog& log, const std::string& out, log::Seq applied) {
  ENGRAM_ASSIGN_OR_RETURN(std::string identity, log.identity());
  return replay::StampReplayOrigin(out, identity, applied);
}

// DATA_DIR/log as a follower (so this works while `engram serve` holds
// it), or the JetStream stream --log names.
Result<OpenedLog> OpenReplayLog(const ReplayFlags& flags, const std::string& scratch) {
  if (!flags.log.log.empty()) return OpenLogReader(flags.log);
  ENGRAM_ASSIGN_OR_RETURN(auto rocks,
                          log::RocksDbEventLog::OpenFollower(LogDir(flags.data_dir), scratch));
  OpenedLog out;
  log::RocksDbEventLog* raw = rocks.get();
  out.identity = [raw] { return raw->Identity(); };
  out.log = std::move(rocks);
  return out;
}

int Replay(const ReplayFlags& flags) {
  if ((flags.re_extract || !flags.config.empty()) && flags.verify) {
    std::cerr << "engram replay: --verify compares with what the server learnt; it cannot "
                 "re-extract\n";
    return 2;
  }
  std::string out = flags.out;
  if (out.empty()) {
    if (!flags.verify) {
      std::cerr << "engram replay: --out NEW.db is required (or use --verify)\n";
      return 2;
    }
    out = (std::filesystem::temp_directory_path() /
           ("engram-verify-" + std::to_string(getpid()) + ".db"))
              .string();
  }
  if (std::filesystem::exists(out)) {
    if (!flags.force) {
      std::cerr << "engram replay: " << out << " exists (pass --force to replace it)\n";
      return 2;
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(out + suffix);
  }
  // Read the log as a follower so this works while `engram serve` holds it.
  const std::string scratch =
      (std::filesystem::temp_directory_path() / ("engram-replay-" + std::to_string(getpid())))
          .string();
  int code = 0;
  {
    auto log = OpenReplayLog(flags, scratch);
    if (!log.ok()) {
      std::cerr << "engram replay: " << log.status().ToString() << "\n";
      return 1;
    }
    // Sealed bodies are read through the key store (read-only: a running
    // server may be writing it).
    auto keyed =
        KeyedLog::Wrap(*log->log, flags.data_dir, flags.master_key_file, true, flags.read_model);
    if (!keyed.ok()) {
      std::cerr << "engram replay: keys: " << keyed.status().ToString() << "\n";
      return 1;
    }
    projections::MemoryEngineOptions engine_options = projections::MemoryEngineOptionsFromEnv();
    if (!flags.config.empty()) {
      auto from_file = projections::MemoryEngineOptionsFromFile(flags.config);
      if (!from_file.ok()) {
        std::cerr << "engram replay: --config: " << from_file.status().ToString() << "\n";
        return 2;
      }
      engine_options = *from_file;
    }
    if (!flags.embeddings.empty()) engine_options.embeddings_path = flags.embeddings;
    ApplyEmbedderFlags(flags.embedder, engine_options);
    // The same cache as the server: a replay with the same configuration
    // reuses every extraction and never calls out.
    engine_options.cache_path = flags.data_dir + "/cache.db";
    auto engine = projections::OpenMemoryEngine(engine_options);
    if (!engine.ok()) {
      std::cerr << "engram replay: " << engine.status().ToString() << "\n";
      return 1;
    }
    auto parts = (*engine)->Parts(nullptr);
    // Events after the log's identity scheme derive user ids with the
    // installation's key: the same ENGRAM_IDENTITY_KEY or DATA_DIR/identity.key
    // the server reads, checked against the key id the log recorded.
    auto identity_key = identity::KeyForReplay(*log->log, flags.data_dir);
    if (!identity_key.ok()) {
      std::cerr << "engram replay: " << identity_key.status().ToString() << "\n";
      return 1;
    }
    parts.identity_key = *identity_key;
    // By default a replay applies the extractions recorded in the log, so it
    // equals the live read model. --re-extract runs the configured extractor
    // on every transcript instead (through the cache), for a changed prompt
    // or rules version.
    if (flags.re_extract || !flags.config.empty()) {
      parts.extraction = projections::ExtractionMode::kInline;
      std::fprintf(stderr, "replay: re-extracting with %s\n",
                   (*engine)->extractor->CacheIdentity().c_str());
    }
    if (flags.verify) {
      const std::string live =
          flags.read_model.empty() ? ReadModelPath(flags.data_dir) : flags.read_model;
      auto report = replay::RebuildAndVerify((*keyed)->log(), live, out, parts, TerminalProgress());
      if (!report.ok()) {
        std::cerr << "engram replay: " << report.status().ToString() << "\n";
        code = 1;
      } else if (report->differences.empty()) {
        std::printf(
            "replay verify: equal: %s matches a rebuild from the log at seq %llu "
            "(%.2fs)\n",
            live.c_str(), static_cast<unsigned long long>(report->compared_at),
            report->rebuild.seconds);
      } else {
        std::printf("replay verify: DIFFERENT at seq %llu:\n",
                    static_cast<unsigned long long>(report->compared_at));
        for (const auto& d : report->differences) std::printf("  %s\n", d.c_str());
        code = 3;
      }
    } else {
      auto stats = replay::RebuildReadModel((*keyed)->log(), out, 0, parts, TerminalProgress());
      // The marker a swap looks for: made by a replay, of this log.
      Status stamped = stats.ok() ? Stamp(*log, out, stats->applied) : stats.status();
      if (!stamped.ok()) {
        std::cerr << "engram replay: " << stamped.ToString() << "\n";
        code = 1;
      } else {
        std::printf("replay: rebuilt %s from %llu events in %.2fs (%.0f events/s)\n", out.c_str(),
                    static_cast<unsigned long long>(stats->applied), stats->seconds,
                    stats->seconds > 0 ? stats->applied / stats->seconds : 0.0);
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  if (flags.out.empty()) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(out + suffix, ec);
  }
  return code;
}

int Diff(const std::string& old_path, const std::string& new_path, bool json_output) {
  std::unique_ptr<projections::SqliteDb> dbs[2];
  const std::string paths[2] = {old_path, new_path};
  for (int i = 0; i < 2; ++i) {
    if (!std::filesystem::exists(paths[i])) {
      std::cerr << "engram replay diff: no database at " << paths[i] << "\n";
      return 2;
    }
    auto db = projections::SqliteDb::Open(paths[i], projections::SqliteDb::Mode::kReadOnly);
    if (!db.ok()) {
      std::cerr << "engram replay diff: " << paths[i] << ": " << db.status().ToString() << "\n";
      return 1;
    }
    dbs[i] = std::move(db).value();
  }
  auto diff = replay::DiffMemories(*dbs[0], *dbs[1]);
  if (!diff.ok()) {
    std::cerr << "engram replay diff: " << diff.status().ToString() << "\n";
    return 1;
  }
  if (json_output) {
    std::cout << replay::ToJson(*diff).dump(2) << "\n";
  } else {
    std::cout << replay::FormatDiff(*diff);
  }
  return diff->empty() ? 0 : 3;
}

// The identity of the log in `data_dir`, read as a follower (no writes).
Result<std::string> LogIdentity(const std::string& data_dir) {
  const std::string scratch =
      (std::filesystem::temp_directory_path() / ("engram-swap-" + std::to_string(getpid())))
          .string();
  Result<std::string> identity = Status::NotFound("no event log");
  {
    auto log = log::RocksDbEventLog::OpenFollower(LogDir(data_dir), scratch);
    identity = log.ok() ? (*log)->Identity() : Result<std::string>(log.status());
  }
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  return identity;
}

int Swap(const std::string& new_path, const std::string& url, const std::string& data_dir) {
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(new_path, ec).string();
  if (url.empty()) {
    auto lock = DataDirLock::Acquire(data_dir, "engram replay swap");
    if (!lock.ok()) {
      std::cerr << "engram replay swap: " << lock.status().message()
                << "\n(with `engram serve` running, swap through it: --url http://HOST:PORT)\n";
      return 1;
    }
    lock->RecordHolder();
    auto identity = LogIdentity(data_dir);
    if (!identity.ok()) {
      std::cerr << "engram replay swap: " << identity.status().ToString() << "\n";
      return 1;
    }
    auto previous = replay::SwapReadModelFiles(ReadModelPath(data_dir), absolute, *identity);
    if (!previous.ok()) {
      std::cerr << "engram replay swap: " << previous.status().ToString()
                << "\n(with `engram serve` running, swap through it: --url http://HOST:PORT)\n";
      return 1;
    }
    std::printf("swapped: %s is the read model; the old one is %s\n",
                ReadModelPath(data_dir).c_str(), previous->c_str());
    return 0;
  }
  const char* token = std::getenv("ENGRAM_ADMIN_TOKEN");
  if (!token || !*token) {
    std::cerr << "engram replay swap: set ENGRAM_ADMIN_TOKEN to the server's admin token\n";
    return 2;
  }
  http::OutboundRequest r;
  r.url = url;
  while (!r.url.empty() && r.url.back() == '/') r.url.pop_back();
  r.url.append("/v1/admin/read-model/swap");
  r.headers = {{"Authorization", std::string("Bearer ").append(token)},
               {"Content-Type", "application/json"}};
  r.body = nlohmann::json({{"path", absolute}}).dump();
  r.timeout = std::chrono::seconds(120);  // loading a large index takes a while
  auto response = http::MakeCurlHttpClient()->Send(r);
  if (!response.ok()) {
    std::cerr << "engram replay swap: " << r.url << ": " << response.status().ToString() << "\n";
    return 1;
  }
  nlohmann::json body = ParseOrDiscarded(response->body, AnswerLimits());
  if (response->status != 200) {
    std::cerr << "engram replay swap: HTTP " << response->status << ": "
              << (body.is_object() ? body.value("error", response->body) : response->body) << "\n";
    return 1;
  }
  std::printf(
      "swapped: %s is live (it had applied the log to seq %llu; %llu memories); the old "
      "read model is %s\n",
      body.value("live", "").c_str(),
      static_cast<unsigned long long>(body.value("checkpoint", 0ull)),
      static_cast<unsigned long long>(body.value("memories", 0ull)),
      body.value("previous", "").c_str());
  return 0;
}

}  // namespace

void RegisterReplay(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ReplayFlags>();
  auto* cmd = app.add_subcommand("replay",
                                 "Rebuild the read model from the event log into a fresh database");
  cmd->add_option("--data-dir", flags->data_dir, "The server's data folder")->capture_default_str();
  cmd->add_option("--out", flags->out, "The new database to build");
  cmd->add_option("--log", flags->log.log,
                  "Read the event log from NATS JetStream (nats://HOST:PORT[,...]) instead of "
                  "DATA_DIR/log");
  cmd->add_option("--master-key-file", flags->master_key_file,
                  "The master key's file, to read sealed bodies (default: ENGRAM_MASTER_KEY or "
                  "DATA_DIR/master.key)");
  cmd->add_flag("--verify", flags->verify,
                "Compare the rebuild with the live database; exit 3 when they differ");
  cmd->add_flag("--force", flags->force, "Replace --out if it exists");
  cmd->add_option("--read-model", flags->read_model,
                  "The live read model is this postgresql:// URL (engram serve --read-model): the "
                  "caller keys are read there, and --verify compares it table by table with a "
                  "SQLite rebuild");
  cmd->add_flag("--re-extract", flags->re_extract,
                "Extract every transcript again with the configured extractor (ENGRAM_EXTRACTOR, "
                "ENGRAM_PROMPT_FILE, ...) instead of applying the extractions in the log");
  cmd->add_option("--config", flags->config,
                  "JSON file of ENGRAM_* extraction settings to re-extract with (implies "
                  "--re-extract), e.g. {\"ENGRAM_PROMPT_FILE\": \"extract_v2.txt\"}");
  cmd->add_option("--embeddings", flags->embeddings, "GloVe file (as for engram serve)");
  AddEmbedderFlags(*cmd, flags->embedder);
  auto diff_paths = std::make_shared<std::vector<std::string>>();
  auto diff_json = std::make_shared<bool>(false);
  auto* diff = cmd->add_subcommand(
      "diff", "Per user, the memories NEW.db adds, removes and changes compared with OLD.db");
  diff->add_option("dbs", *diff_paths, "OLD.db NEW.db")->required()->expected(2);
  diff->add_flag("--json", *diff_json, "JSON instead of a listing");
  diff->callback([diff_paths, diff_json, exit_code] {
    *exit_code = Diff((*diff_paths)[0], (*diff_paths)[1], *diff_json);
  });
  auto swap_flags = std::make_shared<std::array<std::string, 3>>();  // path, url, data dir
  (*swap_flags)[2] = "./data";
  auto* swap = cmd->add_subcommand(
      "swap",
      "Make NEW.db the read model: through a running server (--url), atomically for its "
      "readers, or in --data-dir with the server stopped");
  swap->add_option("new_db", (*swap_flags)[0], "NEW.db (built by engram replay --out)")->required();
  swap->add_option("--url", (*swap_flags)[1],
                   "A running server (http://HOST:PORT); uses ENGRAM_ADMIN_TOKEN");
  swap->add_option("--data-dir", (*swap_flags)[2], "The stopped server's data dir")
      ->capture_default_str();
  swap->callback([swap_flags, exit_code] {
    *exit_code = Swap((*swap_flags)[0], (*swap_flags)[1], (*swap_flags)[2]);
  });
  cmd->require_subcommand(0, 1);
  cmd->callback([flags, exit_code, diff, swap] {
    if (diff->parsed() || swap->parsed()) return;  // a subcommand ran instead
    *exit_code = Replay(*flags);
  });
}

}  // namespace engram::cli
