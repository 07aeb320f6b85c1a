// Erasure that reaches the disk (issue 12): against the real binary, after a
// forget nothing of the forgotten caller is left in any file of the data
// folder (RocksDB WAL and SSTs decoded, SQLite files and their WAL), the
// other caller is untouched, and the folder is private (0700/0600).
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/clock.h"
#include "common/crypto.h"
#include "integration/erasure_fixture.h"
#include "log/event_codec.h"
#include "log/rocksdb_event_log.h"
#include "support/disk_scan.h"
#include "support/test_support.h"

namespace engram {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::FindOnDisk;
using testing::RunEngram;
using testing::ServerProcess;
using testing::TempDir;

using Client = testing::ErasureClient;
using testing::CallerOneStrings;
using testing::CallerTwoStrings;
using testing::kCallerOne;

class ErasureOnDisk : public testing::ErasureFixture {
 protected:
  // The audit trail of `who` as the binary prints it (JSON).
  json Audit(const std::string& who) {
    auto [code, out] = RunEngram("audit user " + who + " --json --data-dir " + data_, "", true);
    EXPECT_EQ(code, 0) << out;
    return json::parse(out, nullptr, false);
  }
};

TEST_F(ErasureOnDisk, ForgetByUserIdLeavesNoByteOfTheCallerInAnyFileAndKeepsTheOther) {
  ServerProcess server(data_);
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  const std::string user_two = Ingest(c);
  ExpectCallerOneOnDisk();
  // What the second caller has, before (a recall reinforces what it finds,
  // so the rows are read after it).
  const std::set<std::string> recalled_before = RecalledContents(c, user_two);
  ASSERT_FALSE(recalled_before.empty());
  Settle(c);
  const std::string memories_before = c.Admin("GET", "/v1/users/" + user_two + "/memories").body;
  const json audit_before = Audit(user_two);
  ASSERT_FALSE(audit_before["entries"].empty());

  auto r = c.Admin("DELETE", "/v1/users/cust_000184");
  ASSERT_EQ(r.status, 200) << r.body;
  WaitForApplied(c, json::parse(r.body)["seq"].get<int64_t>());
  // While the server runs: the SQLite WALs were truncated, the log purged.
  ExpectNoTraceOfCallerOne("while serving");

  EXPECT_EQ(c.Admin("GET", "/v1/users/" + user_two + "/memories").body, memories_before);
  json audit_after = Audit(user_two);
  // The second caller's trail holds what it held (and the recall made since).
  ASSERT_GE(audit_after["entries"].size(), audit_before["entries"].size());
  for (size_t i = 0; i < audit_before["entries"].size(); ++i) {
    EXPECT_EQ(audit_after["entries"][i], audit_before["entries"][i]) << i;
  }
  EXPECT_EQ(RecalledContents(c, user_two), recalled_before);
  auto second = FindOnDisk(data_, CallerTwoStrings());
  EXPECT_FALSE(second.empty());
  Settle(c);
  EXPECT_EQ(server.Terminate(), 0);

  ExpectNoTraceOfCallerOne("after a clean stop");
  ExpectReplayEqualAndChainVerifies();
}

TEST_F(ErasureOnDisk, ForgetByPhoneNumberAlsoReachesAReadModelASwapKept) {
  {
    ServerProcess server(data_);
    ASSERT_TRUE(server.Start()) << server.LogText();
    Client c(server.port());
    Ingest(c);
    EXPECT_EQ(server.Terminate(), 0);
  }
  // What a swap leaves beside the live read model (replay/swap.cc).
  for (const char* suffix : {"", "-wal"}) {
    if (fs::exists(data_ + "/engram.db" + suffix)) {
      fs::copy_file(data_ + "/engram.db" + suffix,
                    data_ + "/engram.db.replaced-1700000000" + suffix);
    }
  }
  // A SQLite file that is not a read model (a key store, a tool's own file)
  // is left as it is, byte for byte.
  {
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open((data_ + "/other.db").c_str(), &other), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "CREATE TABLE t(x); INSERT INTO t VALUES ('unrelated');", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(other);
  }
  const std::string other_before = testing::ReadFile(data_ + "/other.db");
  ServerProcess server(data_);
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  ExpectCallerOneOnDisk();
  auto r = c.Admin("DELETE", std::string("/v1/users/") + kCallerOne);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["forgotten"], "cust_000184");
  WaitForApplied(c, json::parse(r.body)["seq"].get<int64_t>());
  ExpectNoTraceOfCallerOne("while serving");
  EXPECT_EQ(server.Terminate(), 0);
  ExpectNoTraceOfCallerOne("after a clean stop");
  // The kept read model lost only her rows: still usable.
  auto kept = testing::OpenDb(data_ + "/engram.db.replaced-1700000000");
  EXPECT_EQ(testing::QueryInt(*kept, "SELECT count(*) FROM users"), 1);
  EXPECT_EQ(testing::QueryInt(*kept, "SELECT count(*) FROM users WHERE id = 'cust_000184'"), 0);
  EXPECT_FALSE(FindOnDisk(data_, CallerTwoStrings()).empty());
  EXPECT_EQ(testing::ReadFile(data_ + "/other.db"), other_before);
  EXPECT_FALSE(fs::exists(data_ + "/other.db-wal"));
  ExpectReplayEqualAndChainVerifies();
}

// Her number reached Engram before her first call was projected: the init
// made a user of its own for it. That user goes too (the log entry that
// made it is hers and is erased), and a replay still equals the live rows.
TEST_F(ErasureOnDisk, AUserMadeFromTheCallersNumberGoesWithThem) {
  ServerProcess server(data_);
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  auto init = c.Tool("/webhook/conversation-init",
                     json::parse(testing::Fixture("conversation_init_request.json")));
  ASSERT_EQ(init.status, 200) << init.body;
  const std::string by_number = json::parse(init.body)["dynamic_variables"]["user_id"];
  ASSERT_NE(by_number, "cust_000184");
  ASSERT_EQ(c.PostCall(testing::Fixture("post_call_transcription.json")), 200);
  Settle(c);
  EXPECT_FALSE(FindOnDisk(data_, {"5125550147", "Priya"}).empty());
  auto r = c.Admin("DELETE", "/v1/users/cust_000184");
  ASSERT_EQ(r.status, 200) << r.body;
  WaitForApplied(c, json::parse(r.body)["seq"].get<int64_t>());
  EXPECT_EQ(c.Admin("GET", "/v1/users/" + by_number).status, 404);
  ExpectNoTraceOfCallerOne("while serving");
  EXPECT_EQ(server.Terminate(), 0);
  ExpectNoTraceOfCallerOne("after a clean stop");
  ExpectReplayEqualAndChainVerifies();
}

// Content hashes of every file, but SQLite's shared-memory index (readers
// write their marks there) and RocksDB's info logs (timestamps, stats).
std::map<std::string, std::string> FileDigests(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name.ends_with("-shm") || name.starts_with("LOG")) continue;
    out[e.path().string()] = crypto::Sha256Hex(testing::ReadFile(e.path().string()));
  }
  return out;
}

TEST_F(ErasureOnDisk, AnUnknownUserIs404AndChangesNothing) {
  ServerProcess server(data_);
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  ASSERT_EQ(c.PostCall(testing::Fixture("post_call_transcription.json")), 200);
  Settle(c);
  const json head = c.Health()["log_head"];
  const auto files = FileDigests(data_);
  EXPECT_EQ(c.Admin("DELETE", "/v1/users/nobody_at_all").status, 404);
  EXPECT_EQ(c.Admin("DELETE", "/v1/users/+19995550100").status, 404);
  EXPECT_EQ(c.Health()["log_head"], head);
  EXPECT_EQ(FileDigests(data_), files);
  EXPECT_EQ(server.Terminate(), 0);
  auto [code, out] = RunEngram("forget user nobody_at_all --data-dir " + data_);
  EXPECT_EQ(code, 4) << out;
  EXPECT_FALSE(FindOnDisk(data_, {"Priya", "hollisvane"}).empty());  // still there
}

TEST_F(ErasureOnDisk, TheForgetCommandOnAStoppedServerLeavesTheFilesClean) {
  std::string user_two;
  {
    ServerProcess server(data_);
    ASSERT_TRUE(server.Start()) << server.LogText();
    Client c(server.port());
    user_two = Ingest(c);
    EXPECT_EQ(server.Terminate(), 0);
  }
  ExpectCallerOneOnDisk();
  auto [code, out] = RunEngram(std::string("forget user ") + kCallerOne + " --data-dir " + data_);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("forgot cust_000184"), std::string::npos) << out;
  // No server started since: the command itself deleted and purged.
  ExpectNoTraceOfCallerOne("after engram forget");
  auto db = testing::OpenDb(data_ + "/engram.db");
  EXPECT_EQ(testing::QueryInt(*db, "SELECT count(*) FROM users WHERE id = '" + user_two + "'"), 1);
  EXPECT_GT(testing::QueryInt(*db, "SELECT count(*) FROM memories"), 0);
  db.reset();
  ExpectReplayEqualAndChainVerifies();
}

// Every folder 0700 and every file 0600 under `dir`; the offenders otherwise.
std::string NotPrivate(const std::string& dir) {
  std::string out;
  auto check = [&](const fs::path& p) {
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) return;
    const mode_t mode = st.st_mode & 07777;
    const mode_t want = S_ISDIR(st.st_mode) ? 0700 : 0600;
    if (mode != want) {
      char line[64];
      std::snprintf(line, sizeof line, " %o\n", static_cast<unsigned>(mode));
      out.append(p.string()).append(line);
    }
  };
  check(dir);
  for (const auto& e : fs::recursive_directory_iterator(dir)) check(e.path());
  return out;
}

TEST_F(ErasureOnDisk, TheDataFolderIsPrivate) {
  ServerProcess server(data_);
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  ASSERT_EQ(c.PostCall(testing::Fixture("post_call_transcription.json")), 200);
  Settle(c);
  EXPECT_EQ(NotPrivate(data_), "");  // while serving: -wal and -shm too
  EXPECT_EQ(server.Terminate(), 0);
  EXPECT_EQ(NotPrivate(data_), "");
}

TEST_F(ErasureOnDisk, AFolderLeftOpenByAnOlderVersionIsNarrowedWithAWarning) {
  fs::create_directories(data_);
  chmod(data_.c_str(), 0755);
  { std::ofstream(data_ + "/notes.txt") << "left by hand"; }
  chmod((data_ + "/notes.txt").c_str(), 0644);
  ServerProcess server(data_);
  ASSERT_TRUE(server.Start()) << server.LogText();
  EXPECT_NE(server.LogText().find("readable by others; now owner-only"), std::string::npos)
      << server.LogText();
  EXPECT_EQ(NotPrivate(data_), "");
  EXPECT_EQ(server.Terminate(), 0);
}

// The log on its own: an erased body's old versions leave the WAL (the
// entries appended since the last flush) and the SSTs (those before).
TEST(EventLogPurge, ErasedBodiesLeaveTheWalAndTheSsts) {
  TempDir dir;
  const std::string path = dir / "log";
  FakeClock clock(1'700'000'000'000'000);
  auto append = [](log::RocksDbEventLog& log, const std::string& body) {
    log::NewEvent e;
    e.type = "post_call_transcription";
    e.route = "/webhook/post-call";
    e.body = body;
    auto r = log.Append(std::move(e));
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->seq : 0;
  };
  std::vector<log::Seq> erase;
  {
    auto log = std::move(log::RocksDbEventLog::Open({.path = path}, clock)).value();
    for (int i = 0; i < 50; ++i) {
      const log::Seq seq = append(*log, "{\"n\":" + std::to_string(i) +
                                            (i % 10 == 3 ? ",\"who\":\"Zebulon Quartermaine\"}"
                                                         : ",\"who\":\"someone else\"}"));
      if (i % 10 == 3) erase.push_back(seq);
    }
  }
  {  // Reopening flushed the recovered WAL: these are in an SST now.
    auto log = std::move(log::RocksDbEventLog::Open({.path = path}, clock)).value();
    for (int i = 0; i < 5; ++i) erase.push_back(append(*log, "{\"who\":\"Zebulon, in the WAL\"}"));
  }
  auto hits = FindOnDisk(path, {"Zebulon"});
  std::set<std::string> kinds;
  for (const auto& h : hits) kinds.insert(h.where.substr(0, h.where.find(' ')));
  EXPECT_TRUE(kinds.count("sst") && kinds.count("wal")) << testing::Describe(hits);
  {
    auto log = std::move(log::RocksDbEventLog::Open({.path = path}, clock)).value();
    const log::Seq by = append(*log, "{}");
    ASSERT_TRUE(log->Erase(erase, by).ok());
    // Already while open, not only once closed.
    hits = FindOnDisk(path, {"Zebulon"});
    EXPECT_TRUE(hits.empty()) << testing::Describe(hits);
    auto events = log->ReadAfter(0, 100);
    ASSERT_TRUE(events.ok());
    EXPECT_EQ(events->size(), 56u);
    EXPECT_NE((*events)[0].body.find("someone else"), std::string::npos);
  }
  hits = FindOnDisk(path, {"Zebulon"});
  EXPECT_TRUE(hits.empty()) << testing::Describe(hits);
  EXPECT_FALSE(FindOnDisk(path, {"someone else"}).empty());
}

// The purge compacts only the SST files that hold an erased entry: on a
// large log, forgetting one caller does not rewrite the whole log.
TEST(EventLogPurge, OnlyTheFilesHoldingAnErasedEntryAreRewritten) {
  TempDir dir;
  const std::string path = dir / "log";
  FakeClock clock(1'700'000'000'000'000);
  auto ssts = [&] {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) {
      if (e.path().extension() == ".sst") out.insert(e.path().filename().string());
    }
    return out;
  };
  log::Seq target = 0;
  // Two rounds: a third file and the purge's own flush would reach L0's
  // compaction trigger (4 files), and RocksDB would merge them all anyway.
  for (int round = 0; round < 2; ++round) {  // each reopen flushes: one SST per round
    auto log = std::move(log::RocksDbEventLog::Open({.path = path}, clock)).value();
    for (int i = 0; i < 20; ++i) {
      log::NewEvent e;
      e.type = "post_call_transcription";
      e.route = "/webhook/post-call";
      e.body = round == 0 && i == 5 ? R"({"who":"Zebulon Quartermaine"})" : R"({"who":"x"})";
      const log::Seq seq = log->Append(std::move(e)).value().seq;
      if (round == 0 && i == 5) target = seq;
    }
  }
  auto log = std::move(log::RocksDbEventLog::Open({.path = path}, clock)).value();
  const std::set<std::string> before = ssts();
  ASSERT_EQ(before.size(), 2u);
  ASSERT_TRUE(log->Erase({target}, log->Head()).ok());
  const std::set<std::string> after = ssts();
  std::vector<std::string> kept;
  std::set_intersection(before.begin(), before.end(), after.begin(), after.end(),
                        std::back_inserter(kept));
  EXPECT_EQ(kept, std::vector<std::string>{*before.rbegin()}) << "the second round's file stays";
  auto hits = FindOnDisk(path, {"Zebulon"});
  EXPECT_TRUE(hits.empty()) << testing::Describe(hits);
}

// A log whose entries an earlier version erased (rewritten in place, no
// purge, no marker) is purged once when it is next opened.
TEST(EventLogPurge, ALogErasedByAnEarlierVersionIsPurgedAtOpen) {
  TempDir dir;
  const std::string path = dir / "log";
  FakeClock clock(1'700'000'000'000'000);
  {
    auto log = std::move(log::RocksDbEventLog::Open({.path = path}, clock)).value();
    for (const char* body : {"{}", R"({"who":"Zebulon Quartermaine"})", "{}"}) {
      log::NewEvent e;
      e.type = "post_call_transcription";
      e.route = "/webhook/post-call";
      e.body = body;
      ASSERT_TRUE(log->Append(std::move(e)).ok());
    }
  }
  {  // What Erase did before the purge existed.
    rocksdb::DBOptions options;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {"default", "events", "idempotency", "erasures"}) {
      families.push_back({name, rocksdb::ColumnFamilyOptions()});
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string bytes;
    ASSERT_TRUE(db->Get({}, handles[1], log::EncodeSeqKey(2), &bytes).ok());
    log::Event e = log::DecodeEvent(bytes).value();
    e.body.clear();
    ASSERT_TRUE(db->Put({}, handles[1], log::EncodeSeqKey(2), log::EncodeEvent(e)).ok());
    ASSERT_TRUE(db->Put({}, handles[3], log::EncodeSeqKey(2), log::EncodeSeqKey(3)).ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  }
  auto hits = FindOnDisk(path, {"Zebulon"});
  ASSERT_FALSE(hits.empty());
  {
    auto log = std::move(log::RocksDbEventLog::Open({.path = path}, clock)).value();
    hits = FindOnDisk(path, {"Zebulon"});
    EXPECT_TRUE(hits.empty()) << testing::Describe(hits);
    EXPECT_TRUE(log->ReadAfter(1, 1).value()[0].erased);
  }
}

// The purge's cost on a log of 20k events (about 1 KiB each): printed, not
// asserted (timing depends on the machine); docs/AUDIT.md quotes it.
TEST(EventLogPurge, CostOnA20kEventLog) {
  TempDir dir;
  FakeClock clock(1'700'000'000'000'000);
  auto log =
      std::move(log::RocksDbEventLog::Open({.path = dir / "log", .sync = false}, clock)).value();

  std::vector<log::Seq> erase;
  for (int i = 0; i < 20'000; ++i) {
    log::NewEvent e;
    e.type = "post_call_transcription";
    e.route = "/webhook/post-call";
    // Hex of hashes, different in each event: about as compressible as
    // words (LZ4 halves it).
    std::string filler;
    while (filler.size() < 1000)
      filler += crypto::Sha256Hex(std::to_string(i * 100 + filler.size()));
    e.body = "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + filler + "\"}";
    auto r = log->Append(std::move(e));
    ASSERT_TRUE(r.ok());
    if (i % 2000 == 7) erase.push_back(r->seq);  // one caller's 10 calls, spread out
  }
  // As on a server that ran a while: the entries in SSTs, not the memtable.
  log.reset();
  log = std::move(log::RocksDbEventLog::Open({.path = dir / "log", .sync = false}, clock)).value();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(log->Erase(erase, log->Head()).ok());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("erase+purge of %zu entries spread over 20000 (%.1f MB on disk): %.0f ms\n",
              erase.size(), log->DiskUsageBytes() / 1e6, ms);
  RecordProperty("erase_purge_ms", static_cast<int>(ms));
}

}  // namespace
}  // namespace engram
