// engram audit user ID|PHONE | conversation ID | verify  [--data-dir DIR] [--json]
//                                                          [--log nats://...]
//
// Reads the log as a RocksDB follower (or the JetStream stream `--log`
// names) and the read model read-only, so it works whether or not
// `engram serve` is running on DIR.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/keyed_log.h"
#include "cli/log_backend.h"
#include "log/chain_verify.h"
#include "log/rocksdb_event_log.h"
#include "projections/read_model.h"
#include "replay/audit.h"

namespace engram::cli {
namespace {

struct AuditFlags {
  std::string data_dir = "./data";
  std::string subject;
  bool json_output = false;
  std::string master_key_file;
  LogFlags log;  // --log: the JetStream stream instead of DATA_DIR/log
  // --read-model postgresql://...: the shared read model and the caller keys
  // beside it, instead of DATA_DIR/engram.db and DATA_DIR/keys.db.
  std::string read_model;
};

// The log, as a follower with a scratch folder removed on destruction.
class FollowedLog {
 public:
  static Result<std::unique_ptr<FollowedLog>> Open(const std::string& data_dir,
                                                   const LogFlags& flags) {
    if (!flags.log.empty()) {
      auto out = std::unique_ptr<FollowedLog>(new FollowedLog());
      ENGRAM_ASSIGN_OR_RETURN(OpenedLog opened, OpenLogReader(flags));
      out->log_ = std::move(opened.log);
      return out;
    }
    if (!std::filesystem::exists(LogDir(data_dir))) {
      return Status::NotFound("no event log at " + LogDir(data_dir));
    }
    auto out = std::unique_ptr<FollowedLog>(new FollowedLog());
    out->scratch_ =
        (std::filesystem::temp_directory_path() / ("engram-audit-" + std::to_string(getpid())))
            .string();
    ENGRAM_ASSIGN_OR_RETURN(out->log_,
                            log::RocksDbEventLog::OpenFollower(LogDir(data_dir), out->scratch_));
    return out;
  }
  ~FollowedLog() {
    log_.reset();
    std::error_code ec;
    if (!scratch_.empty()) std::filesystem::remove_all(scratch_, ec);
  }
  const log::EventLog& log() const { return *log_; }
  log::EventLog& log() { return *log_; }

 private:
  FollowedLog() = default;
  std::string scratch_;
  std::unique_ptr<log::EventLog> log_;
};

int Fail(const Status& s) {
  std::cerr << "engram audit: " << s.ToString() << "\n";
  return s.code() == StatusCode::kNotFound ? 4 : 1;
}

int Trail(const AuditFlags& flags, bool conversation) {
  auto log = FollowedLog::Open(flags.data_dir, flags.log);
  if (!log.ok()) return Fail(log.status());
  // Trails read bodies: through the key store (verify does not: the chain
  // covers the stored bytes, so it needs no keys).
  auto keyed =
      KeyedLog::Wrap((*log)->log(), flags.data_dir, flags.master_key_file, true, flags.read_model);
  if (!keyed.ok()) return Fail(keyed.status());
  auto db = projections::OpenReadModelReadOnly(
      flags.read_model.empty() ? ReadModelPath(flags.data_dir) : flags.read_model);
  if (!db.ok()) return Fail(db.status());
  auto trail = conversation ? replay::AuditConversation((*keyed)->log(), **db, flags.subject)
                            : replay::AuditUser((*keyed)->log(), **db, flags.subject);
  if (!trail.ok()) return Fail(trail.status());
  if (flags.json_output) {
    std::cout << replay::ToJson(*trail).dump(2) << "\n";
  } else {
    std::cout << replay::FormatTable(*trail);
  }
  return 0;
}

int Verify(const AuditFlags& flags) {
  auto log = FollowedLog::Open(flags.data_dir, flags.log);
  if (!log.ok()) return Fail(log.status());
  const bool tty = isatty(STDERR_FILENO);
  auto report = log::VerifyChain((*log)->log(), [tty](log::Seq done, log::Seq head) {
    if (tty) {
      std::fprintf(stderr, "\rverify: %llu/%llu entries", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(head));
    }
  });
  if (tty) std::fprintf(stderr, "\n");
  if (!report.ok()) return Fail(report.status());
  if (flags.json_output) {
    std::cout << replay::VerificationJson(*report).dump(2) << "\n";
  } else {
    std::cout << replay::FormatVerification(*report) << "\n";
  }
  return report->first_break ? 3 : 0;
}

}  // namespace

void RegisterAudit(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<AuditFlags>();
  auto* cmd = app.add_subcommand("audit", "What the log holds, and whether it was altered");
  cmd->require_subcommand(1);
  auto common = [&](CLI::App* sub) {
    sub->add_option("--data-dir", flags->data_dir, "The server's data dir")->capture_default_str();
    sub->add_flag("--json", flags->json_output, "JSON instead of a table");
    sub->add_option("--master-key-file", flags->master_key_file,
                    "The master key's file, to read sealed bodies (default: ENGRAM_MASTER_KEY "
                    "or DATA_DIR/master.key)");
    sub->add_option("--log", flags->log.log,
                    "Read the event log from NATS JetStream (nats://HOST:PORT[,...]) instead of "
                    "DATA_DIR/log");
    sub->add_option("--read-model", flags->read_model,
                    "postgresql://...: the shared read model (engram serve --read-model) and the "
                    "caller keys kept beside it");
  };
  auto* user = cmd->add_subcommand("user", "Every entry about a caller, with what it taught");
  user->add_option("who", flags->subject, "User id or caller number")->required();
  common(user);
  user->callback([flags, exit_code] { *exit_code = Trail(*flags, false); });
  auto* conv = cmd->add_subcommand("conversation", "Every entry about one conversation");
  conv->add_option("id", flags->subject, "Conversation id")->required();
  common(conv);
  conv->callback([flags, exit_code] { *exit_code = Trail(*flags, true); });
  auto* verify = cmd->add_subcommand(
      "verify", "Walk the hash chain; exit 3 and name the first entry that does not verify");
  common(verify);
  verify->callback([flags, exit_code] { *exit_code = Verify(*flags); });
}

}  // namespace engram::cli
