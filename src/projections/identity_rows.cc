#include "projections/identity_rows.h"

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "identity/caller_ids.h"
#include "identity/identity_key.h"
#include "projections/conversation_projector.h"

namespace engram::projections {
namespace {

struct SchemeRow {
  log::Seq from_seq = 0;
  std::string key_id;
  std::string default_region;
};

Result<std::optional<SchemeRow>> ReadScheme(ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(bool has_table, db.HasTable("identity_scheme"));
  if (!has_table) return std::optional<SchemeRow>();
  ENGRAM_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT from_seq, key_id, default_region FROM identity_scheme WHERE id = 1"));
  auto row = st->Step();
  std::optional<SchemeRow> scheme;
  if (row.ok() && *row) {
    scheme = SchemeRow{static_cast<log::Seq>(st->Int(0)), st->Text(1), st->Text(2)};
  }
  st->Reset();
  if (!row.ok()) return row.status();
  return scheme;
}

}  // namespace

Result<IdentityRules> RulesAt(ReadModelDb& db, log::Seq seq) {
  ENGRAM_ASSIGN_OR_RETURN(std::optional<SchemeRow> scheme, ReadScheme(db));
  if (!scheme || seq <= scheme->from_seq) return IdentityRules{};
  return IdentityRules{true, scheme->default_region, scheme->key_id};
}

Result<IdentityRules> CurrentRules(ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(std::optional<SchemeRow> scheme, ReadScheme(db));
  if (!scheme) return IdentityRules{};
  return IdentityRules{true, scheme->default_region, scheme->key_id};
}

std::string IdentityForm(const IdentityRules& rules, const std::string& raw) {
  if (!rules.keyed) return raw;
  // libphonenumber parses with regular expressions (~20 us a number), and
  // the projector asks for every init and transcript, mostly for callers it
  // has seen. Normalize is a pure function of (raw, region), so remembering
  // its answers changes no decision. Per thread (projector, replay, request
  // handlers), and bounded: emptied when full.
  constexpr size_t kMaxRemembered = 4096;
  thread_local std::unordered_map<std::string, std::string> remembered;
  std::string key = rules.default_region;
  key += '\n';
  key += raw;
  if (auto it = remembered.find(key); it != remembered.end()) return it->second;
  std::string form = identity::PhoneNumbers().Normalize(raw, rules.default_region);
  if (remembered.size() >= kMaxRemembered) remembered.clear();
  remembered.emplace(std::move(key), form);
  return form;
}

Result<std::optional<std::string>> UserForCallerId(ReadModelDb& db, const IdentityRules& rules,
                                                   const std::string& raw) {
  const std::string form = IdentityForm(rules, raw);
  ENGRAM_ASSIGN_OR_RETURN(std::optional<std::string> user, LookupIdentity(db, form));
  if (user || form == raw) return user;
  return LookupIdentity(db, raw);
}

Result<std::string> NewUserId(const IdentityRules& rules, const identity::IdentityKey* key,
                              const std::string& raw) {
  if (!rules.keyed) return identity::LegacyUserId(raw);
  if (!key || key->key_id() != rules.key_id) {
    return Status::InvalidArgument(
        "this event needs the identity key " + rules.key_id + " to derive a user id, and " +
        (key ? "the configured key is " + key->key_id() : std::string("no key is configured")));
  }
  return key->UserIdFor(IdentityForm(rules, raw));
}

Status ApplyIdentitySchemeAdopted(const log::Event& e, ReadModelDb& db) {
  nlohmann::json body = nlohmann::json::parse(e.body, nullptr, false);
  if (!body.is_object() || !body.contains("key_id") || !body["key_id"].is_string() ||
      !body.contains("default_region") || !body["default_region"].is_string()) {
    return Status::InvalidArgument("identity_scheme_adopted without key_id and default_region");
  }
  return db.Run(
      "INSERT INTO identity_scheme(id, from_seq, key_id, default_region) VALUES (1, ?, ?, ?) "
      "ON CONFLICT(id) DO NOTHING",
      static_cast<int64_t>(e.seq), body["key_id"].get<std::string>(),
      body["default_region"].get<std::string>());
}

}  // namespace engram::projections
