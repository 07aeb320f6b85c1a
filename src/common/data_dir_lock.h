// DataDirLock: an exclusive, advisory lock on a data folder, held by whoever
// writes to it (`engram serve` for its whole life, the offline commands that
// append or move files). It is ours, independent of RocksDB's log/LOCK, so a
// moved or deleted LOCK file cannot let a second writer in.
//
// The lock is flock(LOCK_EX | LOCK_NB) on DATA_DIR/engram.lock, opened
// O_CLOEXEC so child processes never inherit it. RecordHolder() writes the
// holder's pid into the file so a refused command can name it; until then the
// file is left as it was, so a start refused for another reason changes
// nothing in the data folder (beyond creating the file). The kernel drops the lock
// when the process exits, however it exits (kill -9 included).
// Thread-compatible; move-only.
#pragma once

#include <string>
#include <utility>

#include "common/status.h"

namespace engram {

class DataDirLock {
 public:
  // The lock file inside `data_dir`.
  static std::string LockPath(const std::string& data_dir);

  // Takes the lock on `data_dir` (which must exist). `who` names the taker
  // (e.g. "engram serve") for RecordHolder. Unavailable, naming the holder's
  // pid and command when recorded, while another process holds it; IOError
  // when the file cannot be opened or locked for another reason.
  static Result<DataDirLock> Acquire(const std::string& data_dir, const std::string& who);

  // Writes "pid N (who)" into the lock file. Best effort: the lock holds
  // without it, only a refusal message gets poorer.
  void RecordHolder() const;

  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_), who_(std::move(other.who_)) {
    other.fd_ = -1;
  }
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();  // releases the lock

 private:
  DataDirLock(int fd, std::string who) : fd_(fd), who_(std::move(who)) {}
  int fd_ = -1;
  std::string who_;
};

}  // namespace engram
