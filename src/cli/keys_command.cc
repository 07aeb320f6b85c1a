// engram keys rotate [--data-dir DIR] [--master-key-file F] [--new-master-key-file F]
//
// On a stopped server (takes the data folder's lock): re-wraps every
// caller's data key under a new master key, all or nothing. The new key is
// ENGRAM_NEW_MASTER_KEY, else --new-master-key-file, else a new one written
// to DATA_DIR/master.key (keys_setup.h says how a crash is survived).
#include <iostream>

#include "cli/commands.h"
#include "common/data_dir_lock.h"
#include "keys/keys_setup.h"

namespace engram::cli {
namespace {

struct KeysFlags {
  std::string data_dir = "./data";
  std::string master_key_file;
  std::string new_master_key_file;
  std::string read_model;  // the shared store (engram serve --read-model)
};

int RotateShared(const KeysFlags& flags) {
  // No data folder lock: the store is the cluster's; PgKeyTable's exclusive
  // lock is what refuses while any node has it open.
  auto rotated = keys::RotateMasterKey(
      {flags.data_dir, flags.master_key_file, flags.new_master_key_file, flags.read_model});
  if (!rotated.ok()) {
    std::cerr << "engram keys rotate: " << rotated.status().ToString() << "\n";
    return rotated.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << "re-wrapped " << rotated->keys << " caller keys in the shared store under the "
            << "master key from " << rotated->new_master_source
            << "\nstart every node with the new key: the old one no longer opens the store\n";
  return 0;
}

int Rotate(const KeysFlags& flags) {
  if (!flags.read_model.empty()) return RotateShared(flags);
  auto lock = DataDirLock::Acquire(flags.data_dir, "engram keys rotate");
  if (!lock.ok()) {
    std::cerr << "engram keys rotate: " << lock.status().message()
              << ".\nStop `engram serve` first: rotation rewrites the key store.\n";
    return 1;
  }
  lock->RecordHolder();
  auto rotated =
      keys::RotateMasterKey({flags.data_dir, flags.master_key_file, flags.new_master_key_file});
  if (!rotated.ok()) {
    std::cerr << "engram keys rotate: " << rotated.status().ToString() << "\n";
    return 1;
  }
  std::cout << "re-wrapped " << rotated->keys << " caller keys under the master key from "
            << rotated->new_master_source << "\n";
  if (std::getenv(keys::kMasterKeyEnv) || !flags.master_key_file.empty()) {
    std::cout << "start the server with the new key: the old one (" << keys::kMasterKeyEnv
              << " or --master-key-file) no longer opens the store\n";
  }
  return 0;
}

}  // namespace

void RegisterKeys(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<KeysFlags>();
  auto* cmd = app.add_subcommand("keys", "Caller data keys (crypto-shredding)");
  cmd->require_subcommand(1);
  auto* rotate = cmd->add_subcommand("rotate", "Re-wrap every caller key under a new master key");
  rotate->add_option("--data-dir", flags->data_dir, "The (stopped) server's data dir")
      ->capture_default_str();
  rotate->add_option("--master-key-file", flags->master_key_file,
                     "The current master key's file (default: ENGRAM_MASTER_KEY or "
                     "DATA_DIR/master.key)");
  rotate->add_option("--new-master-key-file", flags->new_master_key_file,
                     "The new master key's file (default: ENGRAM_NEW_MASTER_KEY, else a new "
                     "key in DATA_DIR/master.key)");
  rotate->add_option("--read-model", flags->read_model,
                     "postgresql://...: rotate the caller keys the nodes share there (refused "
                     "while any node has them open; the new key must be given)");
  rotate->callback([flags, exit_code] { *exit_code = Rotate(*flags); });
}

}  // namespace engram::cli
