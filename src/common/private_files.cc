#include "common/private_files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace engram {
namespace {

namespace fs = std::filesystem;

// Takes the group and other bits off `path`; true when it had any. Never
// adds a bit: a folder an operator made read-only stays read-only (and
// `engram serve` then refuses to start, saying why).
Result<bool> Narrow(const fs::path& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return Status::IOError("stat " + path.string() + ": " + std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode)) return false;  // its target is not ours to change
  const mode_t mode = st.st_mode & 07777;
  const mode_t narrowed = mode & 0700;
  if (mode == narrowed) return false;
  if (chmod(path.c_str(), narrowed) != 0) {
    return Status::IOError("chmod " + path.string() + ": " + std::strerror(errno));
  }
  return true;
}

}  // namespace

void UsePrivateUmask() { umask(kPrivateUmask); }

Result<int> MakeDataDirPrivate(const std::string& dir) {
  std::error_code ec;
  // Made under the caller's umask: explicit 0700 below whatever it was.
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create data dir " + dir + ": " + ec.message());
  int changed = 0;
  ENGRAM_ASSIGN_OR_RETURN(bool top, Narrow(dir));
  changed += top;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    ENGRAM_ASSIGN_OR_RETURN(bool one, Narrow(it->path()));
    changed += one;
  }
  if (ec) return Status::IOError("list " + dir + ": " + ec.message());
  return changed;
}

}  // namespace engram
