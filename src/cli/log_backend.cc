#include "cli/log_backend.h"

#include "nats_log/jetstream_event_log.h"

namespace engram::cli {

void AddLogFlags(CLI::App& cmd, LogFlags& flags) {
  cmd.add_option("--log", flags.log,
                 "Event log on NATS JetStream: nats://HOST:PORT[,nats://HOST:PORT...] (default: "
                 "RocksDB in DATA_DIR/log)")
      ->check([](const std::string& list) -> std::string {
        auto urls = nats_log::ParseNatsUrls(list);
        return urls.ok() ? "" : std::string(urls.status().message());
      });
  cmd.add_option("--log-replicas", flags.replicas,
                 "Replicas of the JetStream stream when this node creates it (1, or 3 on a "
                 "3-server cluster)")
      ->check(CLI::IsMember({1, 3}))
      ->capture_default_str();
}

Result<OpenedLog> OpenServeLog(const LogFlags& flags, const std::string& data_dir,
                               const Clock& clock) {
  if (flags.log.empty()) return app::OpenRocksDbLog(data_dir, clock);
  OpenedLog out;
  nats_log::JetStreamEventLogOptions options;
  ENGRAM_ASSIGN_OR_RETURN(options.urls, nats_log::ParseNatsUrls(flags.log));
  options.replicas = flags.replicas;
  ENGRAM_ASSIGN_OR_RETURN(auto js, nats_log::JetStreamEventLog::Open(options, clock));
  nats_log::JetStreamEventLog* raw = js.get();
  out.description = "jetstream " + flags.log + " (stream " + options.stream + ", " +
                    std::to_string(raw->Replicas()) + " replica(s))";
  out.identity = [raw] { return raw->Identity(); };
  out.bytes_metric = "engram_log_stream_bytes";
  out.bytes = [raw] {
    auto b = raw->StoredBytes();
    return b.ok() ? static_cast<double>(*b) : -1.0;
  };
  out.log = std::move(js);
  return out;
}

Result<OpenedLog> OpenLogReader(const LogFlags& flags) {
  nats_log::JetStreamEventLogOptions options;
  ENGRAM_ASSIGN_OR_RETURN(options.urls, nats_log::ParseNatsUrls(flags.log));
  options.create_stream = false;
  options.open_deadline = std::chrono::milliseconds(5'000);
  ENGRAM_ASSIGN_OR_RETURN(auto js,
                          nats_log::JetStreamEventLog::Open(options, SystemClock::Instance()));
  OpenedLog out;
  nats_log::JetStreamEventLog* raw = js.get();
  out.description = "jetstream " + flags.log;
  out.identity = [raw] { return raw->Identity(); };
  out.log = std::move(js);
  return out;
}

}  // namespace engram::cli
