// RocksDbEventLog: EventLog on an embedded RocksDB. The only file that
// includes RocksDB headers is rocksdb_event_log.cc. Format: FORMAT.md.
//
// Appends are group-committed: callers enqueue their event (and block, or
// leave a completion: AppendAsync); one writer thread takes everything
// queued, assigns consecutive seqs, writes one WriteBatch with sync=true and
// wakes every caller of that batch (or runs its completion). Under
// concurrency many appends share one fsync, so durability does not serialise
// requests, and seqs are assigned in commit order, so readers never see gaps.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/clock.h"
#include "log/event_log.h"

namespace engram::log {

struct RocksDbEventLogOptions {
  std::string path;  // directory; created when missing (read-write mode only)
  // fsync the WAL before acknowledging. Turning it off is only for benchmarks.
  bool sync = true;
  // A batch stops growing past this many bytes, bounding one write's latency.
  size_t max_batch_bytes = 32u << 20;
  // How long a deferrable append (NewEvent::deferrable) may wait for an
  // urgent one to share its sync. It waits only while urgent appends flow
  // (the last 8 were written at least one per two windows); otherwise it is
  // written at once. 0: never held.
  std::chrono::microseconds defer_window{5'000};
};

class RocksDbEventLog final : public EventLog {
 public:
  // Opens (creating if needed) a log for reading and appending. Only one
  // process may hold a log open this way. `clock` must outlive the log.
  static Result<std::unique_ptr<RocksDbEventLog>> Open(const RocksDbEventLogOptions& options,
                                                       const Clock& clock);
  // Opens a log that another process may be appending to, as a RocksDB
  // secondary instance: reads only, sees appends made up to the last
  // CatchUp(). `scratch_dir` holds the secondary's own files.
  static Result<std::unique_ptr<RocksDbEventLog>> OpenFollower(const std::string& path,
                                                               const std::string& scratch_dir);

  ~RocksDbEventLog() override;

  Result<AppendResult> Append(NewEvent e) override;
  // `done` runs on the writer thread, right after the synced write of the
  // batch that holds the event.
  void AppendAsync(NewEvent e, AppendDone done) override;
  Result<std::vector<Event>> ReadAfter(Seq after, size_t limit) const override;
  Seq Head() const override;
  bool WaitForHead(Seq after, std::chrono::milliseconds timeout) const override;
  Result<std::optional<Seq>> FindByKey(const std::string& key) const override;
  Status WriteHealth() const override;
  Status Erase(const std::vector<Seq>& seqs, Seq by) override;

  // Follower only: makes appends by the primary visible. No-op otherwise.
  Status CatchUp();
  // Total size of the log's files on disk, in bytes.
  uint64_t DiskUsageBytes() const;
  // The log's stable identity (RocksDB's DB id, made when the log was
  // created and kept across restarts; a follower reports its primary's).
  // `engram replay` stamps it into the databases it builds so a swap can
  // refuse a read model made from another log.
  Result<std::string> Identity() const;

  struct Impl;

 private:
  explicit RocksDbEventLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram::log
