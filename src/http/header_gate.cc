#include "http/header_gate.h"

#include "http/auth_throttle.h"
#include "http/credentials.h"
#include "http/signature.h"

namespace engram::http {
namespace {

// Without a token the admin routes answer 404 from their handlers.
Status CheckAdminHead(const HttpRequest& head, const Services& services) {
  if (services.admin_token.empty()) return Status::Ok();
  return CheckBearerToken(head, services.admin_token, "ENGRAM_ADMIN_TOKEN");
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
                                  services.post_call.signature_policy)
                   .status();
    if (!s.ok()) {
      services.post_call_counters.rejected++;
      return Refuse(head, services, s);
    }
    return {};
  }
  if (path == "/tools/memory-query" || path == "/webhook/conversation-init") {
    Status s = CheckToolSecret(head, services.tools);
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
