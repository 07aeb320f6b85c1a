#include "keys/keys_setup.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "keys/pg_key_table.h"

namespace engram::keys {
namespace {

std::string StorePath(const std::string& data_dir) { return data_dir + "/" + kKeyStoreFile; }

// Renames `from` over `to` and syncs the folder, so the rename survives a
// crash (WriteKeyFile already synced the file itself).
Status RenameSynced(const std::string& from, const std::string& to, const std::string& dir) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    return Status::IOError("rename " + from + " to " + to);
  }
  return SyncDirectory(dir);
}

Result<OpenedKeys> OpenSharedKeys(const KeysOptions& options) {
  if (std::filesystem::exists(StorePath(options.data_dir))) {
    return Status::InvalidArgument(
        StorePath(options.data_dir) +
        " holds this node's own caller keys, but with --read-model postgresql://... the keys "
        "live in PostgreSQL, and the log entries sealed with the keys in that file would read "
        "as erased. Keep serving without --read-model, or start from a new data folder and log");
  }
  ENGRAM_ASSIGN_OR_RETURN(auto table, PgKeyTable::Open(options.shared_url, options.read_only));
  ENGRAM_ASSIGN_OR_RETURN(std::string check, table->ReadCheck());
  // A master key is made only by the node that makes the store: a node
  // that joins must bring the key the store was made with.
  auto master = LoadMasterKey(options.data_dir, options.master_key_file,
                              options.create && check.empty() && !options.read_only);
  if (!master.ok() && master.status().code() == StatusCode::kNotFound && !check.empty()) {
    return Status::InvalidArgument(
        "the shared key store " + table->Where() +
        " was made with a master key this node does not have: every node needs the same one "
        "(ENGRAM_MASTER_KEY, --master-key-file, or a copy of the first node's "
        "DATA_DIR/master.key, mode 0600)");
  }
  if (!master.ok()) return master.status();
  OpenedKeys out;
  out.master_source = master->source;
  out.master_created = master->created;
  ENGRAM_ASSIGN_OR_RETURN(out.store,
                          KeyStore::Open(std::move(table), master->key, options.read_only));
  if (options.create && !options.read_only) {
    const std::string marker = options.data_dir + "/" + kSharedKeysMarkerFile;
    if (!std::filesystem::exists(marker)) {
      std::ofstream(marker) << "the caller keys of this data folder live in PostgreSQL "
                               "(engram serve --read-model); pass the same --read-model to "
                               "engram audit, replay and keys rotate\n";
    }
  }
  return out;
}

}  // namespace

Result<OpenedKeys> OpenKeys(const KeysOptions& options) {
  if (!options.shared_url.empty()) return OpenSharedKeys(options);
  if (std::filesystem::exists(options.data_dir + "/" + kSharedKeysMarkerFile) &&
      !std::filesystem::exists(StorePath(options.data_dir))) {
    // A new keys.db here would seal new entries under keys no other node
    // has, and read every entry sealed under the shared keys as erased.
    return Status::InvalidArgument("the caller keys of " + options.data_dir +
                                   " live in PostgreSQL: start with the same --read-model "
                                   "postgresql://... URL");
  }
  OpenedKeys out;
  const std::string store_path = StorePath(options.data_dir);
  const bool store_exists = std::filesystem::exists(store_path);
  // A master key is only made together with a new store: an existing store
  // whose key file went missing must not get a fresh, useless key.
  const bool create = options.create && !store_exists;
  ENGRAM_ASSIGN_OR_RETURN(MasterKey master,
                          LoadMasterKey(options.data_dir, options.master_key_file, create));
  out.master_source = master.source;
  out.master_created = master.created;
  const std::string pending = options.data_dir + "/" + kPendingMasterKeyFile;
  auto store = KeyStore::Open(store_path, master.key, options.create, options.read_only);
  if (std::filesystem::exists(pending)) {
    if (!store.ok() && store.status().code() == StatusCode::kInvalidArgument) {
      auto next = LoadMasterKey(options.data_dir, pending, false);
      if (next.ok()) {
        auto retry = KeyStore::Open(store_path, next->key, false, options.read_only);
        if (retry.ok()) {
          store = std::move(retry);
          out.master_source = next->source;
          if (!options.read_only) {
            const std::string final_path = options.data_dir + "/" + kMasterKeyFile;
            ENGRAM_RETURN_IF_ERROR(RenameSynced(pending, final_path, options.data_dir));
            out.master_source = final_path;
            out.finished_rotation = true;
          }
        }
      }
    } else if (store.ok() && !options.read_only) {
      // The rotation never committed: the old key is still the key.
      std::filesystem::remove(pending);
    }
  }
  if (!store.ok()) return store.status();
  out.store = std::move(store).value();
  return out;
}

namespace {

// The new master key the operator gave (ENGRAM_NEW_MASTER_KEY, else
// --new-master-key-file), naming its source in `result`; nullopt when none.
Result<std::optional<SecretKey>> GivenNewMasterKey(const RotateOptions& options,
                                                   RotateResult& result) {
  if (const char* env = std::getenv(kNewMasterKeyEnv); env && *env) {
    auto key = ParseMasterKey(env);
    if (!key.ok()) {
      return Status::InvalidArgument(std::string(kNewMasterKeyEnv) + ": " + key.status().message());
    }
    result.new_master_source = kNewMasterKeyEnv;
    return std::optional<SecretKey>(*key);
  }
  if (!options.new_master_key_file.empty()) {
    ENGRAM_ASSIGN_OR_RETURN(MasterKey key,
                            LoadMasterKey(options.data_dir, options.new_master_key_file, false));
    result.new_master_source = options.new_master_key_file;
    return std::optional<SecretKey>(key.key);
  }
  return std::optional<SecretKey>();
}

Result<RotateResult> RotateShared(const RotateOptions& options) {
  RotateResult result;
  ENGRAM_ASSIGN_OR_RETURN(std::optional<SecretKey> given, GivenNewMasterKey(options, result));
  if (!given) {
    return Status::InvalidArgument(
        "with --read-model, give the new master key (ENGRAM_NEW_MASTER_KEY or "
        "--new-master-key-file): every node will need it, so it is not made here");
  }
  const SecretKey next = *given;
  // Exclusive: refused while any node, audit or replay has the store open,
  // and no node can open it until the rotation is committed.
  ENGRAM_ASSIGN_OR_RETURN(
      auto table, PgKeyTable::Open(options.shared_url, false, PgKeyTable::Access::kExclusive));
  ENGRAM_ASSIGN_OR_RETURN(MasterKey master,
                          LoadMasterKey(options.data_dir, options.master_key_file, false));
  ENGRAM_ASSIGN_OR_RETURN(auto store, KeyStore::Open(std::move(table), master.key));
  ENGRAM_RETURN_IF_ERROR(store->Rotate(next));
  ENGRAM_ASSIGN_OR_RETURN(result.keys, store->KeyCount());
  return result;
}

}  // namespace

Result<RotateResult> RotateMasterKey(const RotateOptions& options) {
  if (!options.shared_url.empty()) return RotateShared(options);
  ENGRAM_ASSIGN_OR_RETURN(OpenedKeys opened, OpenKeys({options.data_dir, options.master_key_file,
                                                       /*create=*/false, /*read_only=*/false}));
  RotateResult result;
  std::string pending;
  ENGRAM_ASSIGN_OR_RETURN(std::optional<SecretKey> given, GivenNewMasterKey(options, result));
  SecretKey next;
  if (given) {
    next = *given;
  } else {
    ENGRAM_ASSIGN_OR_RETURN(next, NewSecretKey());
    pending = options.data_dir + "/" + kPendingMasterKeyFile;
    ENGRAM_RETURN_IF_ERROR(WriteKeyFile(pending, next));
    result.new_master_source = options.data_dir + "/" + kMasterKeyFile;
  }
  ENGRAM_RETURN_IF_ERROR(opened.store->Rotate(next));
  ENGRAM_ASSIGN_OR_RETURN(result.keys, opened.store->KeyCount());
  if (!pending.empty()) {
    const std::string final_path = options.data_dir + "/" + kMasterKeyFile;
    Status renamed = RenameSynced(pending, final_path, options.data_dir);
    if (!renamed.ok()) {
      return Status::IOError(renamed.message() +
                             " (the store is rotated; the next start finishes this)");
    }
  }
  return result;
}

}  // namespace engram::keys
