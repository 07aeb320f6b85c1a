// PgDb, the PostgreSQL read-model backend, against a real PostgreSQL 15:
// values round-trip as SQLite gives them back, errors keep the transaction
// contract the projectors rely on, and one runner projects at a time.
#include "projections/pg_db.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "log/rocksdb_event_log.h"
#include "projections/projector_runner.h"
#include "projections/projectors.h"
#include "projections/read_model.h"
#include "projections/table_dump.h"
#include "support/postgres_server.h"
#include "support/test_support.h"

namespace engram::projections {
namespace {

using engram::testing::Fixture;
using engram::testing::MakeTranscription;
using engram::testing::PostgresServer;
using engram::testing::QueryColumn;
using engram::testing::QueryInt;
using engram::testing::TempDir;
using Rows = std::vector<std::string>;

class PgDbTest : public testing::PostgresSuite {
 protected:
  void SetUp() override { MakeDatabase("pgdb"); }
  std::unique_ptr<ReadModelDb> Open() {
    auto db = OpenReadModel(url_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }
};

TEST_F(PgDbTest, ValuesComeBackAsSqliteGivesThem) {
  auto db = Open();
  ASSERT_TRUE(db);
  EXPECT_EQ(db->backend(), ReadModelDb::Backend::kPostgres);
  ASSERT_TRUE(db->Exec("CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB)").ok());
  const std::string bytes("\0\x01\xff'x", 5);
  auto ins = db->Prepare("INSERT INTO v VALUES (?, ?, ?, ?)");
  ASSERT_TRUE(ins.ok());
  ins->BindAll(int64_t{1} << 40, 0.1, std::string("it's \"q\" ?"));
  ins->BindBlob(4, bytes.data(), bytes.size());
  ASSERT_TRUE(ins->Run().ok());
  ins->Reset();
  ins->BindAll(-7, 2.5, std::nullopt, std::nullopt);  // 4: left NULL too
  ASSERT_TRUE(ins->Run().ok());
  EXPECT_EQ(db->Changes(), 1);

  auto st = db->Prepare("SELECT i, r, t, b, t IS NULL FROM v ORDER BY t");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->Step());  // NULL sorts first, as in SQLite
  EXPECT_EQ(st->Int(0), -7);
  EXPECT_TRUE(st->IsNull(2));
  EXPECT_EQ(st->OptText(2), std::nullopt);
  EXPECT_EQ(st->Int(4), 1);
  EXPECT_EQ(st->Render(3), "NULL");
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->Int(0), int64_t{1} << 40);
  EXPECT_EQ(st->Double(1), 0.1);
  EXPECT_EQ(st->Render(1), "0.10000000000000001");
  EXPECT_EQ(st->Text(2), "it's \"q\" ?");
  EXPECT_EQ(st->Blob(3), bytes);
  EXPECT_EQ(st->Render(3), "x'0001ff2778'");
  EXPECT_EQ(st->Text(4), "0");
  EXPECT_FALSE(*st->Step());

  ASSERT_TRUE(db->Run("UPDATE v SET t = ? WHERE i < ?", "x", 100).ok());
  EXPECT_EQ(db->Changes(), 1);
  EXPECT_EQ(*db->HasTable("v"), true);
  EXPECT_EQ(*db->HasTable("w"), false);
  auto names = db->TableNames();
  ASSERT_TRUE(names.ok());
  EXPECT_NE(std::find(names->begin(), names->end(), "checkpoints"), names->end());
  EXPECT_NE(std::find(names->begin(), names->end(), "memories"), names->end());
}

TEST_F(PgDbTest, AFailedStatementRollsBackToItsSavepointAndTheTransactionGoesOn) {
  auto db = Open();
  ASSERT_TRUE(db);
  Transaction txn(*db);
  ASSERT_TRUE(txn.Begin().ok());
  ASSERT_TRUE(db->Run("INSERT INTO checkpoints(name, seq) VALUES (?, ?)", "a", 1).ok());
  ASSERT_TRUE(db->Exec("SAVEPOINT apply_event").ok());
  Status dup = db->Run("INSERT INTO checkpoints(name, seq) VALUES (?, ?)", "a", 2);
  EXPECT_EQ(dup.code(), StatusCode::kConflict) << dup.ToString();
  ASSERT_TRUE(db->Exec("ROLLBACK TO apply_event").ok());
  ASSERT_TRUE(db->Exec("RELEASE apply_event").ok());
  ASSERT_TRUE(AdvanceCheckpoint(*db, "a", 1, 5).ok());
  EXPECT_EQ(AdvanceCheckpoint(*db, "a", 1, 6).code(), StatusCode::kConflict);
  ASSERT_TRUE(txn.Commit().ok());
  EXPECT_EQ(*ReadCheckpoint(*db, "a"), 5u);

  // A COMMIT after an error that nothing rolled back is a failure, not the
  // silent ROLLBACK PostgreSQL answers with.
  Transaction broken(*db);
  ASSERT_TRUE(broken.Begin().ok());
  EXPECT_FALSE(db->Run("INSERT INTO checkpoints(name, seq) VALUES (?, ?)", "a", 9).ok());
  EXPECT_FALSE(broken.Commit().ok());
  EXPECT_EQ(*ReadCheckpoint(*db, "a"), 5u);
}

TEST_F(PgDbTest, ALostConnectionIsOpenedAgainAndItsProjectorLockIsGone) {
  auto db = Open();
  ASSERT_TRUE(db);
  ASSERT_TRUE(*db->TryLockProjector());
  auto cached = db->Cached("SELECT count(*) FROM checkpoints WHERE seq >= ?");
  ASSERT_TRUE(cached.ok());
  // The server ends the session (a restart, a failover, an administrator);
  // wait until it is gone, as pg_terminate_backend only signals it.
  const std::string db_name = url_.substr(url_.rfind('/') + 1);
  const std::string sessions =
      "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db_name + "'";
  pg_->Query(
      "postgres",
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db_name + "'");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (pg_->Query("postgres", sessions) != "0") {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*cached)->Bind(1, 0);
  auto failed = (*cached)->Step();
  (*cached)->Reset();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable) << failed.status().ToString();
  EXPECT_FALSE(db->HoldsProjectorLock()) << "the lock ended with the session";
  // The next call connects again and prepares the statement anew.
  (*cached)->Bind(1, 0);
  auto row = (*cached)->Step();
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_TRUE(*row);
  EXPECT_EQ((*cached)->Int(0), 0);
  (*cached)->Reset();
  EXPECT_TRUE(*db->TryLockProjector());
}

TEST_F(PgDbTest, OneRunnerProjectsAtATimeAndFailedEventsRollBackAlone) {
  TempDir dir;
  log::RocksDbEventLogOptions o;
  o.path = dir / "log";
  auto log = std::move(log::RocksDbEventLog::Open(o, SystemClock::Instance())).value();
  auto append = [&](const std::string& body) {
    log::NewEvent e;
    e.type = "post_call_transcription";
    e.route = "/webhook/post-call";
    e.body = body;
    e.verification = log::Verification::kSignatureValid;
    ASSERT_TRUE(log->Append(std::move(e)).ok());
  };
  nlohmann::json bad = MakeTranscription("conv_bad", "+15550100009", {"Hi"});
  bad["data"]["transcript"] = "not an array";
  append(bad.dump());
  append(Fixture("post_call_transcription.json"));
  auto engine = engram::testing::TestEngine();
  MemoryEngineParts parts = engine->Parts(nullptr);
  parts.extraction = ExtractionMode::kInline;

  auto first = std::make_unique<ProjectorRunner>(*log, Open(), MakeProjectors(parts));
  ProjectorRunner second(*log, Open(), MakeProjectors(parts));
  ASSERT_TRUE(first->CatchUp().ok());
  EXPECT_TRUE(first->Active());
  EXPECT_EQ(first->Applied(), log->Head());
  Status refused = second.CatchUp();
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  EXPECT_FALSE(second.Active());

  auto db = Open();
  EXPECT_EQ(QueryColumn(*db, "SELECT seq || '|' || status FROM webhook_events ORDER BY seq"),
            (Rows{"1|failed", "2|done"}));
  EXPECT_EQ(QueryColumn(*db, "SELECT id FROM conversations"),
            Rows{"conv_0801k7b3m9qz2tx5hp4ev6dwc1ry"});
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM memories"), 3);

  // The first runner's connection ends: the second takes over, from the
  // checkpoints the first committed.
  append(Fixture("post_call_transcription_2.json"));
  first.reset();
  // The server ends the closed session (and its lock) a moment later: ask
  // again, as a standby does.
  Status took_over = second.CatchUp();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!took_over.ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    took_over = second.CatchUp();
  }
  ASSERT_TRUE(took_over.ok()) << took_over.ToString();
  EXPECT_TRUE(second.Active());
  EXPECT_EQ(second.Applied(), log->Head());
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM conversations"), 2);
  EXPECT_EQ(QueryColumn(*db, "SELECT seq FROM webhook_events WHERE status = 'done' ORDER BY seq"),
            (Rows{"2", "3"}));
}

}  // namespace
}  // namespace engram::projections
