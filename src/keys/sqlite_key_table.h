// SqliteKeyTable: the KeyStore's rows in DATA_DIR/keys.db (key_table.h), the
// store of a single node.
//
// Why SQLite, and how a destroyed key leaves the disk: one SQLite file in
// WAL mode with synchronous=FULL (a commit is on disk before it returns, so
// a key exists before any event sealed with it is acknowledged) and
// secure_delete=ON (a deleted row's bytes are overwritten with zeros in the
// page, not left in free space). After every delete and every rotation the
// WAL is checkpointed with TRUNCATE, so the old pages (which held the
// wrapped key) are no longer in any file: the key is gone from keys.db and
// keys.db-wal alike. Every read-write open checkpoints too: a crash between
// a delete's commit and its checkpoint leaves the zeroed pages only in the
// WAL and the old ones in keys.db. A wrapped key is useless without the
// master key anyway; the physical delete is for the case where both leak.
//
// Tables: meta(name, value) ('check'), data_keys(subject_hash PRIMARY KEY,
// key_id UNIQUE, wrapped), erasures(id, pending_key UNIQUE, forget_seq,
// subjects, erased_seqs, destroyed_digests; the last added to older files at open). One process at
// a time writes (the data folder's lock); ownership of erasures is therefore trivial.
#pragma once

#include <memory>
#include <string>

#include "keys/key_table.h"

struct sqlite3;

namespace engram::keys {

inline constexpr char kKeyStoreFile[] = "keys.db";

class SqliteKeyTable final : public KeyTable {
 public:
  // Opens (creating when `create` and missing; file mode 0600) the file at
  // `path`. NotFound when missing and not `create`; IOError otherwise.
  static Result<std::unique_ptr<SqliteKeyTable>> Open(const std::string& path, bool create,
                                                      bool read_only);
  ~SqliteKeyTable() override;

  std::string Where() const override { return path_; }
  Result<std::string> ReadCheck() override;
  Result<std::string> InitCheck(const std::string& value) override;
  Result<std::optional<StoredKey>> FindBySubject(const std::string& subject_hash) override;
  Result<std::optional<StoredKey>> FindById(const std::string& key_id) override;
  Result<std::vector<bool>> AddKeys(const std::vector<StoredKey>& keys) override;
  Status RecordErasure(const std::string& pending_key,
                       const std::vector<std::string>& subject_hashes,
                       const std::vector<uint64_t>& erased_seqs) override;
  Result<bool> ClaimErasure(const std::string&) override { return true; }
  Result<std::vector<std::string>> CompleteErasure(const std::string& pending_key,
                                                   uint64_t forget_seq) override;
  Status DropErasure(const std::string& pending_key) override;
  Result<std::vector<Erasure>> ListErasures() override;
  Result<std::vector<std::string>> DestroyKeys(const std::vector<std::string>& subject_hashes,
                                               const std::vector<std::string>& key_ids) override;
  Status RewrapAll(const std::function<Result<std::string>(const StoredKey&)>& rewrap,
                   const std::string& new_check) override;
  Result<size_t> KeyCount() override;

 private:
  SqliteKeyTable(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Exec(const char* sql);
  Status Checkpoint();
  Status DeleteLocked(const std::vector<std::string>& subject_hashes,
                      const std::vector<std::string>& key_ids, std::vector<std::string>* destroyed);

  sqlite3* db_;
  std::string path_;
};

}  // namespace engram::keys
