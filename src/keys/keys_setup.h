// Opening the key store the way every command does, and rotating its master
// key (`engram keys rotate`).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "keys/key_store.h"
#include "keys/master_key.h"

namespace engram::keys {

// Left by a rotation that made a new master key: DATA_DIR/master.key.new
// holds it until the store is re-wrapped and the file renamed over
// master.key.
inline constexpr char kPendingMasterKeyFile[] = "master.key.new";

// Left in DATA_DIR by `engram serve --read-model postgresql://...`: this
// folder's caller keys live in PostgreSQL, so a command given the folder
// without the URL refuses instead of reading sealed entries as plaintext-less.
inline constexpr char kSharedKeysMarkerFile[] = "keys.in-postgresql";

struct KeysOptions {
  std::string data_dir;
  std::string master_key_file;  // --master-key-file; "" for the default
  // `engram serve`: make DATA_DIR/master.key and the store when missing.
  bool create = false;
  bool read_only = false;  // replay and audit while a server runs
  // A postgresql:// URL (--read-model): the store shared by every node, in
  // that database (pg_key_table.h), instead of DATA_DIR/keys.db.
  std::string shared_url = {};
};

struct OpenedKeys {
  std::unique_ptr<KeyStore> store;
  std::string master_source;  // where the master key came from (never the key)
  bool master_created = false;
  bool finished_rotation = false;  // an interrupted rotation was completed
};

// The master key (master_key.h) and DATA_DIR/keys.db. A rotation that was
// interrupted after its commit (the store opens with master.key.new, not
// with the old key) is finished here: master.key.new becomes master.key.
// Otherwise a leftover master.key.new is removed. Errors: those of
// LoadMasterKey and KeyStore::Open (InvalidArgument: wrong master key).
// With `shared_url`: the PostgreSQL store; a master key is made only with a
// store that has none yet (the first node); a node without one, or with
// another, is refused and told that every node needs the same key. A
// DATA_DIR/keys.db left by a single-node past is refused too (its keys are
// not moved over). Without `shared_url`, a DATA_DIR whose keys live in
// PostgreSQL (kSharedKeysMarkerFile) is refused (InvalidArgument).
Result<OpenedKeys> OpenKeys(const KeysOptions& options);

struct RotateOptions {
  std::string data_dir;
  std::string master_key_file;      // the current key's file, if not the default
  std::string new_master_key_file;  // the new key's file; else ENGRAM_NEW_MASTER_KEY; else made
  // The shared store (--read-model): rotated only while no process has it
  // open, and only to a new key given (every node needs it).
  std::string shared_url = {};
};

struct RotateResult {
  size_t keys = 0;
  std::string new_master_source;
};

// Re-wraps every data key under a new master key in one SQLite transaction.
// With no new key given, one is made: written to DATA_DIR/master.key.new
// (0600, synced) before the transaction and renamed over DATA_DIR/master.key
// after it, so a crash at any point leaves a store that opens with exactly
// one of the two files (OpenKeys finishes the rename). REQUIRES: the data
// folder's lock is held (no server running). With `shared_url`: Conflict
// while any process has the store open (PgKeyTable, kExclusive);
// InvalidArgument when no new key is given.
Result<RotateResult> RotateMasterKey(const RotateOptions& options);

}  // namespace engram::keys
