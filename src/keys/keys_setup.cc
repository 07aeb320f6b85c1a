#include "keys/keys_setup.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

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

}  // namespace

Result<OpenedKeys> OpenKeys(const KeysOptions& options) {
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

Result<RotateResult> RotateMasterKey(const RotateOptions& options) {
  ENGRAM_ASSIGN_OR_RETURN(OpenedKeys opened, OpenKeys({options.data_dir, options.master_key_file,
                                                       /*create=*/false, /*read_only=*/false}));
  RotateResult result;
  SecretKey next;
  std::string pending;
  if (const char* env = std::getenv(kNewMasterKeyEnv); env && *env) {
    auto key = ParseMasterKey(env);
    if (!key.ok()) {
      return Status::InvalidArgument(std::string(kNewMasterKeyEnv) + ": " + key.status().message());
    }
    next = *key;
    result.new_master_source = kNewMasterKeyEnv;
  } else if (!options.new_master_key_file.empty()) {
    ENGRAM_ASSIGN_OR_RETURN(MasterKey key,
                            LoadMasterKey(options.data_dir, options.new_master_key_file, false));
    next = key.key;
    result.new_master_source = options.new_master_key_file;
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
