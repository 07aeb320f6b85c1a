#include "log/rocksdb_event_log.h"

#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/crypto.h"
#include "log/event_bodies.h"
#include "log/event_codec.h"
#include "log/event_types.h"
#include "log/rocksdb_files.h"
#include "log/rocksdb_purge.h"
#include "log/urgent_flow.h"

namespace engram::log {
namespace {

constexpr char kEventsFamily[] = "events";
constexpr char kKeysFamily[] = "idempotency";
// Erasure marks: key = the erased entry's seq (8 bytes), value = the seq of
// the user_forgotten event that erased it. A family of their own, which no
// request writes into (FORMAT.md, "Erasure").
constexpr char kErasuresFamily[] = "erasures";
// Before envelope 1.1 the marks lived in the idempotency family under this
// prefix, where a request's idempotency key could forge one (issue 10, item
// 2). Open moves the genuine ones to `erasures` once, then records
// kLegacyMigratedKey in the default family.
constexpr std::string_view kLegacyErasedPrefix("\0\0engram-erased\0", 17);
constexpr char kLegacyMigratedKey[] = "erasure_marks_migrated";

}  // namespace

struct RocksDbEventLog::Impl {
  struct PendingAppend {
    NewEvent event;
    AppendDone done;
    std::chrono::steady_clock::time_point queued{};
  };

  RocksDbEventLogOptions options;
  const Clock* clock = nullptr;
  bool follower = false;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* keys = nullptr;
  // Null only in a follower opened on a log no primary has opened since
  // erasures got their family (the follower then reads the legacy marks).
  rocksdb::ColumnFamilyHandle* erasures = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;

  // Guarded by mu.
  mutable std::mutex mu;
  mutable std::condition_variable head_cv;  // signalled when head moves
  std::condition_variable queue_cv;         // signalled when queue fills or on stop
  std::deque<std::unique_ptr<PendingAppend>> queue;
  bool stopping = false;
  Seq head = 0;  // highest durable seq
  // The last write's failure, until a write succeeds (disk full, read-only).
  Status write_error;
  std::set<Seq> erased;  // entries whose body was erased

  // Owned by the writer thread after Open.
  std::string last_chain_hash;
  std::chrono::steady_clock::time_point last_resume{};
  // When the writer wrote appends a request waits for (deferrable ones
  // wait to share their syncs while they flow).
  UrgentFlow urgent_flow;
  std::thread writer;

  ~Impl() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    queue_cv.notify_all();
    if (writer.joinable()) writer.join();
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    handles.clear();
    if (db) db->Close();
  }

  // Whether the legacy mark `key` -> `value` (idempotency family) was written
  // by Erase: its value names a user_forgotten event Engram appended (route
  // engram/admin) whose erased_seqs list the marked entry. Anything else
  // under the prefix is some request's idempotency key and is left alone.
  std::optional<std::pair<Seq, Seq>> GenuineLegacyMark(std::string_view key,
                                                       std::string_view value) {
    auto seq = DecodeSeqKey(key.substr(kLegacyErasedPrefix.size()));
    auto by = DecodeSeqKey(value);
    if (!seq.ok() || !by.ok() || *seq == 0 || *seq >= *by) return std::nullopt;
    std::string bytes;
    if (!db->Get(rocksdb::ReadOptions(), events, EncodeSeqKey(*by), &bytes).ok()) {
      return std::nullopt;
    }
    auto forget = DecodeEvent(bytes);
    if (!forget.ok() || forget->type != event_type::kUserForgotten ||
        forget->route != event_route::kAdmin) {
      return std::nullopt;
    }
    auto body = UserForgottenBody::Parse(forget->body);
    if (!body.ok()) return std::nullopt;
    for (Seq erased : body->erased_seqs) {
      if (erased == *seq) return std::make_pair(*seq, *by);
    }
    return std::nullopt;
  }

  Result<bool> LegacyMigrated() const {
    std::string done;
    rocksdb::Status s =
        db->Get(rocksdb::ReadOptions(), db->DefaultColumnFamily(), kLegacyMigratedKey, &done);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return FromRocks(s, "read erasure migration marker");
    return true;
  }

  // The genuine legacy marks as (erased seq, forget seq), and their keys.
  Result<std::vector<std::pair<Seq, Seq>>> LegacyMarks(std::vector<std::string>* legacy_keys) {
    std::vector<std::pair<Seq, Seq>> marks;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), keys));
    const rocksdb::Slice prefix(kLegacyErasedPrefix.data(), kLegacyErasedPrefix.size());
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (auto mark = GenuineLegacyMark(it->key().ToStringView(), it->value().ToStringView())) {
        marks.push_back(*mark);
        if (legacy_keys) legacy_keys->push_back(it->key().ToString());
      } else if (legacy_keys) {  // once per open of the primary, not per follower catch-up
        spdlog::warn(
            "event log: idempotency key under the legacy erasure prefix is not an erasure "
            "mark (a request's key, or damaged); ignored");
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read legacy erasures");
    return marks;
  }

  // Primary only: moves genuine legacy marks into the erasures family,
  // deletes them from the idempotency family and records that it did, in one
  // synced batch.
  Status MigrateLegacyErasures() {
    ENGRAM_ASSIGN_OR_RETURN(bool migrated, LegacyMigrated());
    if (migrated) return Status::Ok();
    std::vector<std::string> legacy_keys;
    ENGRAM_ASSIGN_OR_RETURN(auto marks, LegacyMarks(&legacy_keys));
    // Nothing to move: write nothing (an open must not need free space);
    // the prefix scan is one seek.
    if (marks.empty()) return Status::Ok();
    rocksdb::WriteBatch wb;
    for (const auto& [seq, by] : marks) wb.Put(erasures, EncodeSeqKey(seq), EncodeSeqKey(by));
    for (const std::string& key : legacy_keys) wb.Delete(keys, key);
    wb.Put(db->DefaultColumnFamily(), kLegacyMigratedKey, "1");
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = db->Write(wo, &wb);
    if (!s.ok()) return FromRocks(s, "migrate erasure marks");
    spdlog::info("event log: moved {} erasure marks to their own column family", marks.size());
    return Status::Ok();
  }

  Status LoadErasures() {
    std::set<Seq> found;
    if (erasures) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), erasures));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        auto seq = DecodeSeqKey(it->key().ToStringView());
        if (!seq.ok()) return seq.status();
        found.insert(*seq);
      }
      if (!it->status().ok()) return FromRocks(it->status(), "read erasures");
    }
    // A follower may look at a log whose primary has not migrated yet.
    if (follower) {
      ENGRAM_ASSIGN_OR_RETURN(bool migrated, LegacyMigrated());
      if (!migrated) {
        ENGRAM_ASSIGN_OR_RETURN(auto legacy, LegacyMarks(nullptr));
        for (const auto& mark : legacy) found.insert(mark.first);
      }
    }
    std::lock_guard lock(mu);
    erased = std::move(found);
    return Status::Ok();
  }

  Status LoadHead() {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), events));
    it->SeekToLast();
    if (!it->status().ok()) return FromRocks(it->status(), "seek to last event");
    if (!it->Valid()) {
      head = 0;
      last_chain_hash.clear();
      return Status::Ok();
    }
    ENGRAM_ASSIGN_OR_RETURN(head, DecodeSeqKey(it->key().ToStringView()));
    ENGRAM_ASSIGN_OR_RETURN(Event last, DecodeEvent(it->value().ToStringView()));
    last_chain_hash = last.chain_hash;
    return Status::Ok();
  }

  void WriterLoop() {
    std::vector<std::unique_ptr<PendingAppend>> batch;
    for (;;) {
      Seq base = 0;
      {
        std::unique_lock lock(mu);
        queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping and drained
        HoldDeferrable(lock);
        size_t bytes = 0;
        while (!queue.empty() && (batch.empty() || bytes < options.max_batch_bytes)) {
          bytes += queue.front()->event.body.size();
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
        base = head;
      }
      const bool urgent = std::any_of(batch.begin(), batch.end(),
                                      [](const auto& p) { return !p->event.deferrable; });
      CommitBatch(base, batch);
      if (urgent) urgent_flow.Record(std::chrono::steady_clock::now());
      batch.clear();
    }
  }

  // While only deferrable appends are queued and urgent ones are flowing,
  // waits (up to defer_window after the oldest was queued) for an urgent
  // append to share the next sync. Each sync an acknowledgement queues
  // behind costs it a whole sync, and under load a disk's sync is slowest
  // exactly when there are most of them.
  void HoldDeferrable(std::unique_lock<std::mutex>& lock) {
    const auto window = options.defer_window;
    if (window.count() <= 0 || !options.sync) return;
    const auto only_deferrable = [&] {
      return std::all_of(queue.begin(), queue.end(),
                         [](const auto& p) { return p->event.deferrable; });
    };
    if (!only_deferrable()) return;
    if (!urgent_flow.Flowing(std::chrono::steady_clock::now(), window)) return;
    const auto until = queue.front()->queued + window;
    queue_cv.wait_until(lock, until, [&] { return stopping || !only_deferrable(); });
  }

  // Writes `batch` as one synced WriteBatch with seqs after `base`, then wakes
  // the callers. Runs on the writer thread only.
  void CommitBatch(Seq base, std::vector<std::unique_ptr<PendingAppend>>& batch) {
    rocksdb::WriteBatch wb;
    std::vector<Result<AppendResult>> results;
    results.reserve(batch.size());
    std::unordered_map<std::string, Seq> keys_in_batch;
    Seq next = base;
    std::string chain = last_chain_hash;
    const int64_t now = clock->NowMicros();
    for (const auto& p : batch) {
      NewEvent& ne = p->event;
      if (!ne.idempotency_key.empty()) {
        Seq existing = 0;
        if (auto it = keys_in_batch.find(ne.idempotency_key); it != keys_in_batch.end()) {
          existing = it->second;
        } else {
          std::string value;
          rocksdb::Status s = db->Get(rocksdb::ReadOptions(), keys, ne.idempotency_key, &value);
          if (s.ok()) {
            auto seq = DecodeSeqKey(value);
            if (!seq.ok()) {
              results.emplace_back(seq.status());
              continue;
            }
            existing = *seq;
          } else if (!s.IsNotFound()) {
            results.emplace_back(FromRocks(s, "idempotency lookup"));
            continue;
          }
        }
        if (existing != 0) {
          results.emplace_back(AppendResult{existing, true, now});
          continue;
        }
      }
      Event e;
      e.seq = ++next;
      e.received_at_us = now;
      e.type = std::move(ne.type);
      e.route = std::move(ne.route);
      e.idempotency_key = std::move(ne.idempotency_key);
      e.headers = std::move(ne.headers);
      e.verification = ne.verification;
      e.flags = ne.flags;
      e.original_body_sha256 = std::move(ne.original_body_sha256);
      e.original_body_size = ne.original_body_size;
      e.body = std::move(ne.body);
      // Sealed here, on the writer thread, because the seal authenticates
      // the seq, which is only known now (src/keys/sealing_event_log.h).
      if (ne.seal) {
        e.body = ne.seal->Seal(e.seq, e.type, e.body);
        e.flags |= kFlagSealed;
      }
      e.body_sha256 = crypto::Sha256Hex(e.body);
      e.chain_hash = ComputeChainHash(chain, e);
      chain = e.chain_hash;
      wb.Put(events, EncodeSeqKey(e.seq), EncodeEvent(e));
      if (!e.idempotency_key.empty()) {
        wb.Put(keys, e.idempotency_key, EncodeSeqKey(e.seq));
        keys_in_batch.emplace(e.idempotency_key, e.seq);
      }
      results.emplace_back(AppendResult{e.seq, false, now});
    }

    Status write_status;
    if (next != base) {
      // After a failed write RocksDB refuses every write until it is told
      // to resume. Try that, at most every 500 ms: RocksDB can recover from
      // some errors (out of space, once there is room) in place; others
      // (EFBIG, a read-only disk) need the log reopened, i.e. a restart.
      bool failing;
      {
        std::lock_guard lock(mu);
        failing = !write_error.ok();
        write_status = write_error;
      }
      if (failing &&
          std::chrono::steady_clock::now() - last_resume >= std::chrono::milliseconds(500)) {
        last_resume = std::chrono::steady_clock::now();
        rocksdb::Status resumed = db->Resume();
        if (resumed.ok()) write_status = Status::Ok();
      }
      if (write_status.ok()) {
        rocksdb::WriteOptions wo;
        wo.sync = options.sync;
        rocksdb::Status s = db->Write(wo, &wb);
        if (!s.ok()) write_status = FromRocks(s, "append");
      }
    }
    {
      std::lock_guard lock(mu);
      if (next != base) write_error = write_status;
      if (write_status.ok() && next != base) {
        head = next;
        last_chain_hash = chain;
      }
    }
    head_cv.notify_all();
    for (size_t i = 0; i < batch.size(); ++i) {
      // The entry goes before its completion runs: its event (the body)
      // is not held while the caller's continuation is queued elsewhere.
      AppendDone done = std::move(batch[i]->done);
      batch[i].reset();
      // A failed write fails every new event of the batch; duplicates found
      // before the write stay answered, as they depend on no new data.
      if (!write_status.ok() && results[i].ok() && !results[i]->duplicate) {
        done(write_status);
      } else {
        done(std::move(results[i]));
      }
    }
  }
};

RocksDbEventLog::RocksDbEventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksDbEventLog::~RocksDbEventLog() = default;

Result<std::unique_ptr<RocksDbEventLog>> RocksDbEventLog::Open(
    const RocksDbEventLogOptions& options, const Clock& clock) {
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) return Status::IOError("create " + options.path + ": " + ec.message());

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = &clock;
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Keep the WAL small: flushes happen when memtables fill anyway.
  db_options.max_total_wal_size = 256u << 20;
  db_options.keep_log_file_num = 5;
  // Erasure (FORMAT.md): a flushed WAL file must be deleted, not archived or
  // recycled, or an erased body's old bytes outlive the purge.
  db_options.WAL_ttl_seconds = 0;
  db_options.WAL_size_limit_MB = 0;
  db_options.recycle_log_file_num = 0;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, FamilyOptions()},
      {kEventsFamily, FamilyOptions()},
      {kKeysFamily, FamilyOptions()},
      {kErasuresFamily, FamilyOptions()}};
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, families, &impl->handles, &raw);
  if (!s.ok()) return FromRocks(s, "open event log at " + options.path);
  impl->db.reset(raw);
  impl->events = impl->handles[1];
  impl->keys = impl->handles[2];
  impl->erasures = impl->handles[3];
  ENGRAM_RETURN_IF_ERROR(impl->LoadHead());
  ENGRAM_RETURN_IF_ERROR(impl->MigrateLegacyErasures());
  ENGRAM_RETURN_IF_ERROR(impl->LoadErasures());
  // A log that erased entries before erasures were purged: purge it once.
  if (!impl->erased.empty()) {
    std::vector<std::string> keys;
    for (Seq seq : impl->erased) keys.push_back(EncodeSeqKey(seq));  // a set: sorted
    ENGRAM_RETURN_IF_ERROR(PurgeErasuresIfPending(impl->db.get(), impl->handles, impl->events, keys,
                                                  /*at_open=*/true));
  }
  impl->writer = std::thread([p = impl.get()] {
    pthread_setname_np(pthread_self(), "log-writer");  // for profiles and top -H
    p->WriterLoop();
  });
  return std::unique_ptr<RocksDbEventLog>(new RocksDbEventLog(std::move(impl)));
}

Result<std::unique_ptr<RocksDbEventLog>> RocksDbEventLog::OpenFollower(
    const std::string& path, const std::string& scratch_dir) {
  if (!std::filesystem::exists(path + "/CURRENT")) {
    return Status::NotFound("no event log at " + path);
  }
  std::error_code ec;
  std::filesystem::create_directories(scratch_dir, ec);
  if (ec) return Status::IOError("create " + scratch_dir + ": " + ec.message());
  auto impl = std::make_unique<Impl>();
  impl->follower = true;
  impl->options.path = path;
  rocksdb::DBOptions db_options;
  db_options.max_open_files = -1;  // required by secondary instances
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, FamilyOptions()},
      {kEventsFamily, FamilyOptions()},
      {kKeysFamily, FamilyOptions()}};
  // A secondary cannot create families: open `erasures` only if it exists.
  std::vector<std::string> names;
  if (rocksdb::DB::ListColumnFamilies(db_options, path, &names).ok() &&
      std::find(names.begin(), names.end(), kErasuresFamily) != names.end()) {
    families.push_back({kErasuresFamily, FamilyOptions()});
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::OpenAsSecondary(db_options, path, scratch_dir, families, &impl->handles, &raw);
  if (!s.ok()) return FromRocks(s, "open event log at " + path + " as follower");
  impl->db.reset(raw);
  impl->events = impl->handles[1];
  impl->keys = impl->handles[2];
  if (impl->handles.size() > 3) impl->erasures = impl->handles[3];
  ENGRAM_RETURN_IF_ERROR(impl->LoadHead());
  ENGRAM_RETURN_IF_ERROR(impl->LoadErasures());
  return std::unique_ptr<RocksDbEventLog>(new RocksDbEventLog(std::move(impl)));
}

Result<AppendResult> RocksDbEventLog::Append(NewEvent e) {
  auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
  auto future = promise->get_future();
  AppendAsync(std::move(e),
              [promise](Result<AppendResult> r) { promise->set_value(std::move(r)); });
  return future.get();
}

void RocksDbEventLog::AppendAsync(NewEvent e, AppendDone done) {
  if (impl_->follower) return done(Status::Unavailable("event log opened read-only"));
  auto pending = std::make_unique<Impl::PendingAppend>(
      Impl::PendingAppend{std::move(e), {}, std::chrono::steady_clock::now()});
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->stopping) {
      pending->done = std::move(done);
      impl_->queue.push_back(std::move(pending));
    }
  }
  if (pending) return done(Status::Unavailable("event log is closing"));
  impl_->queue_cv.notify_one();
}

Result<std::vector<Event>> RocksDbEventLog::ReadAfter(Seq after, size_t limit) const {
  std::vector<Event> out;
  const Seq head = Head();
  if (after >= head || limit == 0) return out;
  rocksdb::ReadOptions ro;
  // Large scans (replay) should not evict the hot part of the block cache.
  ro.fill_cache = limit < 1024;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->events));
  for (it->Seek(EncodeSeqKey(after + 1)); it->Valid() && out.size() < limit; it->Next()) {
    ENGRAM_ASSIGN_OR_RETURN(Event e, DecodeEvent(it->value().ToStringView()));
    if (e.seq > head) break;
    if (e.seq != after + out.size() + 1) {
      return Status::Corruption("gap in event log: expected seq " +
                                std::to_string(after + out.size() + 1) + ", found " +
                                std::to_string(e.seq));
    }
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read events");
  std::lock_guard lock(impl_->mu);
  if (!impl_->erased.empty()) {
    for (Event& e : out) e.erased = impl_->erased.count(e.seq) > 0;
  }
  return out;
}

Seq RocksDbEventLog::Head() const {
  std::lock_guard lock(impl_->mu);
  return impl_->head;
}

bool RocksDbEventLog::WaitForHead(Seq after, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->head_cv.wait_for(lock, timeout, [&] { return impl_->head > after; });
}

Result<std::optional<Seq>> RocksDbEventLog::FindByKey(const std::string& key) const {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->keys, key, &value);
  if (s.IsNotFound()) return std::optional<Seq>();
  if (!s.ok()) return FromRocks(s, "idempotency lookup");
  ENGRAM_ASSIGN_OR_RETURN(Seq seq, DecodeSeqKey(value));
  return std::optional<Seq>(seq);
}

Status RocksDbEventLog::CatchUp() {
  if (!impl_->follower) return Status::Ok();
  rocksdb::Status s = impl_->db->TryCatchUpWithPrimary();
  if (!s.ok()) return FromRocks(s, "catch up with primary");
  Status st;
  {
    std::lock_guard lock(impl_->mu);
    st = impl_->LoadHead();
  }
  impl_->head_cv.notify_all();
  if (st.ok()) st = impl_->LoadErasures();
  return st;
}

Status RocksDbEventLog::Erase(const std::vector<Seq>& seqs, Seq by) {
  if (impl_->follower) return Status::Unavailable("event log opened read-only");
  const Seq head = Head();
  rocksdb::WriteBatch wb;
  for (Seq seq : seqs) {
    if (seq == 0 || seq > head) {
      return Status::InvalidArgument("cannot erase seq " + std::to_string(seq) +
                                     ": not in the log");
    }
    std::string bytes;
    rocksdb::Status s =
        impl_->db->Get(rocksdb::ReadOptions(), impl_->events, EncodeSeqKey(seq), &bytes);
    if (!s.ok()) return FromRocks(s, "read event " + std::to_string(seq));
    ENGRAM_ASSIGN_OR_RETURN(Event e, DecodeEvent(bytes));
    // Only the body goes: body_sha256 and chain_hash stay, so the chain
    // still verifies and the entry still says what it was.
    e.body.clear();
    wb.Put(impl_->events, EncodeSeqKey(seq), EncodeEvent(e));
    wb.Put(impl_->erasures, EncodeSeqKey(seq), EncodeSeqKey(by));
  }
  // Absent until the purge below is done: a crash in between leaves it to
  // the next open (rocksdb_purge.h).
  wb.Delete(impl_->db->DefaultColumnFamily(), kErasuresPurgedKey);
  rocksdb::WriteOptions wo;
  wo.sync = impl_->options.sync;
  rocksdb::Status s = impl_->db->Write(wo, &wb);
  if (!s.ok()) return FromRocks(s, "erase");
  {
    std::lock_guard lock(impl_->mu);
    impl_->erased.insert(seqs.begin(), seqs.end());
  }
  if (seqs.empty()) return Status::Ok();
  // The old versions of the rewritten entries are still in the WAL and in
  // older SSTs: purge them, then write the marker (rocksdb_purge.h).
  std::vector<std::string> keys;
  for (Seq seq : seqs) keys.push_back(EncodeSeqKey(seq));
  std::sort(keys.begin(), keys.end());  // big-endian: bytewise order is seq order
  return PurgeErasuresIfPending(impl_->db.get(), impl_->handles, impl_->events, keys,
                                /*at_open=*/false);
}

Status RocksDbEventLog::WriteHealth() const {
  std::lock_guard lock(impl_->mu);
  return impl_->write_error;
}

uint64_t RocksDbEventLog::DiskUsageBytes() const { return FolderBytes(impl_->options.path); }

Result<std::string> RocksDbEventLog::Identity() const {
  return ReadLogIdentity(impl_->db.get(), impl_->options.path);
}

}  // namespace engram::log
