// Helpers the console's API handlers share: parameters, ids, bodies, times.
#include <algorithm>
#include <ctime>
#include <optional>

#include "common/clock.h"
#include "common/json_guard.h"
#include "console/api.h"

namespace engram::console {

namespace {

// A decimal integer that fits in int64, or nullopt.
std::optional<int64_t> ParseInteger(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size()) return std::nullopt;
  int64_t value = 0;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return text[0] == '-' ? -value : value;
}

}  // namespace

Result<size_t> LimitParam(const ApiRequest& request, const std::string& name, size_t fallback,
                          size_t max) {
  auto it = request.params.find(name);
  if (it == request.params.end() || it->second.empty()) return fallback;
  // Huge values are clamped below (a page asking for "everything" gets the
  // most allowed); only text that is not a number is an error.
  if (it->second.size() > 18 && it->second.find_first_not_of("0123456789") == std::string::npos) {
    return max;
  }
  std::optional<int64_t> value = ParseInteger(it->second);
  if (!value) return Status::InvalidArgument("'" + name + "' must be an integer");
  if (*value < 1) return size_t{1};
  return std::min(static_cast<size_t>(*value), max);
}

Result<size_t> OffsetParam(const ApiRequest& request, const std::string& name) {
  auto it = request.params.find(name);
  if (it == request.params.end() || it->second.empty()) return size_t{0};
  std::optional<int64_t> value = ParseInteger(it->second);
  if (!value || *value < 0) {
    return Status::InvalidArgument("'" + name + "' must be a non-negative integer");
  }
  return static_cast<size_t>(*value);
}

Status CheckId(const std::string& id, const http::Services& services, const char* what) {
  if (id.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  if (id.size() > services.tools.max_id_bytes) {
    return Status::InvalidArgument(std::string(what) + " is longer than " +
                                   std::to_string(services.tools.max_id_bytes) + " bytes");
  }
  return Status::Ok();
}

Result<nlohmann::json> BodyObject(const ApiRequest& request) {
  ENGRAM_ASSIGN_OR_RETURN(nlohmann::json body, ParseJsonGuarded(request.http.body));
  if (!body.is_object()) return Status::InvalidArgument("body must be a JSON object");
  return body;
}

nlohmann::json TimeOrNull(const nlohmann::json& ms) {
  if (!ms.is_number_integer() || ms.get<int64_t>() == 0) return nullptr;
  return UtcSecondsText(ms.get<int64_t>());
}

}  // namespace engram::console
