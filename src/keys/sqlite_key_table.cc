#include "keys/sqlite_key_table.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace engram::keys {
namespace {

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS data_keys(subject_hash BLOB PRIMARY KEY, "
    "  key_id BLOB NOT NULL UNIQUE, wrapped BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS erasures(id INTEGER PRIMARY KEY, pending_key TEXT UNIQUE, "
    "  forget_seq INTEGER, subjects BLOB NOT NULL, erased_seqs TEXT NOT NULL, destroyed_digests "
    "BLOB);";

Status SqlError(sqlite3* db, std::string_view what) {
  return Status::IOError("key store: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

// One prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) st_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(st_); }
  bool ok() const { return st_ != nullptr; }
  void Blob(int i, std::string_view v) {
    sqlite3_bind_blob(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Text(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }
  // SQLITE_ROW, SQLITE_DONE or an error code (SQLITE_MISUSE when not ok()).
  int Step() { return st_ ? sqlite3_step(st_) : SQLITE_MISUSE; }
  std::string ColBlob(int i) {
    const void* p = sqlite3_column_blob(st_, i);
    return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(st_, i)) : "";
  }
  int64_t ColInt(int i) { return sqlite3_column_int64(st_, i); }

 private:
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace

SqliteKeyTable::~SqliteKeyTable() { sqlite3_close(db_); }

Status SqliteKeyTable::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::IOError("key store: " + msg);
  }
  return Status::Ok();
}

Status SqliteKeyTable::Checkpoint() {
  int log_frames = 0, done = 0;
  if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &done) !=
      SQLITE_OK) {
    return SqlError(db_, "checkpoint");
  }
  return Status::Ok();
}

Result<std::unique_ptr<SqliteKeyTable>> SqliteKeyTable::Open(const std::string& path, bool create,
                                                             bool read_only) {
  const bool exists = std::filesystem::exists(path);
  if (!exists && (!create || read_only)) return Status::NotFound("no key store at " + path);
  if (!exists) {
    // Made here with mode 0600; SQLite gives its -wal and -shm files the
    // main file's mode.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IOError("create " + path + ": " + std::strerror(errno));
    ::close(fd);
  }
  sqlite3* db = nullptr;
  const int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    Status s = SqlError(db, "open " + path);
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<SqliteKeyTable> table(new SqliteKeyTable(db, path));
  sqlite3_busy_timeout(db, 5000);
  ENGRAM_RETURN_IF_ERROR(table->Exec("PRAGMA secure_delete=ON; PRAGMA synchronous=FULL;"));
  if (!read_only) {
    ENGRAM_RETURN_IF_ERROR(table->Exec("PRAGMA journal_mode=WAL;"));
    ENGRAM_RETURN_IF_ERROR(table->Exec(kSchema));
    {  // keys.db files from before erasures kept what they destroyed
      Stmt has(
          db,
          "SELECT count(*) FROM pragma_table_info('erasures') WHERE name = 'destroyed_digests'");
      if (has.Step() != SQLITE_ROW) return SqlError(db, "read the erasures' columns");
      if (has.ColInt(0) == 0) {
        ENGRAM_RETURN_IF_ERROR(
            table->Exec("ALTER TABLE erasures ADD COLUMN destroyed_digests BLOB"));
      }
    }
    // A crash between an erasure's commit and its checkpoint left the
    // zeroed pages in the WAL only: the main file still holds the destroyed
    // keys, and nothing at this open would destroy anything again (the
    // erasure is done), so the WAL is folded in and truncated now.
    ENGRAM_RETURN_IF_ERROR(table->Checkpoint());
  }
  return table;
}

Result<std::string> SqliteKeyTable::ReadCheck() {
  Stmt st(db_, "SELECT value FROM meta WHERE name = 'check'");
  if (!st.ok()) return SqlError(db_, "read check value");
  return st.Step() == SQLITE_ROW ? st.ColBlob(0) : std::string();
}

Result<std::string> SqliteKeyTable::InitCheck(const std::string& value) {
  Stmt st(db_, "INSERT INTO meta(name, value) VALUES ('check', ?) ON CONFLICT(name) DO NOTHING");
  st.Blob(1, value);
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "write check value");
  return ReadCheck();
}

Result<std::optional<StoredKey>> SqliteKeyTable::FindBySubject(const std::string& subject_hash) {
  Stmt st(db_, "SELECT key_id, wrapped FROM data_keys WHERE subject_hash = ?");
  if (!st.ok()) return SqlError(db_, "find key");
  st.Blob(1, subject_hash);
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<StoredKey>();
  if (rc != SQLITE_ROW) return SqlError(db_, "find key");
  return std::optional<StoredKey>(StoredKey{subject_hash, st.ColBlob(0), st.ColBlob(1)});
}

Result<std::optional<StoredKey>> SqliteKeyTable::FindById(const std::string& key_id) {
  Stmt st(db_, "SELECT subject_hash, wrapped FROM data_keys WHERE key_id = ?");
  if (!st.ok()) return SqlError(db_, "find key");
  st.Blob(1, key_id);
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<StoredKey>();
  if (rc != SQLITE_ROW) return SqlError(db_, "find key");
  return std::optional<StoredKey>(StoredKey{st.ColBlob(0), key_id, st.ColBlob(1)});
}

Result<std::vector<bool>> SqliteKeyTable::AddKeys(const std::vector<StoredKey>& keys) {
  std::vector<bool> added(keys.size(), false);
  Status status = Exec("BEGIN IMMEDIATE");
  for (size_t i = 0; status.ok() && i < keys.size(); ++i) {
    Stmt st(db_,
            "INSERT INTO data_keys(subject_hash, key_id, wrapped) VALUES (?, ?, ?) "
            "ON CONFLICT(subject_hash) DO NOTHING");
    st.Blob(1, keys[i].subject_hash);
    st.Blob(2, keys[i].key_id);
    st.Blob(3, keys[i].wrapped);
    if (st.Step() != SQLITE_DONE) {
      status = SqlError(db_, "add key");
    } else {
      added[i] = sqlite3_changes(db_) > 0;
    }
  }
  // synchronous=FULL: the commit is on disk when it returns.
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) {
    (void)Exec("ROLLBACK");
    return status;
  }
  return added;
}

Status SqliteKeyTable::RecordErasure(const std::string& pending_key,
                                     const std::vector<std::string>& subject_hashes,
                                     const std::vector<uint64_t>& erased_seqs) {
  Stmt st(db_,
          "INSERT INTO erasures(pending_key, subjects, erased_seqs) VALUES (?, ?, ?) "
          "ON CONFLICT(pending_key) DO UPDATE SET subjects = excluded.subjects, "
          "erased_seqs = excluded.erased_seqs");
  if (!st.ok()) return SqlError(db_, "record erasure");
  st.Text(1, pending_key);
  st.Blob(2, JoinHashes(subject_hashes));
  st.Text(3, JoinSeqs(erased_seqs));
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "record erasure");
  return Status::Ok();
}

Status SqliteKeyTable::DeleteLocked(const std::vector<std::string>& subject_hashes,
                                    const std::vector<std::string>& key_ids,
                                    std::vector<std::string>* destroyed) {
  auto run = [&](const char* sql, const std::string& value) -> Status {
    Stmt del(db_, sql);
    if (!del.ok()) return SqlError(db_, "destroy key");
    del.Blob(1, value);
    int rc;
    while ((rc = del.Step()) == SQLITE_ROW) destroyed->push_back(del.ColBlob(0));
    return rc == SQLITE_DONE ? Status::Ok() : SqlError(db_, "destroy key");
  };
  for (const std::string& hash : subject_hashes) {
    ENGRAM_RETURN_IF_ERROR(
        run("DELETE FROM data_keys WHERE subject_hash = ? RETURNING key_id", hash));
  }
  for (const std::string& id : key_ids) {
    ENGRAM_RETURN_IF_ERROR(run("DELETE FROM data_keys WHERE key_id = ? RETURNING key_id", id));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> SqliteKeyTable::CompleteErasure(const std::string& pending_key,
                                                                 uint64_t forget_seq) {
  std::string subjects;
  {
    Stmt st(db_, "SELECT subjects FROM erasures WHERE pending_key = ?");
    st.Text(1, pending_key);
    int rc = st.Step();
    if (rc == SQLITE_DONE) return Status::NotFound("no pending erasure");
    if (rc != SQLITE_ROW) return SqlError(db_, "read erasure");
    subjects = st.ColBlob(0);
  }
  std::vector<std::string> destroyed;
  ENGRAM_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status s = DeleteLocked(SplitHashes(subjects), {}, &destroyed);
  if (s.ok()) {
    Stmt st(db_,
            "UPDATE erasures SET pending_key = NULL, forget_seq = ?, destroyed_digests = ? "
            "WHERE pending_key = ?");
    st.Int(1, static_cast<int64_t>(forget_seq));
    st.Blob(2, JoinDigests(destroyed));
    st.Text(3, pending_key);
    if (st.Step() != SQLITE_DONE) s = SqlError(db_, "complete erasure");
  }
  if (!s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  ENGRAM_RETURN_IF_ERROR(Exec("COMMIT"));
  ENGRAM_RETURN_IF_ERROR(Checkpoint());
  return destroyed;
}

Status SqliteKeyTable::DropErasure(const std::string& pending_key) {
  Stmt st(db_, "DELETE FROM erasures WHERE pending_key = ?");
  st.Text(1, pending_key);
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "drop erasure");
  return Status::Ok();
}

Result<std::vector<Erasure>> SqliteKeyTable::ListErasures() {
  std::vector<Erasure> out;
  Stmt st(db_,
          "SELECT coalesce(pending_key, ''), coalesce(forget_seq, 0), subjects, erased_seqs, "
          "destroyed_digests IS NOT NULL, destroyed_digests FROM erasures ORDER BY id");
  if (!st.ok()) return SqlError(db_, "list erasures");
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    Erasure e;
    e.pending_key = st.ColBlob(0);
    e.forget_seq = static_cast<uint64_t>(st.ColInt(1));
    e.subject_hashes = SplitHashes(st.ColBlob(2));
    e.erased_seqs = SplitSeqs(st.ColBlob(3));
    if (st.ColInt(4)) e.destroyed_digests = SplitHashes(st.ColBlob(5));
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "list erasures");
  return out;
}

Result<std::vector<std::string>> SqliteKeyTable::DestroyKeys(
    const std::vector<std::string>& subject_hashes, const std::vector<std::string>& key_ids) {
  std::vector<std::string> destroyed;
  ENGRAM_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  if (Status s = DeleteLocked(subject_hashes, key_ids, &destroyed); !s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  ENGRAM_RETURN_IF_ERROR(Exec("COMMIT"));
  if (!destroyed.empty()) ENGRAM_RETURN_IF_ERROR(Checkpoint());
  return destroyed;
}

Status SqliteKeyTable::RewrapAll(const std::function<Result<std::string>(const StoredKey&)>& rewrap,
                                 const std::string& new_check) {
  ENGRAM_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto run = [&]() -> Status {
    std::vector<StoredKey> rows;
    {
      Stmt st(db_, "SELECT subject_hash, key_id, wrapped FROM data_keys");
      int rc;
      while ((rc = st.Step()) == SQLITE_ROW) {
        rows.push_back({st.ColBlob(0), st.ColBlob(1), st.ColBlob(2)});
      }
      if (rc != SQLITE_DONE) return SqlError(db_, "read keys");
    }
    for (const StoredKey& row : rows) {
      ENGRAM_ASSIGN_OR_RETURN(std::string again, rewrap(row));
      Stmt up(db_, "UPDATE data_keys SET wrapped = ? WHERE subject_hash = ?");
      up.Blob(1, again);
      up.Blob(2, row.subject_hash);
      if (up.Step() != SQLITE_DONE) return SqlError(db_, "rewrap key");
    }
    Stmt up(db_, "UPDATE meta SET value = ? WHERE name = 'check'");
    up.Blob(1, new_check);
    if (up.Step() != SQLITE_DONE) return SqlError(db_, "write check value");
    return Status::Ok();
  };
  if (Status s = run(); !s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  ENGRAM_RETURN_IF_ERROR(Exec("COMMIT"));
  return Checkpoint();
}

Result<size_t> SqliteKeyTable::KeyCount() {
  Stmt st(db_, "SELECT count(*) FROM data_keys");
  if (st.Step() != SQLITE_ROW) return SqlError(db_, "count keys");
  return static_cast<size_t>(st.ColInt(0));
}

}  // namespace engram::keys
