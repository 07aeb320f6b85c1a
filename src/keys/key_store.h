// KeyStore: each caller's 256-bit data key, wrapped by the master key, in
// DATA_DIR/keys.db, apart from the log; and the list of erasures.
//
// Why SQLite, and how a destroyed key leaves the disk: the store is one
// SQLite file in WAL mode with synchronous=FULL (a commit is on disk before
// it returns, so a key exists before any event sealed with it is
// acknowledged) and secure_delete=ON (a deleted row's bytes are overwritten
// with zeros in the page, not left in free space). After every delete and
// every rotation the WAL is checkpointed with TRUNCATE, so the old pages
// (which held the wrapped key) are no longer in any file: the key is gone
// from keys.db and keys.db-wal alike. Every read-write open checkpoints too:
// a crash between a delete's commit and its checkpoint leaves the zeroed
// pages only in the WAL and the old ones in keys.db. A wrapped key is
// useless without the master key anyway; the physical delete is for the
// case where both leak.
//
// Tables (created at first open):
//   meta(name, value)        'check': GcmSeal(master, "engram keys check v1")
//                            of the same text, so a wrong master key is a
//                            clear error at open, never garbage later
//   data_keys(subject_hash PRIMARY KEY, key_id UNIQUE, wrapped)
//                            subject_hash = SHA-256("engram key subject v1\n"
//                            ‖ subject); key_id 16 random bytes (what a
//                            sealed body names); wrapped = GcmSeal(master,
//                            aad "engram data key v1" ‖ key_id ‖
//                            subject_hash, key)
//   erasures(id, pending_key, forget_seq, subjects, erased_seqs)
//                            one row per forget: the user_forgotten
//                            idempotency key while pending (NULL once done),
//                            its seq once done, the subject hashes whose keys
//                            it destroys, and the log entries it erased
//
// Subjects are "user:<user id>" or "conversation:<conversation id>"; the
// store holds only their hashes. Unwrapped keys are cached in memory
// (at most kMaxCachedKeys; the cache is dropped whole when full). Thread-
// safe: one connection behind a mutex; cache hits take only the cache's;
// new keys are group-committed (callers arriving together share one fsync).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "keys/aead.h"

struct sqlite3;

namespace engram::keys {

inline constexpr char kKeyStoreFile[] = "keys.db";
inline constexpr size_t kKeyIdBytes = 16;
// 100k cached keys is ~15 MB and covers far more callers than are active
// at once; a miss costs one indexed SQLite read and one unwrap.
inline constexpr size_t kMaxCachedKeys = 100'000;

struct DataKey {
  std::string key_id;  // kKeyIdBytes raw bytes
  SecretKey key;
};

struct Erasure {
  std::string pending_key;                  // the user_forgotten idempotency key; "" once done
  uint64_t forget_seq = 0;                  // 0 while pending
  std::vector<std::string> subject_hashes;  // raw 32-byte hashes
  std::vector<uint64_t> erased_seqs;
};

class KeyStore {
 public:
  // Opens (creating when `create` and missing; file mode 0600) the store at
  // `path`. InvalidArgument when `master` is not the key the store was made
  // with; NotFound when missing and not `create`; IOError otherwise.
  static Result<std::unique_ptr<KeyStore>> Open(const std::string& path, const SecretKey& master,
                                                bool create, bool read_only = false);
  ~KeyStore();

  // The data key of `subject`, made (and committed, synced) the first time.
  // Unavailable on a read-only store when the subject has no key.
  Result<std::shared_ptr<const DataKey>> KeyFor(std::string_view subject);
  // The key named `key_id`; null when there is none (destroyed by a forget).
  Result<std::shared_ptr<const DataKey>> Find(std::string_view key_id);

  // Erasure, in two steps around the user_forgotten append (crash safety:
  // sealing_event_log.h). Begin records the intent; Complete destroys the
  // keys of the intent's subjects and records `forget_seq`, in one
  // transaction, then truncates the WAL. Drop forgets an intent whose event
  // was never appended.
  // `key_ids` adds the subjects of those keys (the keys the erased entries
  // were sealed with, whoever they were tied to at append time).
  Status BeginErasure(const std::string& pending_key, const std::vector<std::string>& subjects,
                      const std::vector<uint64_t>& erased_seqs,
                      const std::vector<std::string>& key_ids = {});
  Status CompleteErasure(const std::string& pending_key, uint64_t forget_seq);
  Status DropErasure(const std::string& pending_key);
  Result<std::vector<Erasure>> ListErasures();
  // Destroys every key a completed erasure covers (after a restore put an
  // older keys.db back). Returns how many it destroyed.
  Result<size_t> ReapplyErasures();

  // Re-wraps every key under `new_master` and replaces the check value, in
  // one transaction: all or nothing.
  Status Rotate(const SecretKey& new_master);
  Result<size_t> KeyCount();

  static std::string SubjectHash(std::string_view subject);

 private:
  KeyStore(sqlite3* db, const SecretKey& master, bool read_only);
  Status Exec(const char* sql);
  Result<std::shared_ptr<const DataKey>> Unwrap(const std::string& key_id,
                                                const std::string& subject_hash,
                                                const std::string& wrapped,
                                                const SecretKey& master) const;
  void Cache(const std::string& subject_hash, std::shared_ptr<const DataKey> key);
  Status DestroyLocked(const std::vector<std::string>& subject_hashes, size_t* destroyed);
  Status Checkpoint();
  struct PendingKey {
    std::string subject_hash;
    std::shared_ptr<const DataKey> key;
    Status status;
    bool done = false;  // guarded by create_mu_
  };
  // Finds or makes the keys of `batch` and commits the new ones in one
  // transaction; sets each entry's key or status.
  void CommitNewKeys(const std::vector<std::shared_ptr<PendingKey>>& batch);

  std::mutex mu_;  // the connection (db_) and master_; taken before cache_mu_
  sqlite3* db_;
  SecretKey master_;
  bool read_only_;
  std::mutex create_mu_;  // the group commit of new keys
  std::condition_variable create_cv_;
  std::vector<std::shared_ptr<PendingKey>> create_queue_;
  bool committing_ = false;

  std::mutex cache_mu_;  // the three caches below
  std::unordered_map<std::string, std::shared_ptr<const DataKey>> by_subject_;
  std::unordered_map<std::string, std::shared_ptr<const DataKey>> by_id_;
  std::unordered_set<std::string> destroyed_ids_;  // ids known to be gone
};

}  // namespace engram::keys
