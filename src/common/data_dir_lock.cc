#include "common/data_dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

namespace engram {
namespace {

std::string Errno() { return std::strerror(errno); }

// What the holder wrote into the lock file ("pid 123 (engram serve)"), for
// the refusal message; empty when unreadable.
std::string Holder(int fd) {
  char buf[256];
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  // The file is ours, but print only what a terminal can show safely.
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return text;
}

}  // namespace

std::string DataDirLock::LockPath(const std::string& data_dir) { return data_dir + "/engram.lock"; }

Result<DataDirLock> DataDirLock::Acquire(const std::string& data_dir, const std::string& who) {
  const std::string path = LockPath(data_dir);
  // O_NOFOLLOW: a symlink planted in place of the lock file must not make us
  // truncate whatever it points at.
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + Errno());
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = Holder(fd);
    close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Unavailable("data dir " + data_dir + " is in use by another engram process" +
                                 (holder.empty() ? "" : " (" + holder + ")") + "; stop it first" +
                                 " (lock " + path + ")");
    }
    return Status::IOError("cannot lock " + path + ": " + std::strerror(err));
  }
  return DataDirLock(fd, who);
}

void DataDirLock::RecordHolder() const {
  if (fd_ < 0) return;
  const std::string line = "pid " + std::to_string(getpid()) + " (" + who_ + ")\n";
  if (ftruncate(fd_, 0) != 0 || pwrite(fd_, line.data(), line.size(), 0) < 0) {
    // The lock holds without the note; only the refusal message gets poorer.
  }
}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    who_ = std::move(other.who_);
    other.fd_ = -1;
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace engram
