// KeyStore: each caller's 256-bit data key, wrapped by the master key, apart
// from the log; and the list of erasures. The rows live in a KeyTable
// (key_table.h): DATA_DIR/keys.db on a single node, the PostgreSQL read
// model's schema engram_keys when nodes share one (`--read-model`). This
// class is the logic both share: wrapping, the check value, the caches, the
// group commit of new keys, erasure intents.
//
// Wrapping: wrapped = GcmSeal(master, aad "engram data key v1" ‖ key_id ‖
// subject_hash, key); subject_hash = SHA-256("engram key subject v1\n" ‖
// subject); key_id 16 random bytes (what a sealed body names). The check
// value, GcmSeal(master, "engram keys check v1") of the same text, makes a
// wrong master key a clear error at open, never garbage later.
//
// Subjects are "user:<user id>" or "conversation:<conversation id>"; the
// store holds only their hashes. Unwrapped keys are cached in memory (at
// most kMaxCachedKeys; the cache is dropped whole when full). With a shared
// table the cache follows other nodes' destructions (KeyTable::
// OnKeysDestroyed) and is bypassed while it cannot (CacheIsCoherent).
//
// Thread-safe: the table behind a mutex; cache hits take only the cache's;
// new keys are group-committed (callers arriving together share one
// durable commit).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "keys/aead.h"
#include "keys/key_table.h"
#include "keys/sqlite_key_table.h"

namespace engram::keys {

inline constexpr size_t kKeyIdBytes = 16;
// 100k cached keys is ~15 MB and covers far more callers than are active
// at once; a miss costs one indexed read and one unwrap.
inline constexpr size_t kMaxCachedKeys = 100'000;

struct DataKey {
  std::string key_id;  // kKeyIdBytes raw bytes
  SecretKey key;
};

class KeyStore {
 public:
  // Over `table`: checks `master` against the table's check value, or
  // stores one made with it when the table has none (and is not read-only).
  // InvalidArgument when `master` is not the key the store was made with;
  // Corruption when a read-only table has no check value.
  static Result<std::unique_ptr<KeyStore>> Open(std::unique_ptr<KeyTable> table,
                                                const SecretKey& master, bool read_only = false);
  // The same over DATA_DIR/keys.db at `path` (SqliteKeyTable::Open's errors).
  static Result<std::unique_ptr<KeyStore>> Open(const std::string& path, const SecretKey& master,
                                                bool create, bool read_only = false);
  ~KeyStore();

  // The data key of `subject`, made (and committed durably) the first time.
  // Unavailable on a read-only store when the subject has no key.
  Result<std::shared_ptr<const DataKey>> KeyFor(std::string_view subject);
  // The data key of `subject` when the cache holds it, else null; never
  // waits for the table (an asynchronous append's fast path).
  std::shared_ptr<const DataKey> CachedKey(std::string_view subject);
  // The key named `key_id`; null when there is none (destroyed by a forget).
  Result<std::shared_ptr<const DataKey>> Find(std::string_view key_id);

  // Erasure, in two steps around the user_forgotten append (crash safety:
  // sealing_event_log.h). Begin records the intent, owned by this process
  // until Complete or Drop; Complete destroys the keys of the intent's
  // subjects and records `forget_seq`, in one transaction, then purges the
  // rows from the files. Drop forgets an intent whose event was never
  // appended.
  // `key_ids` adds the subjects of those keys (the keys the erased entries
  // were sealed with, whoever they were tied to at append time).
  Status BeginErasure(const std::string& pending_key, const std::vector<std::string>& subjects,
                      const std::vector<uint64_t>& erased_seqs,
                      const std::vector<std::string>& key_ids = {});
  Status CompleteErasure(const std::string& pending_key, uint64_t forget_seq);
  Status DropErasure(const std::string& pending_key);
  // Recovery of another process's intent: false while the process that
  // began it lives (with a shared table, another node in mid-forget).
  Result<bool> ClaimErasure(const std::string& pending_key);
  Result<std::vector<Erasure>> ListErasures();
  // Destroys again every key a completed erasure destroyed (after a restore
  // put an older store back), by key id: a key made since for the same
  // subject stays. Returns how many it destroyed.
  Result<size_t> ReapplyErasures();

  // Re-wraps every key under `new_master` and replaces the check value, in
  // one transaction: all or nothing.
  Status Rotate(const SecretKey& new_master);
  Result<size_t> KeyCount();
  // Where the rows live (KeyTable::Where).
  std::string Where() const { return where_; }

  static std::string SubjectHash(std::string_view subject);

 private:
  KeyStore(std::unique_ptr<KeyTable> table, const SecretKey& master, bool read_only);
  Result<std::shared_ptr<const DataKey>> Unwrap(const StoredKey& row,
                                                const SecretKey& master) const;
  // Caches `key` unless the cache was invalidated since `generation` was
  // read (the row may have been destroyed after it was read).
  void Cache(const std::string& subject_hash, std::shared_ptr<const DataKey> key,
             uint64_t generation);
  void ForgetCached(const std::vector<std::string>& key_ids);
  uint64_t Generation() const { return generation_.load(std::memory_order_acquire); }
  struct PendingKey {
    std::string subject_hash;
    std::shared_ptr<const DataKey> key;
    Status status;
    bool done = false;  // guarded by create_mu_
  };
  // Finds or makes the keys of `batch` and commits the new ones in one
  // transaction; sets each entry's key or status.
  void CommitNewKeys(const std::vector<std::shared_ptr<PendingKey>>& batch);
  Status CommitNewKeysLocked(
      const std::vector<std::shared_ptr<PendingKey>>& batch,
      std::unordered_map<std::string, std::shared_ptr<const DataKey>>* found);

  std::mutex mu_;  // table_, master_ and began_; taken before cache_mu_
  std::unique_ptr<KeyTable> table_;
  SecretKey master_;
  bool read_only_;
  std::string where_;
  // The intents this process began, kept in case the row went missing
  // before Complete (another node's recovery took it over after this
  // node's connection dropped): Complete records them again.
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<uint64_t>>> began_;

  std::mutex create_mu_;  // the group commit of new keys
  std::condition_variable create_cv_;
  std::vector<std::shared_ptr<PendingKey>> create_queue_;
  bool committing_ = false;

  std::mutex cache_mu_;                  // the three caches below
  std::atomic<uint64_t> generation_{0};  // bumped (under cache_mu_) by every invalidation
  std::unordered_map<std::string, std::shared_ptr<const DataKey>> by_subject_;
  std::unordered_map<std::string, std::shared_ptr<const DataKey>> by_id_;
  std::unordered_set<std::string> destroyed_ids_;  // ids known to be gone
};

}  // namespace engram::keys
