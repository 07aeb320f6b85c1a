#include "http/signature.h"

#include <charconv>

#include "common/crypto.h"

namespace engram::http {

Result<SignatureHeader> ParseSignatureHeader(std::string_view header) {
  SignatureHeader out;
  bool have_t = false;
  bool have_v0 = false;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (part.starts_with("t=") && !have_t) {
      std::string_view digits = part.substr(2);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.timestamp);
      if (ec != std::errc() || p != digits.data() + digits.size() || digits.empty()) {
        return Status::InvalidArgument("signature timestamp is not a number");
      }
      have_t = true;
    } else if (part.starts_with("v0=") && !have_v0) {
      out.v0 = std::string(part);
      have_v0 = true;
    }
  }
  if (!have_t) return Status::InvalidArgument("signature has no t= timestamp");
  if (!have_v0) return Status::InvalidArgument("signature has no v0= hash");
  return out;
}

std::string ComputeSignature(std::string_view secret, int64_t timestamp, std::string_view body) {
  std::string message = std::to_string(timestamp);
  message += '.';
  message.append(body);
  return "v0=" + crypto::HexEncode(crypto::HmacSha256(secret, message));
}

std::string SignatureHeaderValue(std::string_view secret, int64_t timestamp,
                                 std::string_view body) {
  return "t=" + std::to_string(timestamp) + "," + ComputeSignature(secret, timestamp, body);
}

Result<SignatureHeader> CheckSignatureHead(std::string_view header, int64_t now_secs,
                                           const SignaturePolicy& policy) {
  if (header.empty()) return Status::Unauthorized("missing ElevenLabs-Signature header");
  auto parsed = ParseSignatureHeader(header);
  if (!parsed.ok()) return Status::Unauthorized("invalid signature: " + parsed.status().message());
  if (parsed->timestamp < now_secs - policy.tolerance_secs) {
    return Status::Unauthorized("signature expired: timestamp outside the tolerance");
  }
  if (parsed->timestamp > now_secs + policy.max_future_secs) {
    return Status::Unauthorized("signature timestamp is in the future");
  }
  return parsed;
}

Status VerifySignature(std::string_view header, std::string_view body, std::string_view secret,
                       int64_t now_secs, const SignaturePolicy& policy) {
  ENGRAM_ASSIGN_OR_RETURN(SignatureHeader parsed, CheckSignatureHead(header, now_secs, policy));
  std::string expected = ComputeSignature(secret, parsed.timestamp, body);
  if (!crypto::ConstantTimeEquals(expected, parsed.v0)) {
    return Status::Unauthorized("invalid signature: mismatch");
  }
  return Status::Ok();
}

}  // namespace engram::http
