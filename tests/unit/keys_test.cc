// src/keys: the AES-GCM seal, the master key, the key store (durable keys,
// a wrong master key refused, destroyed keys physically gone, rotation) and
// the sealing log over a real RocksDB (bodies not plaintext on disk, chain
// verifiable without keys, tampering detected, forget = erased).
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/crypto.h"
#include "keys/aead.h"
#include "keys/key_store.h"
#include "keys/keys_setup.h"
#include "keys/master_key.h"
#include "keys/sealing_event_log.h"
#include "log/chain_verify.h"
#include "log/event_codec.h"
#include "log/rocksdb_event_log.h"
#include "support/test_support.h"

namespace engram::keys {
namespace {

using engram::testing::AllBytes;
using engram::testing::TempDir;
using nlohmann::json;

SecretKey Key(uint8_t fill) {
  SecretKey k;
  k.bytes.fill(fill);
  return k;
}

TEST(Aead, SealOpensOnlyWithTheSameKeyAndAad) {
  auto sealed = GcmSeal(Key(1), "aad", "hello caller");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), std::string("hello caller").size() + kSealOverhead);
  EXPECT_EQ(sealed->find("hello"), std::string::npos);
  EXPECT_EQ(*GcmOpen(Key(1), "aad", *sealed), "hello caller");
  EXPECT_EQ(GcmOpen(Key(2), "aad", *sealed).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(GcmOpen(Key(1), "other", *sealed).status().code(), StatusCode::kCorruption);
  std::string tampered = *sealed;
  tampered[kNonceBytes + 2] ^= 1;
  EXPECT_EQ(GcmOpen(Key(1), "aad", tampered).status().code(), StatusCode::kCorruption);
  // A fresh nonce each time: the same plaintext never seals the same.
  EXPECT_NE(*GcmSeal(Key(1), "aad", "hello caller"), *sealed);
}

TEST(MasterKey, ParsesHexAndBase64AndRefusesOtherText) {
  const std::string hex(64, 'a');
  ASSERT_TRUE(ParseMasterKey(hex).ok());
  EXPECT_EQ(ParseMasterKey(hex)->bytes[0], 0xaa);
  // 32 bytes of 0xaa in base64.
  auto b64 = ParseMasterKey("qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo=");
  ASSERT_TRUE(b64.ok());
  EXPECT_EQ(b64->bytes, ParseMasterKey(hex)->bytes);
  auto bad = ParseMasterKey("zz" + std::string(62, 'a'));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().find("zz"), std::string::npos) << "never echoes the key";
  EXPECT_FALSE(ParseMasterKey("short").ok());
}

TEST(MasterKey, MadeOnceWithMode0600) {
  TempDir dir;
  unsetenv(kMasterKeyEnv);
  EXPECT_EQ(LoadMasterKey(dir.path(), "", false).status().code(), StatusCode::kNotFound);
  auto made = LoadMasterKey(dir.path(), "", true);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_TRUE(made->created);
  struct stat st {};
  ASSERT_EQ(stat((dir / "master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto again = LoadMasterKey(dir.path(), "", true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->key.bytes, made->key.bytes);
}

TEST(KeyStore, KeysAreDurableAndAWrongMasterKeyIsRefused) {
  TempDir dir;
  const std::string path = dir / "keys.db";
  std::string id;
  SecretKey first;
  {
    auto store = KeyStore::Open(path, Key(7), true);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto key = (*store)->KeyFor("user:alice");
    ASSERT_TRUE(key.ok());
    id = (*key)->key_id;
    first = (*key)->key;
    EXPECT_EQ((*(*store)->KeyFor("user:alice"))->key_id, id) << "one key per subject";
    EXPECT_NE((*(*store)->KeyFor("user:bob"))->key_id, id);
  }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto wrong = KeyStore::Open(path, Key(8), true);
  ASSERT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("master key"), std::string::npos);
  auto store = KeyStore::Open(path, Key(7), true);
  ASSERT_TRUE(store.ok());
  auto found = (*store)->Find(id);
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_EQ((*found)->key.bytes, first.bytes);
  // Nothing in the files names the subject: only its hash.
  EXPECT_EQ(AllBytes(dir.path()).find("alice"), std::string::npos);
}

// What a data folder can hold in keys.db's place: random bytes and a SQLite
// file whose tables take the store's names are refused (never a crash, never
// overwritten); an empty file is a new store.
TEST(KeyStore, AFileThatIsNoKeyStoreIsRefused) {
  TempDir dir;
  const std::string garbage = dir / "garbage.db";
  {
    std::ofstream out(garbage, std::ios::binary);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>((i * 131) ^ 0x5a));
  }
  EXPECT_FALSE(KeyStore::Open(garbage, Key(7), true).ok());

  // A SQLite file whose tables collide with the store's names, holding a
  // "check" that no master key made: refused, not overwritten.
  const std::string foreign = dir / "foreign.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(foreign.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE meta(name TEXT PRIMARY KEY, value BLOB NOT NULL);"
                           "INSERT INTO meta VALUES ('check', 'not a sealed check value');",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_FALSE(KeyStore::Open(foreign, Key(7), true).ok());
  // An empty file is a new store (SQLite's view of a zero-length file).
  const std::string empty = dir / "empty.db";
  std::ofstream(empty).close();
  auto fresh = KeyStore::Open(empty, Key(7), true);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_TRUE((*fresh)->KeyFor("user:alice").ok());
}

TEST(KeyStore, CallersArrivingTogetherGetOneKeyEachAndShareCommits) {
  TempDir dir;
  auto store = KeyStore::Open(dir / "keys.db", Key(7), true);
  ASSERT_TRUE(store.ok());
  // 16 threads, 40 subjects each, every subject asked by two threads.
  std::vector<std::thread> threads;
  std::vector<std::map<std::string, std::string>> ids(16);
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const std::string subject = "user:" + std::to_string((t / 2) * 40 + i);
        auto key = (*store)->KeyFor(subject);
        ASSERT_TRUE(key.ok()) << key.status().ToString();
        ids[t][subject] = (*key)->key_id;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(*(*store)->KeyCount(), 8u * 40u);
  for (int t = 0; t < 16; t += 2) EXPECT_EQ(ids[t], ids[t + 1]) << "one key per subject";
  // Durable: a new open finds each of them.
  store->reset();
  auto again = KeyStore::Open(dir / "keys.db", Key(7), false);
  ASSERT_TRUE(again.ok());
  for (const auto& [subject, id] : ids[0]) {
    EXPECT_EQ((*(*again)->KeyFor(subject))->key_id, id);
  }
}

TEST(KeyStore, ErasureDestroysTheKeyInEveryFile) {
  TempDir dir;
  auto store = KeyStore::Open(dir / "keys.db", Key(7), true);
  ASSERT_TRUE(store.ok());
  const std::string gone = (*(*store)->KeyFor("user:alice"))->key_id;
  const std::string kept = (*(*store)->KeyFor("user:bob"))->key_id;
  ASSERT_NE(AllBytes(dir.path()).find(gone), std::string::npos) << "the key id is on disk";
  ASSERT_TRUE((*store)
                  ->BeginErasure("engram/forget:alice", {"user:alice", "conversation:c1"}, {3, 4})
                  .ok());
  ASSERT_TRUE((*store)->CompleteErasure("engram/forget:alice", 9).ok());
  EXPECT_EQ(*(*store)->Find(gone), nullptr);
  EXPECT_NE(*(*store)->Find(kept), nullptr);
  // Deleted with secure_delete and the WAL truncated: no byte of the row
  // (its random key id stands for it) is left in keys.db or keys.db-wal.
  const std::string bytes = AllBytes(dir.path());
  EXPECT_EQ(bytes.find(gone), std::string::npos);
  EXPECT_NE(bytes.find(kept), std::string::npos);
  auto erasures = (*store)->ListErasures();
  ASSERT_TRUE(erasures.ok());
  ASSERT_EQ(erasures->size(), 1u);
  EXPECT_EQ((*erasures)[0].forget_seq, 9u);
  EXPECT_EQ((*erasures)[0].erased_seqs, (std::vector<uint64_t>{3, 4}));
}

// kill -9 between an erasure's commit and its checkpoint: the deletion is
// in keys.db-wal only and keys.db still holds the destroyed key. The next
// read-write open folds the WAL in, before anything is served.
TEST(KeyStore, AWalLeftByACrashAfterAnErasureIsFoldedInAtOpen) {
  TempDir dir;
  const std::string live = dir / "live";
  const std::string crashed = dir / "crashed";
  std::filesystem::create_directories(live);
  std::filesystem::create_directories(crashed);
  std::string gone, kept;
  {
    auto store = KeyStore::Open(live + "/keys.db", Key(7), true);
    ASSERT_TRUE(store.ok());
    gone = (*(*store)->KeyFor("user:alice"))->key_id;
    kept = (*(*store)->KeyFor("user:bob"))->key_id;
  }  // closed cleanly: no WAL left
  {
    // The erasure's delete, committed to the WAL and not checkpointed; the
    // files copied as a crash would leave them.
    const std::string alice_hash = KeyStore::SubjectHash("user:alice");
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((live + "/keys.db").c_str(), &db), SQLITE_OK);
    const std::string sql =
        "PRAGMA secure_delete=ON; PRAGMA wal_autocheckpoint=0; "
        "DELETE FROM data_keys WHERE subject_hash = x'" +
        crypto::HexEncode(reinterpret_cast<const uint8_t*>(alice_hash.data()), alice_hash.size()) +
        "';";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    for (const char* file : {"/keys.db", "/keys.db-wal"}) {
      std::filesystem::copy_file(live + file, crashed + file);
    }
    sqlite3_close(db);
  }
  ASSERT_NE(testing::ReadFile(crashed + "/keys.db").find(gone), std::string::npos);
  auto store = KeyStore::Open(crashed + "/keys.db", Key(7), false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(*(*store)->Find(gone), nullptr);
  const std::string bytes = AllBytes(crashed);
  EXPECT_EQ(bytes.find(gone), std::string::npos) << "the destroyed key is still in a file";
  EXPECT_NE(bytes.find(kept), std::string::npos);
}

TEST(KeyStore, RotationRewrapsEveryKeyAllOrNothing) {
  TempDir dir;
  const std::string path = dir / "keys.db";
  std::string id;
  SecretKey key;
  {
    auto store = KeyStore::Open(path, Key(1), true);
    ASSERT_TRUE(store.ok());
    auto k = (*store)->KeyFor("user:alice");
    id = (*k)->key_id;
    key = (*k)->key;
    ASSERT_TRUE((*store)->Rotate(Key(2)).ok());
  }
  EXPECT_EQ(KeyStore::Open(path, Key(1), false).status().code(), StatusCode::kInvalidArgument);
  auto store = KeyStore::Open(path, Key(2), false);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*(*store)->Find(id))->key.bytes, key.bytes);
}

TEST(KeysSetup, AnInterruptedRotationFinishesAtTheNextOpen) {
  TempDir dir;
  unsetenv(kMasterKeyEnv);
  unsetenv(kNewMasterKeyEnv);
  std::string id;
  {
    auto opened = OpenKeys({dir.path(), "", true, false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    id = (*opened->store->KeyFor("user:alice"))->key_id;
    // What a rotation crashed after its commit leaves: the store wrapped
    // under master.key.new, master.key still the old key.
    auto next = NewSecretKey();
    ASSERT_TRUE(WriteKeyFile(dir / kPendingMasterKeyFile, *next).ok());
    ASSERT_TRUE(opened->store->Rotate(*next).ok());
  }
  auto opened = OpenKeys({dir.path(), "", true, false});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_TRUE(opened->finished_rotation);
  EXPECT_FALSE(std::filesystem::exists(dir / kPendingMasterKeyFile));
  EXPECT_NE(*opened->store->Find(id), nullptr);
  // A leftover new key from a rotation that never committed is dropped.
  opened->store.reset();
  ASSERT_TRUE(WriteKeyFile(dir / kPendingMasterKeyFile, *NewSecretKey()).ok());
  auto again = OpenKeys({dir.path(), "", true, false});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->finished_rotation);
  EXPECT_FALSE(std::filesystem::exists(dir / kPendingMasterKeyFile));
}

TEST(SealSubject, TiesEachEventToItsCaller) {
  EXPECT_EQ(SealSubject("post_call_transcription", "/webhook/post-call",
                        R"({"data":{"user_id":"cust_1","conversation_id":"c1"}})"),
            "user:cust_1");
  EXPECT_EQ(SealSubject("post_call_transcription", "/webhook/post-call",
                        R"({"data":{"conversation_initiation_client_data":{"user_id":"cust_2"},
                            "conversation_id":"c1"}})"),
            "user:cust_2");
  EXPECT_EQ(
      SealSubject("post_call_audio", "/webhook/post-call", R"({"data":{"conversation_id":"c9"}})"),
      "conversation:c9");
  EXPECT_EQ(SealSubject("memory_queried", "/tools/memory-query",
                        R"({"request":{"conversation_id":"c3"},"user_id":""})"),
            "conversation:c3");
  EXPECT_EQ(SealSubject("conversation_initiated", "/webhook/conversation-init",
                        R"({"request":{},"user_id":"u_1"})"),
            "user:u_1");
  EXPECT_EQ(SealSubject("memories_extracted", "engram/extraction",
                        R"({"user_id":"u_1","conversation_id":"c1"})"),
            "user:u_1");
  EXPECT_EQ(SealSubject("user_forgotten", "engram/admin", R"({"user_id":"u_1"})"), "");
  EXPECT_EQ(SealSubject("extraction_requeued", "engram/admin", R"({"source_seq":1})"), "");
  EXPECT_EQ(SealSubject("post_call_transcription", "/webhook/post-call", "not json"), "");
}

class SealingLog : public ::testing::Test {
 protected:
  void SetUp() override {
    log::RocksDbEventLogOptions o;
    o.path = dir_ / "log";
    raw_ = std::move(log::RocksDbEventLog::Open(o, SystemClock::Instance())).value();
    store_ = std::move(KeyStore::Open(dir_ / "keys.db", Key(5), true)).value();
    sealed_ = std::make_unique<SealingEventLog>(*raw_, *store_);
  }
  log::Seq PostCall(const std::string& conversation, const std::string& user,
                    const std::string& words) {
    json body = testing::MakeTranscription(conversation, "+15550100", {words});
    if (!user.empty()) body["data"]["user_id"] = user;
    log::NewEvent e;
    e.type = "post_call_transcription";
    e.route = "/webhook/post-call";
    e.idempotency_key = "post_call_transcription:" + conversation;
    e.body = body.dump();
    auto r = sealed_->Append(std::move(e));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->seq : 0;
  }
  log::Event Read(const log::EventLog& from, log::Seq seq) {
    auto one = from.ReadAfter(seq - 1, 1);
    EXPECT_TRUE(one.ok()) << one.status().ToString();
    return one.ok() && !one->empty() ? one->front() : log::Event{};
  }

  TempDir dir_;
  std::unique_ptr<log::RocksDbEventLog> raw_;
  std::unique_ptr<KeyStore> store_;
  std::unique_ptr<SealingEventLog> sealed_;
};

TEST_F(SealingLog, BodiesAreCiphertextOnDiskAndPlaintextThroughTheDecorator) {
  const log::Seq a = PostCall("conv_a", "cust_alice", "My locker code is Zanzibar-4471");
  const log::Seq b = PostCall("conv_b", "", "Please call me Quillon Ferris");
  const log::Event stored = Read(*raw_, a);
  EXPECT_TRUE(stored.flags & log::kFlagSealed);
  EXPECT_TRUE(stored.body.starts_with(kSealMagic));
  EXPECT_EQ(stored.body_sha256, crypto::Sha256Hex(stored.body))
      << "the digest names the ciphertext";
  EXPECT_NE(Read(*sealed_, a).body.find("Zanzibar-4471"), std::string::npos);
  EXPECT_NE(Read(*sealed_, b).body.find("Quillon Ferris"), std::string::npos);
  // The RocksDB WAL (not compressed) and any SST hold only ciphertext.
  const std::string disk = AllBytes(dir_ / "log");
  EXPECT_EQ(disk.find("Zanzibar"), std::string::npos);
  EXPECT_EQ(disk.find("Quillon"), std::string::npos);
  // The chain verifies over the stored bytes, without any key.
  auto report = log::VerifyChain(*raw_);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->first_break.has_value()) << report->first_break->reason;
  EXPECT_EQ(report->checked, 2u);
}

TEST_F(SealingLog, AsyncAppendsSealWithANewKeyAndWithACachedOne) {
  // The first append of a caller makes its key (the blocking path, on the
  // log's threads); the second finds it cached and goes straight on.
  auto append = [&](const std::string& conversation, const std::string& words) {
    json body = testing::MakeTranscription(conversation, "+15550100", {words});
    body["data"]["user_id"] = "cust_async";
    log::NewEvent e;
    e.type = "post_call_transcription";
    e.route = "/webhook/post-call";
    e.idempotency_key = "post_call_transcription:" + conversation;
    e.body = body.dump();
    std::promise<Result<log::AppendResult>> done;
    auto answer = done.get_future();
    sealed_->AppendAsync(std::move(e),
                         [&done](Result<log::AppendResult> r) { done.set_value(std::move(r)); });
    auto r = answer.get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->seq : 0;
  };
  EXPECT_EQ(store_->CachedKey("user:cust_async"), nullptr);
  const log::Seq first = append("conv_async_1", "My locker code is Zanzibar-4471");
  ASSERT_NE(store_->CachedKey("user:cust_async"), nullptr);
  const log::Seq second = append("conv_async_2", "Please call me Quillon Ferris");
  for (log::Seq seq : {first, second}) {
    const log::Event stored = Read(*raw_, seq);
    EXPECT_TRUE(stored.flags & log::kFlagSealed) << seq;
    EXPECT_TRUE(stored.body.starts_with(kSealMagic)) << seq;
  }
  EXPECT_NE(Read(*sealed_, first).body.find("Zanzibar-4471"), std::string::npos);
  EXPECT_NE(Read(*sealed_, second).body.find("Quillon Ferris"), std::string::npos);
  EXPECT_EQ(AllBytes(dir_ / "log").find("Quillon"), std::string::npos);
}

TEST_F(SealingLog, TheSealIsBoundToTheEntrysSeqAndType) {
  const log::Seq a = PostCall("conv_a", "cust_alice", "first words");
  const log::Event e = Read(*raw_, a);
  auto key = store_->KeyFor("user:cust_alice");
  const std::string_view sealed = std::string_view(e.body).substr(kSealMagic.size() + kKeyIdBytes);
  EXPECT_TRUE(GcmOpen((*key)->key, SealAad(a, e.type), sealed).ok());
  EXPECT_FALSE(GcmOpen((*key)->key, SealAad(a + 1, e.type), sealed).ok());
  EXPECT_FALSE(GcmOpen((*key)->key, SealAad(a, "post_call_audio"), sealed).ok());
}

TEST_F(SealingLog, TamperedCiphertextIsAClearError) {
  const log::Seq a = PostCall("conv_a", "cust_alice", "first words");
  PostCall("conv_b", "cust_bob", "other words");
  raw_.reset();
  {
    // Flip one ciphertext byte in RocksDB, as an attacker with the files would.
    rocksdb::DB* raw_db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}},
        {"events", {}},
        {"idempotency", {}},
        {"erasures", {}}};
    ASSERT_TRUE(rocksdb::DB::Open({}, dir_ / "log", families, &handles, &raw_db).ok());
    std::string bytes;
    ASSERT_TRUE(raw_db->Get({}, handles[1], log::EncodeSeqKey(a), &bytes).ok());
    auto e = log::DecodeEvent(bytes);
    ASSERT_TRUE(e.ok());
    e->body[e->body.size() - 20] ^= 0x01;
    ASSERT_TRUE(raw_db->Put({}, handles[1], log::EncodeSeqKey(a), log::EncodeEvent(*e)).ok());
    for (auto* h : handles) raw_db->DestroyColumnFamilyHandle(h);
    delete raw_db;
  }
  SetUp();
  auto read = sealed_->ReadAfter(0, 10);
  ASSERT_EQ(read.status().code(), StatusCode::kCorruption);
  EXPECT_NE(read.status().message().find("does not authenticate"), std::string::npos)
      << read.status().ToString();
  // The chain walk names the same entry without needing a key.
  auto report = log::VerifyChain(*raw_);
  ASSERT_TRUE(report.ok() && report->first_break);
  EXPECT_EQ(report->first_break->seq, a);
}

TEST_F(SealingLog, ForgetDestroysTheKeysAndTheEntriesReadAsErased) {
  const log::Seq a1 = PostCall("conv_a1", "cust_alice", "alice one");
  const log::Seq a2 = PostCall("conv_a2", "", "alice two, bound by conversation");
  const log::Seq b = PostCall("conv_b", "cust_bob", "bob words");
  // An init the route answered with another id for the same number (a user
  // id from before the identity scheme): sealed under that id.
  log::NewEvent init;
  init.type = "conversation_initiated";
  init.route = "/webhook/conversation-init";
  init.body = R"({"request":{"caller_id":"+15550100"},"user_id":"u_legacy"})";
  const log::Seq i = sealed_->Append(std::move(init))->seq;
  log::NewEvent forget;
  forget.type = "user_forgotten";
  forget.route = "engram/admin";
  forget.idempotency_key = "engram/forget:cust_alice:2:2";
  forget.body = json({{"user_id", "cust_alice"},
                      {"conversations", {"conv_a1", "conv_a2"}},
                      {"erased_seqs", {a1, a2, i}},
                      {"requested_by", "test"}})
                    .dump();
  auto f = sealed_->Append(std::move(forget));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  for (log::Seq s : {a1, a2, i}) {
    const log::Event e = Read(*sealed_, s);
    EXPECT_TRUE(e.erased) << s;
    EXPECT_TRUE(e.body.empty()) << s;
  }
  EXPECT_NE(Read(*sealed_, b).body.find("bob words"), std::string::npos);
  EXPECT_FALSE(Read(*sealed_, f->seq).erased) << "the forget itself stays readable";
  auto report = log::VerifyChain(*raw_);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->first_break.has_value());
  // A new start re-applies the erasure list (nothing to do now) and
  // nothing comes back.
  auto recovered = sealed_->Recover();
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(recovered->keys_destroyed, 0u);
  EXPECT_TRUE(Read(*sealed_, a1).erased);
}

TEST_F(SealingLog, ALogRestoredFromAnOlderBackupDoesNotBringAForgottenCallerBack) {
  // A legacy entry (appended before keys existed: plain) and a sealed one.
  log::NewEvent legacy;
  legacy.type = "post_call_transcription";
  legacy.route = "/webhook/post-call";
  legacy.body =
      testing::MakeTranscription("conv_old", "+15550100", {"Old words of Ottoline"}).dump();
  const log::Seq old = raw_->Append(std::move(legacy))->seq;
  const log::Seq a = PostCall("conv_a", "cust_alice", "alice words");
  // The backup: the log folder copied while the server was stopped.
  sealed_.reset();
  raw_.reset();
  std::filesystem::copy(dir_ / "log", dir_ / "log.backup",
                        std::filesystem::copy_options::recursive);
  SetUp();
  log::NewEvent forget;
  forget.type = "user_forgotten";
  forget.route = "engram/admin";
  forget.idempotency_key = "engram/forget:cust_alice:2:2";
  forget.body = json({{"user_id", "cust_alice"},
                      {"conversations", {"conv_old", "conv_a"}},
                      {"erased_seqs", {old, a}}})
                    .dump();
  auto f = sealed_->Append(std::move(forget));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(sealed_->Erase({old, a}, f->seq).ok());
  // Restore the log from the backup; keys.db (with its erasure list) stays
  // today's, as docs/OPERATIONS.md says.
  sealed_.reset();
  raw_.reset();
  std::filesystem::remove_all(dir_ / "log");
  std::filesystem::rename(dir_ / "log.backup", dir_ / "log");
  SetUp();
  ASSERT_EQ(raw_->Head(), a) << "the restored log predates the forget";
  EXPECT_NE(Read(*sealed_, old).body.find("Ottoline"), std::string::npos) << "back from backup";
  auto recovered = sealed_->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ(recovered->entries_erased, 2u);
  EXPECT_TRUE(Read(*sealed_, old).erased);
  EXPECT_TRUE(Read(*sealed_, a).erased);
  auto report = log::VerifyChain(*raw_);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->first_break.has_value());
}

}  // namespace
}  // namespace engram::keys
