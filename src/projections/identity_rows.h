// Caller identity in the read model: which rules apply to an event (the
// identity_scheme row the conversation projector made from the log's
// identity_scheme_adopted event), the identity form of a caller id, and
// caller-id lookups that find identities recorded before and after the
// cutover. Reads only rows and the event's seq: replay-safe.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "log/event.h"
#include "projections/sqlite_db.h"

namespace engram::identity {
class IdentityKey;
}

namespace engram::projections {

struct IdentityRules {
  bool keyed = false;          // E.164 identities and keyed user ids
  std::string default_region;  // when keyed
  std::string key_id;          // when keyed: the key the log adopted
};

// The rules for the event at `seq` (keyed when seq > the scheme's from_seq).
Result<IdentityRules> RulesAt(ReadModelDb& db, log::Seq seq);
// The rules for whatever comes next (keyed once a scheme is recorded): for
// lookups by phone from the admin routes and the command line. Works on a
// read model made before the identity_scheme table existed (unkeyed).
Result<IdentityRules> CurrentRules(ReadModelDb& db);

// The form `raw` has in user_identities under `rules`: E.164 when keyed and
// it is a valid number, else `raw`.
std::string IdentityForm(const IdentityRules& rules, const std::string& raw);

// The user `raw` maps to: by its identity form, then (for identities
// recorded raw before the cutover) by `raw` itself.
Result<std::optional<std::string>> UserForCallerId(ReadModelDb& db, const IdentityRules& rules,
                                                   const std::string& raw);

// The id of a new user first seen as `raw`: keyed (REQUIRES key, with the
// key id the rules name; InvalidArgument otherwise) or the legacy hash.
Result<std::string> NewUserId(const IdentityRules& rules, const identity::IdentityKey* key,
                              const std::string& raw);

// Applies identity_scheme_adopted: the first one wins (there is one per log).
Status ApplyIdentitySchemeAdopted(const log::Event& e, ReadModelDb& db);

}  // namespace engram::projections
