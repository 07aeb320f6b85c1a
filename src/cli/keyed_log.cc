#include "cli/keyed_log.h"

#include <filesystem>

#include "keys/keys_setup.h"

namespace engram::cli {

Result<std::unique_ptr<KeyedLog>> KeyedLog::Wrap(log::EventLog& raw, const std::string& data_dir,
                                                 const std::string& master_key_file, bool read_only,
                                                 const std::string& shared_url) {
  auto out = std::unique_ptr<KeyedLog>(new KeyedLog(raw));
  if (shared_url.empty()) {
    if (std::filesystem::exists(data_dir + "/" + keys::kSharedKeysMarkerFile) &&
        !std::filesystem::exists(data_dir + "/" + keys::kKeyStoreFile)) {
      // Read without its keys, every sealed entry would look erased.
      return Status::InvalidArgument(
          "the caller keys of " + data_dir +
          " live in PostgreSQL (engram serve --read-model): pass the same --read-model URL");
    }
    if (!std::filesystem::exists(data_dir + "/" + keys::kKeyStoreFile)) return out;
  }
  ENGRAM_ASSIGN_OR_RETURN(keys::OpenedKeys opened, keys::OpenKeys({data_dir, master_key_file, false,
                                                                   read_only, shared_url}));
  out->store_ = std::move(opened.store);
  out->sealed_ = std::make_unique<keys::SealingEventLog>(raw, *out->store_);
  return out;
}

}  // namespace engram::cli
