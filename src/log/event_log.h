// EventLog: an append-only, totally ordered sequence of events. The log is the
// truth; everything in SQLite is a projection of it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "common/status.h"
#include "log/event.h"

namespace engram::log {

struct AppendResult {
  Seq seq = 0;
  bool duplicate = false;  // the idempotency key was seen before; seq is the original
  int64_t received_at_us = 0;
};

// What an asynchronous append calls when it is done (EventLog::AppendAsync).
using AppendDone = std::function<void(Result<AppendResult>)>;

// Thread-safe. An OK Append is durable: its WAL write was synced before it returned.
class EventLog {
 public:
  virtual ~EventLog() = default;

  // Appends `e` and blocks until it is durable. If e.idempotency_key was seen
  // before, appends nothing and returns the original seq with duplicate=true.
  // Errors: IOError when the write failed (nothing was appended);
  // Unavailable when the log is read-only or shutting down.
  virtual Result<AppendResult> Append(NewEvent e) = 0;

  // Append without blocking the caller: `done` is called exactly once with
  // what Append would have returned, after the write that makes the event
  // durable (for an OK result), or at once when the log refuses it
  // (closing, read-only). It runs on a thread of the log's (the RocksDB
  // writer, or the calling thread for a refusal) and must not block or do
  // heavy work there: hand the result on to the caller's own executor. The
  // log may destroy `done` on that thread after calling it, so it should
  // move out what it holds that must be released elsewhere.
  virtual void AppendAsync(NewEvent e, AppendDone done) = 0;

  // Up to `limit` events with seq > `after`, in seq order. Empty at the head.
  virtual Result<std::vector<Event>> ReadAfter(Seq after, size_t limit) const = 0;

  // The highest durable seq (0 for an empty log).
  virtual Seq Head() const = 0;

  // Blocks until Head() > after or `timeout` passes; returns Head() > after.
  // This is the tail that wakes projectors.
  virtual bool WaitForHead(Seq after, std::chrono::milliseconds timeout) const = 0;

  // The seq holding idempotency key `key`, if any.
  virtual Result<std::optional<Seq>> FindByKey(const std::string& key) const = 0;
  // Ok, or why the last append failed (until one succeeds): what /healthz
  // reports, since a log that cannot write acknowledges nothing.
  virtual Status WriteHealth() const { return Status::Ok(); }
  // Erases the bodies of entries `seqs` (a forgotten user), recording that
  // event `by` did it. Every other field stays, so the hash chain still
  // verifies; those entries are read back with Event::erased set.
  virtual Status Erase(const std::vector<Seq>& seqs, Seq by) {
    (void)seqs;
    (void)by;
    return Status::Unavailable("this log cannot erase");
  }
};

}  // namespace engram::log
