// The credentials a request carries in its headers, compared in constant
// time. The same checks run twice for a request: on its head, before its body
// is read (header_gate.h), and in its handler.
#pragma once

#include <string_view>

#include "common/status.h"
#include "http/request.h"
#include "http/services.h"

namespace engram::http {

// The tool secret header of the memory tool and the init webhook (unless
// config.insecure_no_secret). Unauthorized, naming the header, otherwise.
Status CheckToolSecret(const HttpRequest& request, const ToolConfig& config);

// `Authorization: Bearer <token>`. Unauthorized, naming the environment
// variable that holds the token, otherwise.
Status CheckBearerToken(const HttpRequest& request, std::string_view token,
                        std::string_view variable);

}  // namespace engram::http
