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

struct KeysOptions {
  std::string data_dir;
  std::string master_key_file;  // --master-key-file; "" for the default
  // `engram serve`: make DATA_DIR/master.key and keys.db when missing.
  bool create = false;
  bool read_only = false;  // replay and audit while a server runs
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
Result<OpenedKeys> OpenKeys(const KeysOptions& options);

struct RotateOptions {
  std::string data_dir;
  std::string master_key_file;      // the current key's file, if not the default
  std::string new_master_key_file;  // the new key's file; else ENGRAM_NEW_MASTER_KEY; else made
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
// folder's lock is held (no server running).
Result<RotateResult> RotateMasterKey(const RotateOptions& options);

}  // namespace engram::keys
