// The caller keys shared in PostgreSQL (src/keys/pg_key_table.h), against a
// real PostgreSQL 15: two KeyStores on one database stand for two nodes.
// Keys made by one open on the other; a race to make the first key of a
// subject ends with one key; a destruction on one node reaches the other's
// cache (also when its listening connection was cut); an erasure intent
// belongs to the node that began it until that node dies; a rotation waits
// for every node to be gone; a destroyed key is vacuumed out of the table's
// file.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <set>
#include <thread>

#include "common/clock.h"
#include "keys/key_store.h"
#include "keys/keys_setup.h"
#include "keys/master_key.h"
#include "keys/pg_key_table.h"
#include "keys/sealing_event_log.h"
#include "log/rocksdb_event_log.h"
#include "support/disk_scan.h"
#include "support/postgres_server.h"
#include "support/test_support.h"

namespace engram::keys {
namespace {

using engram::testing::PostgresServer;
using engram::testing::TempDir;

SecretKey Key(uint8_t fill) {
  SecretKey k;
  k.bytes.fill(fill);
  return k;
}

class PgKeysTest : public testing::PostgresSuite {
 protected:
  void SetUp() override { MakeDatabase("pgkeys"); }
  // One "node": a KeyStore over its own connections to the shared database.
  std::unique_ptr<KeyStore> Node(uint8_t master = 7) {
    auto table = PgKeyTable::Open(url_, false);
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    if (!table.ok()) return nullptr;
    auto store = KeyStore::Open(std::move(table).value(), Key(master));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  // Polls `find` until it reports the key gone; the time it took, or -1.
  static int64_t MillisUntilGone(KeyStore& store, const std::string& key_id) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 400; ++i) {
      auto found = store.Find(key_id);
      if (found.ok() && !*found) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
            .count();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
  }
};

TEST_F(PgKeysTest, AKeyMadeByOneNodeOpensOnTheOther) {
  auto a = Node();
  auto b = Node();
  ASSERT_TRUE(a && b);
  auto made = a->KeyFor("user:alice");
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto found = b->Find((*made)->key_id);
  ASSERT_TRUE(found.ok() && *found) << "node B must find node A's key";
  EXPECT_EQ((*found)->key.bytes, (*made)->key.bytes);
  auto same = b->KeyFor("user:alice");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)->key_id, (*made)->key_id) << "one key per subject across nodes";
  // Outside the read model's schema: dumps and replay --verify never see it.
  EXPECT_EQ(pg_->Query(db_, "SELECT count(*) FROM engram_keys.data_keys"), "1");
  EXPECT_EQ(pg_->Query(db_,
                       "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                       "current_schema() AND table_name LIKE '%key%'"),
            "0");
}

TEST_F(PgKeysTest, TwoNodesMakingTheFirstKeyOfASubjectAtOnceEndWithOne) {
  // The table's own contract: the second insert of a subject keeps the first.
  {
    auto t1 = PgKeyTable::Open(url_, false);
    auto t2 = PgKeyTable::Open(url_, false);
    ASSERT_TRUE(t1.ok() && t2.ok());
    const std::string hash = KeyStore::SubjectHash("user:race");
    auto first = (*t1)->AddKeys({{hash, std::string(16, 'a'), "wrapped-a"}});
    auto second = (*t2)->AddKeys({{hash, std::string(16, 'b'), "wrapped-b"}});
    ASSERT_TRUE(first.ok() && second.ok()) << second.status().ToString();
    EXPECT_TRUE((*first)[0]);
    EXPECT_FALSE((*second)[0]);
    auto row = (*t2)->FindBySubject(hash);
    ASSERT_TRUE(row.ok() && *row);
    EXPECT_EQ((*row)->key_id, std::string(16, 'a'));
  }
  // And through two stores, many threads racing on fresh subjects.
  auto a = Node();
  auto b = Node();
  ASSERT_TRUE(a && b);
  constexpr int kSubjects = 40;
  std::vector<std::string> ids_a(kSubjects), ids_b(kSubjects);
  std::atomic<int> failures{0};
  auto run = [&](KeyStore& store, std::vector<std::string>& ids) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < kSubjects; i += 4) {
          auto k = store.KeyFor("user:racer" + std::to_string(i));
          if (!k.ok()) {
            ADD_FAILURE() << k.status().ToString();
            ++failures;
            continue;
          }
          ids[i] = (*k)->key_id;
        }
      });
    }
    for (auto& th : threads) th.join();
  };
  std::thread ta([&] { run(*a, ids_a); });
  std::thread tb([&] { run(*b, ids_b); });
  ta.join();
  tb.join();
  EXPECT_EQ(failures, 0);
  for (int i = 0; i < kSubjects; ++i) EXPECT_EQ(ids_a[i], ids_b[i]) << "subject " << i;
  EXPECT_EQ(pg_->Query(db_,
                       "SELECT count(*) FROM engram_keys.data_keys WHERE key_id <> "
                       "decode('61616161616161616161616161616161', 'hex')"),
            std::to_string(kSubjects));
}

TEST_F(PgKeysTest, ADestructionOnOneNodeReachesTheOtherNodesCachePromptly) {
  auto a = Node();
  auto b = Node();
  ASSERT_TRUE(a && b);
  auto key = a->KeyFor("user:gone");
  ASSERT_TRUE(key.ok());
  const std::string id = (*key)->key_id;
  // Both nodes hold it in their caches.
  ASSERT_TRUE(*a->Find(id));
  ASSERT_TRUE(*b->Find(id));
  ASSERT_TRUE(b->BeginErasure("forget:gone", {"user:gone"}, {}).ok());
  ASSERT_TRUE(b->CompleteErasure("forget:gone", 42).ok());
  const int64_t ms = MillisUntilGone(*a, id);
  ASSERT_GE(ms, 0) << "node A still opens a key node B destroyed";
  EXPECT_LT(ms, 1000);
  std::printf("destruction seen by the other node after %lld ms\n", static_cast<long long>(ms));
  auto fresh = a->KeyFor("user:gone");
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE((*fresh)->key_id, id) << "a new call after a forget gets a new key, not the dead one";
}

TEST_F(PgKeysTest, ALostListenerMakesTheNodeReadThroughAndDropItsCache) {
  auto a = Node();
  auto b = Node();
  ASSERT_TRUE(a && b);
  auto key = a->KeyFor("user:cut");
  ASSERT_TRUE(key.ok());
  const std::string id = (*key)->key_id;
  ASSERT_TRUE(*a->Find(id));
  // Cut every listening connection, then destroy at once: the notification
  // goes nowhere, yet node A must not open the key again.
  EXPECT_NE(pg_->Query(db_,
                       "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                       "datname = current_database() AND query LIKE 'LISTEN%'"),
            "0");
  ASSERT_TRUE(b->BeginErasure("forget:cut", {"user:cut"}, {}).ok());
  ASSERT_TRUE(b->CompleteErasure("forget:cut", 7).ok());
  EXPECT_GE(MillisUntilGone(*a, id), 0);
  // And it listens again: a later destruction still reaches it.
  auto other = a->KeyFor("user:later");
  ASSERT_TRUE(other.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(*a->Find((*other)->key_id));
  ASSERT_TRUE(b->BeginErasure("forget:later", {"user:later"}, {}).ok());
  ASSERT_TRUE(b->CompleteErasure("forget:later", 8).ok());
  const int64_t ms = MillisUntilGone(*a, (*other)->key_id);
  EXPECT_GE(ms, 0);
  EXPECT_LT(ms, 1000);
}

// Node B starting while node A is between the steps of a forget must leave
// A's intent alone; once A is dead, B's recovery takes it over.
TEST_F(PgKeysTest, AnErasureIntentBelongsToTheNodeThatBeganItUntilItDies) {
  TempDir dir;
  log::RocksDbEventLogOptions o;
  o.path = dir / "log";
  auto log = log::RocksDbEventLog::Open(o, SystemClock::Instance());
  ASSERT_TRUE(log.ok());
  auto a = Node();
  auto b = Node();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->KeyFor("user:mid").ok());
  ASSERT_TRUE(a->BeginErasure("forget:mid", {"user:mid"}, {}).ok());
  EXPECT_FALSE(*b->ClaimErasure("forget:mid"));
  // B's start-up recovery: the event is not in the log (A is still
  // appending it), but the intent is A's, so it stays.
  SealingEventLog sealed_b(**log, *b);
  auto report = sealed_b.Recover();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->owned_elsewhere, 1u);
  EXPECT_EQ(report->dropped, 0u);
  EXPECT_EQ(pg_->Query(db_,
                       "SELECT count(*) FROM engram_keys.erasures WHERE pending_key IS NOT "
                       "NULL"),
            "1");
  // A second intent of the same key cannot be begun elsewhere meanwhile.
  EXPECT_FALSE(b->BeginErasure("forget:mid", {"user:mid"}, {}).ok());
  // A dies in mid-forget (its sessions end): B's next recovery drops it,
  // since its event never reached the log.
  // (The server ends A's backend, and its locks, a moment after A hangs up.)
  a.reset();
  auto again = sealed_b.Recover();
  for (int i = 0; i < 100 && again.ok() && again->owned_elsewhere > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    again = sealed_b.Recover();
  }
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->owned_elsewhere, 0u);
  EXPECT_EQ(again->dropped, 1u);
  EXPECT_EQ(pg_->Query(db_, "SELECT count(*) FROM engram_keys.erasures"), "0");
}

TEST_F(PgKeysTest, ANodeWithAnotherMasterKeyIsRefusedClearly) {
  auto a = Node(7);
  ASSERT_TRUE(a);
  auto table = PgKeyTable::Open(url_, false);
  ASSERT_TRUE(table.ok());
  auto wrong = KeyStore::Open(std::move(table).value(), Key(8));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("every node"), std::string::npos)
      << wrong.status().ToString();
  EXPECT_EQ(wrong.status().message().find("postgres@"), std::string::npos)
      << "names the server, not the user";
  // A node that has no master key at all is told the same, and none is made.
  TempDir dir;
  unsetenv(kMasterKeyEnv);
  auto joined = OpenKeys({dir.path(), "", /*create=*/true, false, url_});
  ASSERT_FALSE(joined.ok());
  EXPECT_EQ(joined.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir / "master.key"));
}

TEST_F(PgKeysTest, RotationWaitsForEveryNodeAndEveryNodeThenNeedsTheNewKey) {
  TempDir dir;
  ASSERT_TRUE(WriteKeyFile(dir / "old.key", Key(7)).ok());
  ASSERT_TRUE(WriteKeyFile(dir / "new.key", Key(9)).ok());
  unsetenv(kMasterKeyEnv);
  unsetenv(kNewMasterKeyEnv);
  auto a = Node(7);
  ASSERT_TRUE(a);
  auto key = a->KeyFor("user:kept");
  ASSERT_TRUE(key.ok());
  RotateOptions rotate{dir.path(), dir / "old.key", dir / "new.key", url_};
  auto refused = RotateMasterKey(rotate);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kConflict) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("1 process"), std::string::npos)
      << refused.status().ToString();
  // Without a new key given, nothing is made up for the cluster.
  RotateOptions no_key{dir.path(), dir / "old.key", "", url_};
  a.reset();
  EXPECT_EQ(RotateMasterKey(no_key).status().code(), StatusCode::kInvalidArgument);
  auto rotated = RotateMasterKey(rotate);
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_EQ(rotated->keys, 1u);
  auto table = PgKeyTable::Open(url_, false);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(KeyStore::Open(std::move(table).value(), Key(7)).status().code(),
            StatusCode::kInvalidArgument);
  auto b = Node(9);
  ASSERT_TRUE(b);
  auto found = b->Find((*key)->key_id);
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_EQ((*found)->key.bytes, (*key)->key.bytes);
}

// A forgotten caller who calls again gets a new key for the same subject;
// the restart of any node re-applies the erasure list, which must destroy
// the keys the forget destroyed (back from a restore), not the new one.
TEST_F(PgKeysTest, ReapplyingErasuresSparesTheKeyOfACallerWhoCalledAgain) {
  auto a = Node();
  ASSERT_TRUE(a);
  auto old_key = a->KeyFor("user:back");
  ASSERT_TRUE(old_key.ok());
  const std::string hash = KeyStore::SubjectHash("user:back");
  auto table = PgKeyTable::Open(url_, false);
  ASSERT_TRUE(table.ok());
  auto old_row = (*table)->FindBySubject(hash);
  ASSERT_TRUE(old_row.ok() && *old_row);
  ASSERT_TRUE(a->BeginErasure("forget:back", {"user:back"}, {}).ok());
  ASSERT_TRUE(a->CompleteErasure("forget:back", 5).ok());
  auto new_key = a->KeyFor("user:back");
  ASSERT_TRUE(new_key.ok());
  ASSERT_NE((*new_key)->key_id, (*old_key)->key_id);
  auto reapplied = a->ReapplyErasures();
  ASSERT_TRUE(reapplied.ok()) << reapplied.status().ToString();
  EXPECT_EQ(*reapplied, 0u);
  auto still = a->Find((*new_key)->key_id);
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE(*still) << "the returning caller's new key survives a restart";
  // An older copy of the store brought back (the old row in place of the
  // new one): the destroyed key goes again.
  ASSERT_TRUE((*table)->DestroyKeys({hash}, {}).ok());
  auto restored = (*table)->AddKeys({**old_row});
  ASSERT_TRUE(restored.ok() && (*restored)[0]);
  reapplied = a->ReapplyErasures();
  ASSERT_TRUE(reapplied.ok());
  EXPECT_EQ(*reapplied, 1u);
  auto gone = (*table)->FindById((*old_key)->key_id);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(*gone);
}

// The wrapped key leaves the table's files (VACUUM FULL); PostgreSQL's WAL
// still holds it until its segments are recycled (src/keys/README.md).
TEST_F(PgKeysTest, ADestroyedKeyIsVacuumedOutOfTheTablesFile) {
  auto a = Node();
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->KeyFor("user:wiped").ok());
  const std::string hash = KeyStore::SubjectHash("user:wiped");
  auto table = PgKeyTable::Open(url_, false);
  ASSERT_TRUE(table.ok());
  auto row = (*table)->FindBySubject(hash);
  ASSERT_TRUE(row.ok() && *row);
  const std::string wrapped = (*row)->wrapped;
  table->reset();
  pg_->Query(db_, "CHECKPOINT");  // the heap page on disk, not only in shared buffers
  auto before = engram::testing::FindOnDisk(pg_->dir() + "/data/base", {wrapped});
  ASSERT_TRUE(a->BeginErasure("forget:wiped", {"user:wiped"}, {}).ok());
  ASSERT_TRUE(a->CompleteErasure("forget:wiped", 3).ok());
  pg_->Query(db_, "CHECKPOINT");
  auto after = engram::testing::FindOnDisk(pg_->dir() + "/data/base", {wrapped});
  bool found_before = false;
  for (const auto& h : before) found_before |= h.needle == wrapped;
  EXPECT_TRUE(found_before) << "the scan must see the key while it exists: "
                            << engram::testing::Describe(before);
  for (const auto& h : after) {
    EXPECT_NE(h.needle, wrapped) << "still on disk: " << h.where;
  }
}

}  // namespace
}  // namespace engram::keys
