#include "log/event_codec.h"

#include <strings.h>

#include <cstring>

#include "common/crypto.h"

namespace engram::log {

const char* VerificationName(Verification v) {
  switch (v) {
    case Verification::kNone:
      return "none";
    case Verification::kSignatureValid:
      return "signature_valid";
    case Verification::kSignatureSkipped:
      return "signature_skipped";
    case Verification::kSharedSecret:
      return "shared_secret";
  }
  return "unknown";
}

std::string Event::HeaderValue(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

namespace {

void PutFixed(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutString(std::string* out, std::string_view s) {
  PutFixed(out, s.size(), 4);
  out->append(s);
}
// 32 raw bytes from 64 hex characters; zeros when `hex` is empty.
void PutDigest(std::string* out, std::string_view hex) {
  for (size_t i = 0; i < 32; ++i) {
    if (hex.size() != 64) {
      out->push_back('\0');
      continue;
    }
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return 0;
    };
    out->push_back(static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1])));
  }
}

bool IsZero(std::string_view raw) {
  for (char c : raw)
    if (c != 0) return false;
  return true;
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Fixed(uint64_t* v, int bytes) {
    if (in_.size() < static_cast<size_t>(bytes)) return false;
    *v = 0;
    for (int i = 0; i < bytes; ++i) *v |= uint64_t(uint8_t(in_[i])) << (8 * i);
    in_.remove_prefix(bytes);
    return true;
  }
  bool String(std::string* s) {
    uint64_t n = 0;
    if (!Fixed(&n, 4) || in_.size() < n) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool Digest(std::string* hex) {
    if (in_.size() < 32) return false;
    std::string_view raw = in_.substr(0, 32);
    *hex = IsZero(raw) ? "" : crypto::HexEncode(reinterpret_cast<const uint8_t*>(raw.data()), 32);
    in_.remove_prefix(32);
    return true;
  }
  bool empty() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

std::string EncodeChainedPrefix(const Event& e) {
  std::string out;
  out.reserve(256 + e.type.size() + e.route.size());
  out.push_back(static_cast<char>(kEnvelopeVersion));
  PutFixed(&out, e.seq, 8);
  PutFixed(&out, static_cast<uint64_t>(e.received_at_us), 8);
  out.push_back(static_cast<char>(e.verification));
  PutFixed(&out, e.flags, 4);
  PutString(&out, e.type);
  PutString(&out, e.route);
  PutString(&out, e.idempotency_key);
  PutFixed(&out, e.headers.size(), 4);
  for (const auto& [k, v] : e.headers) {
    PutString(&out, k);
    PutString(&out, v);
  }
  PutDigest(&out, e.body_sha256);
  PutDigest(&out, e.original_body_sha256);
  PutFixed(&out, e.original_body_size, 8);
  return out;
}

std::string ComputeChainHash(std::string_view prev_chain_hash, const Event& e) {
  std::string material;
  PutDigest(&material, prev_chain_hash);
  material += EncodeChainedPrefix(e);
  return crypto::Sha256Hex(material);
}

std::string EncodeEvent(const Event& e) {
  std::string out = EncodeChainedPrefix(e);
  out.reserve(out.size() + 36 + e.body.size());
  PutDigest(&out, e.chain_hash);
  PutString(&out, e.body);
  return out;
}

Result<Event> DecodeEvent(std::string_view bytes) {
  if (bytes.empty()) return Status::Corruption("empty event record");
  if (static_cast<uint8_t>(bytes[0]) != kEnvelopeVersion) {
    return Status::Corruption("unknown envelope version " +
                              std::to_string(static_cast<uint8_t>(bytes[0])));
  }
  Reader r(bytes.substr(1));
  Event e;
  uint64_t v = 0;
  auto fail = [] { return Status::Corruption("truncated event record"); };
  if (!r.Fixed(&e.seq, 8)) return fail();
  if (!r.Fixed(&v, 8)) return fail();
  e.received_at_us = static_cast<int64_t>(v);
  if (!r.Fixed(&v, 1)) return fail();
  if (v > static_cast<uint64_t>(Verification::kSharedSecret)) {
    return Status::Corruption("unknown verification " + std::to_string(v));
  }
  e.verification = static_cast<Verification>(v);
  if (!r.Fixed(&v, 4)) return fail();
  e.flags = static_cast<uint32_t>(v);
  if (!r.String(&e.type) || !r.String(&e.route) || !r.String(&e.idempotency_key)) return fail();
  uint64_t header_count = 0;
  if (!r.Fixed(&header_count, 4)) return fail();
  for (uint64_t i = 0; i < header_count; ++i) {
    std::string k, val;
    if (!r.String(&k) || !r.String(&val)) return fail();
    e.headers.emplace_back(std::move(k), std::move(val));
  }
  if (!r.Digest(&e.body_sha256) || !r.Digest(&e.original_body_sha256)) return fail();
  if (!r.Fixed(&e.original_body_size, 8)) return fail();
  if (!r.Digest(&e.chain_hash) || !r.String(&e.body)) return fail();
  if (!r.empty()) return Status::Corruption("trailing bytes after event record");
  return e;
}

std::string EncodeSeqKey(Seq seq) {
  std::string key(8, '\0');
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>((seq >> (8 * (7 - i))) & 0xff);
  return key;
}

Result<Seq> DecodeSeqKey(std::string_view key) {
  if (key.size() != 8)
    return Status::Corruption("sequence key of size " + std::to_string(key.size()));
  Seq seq = 0;
  for (int i = 0; i < 8; ++i) seq = (seq << 8) | static_cast<uint8_t>(key[i]);
  return seq;
}

}  // namespace engram::log
