// The master key: the one secret that unwraps every caller's data key.
//
// Where it comes from, first match wins:
//   1. ENGRAM_MASTER_KEY: 32 bytes as 64 hex digits, or as standard base64
//      (44 characters with padding);
//   2. --master-key-file PATH: a file holding the same text (surrounding
//      whitespace ignored);
//   3. DATA_DIR/master.key, made by the first `engram serve` (64 hex digits,
//      mode 0600) when `create` and neither of the above is set.
// The key is never logged or printed; only where it came from is.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "keys/aead.h"

namespace engram::keys {

inline constexpr char kMasterKeyEnv[] = "ENGRAM_MASTER_KEY";
inline constexpr char kNewMasterKeyEnv[] = "ENGRAM_NEW_MASTER_KEY";
inline constexpr char kMasterKeyFile[] = "master.key";

struct MasterKey {
  SecretKey key;
  std::string source;    // "ENGRAM_MASTER_KEY" or a file path: safe to show
  bool created = false;  // made just now (DATA_DIR/master.key)
};

// 32 bytes from 64 hex digits or base64; InvalidArgument otherwise (the
// message never quotes the text).
Result<SecretKey> ParseMasterKey(std::string_view text);

// The master key by the rules above. `key_file` is --master-key-file ("" when
// not given). NotFound when there is none and `create` is false; IOError
// when a file cannot be read or written.
Result<MasterKey> LoadMasterKey(const std::string& data_dir, const std::string& key_file,
                                bool create);

// Writes `key` as 64 hex digits to `path` (which must not exist), mode 0600,
// fsynced with its folder.
Status WriteKeyFile(const std::string& path, const SecretKey& key);

// fsync of a folder, so a file made or renamed in it survives a crash.
Status SyncDirectory(const std::string& dir);

}  // namespace engram::keys
