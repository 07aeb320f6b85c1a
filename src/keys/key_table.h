// KeyTable: where the KeyStore keeps its rows (key_store.h holds the logic:
// wrapping, caches, group commit, erasure intents). Two backends:
//   SqliteKeyTable (sqlite_key_table.h): DATA_DIR/keys.db, one node;
//   PgKeyTable (pg_key_table.h): schema engram_keys of the PostgreSQL read
//     model (`--read-model postgresql://...`), shared by every node.
//
// Rows (the same on both backends):
//   check value  GcmSeal(master, "engram keys check v1") of that text
//   data key     subject_hash (32 bytes, unique), key_id (16 random bytes,
//                unique), wrapped (the data key sealed by the master key)
//   erasure      pending_key (the user_forgotten idempotency key while
//                pending, none once done), forget_seq (once done), the
//                subject hashes whose keys it destroys, the seqs it erased
//
// Every write is durable when it returns (SQLite synchronous=FULL;
// PostgreSQL synchronous_commit=on). A destruction also purges the deleted
// rows from the files (SQLite: secure_delete and a WAL truncation;
// PostgreSQL: VACUUM FULL of the key table); what stays elsewhere is in
// src/keys/README.md.
//
// Not thread-safe: the KeyStore calls it under its own mutex. The one
// exception is the destruction callback, which a backend may call from a
// thread of its own (PostgreSQL: the LISTEN connection).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace engram::keys {

struct StoredKey {
  std::string subject_hash;  // 32 raw bytes
  std::string key_id;        // kKeyIdBytes raw bytes
  std::string wrapped;       // GcmSeal(master, aad, key)
};

struct Erasure {
  std::string pending_key;                  // the user_forgotten idempotency key; "" once done
  uint64_t forget_seq = 0;                  // 0 while pending
  std::vector<std::string> subject_hashes;  // raw 32-byte hashes
  std::vector<uint64_t> erased_seqs;
  // KeyIdDigest of each key it destroyed, recorded when it completed;
  // nullopt for erasures recorded before digests were kept. Re-applying an
  // erasure destroys a subject's key only when it is one of these (back
  // from a restore), never a key made since (a forgotten caller who called
  // again). Digests, not ids: no byte of a destroyed key's row stays.
  std::optional<std::vector<std::string>> destroyed_digests;
};

class KeyTable {
 public:
  virtual ~KeyTable() = default;

  // Where the rows live, safe to show (never a password): "DIR/keys.db",
  // "postgresql://HOST:PORT/DB".
  virtual std::string Where() const = 0;

  // The stored check value; "" when the store has none yet.
  virtual Result<std::string> ReadCheck() = 0;
  // Stores `value` unless a check value is there already, and returns the
  // one stored: when two nodes make the store at once, the first one's
  // stands and the other's master key is checked against it.
  virtual Result<std::string> InitCheck(const std::string& value) = 0;

  virtual Result<std::optional<StoredKey>> FindBySubject(const std::string& subject_hash) = 0;
  virtual Result<std::optional<StoredKey>> FindById(const std::string& key_id) = 0;
  // Adds `keys` in one durable transaction. A subject that has a key already
  // keeps it (another node made it first); the answer says, per key,
  // whether it was added.
  virtual Result<std::vector<bool>> AddKeys(const std::vector<StoredKey>& keys) = 0;

  // Records (or replaces) a pending erasure, owned by this process until
  // CompleteErasure or DropErasure (PostgreSQL: a session advisory lock).
  virtual Status RecordErasure(const std::string& pending_key,
                               const std::vector<std::string>& subject_hashes,
                               const std::vector<uint64_t>& erased_seqs) = 0;
  // Takes ownership of another process's pending erasure, for recovery:
  // false while its owner lives (it is between its steps), true when the
  // owner is gone (or is this process).
  virtual Result<bool> ClaimErasure(const std::string& pending_key) = 0;
  // In one durable transaction: deletes the keys of the erasure's subjects
  // and marks it done with `forget_seq` and the digests of the ids it
  // deleted; then purges the deleted rows and releases ownership. Returns
  // the ids. NotFound
  // when no erasure is pending under `pending_key`.
  virtual Result<std::vector<std::string>> CompleteErasure(const std::string& pending_key,
                                                           uint64_t forget_seq) = 0;
  // Deletes a pending erasure (its event was never appended) and releases
  // ownership. Ok when there is none.
  virtual Status DropErasure(const std::string& pending_key) = 0;
  virtual Result<std::vector<Erasure>> ListErasures() = 0;
  // Deletes the keys of `subject_hashes` and the keys named `key_ids` (one
  // durable transaction, then the purge when any went); returns the ids
  // deleted.
  virtual Result<std::vector<std::string>> DestroyKeys(
      const std::vector<std::string>& subject_hashes, const std::vector<std::string>& key_ids) = 0;

  // In one transaction: every key's wrapped value replaced by
  // rewrap(row), and the check value by `new_check`. All or nothing.
  virtual Status RewrapAll(const std::function<Result<std::string>(const StoredKey&)>& rewrap,
                           const std::string& new_check) = 0;
  virtual Result<size_t> KeyCount() = 0;

  // Cache coherence between processes sharing the rows. `fn` is called
  // (possibly from another thread) with the ids of keys another process
  // destroyed, or with none when any key may have gone (a notification may
  // have been missed): drop everything then.
  virtual void OnKeysDestroyed(std::function<void(const std::vector<std::string>&)> fn) {
    (void)fn;
  }
  // False while this process could miss another's destruction (the
  // PostgreSQL listener is reconnecting): keys must then be read from the
  // table, not from a cache.
  virtual bool CacheIsCoherent() const { return true; }
};

// "a,b,c" <-> {a, b, c}: the erased seqs as both backends store them.
std::string JoinSeqs(const std::vector<uint64_t>& seqs);
std::vector<uint64_t> SplitSeqs(const std::string& text);
// Concatenated 32-byte hashes <-> the list.
std::string JoinHashes(const std::vector<std::string>& hashes);
std::vector<std::string> SplitHashes(const std::string& blob);
// SHA-256("engram destroyed key v1\n" ‖ key_id): 32 raw bytes.
std::string KeyIdDigest(const std::string& key_id);
// The digests of `key_ids`, concatenated (what an erasure row stores).
std::string JoinDigests(const std::vector<std::string>& key_ids);

}  // namespace engram::keys
