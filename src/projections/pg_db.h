// PgDb: the read model in PostgreSQL (read_model_db.h), over libpq. Only
// this file's .cc includes libpq's headers.
//
// SQL arrives in the read model's dialect and is rewritten once per
// statement (pg_dialect.h). Parameters go as text with their types left to
// the server to infer from the statement (so '42' compares with a BIGINT
// column and with a TEXT one alike), blobs in binary; results come back as
// text and are parsed per column type (booleans read as 1 and 0, BYTEA
// decoded). Cached() statements are prepared on the server once per
// connection. A statement's result is read whole on its first Step, so code
// may run other statements on the connection while it steps through rows,
// as it does on SQLite; the price is a large SELECT held in memory at once
// (the index load at start reads every current memory's vector).
//
// Not thread-safe: one PgDb per thread. A broken connection is re-opened on
// the next call; the projector lock (TryLockProjector, a session-level
// pg_try_advisory_lock) ends with the connection it was taken on, so
// HoldsProjectorLock() turns false when the connection is lost.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "projections/read_model_db.h"

struct pg_conn;

namespace engram::projections {

class PgStatement;

class PgDb : public ReadModelDb {
 public:
  // Whether `url` names a PostgreSQL database (postgresql:// or postgres://).
  static bool IsUrl(std::string_view url);
  // Connects to `url` (a libpq connection URI). `read_only` makes every
  // transaction of the session read-only. IOError/Unavailable when the
  // server cannot be reached.
  static Result<std::unique_ptr<PgDb>> Open(const std::string& url, bool read_only = false);
  ~PgDb() override;

  Backend backend() const override { return Backend::kPostgres; }
  Status Exec(std::string_view sql) override;
  Result<Statement> Prepare(std::string_view sql) override;
  Status Begin() override;
  Result<bool> HasTable(std::string_view name) override;
  Result<std::vector<std::string>> TableNames() override;
  Result<bool> CheckpointTruncate() override { return true; }
  int64_t Changes() const override { return changes_; }
  Result<bool> TryLockProjector() override;
  bool HoldsProjectorLock() const override;

  // LISTEN on `channel` (a plain lower-case identifier). The subscription
  // lasts as long as this connection: after a reconnect (connection_generation
  // moved) it is gone and notifications sent meanwhile are lost.
  Status Listen(std::string_view channel);
  // Waits up to `timeout` for notifications on `channel`; returns the
  // payloads of up to `max` of them, oldest first (empty on timeout; the
  // rest stay queued for the next call). Unavailable when the connection
  // broke (nothing is re-opened here: the caller re-subscribes).
  Result<std::vector<std::string>> AwaitNotifications(std::string_view channel,
                                                      std::chrono::milliseconds timeout,
                                                      size_t max);
  // Moves on every new connection (the first one included).
  int connection_generation() const { return generation_; }

 protected:
  Result<Statement> PrepareCached(std::string_view sql) override;

 private:
  friend class PgStatement;
  PgDb(pg_conn* conn, std::string url, std::string shown, bool read_only);
  // Re-opens a connection that broke; Unavailable while the server is away.
  Status EnsureConnected();
  Status SessionSetup();

  pg_conn* conn_;
  std::string url_;
  bool read_only_;
  int64_t changes_ = 0;
  // Bumped on every new connection: server-side prepared statements of an
  // older generation are gone and get prepared again.
  int generation_ = 0;
  int next_statement_ = 0;
  bool lock_held_ = false;
  int lock_generation_ = -1;
};

}  // namespace engram::projections
