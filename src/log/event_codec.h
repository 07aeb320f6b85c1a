// Binary encoding of Event, as stored in RocksDB. Format: src/log/FORMAT.md.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "log/event.h"

namespace engram::log {

inline constexpr uint8_t kEnvelopeVersion = 1;

// Encodes `e`. e.chain_hash must be 64 hex characters or empty (encoded as zeros).
std::string EncodeEvent(const Event& e);

// The bytes the chain hash covers: every field before the chain hash itself.
// The body is covered through body_sha256, so an erased body keeps the chain valid.
std::string EncodeChainedPrefix(const Event& e);

// chain_hash(e) = SHA-256(prev_chain_hash_raw || EncodeChainedPrefix(e)), hex.
// `prev_chain_hash` is hex, or empty for the first event (32 zero bytes).
std::string ComputeChainHash(std::string_view prev_chain_hash, const Event& e);

// Decodes bytes written by EncodeEvent. Returns Corruption on truncated or
// unknown-version input; never reads out of bounds.
Result<Event> DecodeEvent(std::string_view bytes);

// Sequence numbers are stored as 8-byte big-endian keys so that RocksDB's
// bytewise order is numeric order.
std::string EncodeSeqKey(Seq seq);
Result<Seq> DecodeSeqKey(std::string_view key);

}  // namespace engram::log
