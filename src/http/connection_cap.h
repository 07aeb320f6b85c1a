// How many connections the server may hold: ServerOptions::max_connections,
// lowered to what RLIMIT_NOFILE leaves. Used by server.cc's Start().
#pragma once

#include <cstddef>

#include "http/server.h"

namespace engram::http {

// max_connections, lowered so that connections cannot take the descriptors
// the log, the read model and the reserve slots need. Logs the result.
size_t EffectiveMaxConnections(const ServerOptions& options);

}  // namespace engram::http
