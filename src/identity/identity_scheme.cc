#include "identity/identity_scheme.h"

#include <nlohmann/json.hpp>

namespace engram::identity {
namespace {

Status CheckKey(const RecordedScheme& recorded, const IdentityKey& key) {
  if (recorded.key_id == key.key_id()) return Status::Ok();
  return Status::Conflict("the identity key from " + key.source() + " (key id " + key.key_id() +
                          ") is not the key this log adopted at seq " +
                          std::to_string(recorded.seq) + " (key id " + recorded.key_id +
                          "); user ids derived since then need that key: restore it");
}

}  // namespace

Result<std::optional<RecordedScheme>> FindScheme(const log::EventLog& log) {
  ENGRAM_ASSIGN_OR_RETURN(std::optional<log::Seq> seq, log.FindByKey(kSchemeKey));
  if (!seq) return std::optional<RecordedScheme>();
  ENGRAM_ASSIGN_OR_RETURN(std::vector<log::Event> events, log.ReadAfter(*seq - 1, 1));
  if (events.empty() || events[0].seq != *seq) {
    return Status::Corruption("identity scheme event " + std::to_string(*seq) + " is missing");
  }
  nlohmann::json body = nlohmann::json::parse(events[0].body, nullptr, false);
  if (!body.is_object() || !body.contains("key_id") || !body["key_id"].is_string() ||
      !body.contains("default_region") || !body["default_region"].is_string()) {
    return Status::Corruption("identity scheme event " + std::to_string(*seq) + " is unreadable");
  }
  return std::optional<RecordedScheme>(RecordedScheme{*seq, body["key_id"].get<std::string>(),
                                                      body["default_region"].get<std::string>()});
}

Result<RecordedScheme> AdoptScheme(log::EventLog& log, const IdentityKey& key,
                                   const std::string& default_region) {
  ENGRAM_ASSIGN_OR_RETURN(std::optional<RecordedScheme> recorded, FindScheme(log));
  if (!recorded) {
    log::NewEvent e;
    e.type = kSchemeEventType;
    e.route = kSchemeRoute;
    e.idempotency_key = kSchemeKey;
    e.body = nlohmann::json({{"key_id", key.key_id()},
                             {"default_region", default_region},
                             {"user_id_derivation", "hmac-sha256"},
                             {"caller_id_normalization", "e164"}})
                 .dump();
    ENGRAM_RETURN_IF_ERROR(log.Append(std::move(e)).status());
    // Read back what the log holds: another process may have won the append.
    ENGRAM_ASSIGN_OR_RETURN(recorded, FindScheme(log));
    if (!recorded) return Status::Corruption("the identity scheme was appended but is not found");
  }
  ENGRAM_RETURN_IF_ERROR(CheckKey(*recorded, key));
  if (recorded->default_region != default_region) {
    return Status::Conflict("--default-region " + default_region + " differs from " +
                            recorded->default_region + ", which this log adopted at seq " +
                            std::to_string(recorded->seq) +
                            " (replays read numbers without a leading '+' in that region): "
                            "start with --default-region " +
                            recorded->default_region);
  }
  return *recorded;
}

Result<std::shared_ptr<const IdentityKey>> KeyForReplay(const log::EventLog& log,
                                                        const std::string& data_dir) {
  ENGRAM_ASSIGN_OR_RETURN(std::optional<RecordedScheme> recorded, FindScheme(log));
  if (!recorded) return std::shared_ptr<const IdentityKey>();
  auto key = IdentityKey::Load(data_dir, /*create=*/false);
  if (!key.ok()) {
    return Status(key.status().code(),
                  "the log adopted keyed user ids at seq " + std::to_string(recorded->seq) +
                      ", so a replay needs the key: " + key.status().message());
  }
  ENGRAM_RETURN_IF_ERROR(CheckKey(*recorded, **key));
  return *key;
}

}  // namespace engram::identity
