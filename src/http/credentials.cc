#include "http/credentials.h"

#include "common/crypto.h"

namespace engram::http {

Status CheckToolSecret(const HttpRequest& request, const ToolConfig& config) {
  if (config.insecure_no_secret) return Status::Ok();
  const std::string given = request.Header(config.header);
  if (given.empty()) return Status::Unauthorized("missing " + config.header + " header");
  if (!crypto::ConstantTimeEquals(given, config.secret)) {
    return Status::Unauthorized("invalid " + config.header);
  }
  return Status::Ok();
}

Status CheckBearerToken(const HttpRequest& request, std::string_view token,
                        std::string_view variable) {
  const std::string given = request.Header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!given.starts_with(kBearer) ||
      !crypto::ConstantTimeEquals(std::string_view(given).substr(kBearer.size()), token)) {
    return Status::Unauthorized("missing or wrong Authorization: Bearer <" + std::string(variable) +
                                ">");
  }
  return Status::Ok();
}

}  // namespace engram::http
