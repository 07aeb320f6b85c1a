#include "http/header_gate.h"

#include "common/crypto.h"
#include "http/auth_throttle.h"
#include "http/signature.h"

namespace engram::http {
namespace {

// What can be checked of a signature without the body: that it parses and
// that its timestamp is within the tolerance VerifySignature applies.
Status CheckSignatureHead(std::string_view header, int64_t now_secs,
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
  return Status::Ok();
}

Status CheckToolSecretHead(const HttpRequest& head, const ToolConfig& config) {
  if (config.insecure_no_secret) return Status::Ok();
  const std::string given = head.Header(config.header);
  if (given.empty()) return Status::Unauthorized("missing " + config.header + " header");
  if (!crypto::ConstantTimeEquals(given, config.secret)) {
    return Status::Unauthorized("invalid " + config.header);
  }
  return Status::Ok();
}

// Without a token the admin routes answer 404 from their handlers.
Status CheckAdminHead(const HttpRequest& head, const Services& services) {
  if (services.admin_token.empty()) return Status::Ok();
  const std::string given = head.Header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!given.starts_with(kBearer) ||
      !crypto::ConstantTimeEquals(std::string_view(given).substr(kBearer.size()),
                                  services.admin_token)) {
    return Status::Unauthorized("missing or wrong Authorization: Bearer <ENGRAM_ADMIN_TOKEN>");
  }
  return Status::Ok();
}

HeaderDecision Refuse(const HttpRequest& head, Services& services, const Status& status) {
  HttpResponse response = ErrorResponse(status);
  NoteAuthFailure(services.auth_throttle, head, &response);
  return {std::move(response), 0};
}

}  // namespace

HeaderDecision GateRequestHead(const HttpRequest& head, Services& services) {
  const std::string_view path = head.Path();
  if (path == "/webhook/post-call") {
    if (services.post_call.insecure_no_signature) return {};
    const int64_t now_secs = services.clock->NowMicros() / 1'000'000;
    Status s = CheckSignatureHead(head.Header("ElevenLabs-Signature"), now_secs,
                                  services.post_call.signature_policy);
    if (!s.ok()) {
      services.post_call_counters.rejected++;
      return Refuse(head, services, s);
    }
    return {};
  }
  if (path == "/tools/memory-query" || path == "/webhook/conversation-init") {
    Status s = CheckToolSecretHead(head, services.tools);
    if (!s.ok()) return Refuse(head, services, s);
    return {std::nullopt, services.tools.max_body_bytes};
  }
  if (path.starts_with("/v1/")) {
    Status s = CheckAdminHead(head, services);
    if (!s.ok()) return Refuse(head, services, s);
    return {std::nullopt, kAdminBodyLimit};
  }
  return {std::nullopt, kSmallBodyLimit};
}

}  // namespace engram::http
