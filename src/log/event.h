// The event envelope: what src/log stores for every request that changes state.
// The on-disk encoding is documented in src/log/FORMAT.md and implemented in
// event_codec.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace engram::log {

// Sequence numbers start at 1 and have no gaps; 0 means "before the first".
using Seq = uint64_t;

// How the request that produced an event was authenticated.
enum class Verification : uint8_t {
  kNone = 0,              // the route needs no authentication (internal events)
  kSignatureValid = 1,    // ElevenLabs-Signature HMAC checked and valid
  kSignatureSkipped = 2,  // server ran with --insecure-no-signature
  kSharedSecret = 3,      // shared-secret header checked (tool and init routes)
};
const char* VerificationName(Verification v);

// Flags describing how the stored body differs from the bytes received.
enum EventFlags : uint32_t {
  kFlagNone = 0,
  // data.full_audio was removed from a post_call_audio body (see --keep-audio);
  // original_body_sha256/original_body_size describe the bytes received.
  kFlagAudioDropped = 1u << 0,
  // The body is sealed with a caller's data key (src/keys, FORMAT.md "Sealed
  // bodies"): body_sha256 and the chain cover the ciphertext;
  // original_body_sha256/original_body_size describe the bytes received.
  kFlagSealed = 1u << 1,
};

// Seals a body once the log has given it its seq, inside the append (the
// seq is part of what the seal authenticates). Implemented above src/log
// (src/keys); the log only calls it. Must be thread-safe.
class BodySeal {
 public:
  virtual ~BodySeal() = default;
  // The stored form of `body` for entry (seq, type); an error fails that
  // append alone (nothing is written for it).
  virtual std::string Seal(uint64_t seq, std::string_view type, std::string_view body) const = 0;
};

using HeaderField = std::pair<std::string, std::string>;

// What a caller hands to EventLog::Append.
struct NewEvent {
  std::string type;   // e.g. "post_call_transcription"
  std::string route;  // e.g. "/webhook/post-call"
  // When non-empty, a second event with the same key is not appended.
  std::string idempotency_key;
  std::vector<HeaderField> headers;  // only the headers needed for audit
  Verification verification = Verification::kNone;
  uint32_t flags = kFlagNone;
  std::string original_body_sha256;  // hex; set iff the body was transformed
  uint64_t original_body_size = 0;   // set iff the body was transformed
  std::string body;                  // the raw body bytes, verbatim unless flags say otherwise
  // When set, the log stores seal->Seal(seq, type, body) instead of `body`
  // and sets kFlagSealed.
  std::shared_ptr<const BodySeal> seal;
  // Background work (an extraction outcome) that no request is waiting for:
  // the log may hold it briefly so that it shares the sync of the next
  // append a request waits for, instead of adding a sync of its own that
  // such an append would queue behind. It is never acknowledged before its
  // own sync; only when. Logs without group commit ignore it.
  bool deferrable = false;
};

// A stored event. Fields beyond NewEvent are assigned by the log at append.
struct Event {
  Seq seq = 0;
  int64_t received_at_us = 0;  // wall clock, taken once when appended
  std::string type;
  std::string route;
  std::string idempotency_key;
  std::vector<HeaderField> headers;
  Verification verification = Verification::kNone;
  uint32_t flags = kFlagNone;
  std::string body_sha256;  // hex SHA-256 of body
  std::string original_body_sha256;
  uint64_t original_body_size = 0;
  // hex SHA-256 chaining this entry to the previous one (see FORMAT.md).
  std::string chain_hash;
  std::string body;
  // The body was erased (a forgotten user): it is empty, body_sha256 names
  // the bytes that were there. Known to the log, not part of the encoding.
  bool erased = false;

  // Value of header `name` (case-insensitive), or "" when absent.
  std::string HeaderValue(std::string_view name) const;
};

}  // namespace engram::log
