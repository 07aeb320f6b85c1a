#include "http/connection_cap.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>

namespace engram::http {
namespace {

// Descriptors open in this process now; 64 when /proc is not there.
size_t OpenDescriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 64;
  size_t n = 0;
  while (readdir(dir)) ++n;
  closedir(dir);
  return n > 3 ? n - 3 : 0;  // ".", ".." and the directory's own descriptor
}

}  // namespace

// max_connections, lowered so that connections cannot take the descriptors
// the log, the read model and the reserve slots need. Logs the result.
size_t EffectiveMaxConnections(const ServerOptions& options) {
  const size_t wanted = std::max<size_t>(1, options.max_connections);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    spdlog::info("connections: at most {} at once (+{} reserve for /healthz)", wanted,
                 options.reserve_connections);
    return wanted;
  }
  const size_t fd_limit = limit.rlim_cur;
  const size_t in_use = OpenDescriptors();
  // RocksDB opens files as the log grows; SQLite, curl and the extractor
  // need some too.
  const size_t headroom = std::clamp<size_t>(fd_limit / 8, 8, 64);
  const size_t taken = in_use + headroom + options.reserve_connections;
  const size_t room = fd_limit > taken ? fd_limit - taken : 0;
  const size_t effective = std::clamp<size_t>(room, 1, wanted);
  if (effective < wanted) {
    spdlog::warn(
        "connections: at most {} at once, not {}: RLIMIT_NOFILE is {} with {} descriptors "
        "open, {} kept for files and {} reserve slots (raise `ulimit -n` for more)",
        effective, wanted, fd_limit, in_use, headroom, options.reserve_connections);
  } else {
    spdlog::info("connections: at most {} at once (+{} reserve for /healthz; RLIMIT_NOFILE {})",
                 effective, options.reserve_connections, fd_limit);
  }
  return effective;
}

}  // namespace engram::http
