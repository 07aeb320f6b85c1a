// The identity scheme recorded in the log: from which seq on caller ids are
// normalised to E.164 and new user ids derive from the installation's key.
//
// `engram serve` appends one internal event the first time it runs on a log
// (idempotency key kSchemeKey, so exactly once per log):
//   identity_scheme_adopted {"key_id", "default_region",
//                            "user_id_derivation": "hmac-sha256",
//                            "caller_id_normalization": "e164"}
// route kSchemeRoute, verification none. Events before it keep the old
// rules (raw caller ids, "u_" + SHA-256(number)); events after it use the
// new ones. The conversation projector reads the rules from the rows it
// made from this event (table identity_scheme), never from the
// environment, so a replay gives the same rows. The key itself is never
// logged, only its id, and the default region is fixed from then on.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "identity/identity_key.h"
#include "log/event_log.h"
#include "log/event_types.h"

namespace engram::identity {

inline constexpr std::string_view kSchemeEventType = log::event_type::kIdentitySchemeAdopted;
inline constexpr std::string_view kSchemeRoute = log::event_route::kIdentity;
inline constexpr char kSchemeKey[] = "engram/identity-scheme:v1";

struct RecordedScheme {
  log::Seq seq = 0;  // the rules apply to events after it
  std::string key_id;
  std::string default_region;
};

// The scheme `log` records, if any. Corruption for an unreadable event.
Result<std::optional<RecordedScheme>> FindScheme(const log::EventLog& log);

// For `engram serve`: the scheme `log` records, appending it for `key` and
// `default_region` the first time. Conflict when the log records another
// key (its id differs: ENGRAM_IDENTITY_KEY or identity.key changed) or
// another default region.
Result<RecordedScheme> AdoptScheme(log::EventLog& log, const IdentityKey& key,
                                   const std::string& default_region);

// For `engram replay`: the key a rebuild of `log` needs. Null when the log
// records no scheme (only unkeyed events). NotFound when it records one
// but no key is configured; Conflict when the configured key is another.
Result<std::shared_ptr<const IdentityKey>> KeyForReplay(const log::EventLog& log,
                                                        const std::string& data_dir);

}  // namespace engram::identity
