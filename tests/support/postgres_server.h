// PostgresServer: a real PostgreSQL 15 for tests, in a temporary folder,
// listening on 127.0.0.1 on a free port and on a Unix socket in that folder.
//
// PostgreSQL refuses to run as root, so when the test runs as root the
// cluster's folder is given to the unprivileged user `postgres` and initdb
// and the postmaster run as that user (setuid in the forked child, which
// keeps the postmaster's own pid for stopping it). Authentication is `trust`
// on loopback: the server is reachable from this machine only and lives as
// long as the test. Not thread-safe; one object per server.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace engram::testing {

class TempDir;

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();  // Stop()
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // initdb (once) and the postmaster; returns when it accepts connections.
  // False, with the reason in Error(), when the binaries are missing or the
  // server did not come up within 30 s.
  bool Start();
  // Fast shutdown (SIGINT: active sessions are ended) and wait. Idempotent.
  void Stop();
  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  const std::string& Error() const { return error_; }
  // The temporary folder holding the cluster, its socket and its log.
  std::string dir() const;

  // postgresql://postgres@127.0.0.1:PORT/DB
  std::string Url(const std::string& db = "postgres") const;
  // CREATE DATABASE `name` (a plain identifier); returns its URL, or "" with
  // Error() set.
  std::string CreateDatabase(const std::string& name);
  // Runs `sql` on database `db`; returns the first column of the first row
  // (empty when none), or "" with Error() set.
  std::string Query(const std::string& db, const std::string& sql);
  // The server's log (stdout and stderr of the postmaster).
  std::string LogText() const;

  // Where PostgreSQL 15's initdb and postgres live (ENGRAM_PG_BIN overrides).
  static std::string BinDir();

 private:
  bool InitDb();
  bool StartOn(uint16_t port);

  std::unique_ptr<TempDir> dir_;
  std::string data_dir_;
  std::string log_path_;
  std::string error_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uid_t uid_ = 0;  // the user the server runs as
  gid_t gid_ = 0;
  bool initialised_ = false;
};

// A suite whose tests share one PostgreSQL server (started once per suite),
// each test with a database of its own: `db_` ("<prefix>_<n>") and `url_`.
class PostgresSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  // Call from SetUp.
  void MakeDatabase(const std::string& prefix);

  static PostgresServer* pg_;
  std::string db_;
  std::string url_;
};

}  // namespace engram::testing
