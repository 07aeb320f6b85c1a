#include "projections/conversation_projector.h"

#include <cmath>
#include <map>

#include "common/crypto.h"
#include "common/json_fields.h"
#include "identity/identity_scheme.h"
#include "log/event_bodies.h"
#include "log/event_types.h"
#include "log/internal_events.h"
#include "memory/analysis_memories.h"
#include "memory/caller_name.h"
#include "projections/identity_rows.h"

namespace engram::projections {
namespace {

using nlohmann::json;

int64_t ReceivedMs(const log::Event& e) { return e.received_at_us / 1000; }

// The caller's name from the agent's data collection: the first item whose
// id or description asks for the caller's own name (memory::AsksForCallerName),
// whatever the agent calls it.
std::optional<std::string> NameFromAnalysis(const json& analysis) {
  return memory::CallerNameFromDataCollection(ObjectField(analysis, "data_collection_results"));
}

// The caller's name from what was said (memory::CallerNameFromTranscript):
// used only when data collection gives none. Malformed turns are skipped
// here; Turns() reports them.
std::optional<std::string> NameFromTranscript(const json& data) {
  std::vector<memory::TranscriptTurn> turns;
  int index = 0;
  for (const json& turn : ArrayField(data, "transcript")) {
    const int i = index++;
    if (!turn.is_object()) continue;
    const json* role = Field(turn, "role");
    const json* message = Field(turn, "message");
    if (!role || !role->is_string() || !message || !message->is_string()) continue;
    turns.push_back({i, role->get<std::string>(), message->get<std::string>()});
  }
  return memory::CallerNameFromTranscript(turns);
}

// Bytes and SHA-256 of the audio in a post_call_audio body: from the digest
// fields left when the audio was dropped at ingestion, else from full_audio.
std::pair<std::optional<int64_t>, std::optional<std::string>> AudioDigest(const json& data) {
  if (auto bytes = OptInt(data, "full_audio_bytes")) {
    return {bytes, OptString(data, "full_audio_sha256")};
  }
  auto audio = OptString(data, "full_audio");
  if (!audio) return {std::nullopt, std::nullopt};
  std::string decoded;
  if (!crypto::Base64Decode(*audio, &decoded)) {
    throw FieldTypeError("field 'full_audio' is not valid base64");
  }
  return {static_cast<int64_t>(decoded.size()), crypto::Sha256Hex(decoded)};
}

Status InsertWebhookEvent(ReadModelDb& db, const log::Event& e, const json* body,
                          const std::string& status, const std::optional<std::string>& error) {
  std::optional<std::string> conversation_id;
  std::optional<int64_t> event_timestamp;
  if (body && body->is_object()) {
    try {
      conversation_id = OptString(ObjectField(*body, "data"), "conversation_id");
      event_timestamp = OptInt(*body, "event_timestamp");
    } catch (const std::exception&) {
      // Recording a failure must not fail on the fields that caused it.
    }
  }
  uint64_t body_bytes = e.flags & log::kFlagAudioDropped ? e.original_body_size : e.body.size();
  return db.Run(
      "INSERT INTO webhook_events(seq, type, route, conversation_id, received_at, "
      "event_timestamp, verification, body_bytes, status, attempts, last_error) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
      "ON CONFLICT(seq) DO UPDATE SET status = excluded.status, attempts = webhook_events.attempts "
      "+ 1, "
      "last_error = excluded.last_error",
      e.seq, e.type, e.route, conversation_id, ReceivedMs(e), event_timestamp,
      log::VerificationName(e.verification), static_cast<int64_t>(body_bytes), status, error);
}

struct Caller {
  std::optional<std::string> user_id;
  std::string number;    // as received, for display; "" when unknown
  std::string identity;  // the form user_identities keys it by (E.164 after the scheme)
};

Result<Caller> ResolveCaller(ReadModelDb& db, const IdentityRules& rules,
                             const identity::IdentityKey* key,
                             std::optional<std::string> explicit_user, std::string number,
                             bool create_from_number) {
  Caller c{std::move(explicit_user), std::move(number), ""};
  if (!c.number.empty()) c.identity = IdentityForm(rules, c.number);
  if (c.user_id || c.number.empty()) return c;
  ENGRAM_ASSIGN_OR_RETURN(c.user_id, UserForCallerId(db, rules, c.number));
  if (!c.user_id && create_from_number) {
    ENGRAM_ASSIGN_OR_RETURN(c.user_id, NewUserId(rules, key, c.number));
  }
  return c;
}

class PostCallApplier {
 public:
  PostCallApplier(const log::Event& e, ReadModelDb& db, const json& body,
                  const IdentityRules& rules, const identity::IdentityKey* key)
      : e_(e), db_(db), body_(body), rules_(rules), key_(key) {}

  Status PostCallTranscription() {
    const json& data = ObjectField(body_, "data");
    auto conversation_id = RequireConversationId(data);
    const json& metadata = ObjectField(data, "metadata");
    const json& phone = ObjectField(metadata, "phone_call");
    const json& init = ObjectField(data, "conversation_initiation_client_data");
    const json& vars = ObjectField(init, "dynamic_variables");
    const json& analysis = ObjectField(data, "analysis");

    std::optional<std::string> explicit_user = OptNonEmpty(data, "user_id");
    if (!explicit_user) explicit_user = OptNonEmpty(init, "user_id");
    std::string number = OptNonEmpty(phone, "external_number")
                             .value_or(OptNonEmpty(vars, "system__caller_id").value_or(""));
    ENGRAM_ASSIGN_OR_RETURN(Caller caller,
                            ResolveCaller(db_, rules_, key_, explicit_user, number, true));

    const std::optional<int64_t> start_secs = OptInt(metadata, "start_time_unix_secs");
    const int64_t started_at_ms = start_secs ? *start_secs * 1000 : EventTimeMs();
    if (caller.user_id) {
      ENGRAM_RETURN_IF_ERROR(
          UpsertUser(db_, *caller.user_id, caller.identity, started_at_ms, e_.seq));
      if (auto name = NameFromAnalysis(analysis)) {
        ENGRAM_RETURN_IF_ERROR(
            db_.Run("UPDATE users SET name = ? WHERE id = ?", *name, *caller.user_id));
      } else if (auto said = NameFromTranscript(data)) {
        // A name heard in the call fills an empty users.name, or completes
        // the one there with more words of it ("Marcus" -> "Marcus
        // Oyelaran", "Asante" -> "Kwame Asante"). It never replaces another
        // name: a name from data collection (the platform's reading of the
        // whole call) or from an earlier call stays until data collection
        // says otherwise, so one misheard call cannot rename a caller.
        ENGRAM_RETURN_IF_ERROR(
            db_.Run("UPDATE users SET name = ? WHERE id = ? AND (name IS NULL OR name = '' OR "
                    "substr(?, 1, length(name) + 1) = name || ' ' OR "
                    "substr(?, length(?) - length(name)) = ' ' || name)",
                    *said, *caller.user_id, *said, *said, *said));
      }
    }

    std::optional<std::string> called = OptNonEmpty(phone, "agent_number");
    if (!called) called = OptNonEmpty(vars, "system__called_number");
    std::optional<std::string> call_sid = OptNonEmpty(phone, "call_sid");
    if (!call_sid) call_sid = OptNonEmpty(vars, "system__call_sid");
    ENGRAM_RETURN_IF_ERROR(db_.Run(
        "INSERT INTO conversations(id, user_id, agent_id, agent_name, status, caller_id, "
        "called_number, call_sid, direction, started_at, duration_secs, termination_reason, "
        "transcript_seq, updated_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET user_id = excluded.user_id, agent_id = excluded.agent_id, "
        "agent_name = excluded.agent_name, status = excluded.status, "
        "caller_id = excluded.caller_id, called_number = excluded.called_number, "
        "call_sid = excluded.call_sid, direction = excluded.direction, "
        "started_at = excluded.started_at, duration_secs = excluded.duration_secs, "
        "termination_reason = excluded.termination_reason, "
        "transcript_seq = excluded.transcript_seq, updated_seq = excluded.updated_seq",
        conversation_id, caller.user_id, OptString(data, "agent_id"), OptString(data, "agent_name"),
        OptString(data, "status"),
        caller.number.empty() ? std::nullopt : std::optional(caller.number), called, call_sid,
        OptString(phone, "direction"), started_at_ms, OptInt(metadata, "call_duration_secs"),
        OptString(metadata, "termination_reason"), e_.seq, e_.seq));

    // Replace what an earlier delivery of this transcript left (a redelivery
    // with a new idempotency key, or a resent conversation).
    ENGRAM_RETURN_IF_ERROR(
        db_.Run("DELETE FROM conversation_turns WHERE conversation_id = ?", conversation_id));
    ENGRAM_RETURN_IF_ERROR(
        db_.Run("DELETE FROM tool_invocations WHERE conversation_id = ? AND source = 'transcript'",
                conversation_id));
    ENGRAM_RETURN_IF_ERROR(Turns(data, conversation_id, caller.user_id, started_at_ms));
    return Analysis(analysis, conversation_id);
  }

  Status PostCallAudio() {
    const json& data = ObjectField(body_, "data");
    auto conversation_id = RequireConversationId(data);
    auto [bytes, sha] = AudioDigest(data);
    return db_.Run(
        "INSERT INTO conversations(id, agent_id, has_audio, audio_bytes, audio_sha256, "
        "updated_seq) VALUES (?, ?, 1, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET has_audio = 1, audio_bytes = excluded.audio_bytes, "
        "audio_sha256 = excluded.audio_sha256, agent_id = coalesce(conversations.agent_id, "
        "excluded.agent_id), "
        "updated_seq = excluded.updated_seq",
        conversation_id, OptString(data, "agent_id"), bytes, sha, e_.seq);
  }

  // An outbound call that never connected. The number called is the
  // customer's: linked to a known user, but no user is created for it.
  Status CallInitiationFailure() {
    const json& data = ObjectField(body_, "data");
    auto conversation_id = RequireConversationId(data);
    const json& metadata = ObjectField(data, "metadata");
    const json& b = ObjectField(metadata, "body");
    const std::string kind = OptString(metadata, "type").value_or("");
    std::string number, agent_number;
    std::optional<std::string> call_sid;
    if (kind == "sip") {
      number = OptNonEmpty(b, "to_number").value_or("");
      agent_number = OptNonEmpty(b, "from_number").value_or("");
      call_sid = OptNonEmpty(b, "call_sid");
    } else {
      number = OptNonEmpty(b, "To").value_or(OptNonEmpty(b, "Called").value_or(""));
      agent_number = OptNonEmpty(b, "From").value_or("");
      call_sid = OptNonEmpty(b, "CallSid");
    }
    ENGRAM_ASSIGN_OR_RETURN(Caller caller,
                            ResolveCaller(db_, rules_, key_, std::nullopt, number, false));
    return db_.Run(
        "INSERT INTO conversations(id, user_id, agent_id, status, caller_id, called_number, "
        "call_sid, direction, started_at, failure_reason, updated_seq) "
        "VALUES (?, ?, ?, 'initiation_failed', ?, ?, ?, 'outbound', ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET user_id = excluded.user_id, agent_id = excluded.agent_id, "
        "status = excluded.status, caller_id = excluded.caller_id, "
        "called_number = excluded.called_number, call_sid = excluded.call_sid, "
        "direction = excluded.direction, started_at = excluded.started_at, "
        "failure_reason = excluded.failure_reason, updated_seq = excluded.updated_seq",
        conversation_id, caller.user_id, OptString(data, "agent_id"),
        number.empty() ? std::nullopt : std::optional(number),
        agent_number.empty() ? std::nullopt : std::optional(agent_number), call_sid, EventTimeMs(),
        OptString(data, "failure_reason"), e_.seq);
  }

 private:
  std::string RequireConversationId(const json& data) {
    auto id = OptNonEmpty(data, "conversation_id");
    if (!id) throw FieldTypeError("data.conversation_id is missing");
    return *id;
  }

  int64_t EventTimeMs() const {
    auto ts = OptInt(body_, "event_timestamp");
    return ts ? *ts * 1000 : ReceivedMs(e_);
  }

  Status Turns(const json& data, const std::string& conversation_id,
               const std::optional<std::string>& user_id, int64_t started_at_ms) {
    const json& transcript = ArrayField(data, "transcript");
    // Tool results may come in a later turn than their call: index them first.
    std::map<std::string, const json*> results;
    for (const json& turn : transcript) {
      for (const json& r : ArrayField(turn, "tool_results")) {
        if (auto id = OptString(r, "request_id")) results.emplace(*id, &r);
      }
    }
    int64_t index = 0;
    for (const json& turn : transcript) {
      if (!turn.is_object()) throw FieldTypeError("transcript entries must be objects");
      auto role = OptString(turn, "role");
      if (!role) throw FieldTypeError("transcript[" + std::to_string(index) + "].role is missing");
      const std::optional<double> t = OptNumber(turn, "time_in_call_secs");
      const json& feedback = ObjectField(turn, "feedback");
      ENGRAM_RETURN_IF_ERROR(
          db_.Run("INSERT INTO conversation_turns(conversation_id, turn_index, role, message, "
                  "time_in_call_secs, interrupted, source_medium, feedback) VALUES (?, ?, ?, ?, ?, "
                  "?, ?, ?)",
                  conversation_id, index, *role, OptString(turn, "message"), t,
                  static_cast<int64_t>(OptBool(turn, "interrupted").value_or(false)),
                  OptString(turn, "source_medium"), OptString(feedback, "score")));
      int call_index = 0;
      for (const json& call : ArrayField(turn, "tool_calls")) {
        auto request_id = OptNonEmpty(call, "request_id");
        std::string id = request_id ? *request_id
                                    : conversation_id + ":" + std::to_string(index) + ":" +
                                          std::to_string(call_index);
        const json* result = nullptr;
        if (request_id) {
          if (auto it = results.find(*request_id); it != results.end()) result = it->second;
        }
        std::optional<double> latency_ms;
        std::optional<std::string> result_value;
        int64_t is_error = 0;
        if (result) {
          if (auto secs = OptNumber(*result, "tool_latency_secs")) latency_ms = *secs * 1000.0;
          result_value = OptString(*result, "result_value");
          is_error = OptBool(*result, "is_error").value_or(false);
        }
        std::optional<int64_t> invoked_at;
        if (t) invoked_at = started_at_ms + static_cast<int64_t>(std::llround(*t * 1000.0));
        ENGRAM_RETURN_IF_ERROR(db_.Run(
            "INSERT INTO tool_invocations(id, conversation_id, user_id, source, tool_name, "
            "tool_type, turn_index, params, result, is_error, latency_ms, invoked_at, event_seq) "
            "VALUES (?, ?, ?, 'transcript', ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET conversation_id = excluded.conversation_id, "
            "user_id = excluded.user_id, tool_name = excluded.tool_name, "
            "tool_type = excluded.tool_type, turn_index = excluded.turn_index, "
            "params = excluded.params, result = excluded.result, is_error = excluded.is_error, "
            "latency_ms = excluded.latency_ms, invoked_at = excluded.invoked_at, "
            "event_seq = excluded.event_seq",
            id, conversation_id, user_id, OptString(call, "tool_name").value_or("unknown"),
            OptString(call, "type"), index, OptString(call, "params_as_json"), result_value,
            is_error, latency_ms, invoked_at, e_.seq));
        ++call_index;
      }
      ++index;
    }
    return Status::Ok();
  }

  Status Analysis(const json& analysis, const std::string& conversation_id) {
    if (analysis.empty()) {
      return db_.Run("DELETE FROM conversation_analysis WHERE conversation_id = ?",
                     conversation_id);
    }
    // nlohmann's json objects are ordered maps: dump() is deterministic.
    json collected = json::object();
    for (const auto& [id, r] : ObjectField(analysis, "data_collection_results").items()) {
      if (!r.is_object())
        throw FieldTypeError("data_collection_results." + id + " must be an object");
      collected[id] = {{"value", r.value("value", json())},
                       {"rationale", r.value("rationale", json())}};
    }
    json evaluated = json::object();
    for (const auto& [id, r] : ObjectField(analysis, "evaluation_criteria_results").items()) {
      if (!r.is_object()) {
        throw FieldTypeError("evaluation_criteria_results." + id + " must be an object");
      }
      evaluated[id] = {{"result", r.value("result", json())},
                       {"rationale", r.value("rationale", json())}};
    }
    return db_.Run(
        "INSERT INTO conversation_analysis(conversation_id, call_successful, transcript_summary, "
        "call_summary_title, data_collection, evaluation_results) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(conversation_id) DO UPDATE SET call_successful = excluded.call_successful, "
        "transcript_summary = excluded.transcript_summary, "
        "call_summary_title = excluded.call_summary_title, "
        "data_collection = excluded.data_collection, "
        "evaluation_results = excluded.evaluation_results",
        conversation_id, OptString(analysis, "call_successful"),
        OptString(analysis, "transcript_summary"), OptString(analysis, "call_summary_title"),
        collected.dump(), evaluated.dump());
  }

  const log::Event& e_;
  ReadModelDb& db_;
  const json& body_;
  const IdentityRules& rules_;
  const identity::IdentityKey* key_;
};

}  // namespace

std::string DerivedUserId(std::string_view caller_number) {
  return identity::LegacyUserId(caller_number);
}

Result<std::optional<std::string>> LookupIdentity(ReadModelDb& db, const std::string& caller_id) {
  ENGRAM_ASSIGN_OR_RETURN(Statement * st,
                          db.Cached("SELECT user_id FROM user_identities WHERE caller_id = ?"));
  st->Bind(1, caller_id);
  auto row = st->Step();
  std::optional<std::string> user;
  if (row.ok() && *row) user = st->Text(0);
  st->Reset();
  if (!row.ok()) return row.status();
  return user;
}

Status UpsertUser(ReadModelDb& db, const std::string& user_id, const std::string& caller_id,
                  int64_t seen_at_ms, log::Seq seq) {
  ENGRAM_RETURN_IF_ERROR(db.Run(
      "INSERT INTO users(id, created_at, last_seen_at, created_seq) VALUES (?, ?, ?, ?) "
      "ON CONFLICT(id) DO UPDATE SET last_seen_at = max(users.last_seen_at, excluded.last_seen_at)",
      user_id, seen_at_ms, seen_at_ms, seq));
  if (caller_id.empty()) return Status::Ok();
  return db.Run(
      "INSERT INTO user_identities(caller_id, user_id, first_seen_at, last_seen_at, source_seq) "
      "VALUES (?, ?, ?, ?, ?) ON CONFLICT(caller_id) DO UPDATE SET user_id = excluded.user_id, "
      "last_seen_at = max(user_identities.last_seen_at, excluded.last_seen_at), "
      "source_seq = excluded.source_seq",
      caller_id, user_id, seen_at_ms, seen_at_ms, seq);
}

// The init webhook served `user_id` to a call: record the user, the number
// and the call binding exactly as served. A binding, once made, holds (the
// route refuses a conflicting init, and the log keeps one init per call_sid).
Status ApplyConversationInitiated(const log::Event& e, ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(log::ConversationInitiatedBody body,
                          log::ConversationInitiatedBody::Parse(e.body));
  try {
    const json& request = body.request;
    if (body.user_id.empty()) {
      return Status::InvalidArgument("conversation_initiated without user_id");
    }
    const std::string caller = OptNonEmpty(request, "caller_id").value_or("");
    const int64_t at = ReceivedMs(e);
    ENGRAM_ASSIGN_OR_RETURN(IdentityRules rules, RulesAt(db, e.seq));
    ENGRAM_RETURN_IF_ERROR(UpsertUser(db, body.user_id, IdentityForm(rules, caller), at, e.seq));
    if (auto call_sid = OptNonEmpty(request, "call_sid")) {
      ENGRAM_RETURN_IF_ERROR(
          db.Run("INSERT INTO call_bindings(call_sid, user_id, agent_id, caller_id, bound_at, seq) "
                 "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(call_sid) DO NOTHING",
                 *call_sid, body.user_id, OptString(request, "agent_id"),
                 caller.empty() ? std::nullopt : std::optional(caller), at, e.seq));
    }
  } catch (const FieldTypeError& err) {
    return Status::InvalidArgument(err.what());
  }
  return InsertWebhookEvent(db, e, nullptr, "done", std::nullopt);
}

// user_forgotten {user_id, conversations, erased_seqs}: every row the user's
// events made goes; the log entries themselves were erased by then.
Status DeleteForgottenRows(const log::Event& e, ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(log::UserForgottenBody body, log::UserForgottenBody::Parse(e.body));
  for (log::Seq seq : body.erased_seqs) {
    ENGRAM_RETURN_IF_ERROR(db.Run("DELETE FROM webhook_events WHERE seq = ?", seq));
  }
  // Cascades: turns, analysis, tool invocations, the memories' sources.
  for (const std::string& id : body.conversations) {
    ENGRAM_RETURN_IF_ERROR(db.Run("DELETE FROM conversations WHERE id = ?", id));
  }
  // Cascades: identities, conversations, memories (embeddings, links,
  // conversation_memories), call bindings.
  ENGRAM_RETURN_IF_ERROR(db.Run("DELETE FROM users WHERE id = ?", body.user_id));
  // What an erased entry made under another user id: an init from the
  // caller's number before their first call was projected makes a user of
  // its own, holding the number. A replay skips erased entries and never
  // makes these rows, so deleting them also keeps live and replay equal.
  const std::string erased = json(body.erased_seqs).dump();
  for (const char* sql :
       {"DELETE FROM call_bindings WHERE seq IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
        "DELETE FROM user_identities WHERE source_seq IN (SELECT CAST(value AS INTEGER) FROM "
        "json_each(?))",
        "DELETE FROM tool_invocations WHERE event_seq IN (SELECT CAST(value AS INTEGER) FROM "
        "json_each(?))",
        "DELETE FROM users WHERE created_seq IN (SELECT CAST(value AS INTEGER) FROM "
        "json_each(?))"}) {
    ENGRAM_RETURN_IF_ERROR(db.Run(sql, erased));
  }
  return Status::Ok();
}

Status ConversationProjector::Apply(const log::Event& e, ReadModelDb& db) {
  if (e.type == identity::kSchemeEventType) {
    return e.route == identity::kSchemeRoute ? ApplyIdentitySchemeAdopted(e, db) : Status::Ok();
  }
  // Internal types count only from the route that makes them: a logged
  // webhook named "user_forgotten" by an older Engram that let any type in
  // must not delete anyone (issue 10, item 2).
  if (e.type == log::event_type::kConversationInitiated) {
    return e.route == log::event_route::kConversationInit ? ApplyConversationInitiated(e, db)
                                                          : Status::Ok();
  }
  if (e.type == log::event_type::kUserForgotten) {
    return log::IsInternalRoute(e.route) ? DeleteForgottenRows(e, db) : Status::Ok();
  }
  if (!log::IsPostCallType(e.type)) {
    // Unknown post-call types are recorded as received and otherwise skipped.
    if (e.route == log::event_route::kPostCall) {
      return InsertWebhookEvent(db, e, nullptr, "done", std::nullopt);
    }
    return Status::Ok();
  }
  const json& body = bodies_->Get(e);
  if (body.is_discarded() || !body.is_object()) {
    return Status::InvalidArgument("body is not a JSON object");
  }
  try {
    ENGRAM_ASSIGN_OR_RETURN(IdentityRules rules, RulesAt(db, e.seq));
    PostCallApplier apply(e, db, body, rules, key_.get());
    Status s;
    if (e.type == log::event_type::kPostCallTranscription) {
      s = apply.PostCallTranscription();
    } else if (e.type == log::event_type::kPostCallAudio) {
      s = apply.PostCallAudio();
    } else {
      s = apply.CallInitiationFailure();
    }
    ENGRAM_RETURN_IF_ERROR(s);
  } catch (const FieldTypeError& err) {
    return Status::InvalidArgument(err.what());
  } catch (const json::exception& err) {
    return Status::InvalidArgument(err.what());
  }
  return InsertWebhookEvent(db, e, &body, "done", std::nullopt);
}

Status ConversationProjector::RecordFailure(const log::Event& e, const Status& error,
                                            ReadModelDb& db) {
  const json& body = bodies_->Get(e);
  return InsertWebhookEvent(db, e, body.is_discarded() ? nullptr : &body, "failed",
                            error.ToString());
}

}  // namespace engram::projections
