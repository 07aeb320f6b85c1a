// The log as the commands read it: through the key store (src/keys) when the
// data folder has one, so sealed bodies read as plaintext (or as erased
// where a forget destroyed their key); the raw log otherwise.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "keys/key_store.h"
#include "keys/sealing_event_log.h"
#include "log/event_log.h"

namespace engram::cli {

class KeyedLog {
 public:
  // `raw` must outlive the result. `shared_url` (--read-model
  // postgresql://...) reads the keys the nodes share there. Otherwise, with
  // no DATA_DIR/keys.db, reads `raw` as it is (a log from before keys, or
  // one no server has sealed into). Errors: the master key is missing or
  // wrong (OpenKeys); InvalidArgument when DATA_DIR says its keys are in
  // PostgreSQL and no URL was given.
  static Result<std::unique_ptr<KeyedLog>> Wrap(log::EventLog& raw, const std::string& data_dir,
                                                const std::string& master_key_file, bool read_only,
                                                const std::string& shared_url = "");
  log::EventLog& log() { return sealed_ ? *sealed_ : raw_; }
  keys::SealingEventLog* sealing() { return sealed_.get(); }

 private:
  explicit KeyedLog(log::EventLog& raw) : raw_(raw) {}
  log::EventLog& raw_;
  std::unique_ptr<keys::KeyStore> store_;
  std::unique_ptr<keys::SealingEventLog> sealed_;
};

}  // namespace engram::cli
