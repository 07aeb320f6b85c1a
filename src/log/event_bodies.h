// The bodies of the events Engram writes itself, typed: one struct per type
// with Encode (the JSON stored in the log) and Parse (the reverse, with the
// checks every consumer needs). Producers fill a struct; projectors, audit
// and replay parse one, instead of each reading JSON fields by name.
//
// Encode is stable: nlohmann::json objects keep their keys sorted, so a body
// encodes to the same bytes as before these types existed, and old logs
// parse. Post-call webhook bodies are ElevenLabs' (docs/ELEVENLABS.md) and the
// extraction outcomes are typed beside their workers
// (projections/extraction_workers.h); neither is here.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "log/event.h"

namespace engram::log {

// user_forgotten (route engram/admin): a caller erased, with what to remove.
struct UserForgottenBody {
  std::string user_id;
  std::vector<std::string> conversations;   // their conversation ids
  std::vector<Seq> erased_seqs;             // log entries whose bodies were erased
  std::vector<std::string> cache_keys;      // extraction cache entries
  std::vector<std::string> embedding_keys;  // embedding cache entries
  std::string requested_by;

  std::string Encode() const;
  // InvalidArgument unless the body is an object with a string user_id and
  // lists of the right element types (absent lists are empty).
  static Result<UserForgottenBody> Parse(std::string_view body);
};

// conversation_initiated (route /webhook/conversation-init): the init request
// as received and the user it was bound to.
struct ConversationInitiatedBody {
  nlohmann::json request = nlohmann::json::object();
  std::string user_id;  // empty when absent (a projector refuses that)
  bool new_user = false;

  std::string Encode() const;
  static Result<ConversationInitiatedBody> Parse(std::string_view body);
};

// memory_queried (route /tools/memory-query): the agent's tool call, the
// memories it returned and how long it took.
struct MemoryQueriedBody {
  nlohmann::json request = nlohmann::json::object();  // call_token redacted
  std::string user_id;                                // empty when absent
  std::vector<std::string> returned;                  // memory ids, best first
  std::optional<double> latency_ms;
  int status = 200;  // older bodies may carry a failed call's status

  std::string Encode() const;
  // Ids that are not strings are skipped, as the projector always did.
  static Result<MemoryQueriedBody> Parse(std::string_view body);
};

// projection_retry_requested (route engram/admin): failed events to apply again.
struct ProjectionRetryRequestedBody {
  std::vector<Seq> seqs;
  std::string requested_by;

  std::string Encode() const;
  // Tolerant: a body that is not an object names no seqs, and elements that
  // are not positive integers are skipped.
  static ProjectionRetryRequestedBody Parse(std::string_view body);
};

// extraction_requeued (route engram/admin): a dead letter to extract again.
struct ExtractionRequeuedBody {
  Seq source_seq = 0;
  std::string requested_by;

  std::string Encode() const;
  static Result<ExtractionRequeuedBody> Parse(std::string_view body);
};

}  // namespace engram::log
