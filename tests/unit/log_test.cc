// The event log: envelope codec, durability contract, idempotency, ordering.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/crypto.h"
#include "log/chain_verify.h"
#include "log/event_codec.h"
#include "log/rocksdb_event_log.h"
#include "support/test_support.h"

namespace engram::log {
namespace {

using engram::testing::TempDir;

Event SampleEvent() {
  Event e;
  e.seq = 42;
  e.received_at_us = 1773068794123456;
  e.type = "post_call_transcription";
  e.route = "/webhook/post-call";
  e.idempotency_key = "post_call_transcription:conv_1";
  e.headers = {{"ElevenLabs-Signature", "t=1,v0=ab"}, {"User-Agent", "x"}};
  e.verification = Verification::kSignatureValid;
  e.flags = kFlagAudioDropped;
  e.original_body_sha256 = crypto::Sha256Hex("original");
  e.original_body_size = 12345;
  e.body = std::string("{\"a\":1}\0binary\xff", 16);
  e.body_sha256 = crypto::Sha256Hex(e.body);
  e.chain_hash = ComputeChainHash("", e);
  return e;
}

TEST(EventCodec, RoundTripsEveryField) {
  Event e = SampleEvent();
  auto decoded = DecodeEvent(EncodeEvent(e));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->seq, e.seq);
  EXPECT_EQ(decoded->received_at_us, e.received_at_us);
  EXPECT_EQ(decoded->type, e.type);
  EXPECT_EQ(decoded->route, e.route);
  EXPECT_EQ(decoded->idempotency_key, e.idempotency_key);
  EXPECT_EQ(decoded->headers, e.headers);
  EXPECT_EQ(decoded->verification, e.verification);
  EXPECT_EQ(decoded->flags, e.flags);
  EXPECT_EQ(decoded->body_sha256, e.body_sha256);
  EXPECT_EQ(decoded->original_body_sha256, e.original_body_sha256);
  EXPECT_EQ(decoded->original_body_size, e.original_body_size);
  EXPECT_EQ(decoded->chain_hash, e.chain_hash);
  EXPECT_EQ(decoded->body, e.body);
  EXPECT_EQ(decoded->HeaderValue("elevenlabs-signature"), "t=1,v0=ab");
}

TEST(EventCodec, RejectsEveryTruncation) {
  std::string bytes = EncodeEvent(SampleEvent());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = DecodeEvent(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  }
}

TEST(EventCodec, RejectsUnknownVersionAndTrailingBytes) {
  std::string bytes = EncodeEvent(SampleEvent());
  std::string v2 = bytes;
  v2[0] = 2;
  EXPECT_EQ(DecodeEvent(v2).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeEvent(bytes + "x").status().code(), StatusCode::kCorruption);
}

TEST(EventCodec, SeqKeysSortNumerically) {
  EXPECT_LT(EncodeSeqKey(255), EncodeSeqKey(256));
  EXPECT_LT(EncodeSeqKey(1), EncodeSeqKey(1ull << 40));
  EXPECT_EQ(*DecodeSeqKey(EncodeSeqKey(123456789)), 123456789u);
  EXPECT_FALSE(DecodeSeqKey("short").ok());
}

TEST(EventCodec, ChainHashCoversBodyOnlyThroughItsDigest) {
  Event e = SampleEvent();
  std::string h = ComputeChainHash("", e);
  Event erased = e;
  erased.body = "";  // body gone, digest kept: chain still verifies
  EXPECT_EQ(ComputeChainHash("", erased), h);
  Event altered = e;
  altered.body_sha256 = crypto::Sha256Hex("other");
  EXPECT_NE(ComputeChainHash("", altered), h);
  EXPECT_NE(ComputeChainHash(h, e), h);
}

NewEvent MakeEvent(const std::string& key, const std::string& body = "{}") {
  NewEvent e;
  e.type = "post_call_transcription";
  e.route = "/webhook/post-call";
  e.idempotency_key = key;
  e.body = body;
  e.verification = Verification::kSignatureValid;
  return e;
}

std::unique_ptr<RocksDbEventLog> OpenLog(const std::string& path, const Clock& clock) {
  RocksDbEventLogOptions o;
  o.path = path;
  auto log = RocksDbEventLog::Open(o, clock);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return std::move(log).value();
}

TEST(RocksDbEventLog, AssignsConsecutiveSeqsAndStampsReceiveTime) {
  TempDir dir;
  FakeClock clock(1'700'000'000'000'000);
  auto log = OpenLog(dir / "log", clock);
  EXPECT_EQ(log->Head(), 0u);
  auto a = log->Append(MakeEvent("k1", "{\"n\":1}"));
  clock.SetMicros(1'700'000'000'500'000);
  auto b = log->Append(MakeEvent("", "{\"n\":2}"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->seq, 1u);
  EXPECT_EQ(b->seq, 2u);
  auto events = log->ReadAfter(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].received_at_us, 1'700'000'000'000'000);
  EXPECT_EQ((*events)[1].received_at_us, 1'700'000'000'500'000);
  EXPECT_EQ((*events)[1].body, "{\"n\":2}");
  EXPECT_EQ((*events)[1].body_sha256, crypto::Sha256Hex("{\"n\":2}"));
  EXPECT_EQ((*events)[1].chain_hash, ComputeChainHash((*events)[0].chain_hash, (*events)[1]));
  EXPECT_EQ(log->ReadAfter(1, 10)->size(), 1u);
  EXPECT_TRUE(log->ReadAfter(2, 10)->empty());
}

TEST(RocksDbEventLog, SecondDeliveryOfAKeyAppendsNothing) {
  TempDir dir;
  auto log = OpenLog(dir / "log", SystemClock::Instance());
  auto first = log->Append(MakeEvent("post_call_transcription:conv_1"));
  auto again = log->Append(MakeEvent("post_call_transcription:conv_1", "{\"changed\":true}"));
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_FALSE(first->duplicate);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->seq, first->seq);
  EXPECT_EQ(log->Head(), 1u);
  EXPECT_EQ(*log->FindByKey("post_call_transcription:conv_1").value(), 1u);
  EXPECT_FALSE(log->FindByKey("nope")->has_value());
}

TEST(RocksDbEventLog, IdempotencyAndHeadSurviveReopen) {
  TempDir dir;
  std::string chain;
  {
    auto log = OpenLog(dir / "log", SystemClock::Instance());
    ASSERT_TRUE(log->Append(MakeEvent("a")).ok());
    ASSERT_TRUE(log->Append(MakeEvent("b")).ok());
    chain = log->ReadAfter(1, 1)->at(0).chain_hash;
  }
  auto log = OpenLog(dir / "log", SystemClock::Instance());
  EXPECT_EQ(log->Head(), 2u);
  EXPECT_TRUE(log->Append(MakeEvent("a"))->duplicate);
  auto c = log->Append(MakeEvent("c"));
  EXPECT_EQ(c->seq, 3u);
  auto third = log->ReadAfter(2, 1)->at(0);
  EXPECT_EQ(third.chain_hash, ComputeChainHash(chain, third)) << "chain continues after reopen";
}

TEST(RocksDbEventLog, ConcurrentAppendsGetDistinctGaplessSeqs) {
  TempDir dir;
  auto log = OpenLog(dir / "log", SystemClock::Instance());
  constexpr int kThreads = 16, kPerThread = 50;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<Seq> seqs;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every other append reuses a key another thread also sends.
        std::string key =
            i % 2 ? std::string("shared-") : std::string("t").append(std::to_string(t)).append("-");
        key += std::to_string(i);
        auto r = log->Append(MakeEvent(key));
        ASSERT_TRUE(r.ok());
        std::lock_guard lock(mu);
        if (!r->duplicate) {
          EXPECT_TRUE(seqs.insert(r->seq).second);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const size_t expected = kThreads * (kPerThread / 2) + kPerThread / 2;
  EXPECT_EQ(seqs.size(), expected);
  EXPECT_EQ(log->Head(), expected);
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), expected);
  auto all = log->ReadAfter(0, 100000);
  ASSERT_EQ(all->size(), expected);
  for (size_t i = 1; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].chain_hash, ComputeChainHash((*all)[i - 1].chain_hash, (*all)[i]));
  }
}

TEST(RocksDbEventLog, AsyncAppendsCompleteOnceAfterTheirWriteWithGaplessSeqs) {
  TempDir dir;
  auto log = OpenLog(dir / "log", SystemClock::Instance());
  constexpr int kAppends = 200;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Seq> seqs;
  int duplicates = 0;
  bool covered = true;  // every completion found its seq already durable (Head)
  for (int i = 0; i < kAppends; ++i) {
    // Every fourth repeats the key of the append before it.
    // Built in steps: GCC 12 misreads "k" + string (-Wrestrict).
    const std::string key = std::string("k").append(std::to_string(i % 4 == 3 ? i - 1 : i));
    log->AppendAsync(MakeEvent(key), [&](Result<AppendResult> r) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      const bool durable = log->Head() >= r->seq;
      std::lock_guard lock(mu);
      covered = covered && durable;
      if (r->duplicate) ++duplicates;
      seqs.push_back(r->seq);
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return seqs.size() == kAppends; }));
  EXPECT_TRUE(covered) << "a completion ran before the write that holds its event";
  EXPECT_EQ(duplicates, kAppends / 4);
  std::set<Seq> distinct(seqs.begin(), seqs.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kAppends - kAppends / 4));
  EXPECT_EQ(*distinct.rbegin(), distinct.size()) << "gapless from 1";
  EXPECT_EQ(log->Head(), distinct.size());
}

TEST(RocksDbEventLog, AnAsyncAppendToAFollowerIsRefusedAtOnce) {
  TempDir dir;
  auto log = OpenLog(dir / "log", SystemClock::Instance());
  ASSERT_TRUE(log->Append(MakeEvent("a")).ok());
  auto follower = RocksDbEventLog::OpenFollower(dir / "log", dir / "follower");
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  std::optional<Status> answer;
  (*follower)->AppendAsync(MakeEvent("b"), [&](Result<AppendResult> r) { answer = r.status(); });
  ASSERT_TRUE(answer.has_value()) << "called on the caller's thread, before AppendAsync returns";
  EXPECT_EQ(answer->code(), StatusCode::kUnavailable);
}

TEST(RocksDbEventLog, TailWakesWaitersOnAppend) {
  TempDir dir;
  auto log = OpenLog(dir / "log", SystemClock::Instance());
  EXPECT_FALSE(log->WaitForHead(0, std::chrono::milliseconds(20)));
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(log->Append(MakeEvent("x")).ok());
  });
  EXPECT_TRUE(log->WaitForHead(0, std::chrono::seconds(10)));
  writer.join();
}

TEST(RocksDbEventLog, FollowerSeesAppendsAfterCatchUpAndRefusesWrites) {
  TempDir dir;
  auto log = OpenLog(dir / "log", SystemClock::Instance());
  ASSERT_TRUE(log->Append(MakeEvent("a")).ok());
  auto follower = RocksDbEventLog::OpenFollower(dir / "log", dir / "follower");
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  EXPECT_EQ((*follower)->Head(), 1u);
  ASSERT_TRUE(log->Append(MakeEvent("b")).ok());
  ASSERT_TRUE((*follower)->CatchUp().ok());
  EXPECT_EQ((*follower)->Head(), 2u);
  EXPECT_EQ((*follower)->ReadAfter(0, 10)->size(), 2u);
  EXPECT_EQ((*follower)->Append(MakeEvent("c")).status().code(), StatusCode::kUnavailable);
}

TEST(RocksDbEventLog, OpenFailsClearlyWhenTheFolderIsUnusable) {
  TempDir dir;
  std::string file = dir / "not-a-dir";
  FILE* f = fopen(file.c_str(), "w");
  fclose(f);
  RocksDbEventLogOptions o;
  o.path = file + "/log";
  auto log = RocksDbEventLog::Open(o, SystemClock::Instance());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kIOError);
  EXPECT_EQ(RocksDbEventLog::OpenFollower(dir / "missing", dir / "f").status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace engram::log

namespace engram::log {
namespace {

// A full disk, in a child process limited by RLIMIT_FSIZE (its own limit,
// which it may raise again): appends fail with IOError and WriteHealth says
// so; once there is room, reopening the log (what a restart does) accepts
// appends again, and everything acknowledged is there, gapless. The child's
// exit code is the verdict.
TEST(RocksDbEventLog, AFullDiskFailsAppendsVisiblyAndAReopenRecovers) {
  TempDir dir;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);  // writes past the limit fail with EFBIG instead
    RocksDbEventLogOptions o;
    o.path = dir / "log";
    auto log = RocksDbEventLog::Open(o, SystemClock::Instance());
    if (!log.ok()) _exit(10);
    rlimit limit{};
    getrlimit(RLIMIT_FSIZE, &limit);
    const rlimit roomy = limit;
    limit.rlim_cur = 256 * 1024;
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(11);
    size_t acked = 0;
    bool failed = false;
    for (int i = 0; i < 1000 && !failed; ++i) {
      NewEvent e;
      e.type = "t";
      e.body = std::string(16 * 1024, static_cast<char>('a' + i % 26));
      auto r = (*log)->Append(std::move(e));
      if (r.ok()) {
        if (r->seq != ++acked) _exit(12);
      } else {
        failed = r.status().code() == StatusCode::kIOError;
      }
    }
    if (!failed || acked == 0) _exit(13);
    if ((*log)->WriteHealth().code() != StatusCode::kIOError) _exit(14);
    if (setrlimit(RLIMIT_FSIZE, &roomy) != 0) _exit(15);
    log->reset();
    log = RocksDbEventLog::Open(o, SystemClock::Instance());
    if (!log.ok()) _exit(16);
    NewEvent e;
    e.type = "t";
    e.body = "after";
    auto after = (*log)->Append(std::move(e));
    if (!after.ok() || !(*log)->WriteHealth().ok()) _exit(17);
    if (after->seq != acked + 1) _exit(18);
    auto all = (*log)->ReadAfter(0, 2000);
    if (!all.ok() || all->size() != acked + 1 || all->back().body != "after") _exit(19);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10 open, 11 setrlimit, 12 seq gap, 13 never failed, 14 health while failing, 15 raise "
         "limit, 16 reopen, 17 append after, 18 seq after, 19 read back";
}

}  // namespace
}  // namespace engram::log

namespace engram::log {
namespace {

// Tamper evidence: alter a stored entry behind the log's back (raw RocksDB)
// and the chain walk reports the first entry that does not verify.
class ChainTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = Open();
    for (int i = 1; i <= 10; ++i) {
      NewEvent e;
      e.type = "post_call_transcription";
      e.body = "{\"n\":" + std::to_string(i) + "}";
      ASSERT_TRUE(log->Append(std::move(e)).ok());
    }
    auto report = VerifyChain(*log);
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->checked, 10u);
    EXPECT_FALSE(report->first_break);
  }
  std::unique_ptr<RocksDbEventLog> Open() {
    RocksDbEventLogOptions o;
    o.path = dir_ / "log";
    return std::move(RocksDbEventLog::Open(o, SystemClock::Instance())).value();
  }
  // Applies `edit` to the raw events column family (the log closed).
  void Raw(const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& edit) {
    // RocksDB opens a database only with all its column families.
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, dir_ / "log", &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const auto& n : names) families.push_back({n, {}});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open({}, dir_ / "log", families, &handles, &db).ok());
    auto events = std::find(names.begin(), names.end(), "events") - names.begin();
    edit(db, handles[events]);
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }
  // Rewrites entry `seq` after `change` edits its decoded form.
  void Rewrite(Seq seq, const std::function<void(Event&)>& change) {
    Raw([&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events) {
      std::string bytes;
      ASSERT_TRUE(db->Get({}, events, EncodeSeqKey(seq), &bytes).ok());
      Event e = std::move(DecodeEvent(bytes)).value();
      change(e);
      ASSERT_TRUE(db->Put({}, events, EncodeSeqKey(seq), EncodeEvent(e)).ok());
    });
  }
  std::optional<ChainBreak> Verify() {
    auto log = Open();
    auto report = VerifyChain(*log);
    EXPECT_TRUE(report.ok());
    return report->first_break;
  }
  TempDir dir_;
};

TEST_F(ChainTamper, AnEditedBodyBreaksAtItsEntry) {
  Rewrite(5, [](Event& e) { e.body = "{\"n\":500}"; });
  auto broken = Verify();
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 5u);
  EXPECT_EQ(broken->reason, "body does not match its body_sha256");
}

TEST_F(ChainTamper, AnEditedBodyWithItsNewDigestBreaksTheChainThere) {
  Rewrite(5, [](Event& e) {
    e.body = "{\"n\":500}";
    e.body_sha256 = crypto::Sha256Hex(e.body);
  });
  auto broken = Verify();
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 5u);
  EXPECT_NE(broken->reason.find("chain_hash"), std::string::npos);
}

TEST_F(ChainTamper, ARechainedEntryBreaksAtTheNextOne) {
  std::string prev;
  {
    auto log = Open();
    prev = (*log->ReadAfter(3, 1))[0].chain_hash;  // entry 4's
  }
  Rewrite(5, [&](Event& e) {
    e.type = "forged";
    e.chain_hash = ComputeChainHash(prev, e);
  });
  auto broken = Verify();
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 6u);
}

TEST_F(ChainTamper, ADeletedEntryIsMissing) {
  Raw([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events) {
    ASSERT_TRUE(db->Delete({}, events, EncodeSeqKey(7)).ok());
  });
  auto broken = Verify();
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 7u);
  EXPECT_NE(broken->reason.find("gap in event log: expected seq 7, found 8"), std::string::npos)
      << broken->reason;
}

TEST_F(ChainTamper, AnUndecodableEntryIsNamed) {
  Raw([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events) {
    ASSERT_TRUE(db->Put({}, events, EncodeSeqKey(3), "garbage").ok());
  });
  auto broken = Verify();
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 3u);
}

}  // namespace
}  // namespace engram::log

namespace engram::log {
namespace {

// The log's own records live where no input can write (FORMAT.md, "Erasure").
class LogNamespace : public ::testing::Test {
 protected:
  // The legacy erasure-mark prefix in the idempotency family.
  static std::string LegacyMark(Seq seq) {
    std::string key("\0\0engram-erased\0", 17);
    return key + EncodeSeqKey(seq);
  }
  // Opens the raw RocksDB database with every family it has, the log closed,
  // and hands `edit` the database and the named families.
  void Raw(const std::function<void(rocksdb::DB*,
                                    std::map<std::string, rocksdb::ColumnFamilyHandle*>&)>& edit) {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, dir_ / "log", &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const auto& n : names) families.push_back({n, {}});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open({}, dir_ / "log", families, &handles, &db).ok());
    std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name;
    for (size_t i = 0; i < names.size(); ++i) by_name[names[i]] = handles[i];
    edit(db, by_name);
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }
  std::vector<bool> ErasedFlags() {
    auto log = OpenLog(dir_ / "log", SystemClock::Instance());
    std::vector<bool> out;
    auto events = log->ReadAfter(0, 100);
    EXPECT_TRUE(events.ok());
    for (const Event& e : *events) out.push_back(e.erased);
    return out;
  }
  TempDir dir_;
};

TEST_F(LogNamespace, ALegacyErasureMarkMigratesAndAForgedOneDoesNot) {
  {
    auto log = OpenLog(dir_ / "log", SystemClock::Instance());
    ASSERT_TRUE(log->Append(MakeEvent("post_call_transcription:c1")).ok());  // 1
    ASSERT_TRUE(log->Append(MakeEvent("post_call_transcription:c2")).ok());  // 2
    NewEvent forget;
    forget.type = "user_forgotten";
    forget.route = "engram/admin";
    forget.body = R"({"user_id":"u_1","erased_seqs":[1]})";
    ASSERT_TRUE(log->Append(std::move(forget)).ok());  // 3
    // 4: a webhook whose own key (as the old post-call route built it) is a
    // mark pointing at itself, marking entry 2.
    ASSERT_TRUE(log->Append(MakeEvent("post_call_transcription:c4")).ok());
  }
  // The layout an older Engram wrote: marks in the idempotency family.
  Raw([](rocksdb::DB* db, auto& cf) {
    ASSERT_TRUE(db->Put({}, cf.at("idempotency"), LegacyMark(1), EncodeSeqKey(3)).ok());
    ASSERT_TRUE(db->Put({}, cf.at("idempotency"), LegacyMark(2), EncodeSeqKey(4)).ok());
  });
  EXPECT_EQ(ErasedFlags(), (std::vector<bool>{true, false, false, false}));
  // Migrated once: the marks now live in their own family and still hold.
  EXPECT_EQ(ErasedFlags(), (std::vector<bool>{true, false, false, false}));
  Raw([](rocksdb::DB* db, auto& cf) {
    ASSERT_TRUE(cf.count("erasures"));
    std::string value;
    EXPECT_TRUE(db->Get({}, cf.at("erasures"), EncodeSeqKey(1), &value).ok());
    EXPECT_EQ(value, EncodeSeqKey(3));
    EXPECT_TRUE(db->Get({}, cf.at("idempotency"), LegacyMark(1), &value).IsNotFound());
  });
}

TEST_F(LogNamespace, AnUndecodableLegacyKeyDoesNotBreakOpen) {
  { auto log = OpenLog(dir_ / "log", SystemClock::Instance()); }
  Raw([](rocksdb::DB* db, auto& cf) {
    std::string key("\0\0engram-erased\0\0x:", 19);
    ASSERT_TRUE(db->Put({}, cf.at("idempotency"), key, EncodeSeqKey(1)).ok());
  });
  RocksDbEventLogOptions o;
  o.path = dir_ / "log";
  auto log = RocksDbEventLog::Open(o, SystemClock::Instance());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  log->reset();
  TempDir scratch;
  auto follower = RocksDbEventLog::OpenFollower(dir_ / "log", scratch.path());
  EXPECT_TRUE(follower.ok()) << follower.status().ToString();
}

TEST_F(LogNamespace, EraseWritesNothingIntoTheIdempotencyFamily) {
  {
    auto log = OpenLog(dir_ / "log", SystemClock::Instance());
    ASSERT_TRUE(log->Append(MakeEvent("post_call_transcription:c1")).ok());
    NewEvent forget;
    forget.type = "user_forgotten";
    forget.route = "engram/admin";
    forget.body = R"({"user_id":"u_1","erased_seqs":[1]})";
    auto by = log->Append(std::move(forget));
    ASSERT_TRUE(by.ok());
    ASSERT_TRUE(log->Erase({1}, by->seq).ok());
  }
  EXPECT_EQ(ErasedFlags(), (std::vector<bool>{true, false}));
  Raw([](rocksdb::DB* db, auto& cf) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, cf.at("idempotency")));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      EXPECT_EQ(it->key().ToString(), "post_call_transcription:c1");
    }
  });
}

}  // namespace
}  // namespace engram::log
