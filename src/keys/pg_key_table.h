// PgKeyTable: the KeyStore's rows in PostgreSQL (key_table.h), in the schema
// engram_keys of the read model's database (`--read-model postgresql://`),
// shared by every node of a cluster. Only this file's .cc includes libpq.
//
// Tables: engram_keys.meta(name, value) ('check'), engram_keys.data_keys(
// subject_hash PRIMARY KEY, key_id UNIQUE, wrapped), engram_keys.erasures(
// id, pending_key UNIQUE, forget_seq, subjects, erased_seqs): the SQLite
// store's tables, outside the read model's schema (so read-model dumps and
// `replay --verify` never see them). Made at first open under a transaction
// advisory lock, so nodes starting together make them once.
//
// Session advisory locks (bigint keys; they end with the session, so a node
// that dies releases them):
//   kKeyStoreInUseLock   held shared by every process that has the store
//                        open, exclusively by `engram keys rotate`: a
//                        rotation runs only when no node could keep the old
//                        master key, and no node opens during one.
//   one per pending erasure (from its idempotency key): the node that began
//                        a forget owns its intent until it completed or
//                        dropped it; recovery on another node takes only
//                        intents whose lock it can get (their owner died).
//
// Cache coherence: a destruction commits with NOTIFY engram_keys_destroyed
// (the destroyed key ids, hex; an empty payload when they would not fit
// PostgreSQL's 8000-byte limit: drop everything). A second connection
// LISTENs on a thread of its own (pg_destruction_listener.h); while it is
// down (and until it LISTENs again and everything cached was dropped)
// CacheIsCoherent() is false.
//
// Durability: synchronous_commit=on for the session, whatever the server's
// default: a key is committed before any event sealed with it is appended.
// Physical erasure: VACUUM FULL engram_keys.data_keys after every
// destruction and rotation rewrites the table without the dead rows (the
// old file is unlinked). PostgreSQL's WAL keeps the wrapped keys it logged
// until those segments are recycled (src/keys/README.md).
//
// Not thread-safe (KeyTable), except OnKeysDestroyed's callback thread.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "keys/key_table.h"
#include "keys/pg_destruction_listener.h"

struct pg_conn;

namespace engram::keys {

class PgKeyTable final : public KeyTable {
 public:
  enum class Access {
    kShared,     // engram serve, audit, replay: with the other nodes
    kExclusive,  // engram keys rotate: alone
  };
  // Connects to `url` (a libpq URI), makes the tables unless `read_only`,
  // takes kKeyStoreInUseLock (shared or exclusive) and, when shared, starts
  // listening for destructions. Unavailable when the server cannot be
  // reached or a rotation is running; Conflict (kExclusive) naming how many
  // processes have the store open.
  static Result<std::unique_ptr<PgKeyTable>> Open(const std::string& url, bool read_only,
                                                  Access access = Access::kShared);
  ~PgKeyTable() override;

  std::string Where() const override { return shown_; }
  Result<std::string> ReadCheck() override;
  Result<std::string> InitCheck(const std::string& value) override;
  Result<std::optional<StoredKey>> FindBySubject(const std::string& subject_hash) override;
  Result<std::optional<StoredKey>> FindById(const std::string& key_id) override;
  Result<std::vector<bool>> AddKeys(const std::vector<StoredKey>& keys) override;
  Status RecordErasure(const std::string& pending_key,
                       const std::vector<std::string>& subject_hashes,
                       const std::vector<uint64_t>& erased_seqs) override;
  Result<bool> ClaimErasure(const std::string& pending_key) override;
  Result<std::vector<std::string>> CompleteErasure(const std::string& pending_key,
                                                   uint64_t forget_seq) override;
  Status DropErasure(const std::string& pending_key) override;
  Result<std::vector<Erasure>> ListErasures() override;
  Result<std::vector<std::string>> DestroyKeys(const std::vector<std::string>& subject_hashes,
                                               const std::vector<std::string>& key_ids) override;
  Status RewrapAll(const std::function<Result<std::string>(const StoredKey&)>& rewrap,
                   const std::string& new_check) override;
  Result<size_t> KeyCount() override;
  void OnKeysDestroyed(std::function<void(const std::vector<std::string>&)> fn) override;
  bool CacheIsCoherent() const override;

 private:
  PgKeyTable(std::string url, std::string shown, bool read_only, Access access);
  Status Connect();
  Status EnsureConnected();
  Status TakeInUseLock();
  Status MakeTables();
  Status Purge();
  Status ReleaseIntent(const std::string& pending_key);
  Status DeleteKeys(const std::vector<std::string>& subject_hashes,
                    const std::vector<std::string>& key_ids, std::vector<std::string>* destroyed);

  std::string url_;
  std::string shown_;
  bool read_only_;
  Access access_;
  pg_conn* conn_ = nullptr;
  bool in_transaction_ = false;
  std::string check_seen_;  // the check value at open, to notice a rotation after a reconnect
  Status broken_;           // set for good when a reconnect finds the store changed under us
  std::map<std::string, int64_t> owned_intents_;  // pending key -> its advisory lock key

  std::unique_ptr<DestructionListener> listener_;  // kShared only
};

}  // namespace engram::keys
