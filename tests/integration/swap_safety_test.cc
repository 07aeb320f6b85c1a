// The read-model swap and the data folder's lock, against the real binary:
// a swap accepts only a database `engram replay --out` made from the same
// log, never one of the data folder's own files; a second writer on a data
// folder is refused while `engram serve` runs, even with RocksDB's LOCK gone.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "http/http_connection.h"
#include "log/rocksdb_event_log.h"
#include "projections/read_model.h"
#include "support/test_support.h"

namespace engram {
namespace {

namespace fs = std::filesystem;
using engram::testing::RunEngram;
using engram::testing::ServerProcess;
using engram::testing::TempDir;
using nlohmann::json;

constexpr char kAdminToken[] = "swap-safety-admin-token";

// The secrets `engram serve` needs, for RunEngram's command line.
std::string ServeEnv() {
  return std::string("ENGRAM_WEBHOOK_SECRET=") + testing::kTestSecret +
         " ENGRAM_TOOL_SECRET=" + testing::kToolSecret + " ";
}

// Every file under `dir`, relative, with its size: what a refused swap must
// leave exactly as it was.
std::map<std::string, uintmax_t> Files(const std::string& dir) {
  std::map<std::string, uintmax_t> out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const std::string name = fs::relative(e.path(), dir).string();
    // RocksDB's info logs and SQLite's shared memory change on their own.
    if (name.find("LOG") != std::string::npos || name.ends_with("-shm")) continue;
    // So does a SQLite write-ahead log's size: the projector truncates the
    // read model's at start and the next writes grow it again.
    out[name] = name.ends_with("-wal") ? 0 : e.file_size(ec);
  }
  return out;
}

// A data folder with a log of its own (another installation).
void MakeOtherDataDir(const std::string& data) {
  log::RocksDbEventLogOptions o;
  o.path = data + "/log";
  auto log = log::RocksDbEventLog::Open(o, SystemClock::Instance());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  log::NewEvent e;
  e.type = "post_call_transcription";
  e.body = testing::MakeTranscription("conv_other", "+15125550100", {"I live in Austin."}).dump();
  ASSERT_TRUE((*log)->Append(e).ok());
}

class SwapSafety : public ::testing::Test {
 protected:
  void SetUp() override {
    // ServerProcess's child inherits the environment.
    setenv("ENGRAM_ADMIN_TOKEN", kAdminToken, 1);
    server_ = std::make_unique<ServerProcess>(data_);
    ASSERT_TRUE(server_->Start()) << server_->LogText();
  }
  void TearDown() override {
    server_.reset();
    unsetenv("ENGRAM_ADMIN_TOKEN");
  }

  Result<http::ClientResponse> Swap(const std::string& path) {
    http::HttpConnection client("127.0.0.1", server_->port());
    return client.Send("POST", "/v1/admin/read-model/swap", json({{"path", path}}).dump(),
                       {{"Authorization", std::string("Bearer ") + kAdminToken},
                        {"Content-Type", "application/json"}});
  }

  // POSTs a swap of `path` and expects 400 naming `reason`, with every file
  // of the data folder (and `path`) where it was.
  void ExpectRefused(const std::string& path, const std::string& reason) {
    const auto before = Files(data_);
    const bool existed = fs::exists(path);
    auto r = Swap(path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 400) << path << ": " << r->body;
    EXPECT_NE(r->body.find(reason), std::string::npos) << path << ": " << r->body;
    EXPECT_EQ(fs::exists(path), existed) << path << " was moved";
    EXPECT_EQ(Files(data_), before) << "a refused swap of " << path << " changed the data folder";
  }

  TempDir dir_;
  const std::string data_ = dir_ / "data";
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(SwapSafety, RefusesTheLogsOwnFiles) {
  ExpectRefused(data_ + "/log/LOCK", "data folder's own files");
  std::string wal;
  for (const auto& e : fs::directory_iterator(data_ + "/log")) {
    if (e.path().extension() == ".log") wal = e.path().string();
  }
  ASSERT_FALSE(wal.empty()) << "no RocksDB WAL in " << data_ << "/log";
  ExpectRefused(wal, "data folder's own files");
  ExpectRefused(data_ + "/log/CURRENT", "data folder's own files");
  ExpectRefused(data_ + "/cache.db", "data folder's own files");
  ExpectRefused(data_ + "/engram.db", "data folder's own files");
  ExpectRefused(data_ + "/engram.lock", "data folder's own files");
  // The same files by another name: a path with dot segments, a symlink, a
  // hard link.
  ExpectRefused(data_ + "/log/../cache.db", "data folder's own files");
  fs::create_symlink(data_ + "/log/LOCK", dir_ / "lock-link");
  ExpectRefused(dir_ / "lock-link", "symbolic link");
  fs::create_hard_link(data_ + "/cache.db", dir_ / "cache-link.db");
  ExpectRefused(dir_ / "cache-link.db", "another name of the data folder's cache.db");
  // And a second server on the folder is still refused.
  auto [code, out] =
      RunEngram("serve --data-dir " + data_ + " --listen 127.0.0.1:0", ServeEnv() + "timeout 20 ");
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("is in use by another engram process"), std::string::npos) << out;
}

TEST_F(SwapSafety, RefusesFilesNotMadeByAReplayOfThisLog) {
  std::ofstream(dir_ / "empty.db").flush();
  ExpectRefused(dir_ / "empty.db", "it is empty");
  std::ofstream(dir_ / "text.db") << "not a database at all, but long enough to have a header";
  ExpectRefused(dir_ / "text.db", "not a SQLite database");
  {
    auto foreign = projections::SqliteDb::Open(dir_ / "foreign.db",
                                               projections::SqliteDb::Mode::kReadWriteCreate);
    ASSERT_TRUE(foreign.ok());
    ASSERT_TRUE((*foreign)->Exec("CREATE TABLE accounts (id INTEGER, owner TEXT)").ok());
  }
  const auto foreign_size = fs::file_size(dir_ / "foreign.db");
  ExpectRefused(dir_ / "foreign.db", "not made by `engram replay --out`");
  auto foreign = testing::OpenDb(dir_ / "foreign.db");
  EXPECT_EQ(projections::SchemaVersion(*foreign).value(), 0) << "the foreign db was migrated";
  EXPECT_EQ(fs::file_size(dir_ / "foreign.db"), foreign_size);
  // An Engram read model, but not a replay output (e.g. a copy of engram.db).
  ASSERT_TRUE(projections::OpenReadModel(dir_ / "copy.db").ok());
  ExpectRefused(dir_ / "copy.db", "no replay_origin marker");
  // A real replay, of another installation's log.
  MakeOtherDataDir(dir_ / "other");
  auto [code, out] =
      RunEngram("replay --data-dir " + (dir_ / "other") + " --out " + (dir_ / "other-replay.db"));
  ASSERT_EQ(code, 0) << out;
  ExpectRefused(dir_ / "other-replay.db", "replayed from another event log");
  ExpectRefused("relative/path.db", "must be absolute");
  ExpectRefused(dir_ / "missing.db", "no database at");
}

TEST_F(SwapSafety, AcceptsAReplayOfTheSameLog) {
  auto [code, out] = RunEngram("replay --data-dir " + data_ + " --out " + (dir_ / "replay.db"));
  ASSERT_EQ(code, 0) << out;
  auto r = Swap(dir_ / "replay.db");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_FALSE(fs::exists(dir_ / "replay.db"));
  // The swapped-in read model still knows where it came from, and a verify
  // against a fresh rebuild sees no difference in the marker.
  auto live = testing::OpenDb(data_ + "/engram.db");
  EXPECT_EQ(testing::QueryColumn(*live, "SELECT value FROM replay_origin WHERE key = 'made_by'"),
            std::vector<std::string>{"engram replay"});
  std::tie(code, out) = RunEngram("replay --verify --data-dir " + data_);
  EXPECT_EQ(code, 0) << out;
}

TEST_F(SwapSafety, SecondServeIsRefusedEvenWithoutRocksDbsLock) {
  // What the moved LOCK did: RocksDB alone no longer stops a second writer.
  ASSERT_TRUE(fs::remove(data_ + "/log/LOCK"));
  auto [code, out] =
      RunEngram("serve --data-dir " + data_ + " --listen 127.0.0.1:0", ServeEnv() + "timeout 20 ");
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("is in use by another engram process (pid "), std::string::npos) << out;
  EXPECT_NE(out.find("(engram serve)"), std::string::npos) << out;
}

TEST_F(SwapSafety, OfflineWritersAreRefusedWhileServing) {
  const std::string flags = " --data-dir " + data_;
  for (const std::string& command :
       {"forget user +15125550147" + flags, "dead-letters retry --all" + flags,
        "replay swap " + (dir_ / "any.db") + flags}) {
    auto [code, out] = RunEngram(command, "timeout 20 ");
    EXPECT_NE(code, 0) << command << ": " << out;
    EXPECT_NE(out.find("is in use by another engram process"), std::string::npos)
        << command << ": " << out;
  }
}

// The offline swap (server stopped) makes the same checks.
TEST(SwapSafetyOffline, ReplaySwapWithDataDirChecksTheFile) {
  TempDir dir;
  const std::string data = dir / "data";
  {
    ServerProcess server(data);
    ASSERT_TRUE(server.Start()) << server.LogText();
    auto [code, out] = RunEngram("replay --data-dir " + data + " --out " + (dir / "good.db"));
    ASSERT_EQ(code, 0) << out;
    EXPECT_EQ(server.Terminate(), 0);
  }
  MakeOtherDataDir(dir / "other");
  auto [code, out] =
      RunEngram("replay --data-dir " + (dir / "other") + " --out " + (dir / "other.db"));
  ASSERT_EQ(code, 0) << out;
  for (const std::string& bad : {data + "/cache.db", data + "/log/LOCK", dir / "other.db"}) {
    std::tie(code, out) = RunEngram("replay swap " + bad + " --data-dir " + data);
    EXPECT_EQ(code, 1) << bad << ": " << out;
    EXPECT_NE(out.find("refusing to swap in"), std::string::npos) << bad << ": " << out;
    EXPECT_TRUE(fs::exists(bad)) << bad;
  }
  std::tie(code, out) = RunEngram("replay swap " + (dir / "good.db") + " --data-dir " + data);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("swapped: "), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir / "good.db"));
}

}  // namespace
}  // namespace engram
