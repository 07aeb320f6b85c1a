// ConversationProjector ("conversations.v1"): projects post-call webhooks
// into users, user_identities, conversations, conversation_turns,
// conversation_analysis, tool_invocations (from transcripts) and
// webhook_events.
//
// Who the caller is (docs/READ_MODEL.md, "Finding the caller"), first match wins:
//   1. data.user_id, when a non-empty string;
//   2. data.conversation_initiation_client_data.user_id;
//   3. the caller's number (metadata.phone_call.external_number, else
//      conversation_initiation_client_data.dynamic_variables.system__caller_id)
//      looked up in user_identities;
//   4. a new user whose id derives from that number: "u_" + the first 20 hex
//      digits of SHA-256(number) for events before the log's identity scheme
//      (projections/identity_rows.h), of HMAC-SHA256 under the
//      installation's key of the E.164 form after it.
// After the scheme, numbers are normalised to E.164 for identity
// (user_identities, lookups); conversations keep the raw form.
// With no user id and no number the conversation has no user (web calls).
// Whenever both a user and a number are known, the number is recorded in
// user_identities for that user, so the init webhook can find them next time.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "identity/identity_key.h"
#include "projections/parsed_bodies.h"
#include "projections/projector.h"

namespace engram::projections {

class ConversationProjector final : public Projector {
 public:
  static constexpr std::string_view kName = "conversations.v1";
  // `key` derives new user ids after the identity scheme; null when the
  // log records none (an event that needs it then fails, loudly). `bodies`
  // is shared with the projectors after this one (MakeProjectors), so each
  // body is parsed once; null: a parse of its own.
  explicit ConversationProjector(std::shared_ptr<const identity::IdentityKey> key = nullptr,
                                 std::shared_ptr<ParsedBodies> bodies = nullptr)
      : key_(std::move(key)),
        bodies_(bodies ? std::move(bodies) : std::make_shared<ParsedBodies>()) {}
  std::string_view Name() const override { return kName; }
  Status Apply(const log::Event& e, ReadModelDb& db) override;
  Status RecordFailure(const log::Event& e, const Status& error, ReadModelDb& db) override;

 private:
  std::shared_ptr<const identity::IdentityKey> key_;
  std::shared_ptr<ParsedBodies> bodies_;
};

// Deletes every row of the user a user_forgotten event `e` names (its
// webhook_events, conversations and the user, with what cascades). Also run
// on read models other than the live one (erasure_purge.h).
Status DeleteForgottenRows(const log::Event& e, ReadModelDb& db);

// The legacy (unkeyed) user id derived from a caller number: what events
// before the identity scheme get.
std::string DerivedUserId(std::string_view caller_number);

// The user a caller number maps to in user_identities, if any.
Result<std::optional<std::string>> LookupIdentity(ReadModelDb& db, const std::string& caller_id);

// Creates the user when missing and moves last_seen_at forward; records
// `caller_id` (when non-empty) as one of the user's identities.
Status UpsertUser(ReadModelDb& db, const std::string& user_id, const std::string& caller_id,
                  int64_t seen_at_ms, log::Seq seq);

}  // namespace engram::projections
