// Every event type Engram logs and the route each comes from, in one place.
// Producers (the HTTP routes, the extraction workers, the admin commands)
// and consumers (projectors, audit, replay, the key store) name types and
// routes through these constants, never through string literals of their
// own. The bodies of Engram's own events are typed in log/event_bodies.h.
#pragma once

#include <string_view>

namespace engram::log {

// Types ElevenLabs names in the post-call webhook's `type` field.
namespace event_type {
inline constexpr std::string_view kPostCallTranscription = "post_call_transcription";
inline constexpr std::string_view kPostCallAudio = "post_call_audio";
inline constexpr std::string_view kCallInitiationFailure = "call_initiation_failure";

// Types Engram gives the requests it logs from its other routes.
inline constexpr std::string_view kConversationInitiated = "conversation_initiated";
inline constexpr std::string_view kMemoryQueried = "memory_queried";

// Types of the events Engram appends on its own.
inline constexpr std::string_view kMemoriesExtracted = "memories_extracted";
inline constexpr std::string_view kExtractionDead = "extraction_dead";
inline constexpr std::string_view kExtractionRequeued = "extraction_requeued";
inline constexpr std::string_view kUserForgotten = "user_forgotten";
inline constexpr std::string_view kProjectionRetryRequested = "projection_retry_requested";
inline constexpr std::string_view kPostCallRedeliveryMismatch = "post_call_redelivery_mismatch";
inline constexpr std::string_view kIdentitySchemeAdopted = "identity_scheme_adopted";
}  // namespace event_type

// Routes: the HTTP path a request came in on, or Engram's own "engram/…"
// for events it appends itself (log/internal_events.h).
namespace event_route {
inline constexpr std::string_view kPostCall = "/webhook/post-call";
inline constexpr std::string_view kConversationInit = "/webhook/conversation-init";
inline constexpr std::string_view kMemoryQuery = "/tools/memory-query";
inline constexpr std::string_view kAdmin = "engram/admin";
inline constexpr std::string_view kExtraction = "engram/extraction";
inline constexpr std::string_view kPostCallChecks = "engram/post-call";
inline constexpr std::string_view kIdentity = "engram/identity";
}  // namespace event_route

// Whether `type` is one of the post-call webhook's types the projectors read.
inline bool IsPostCallType(std::string_view type) {
  return type == event_type::kPostCallTranscription || type == event_type::kPostCallAudio ||
         type == event_type::kCallInitiationFailure;
}

}  // namespace engram::log
