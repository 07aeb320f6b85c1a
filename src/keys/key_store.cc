#include "keys/key_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "common/crypto.h"

namespace engram::keys {
namespace {

constexpr char kCheckText[] = "engram keys check v1";
constexpr char kWrapAad[] = "engram data key v1";
constexpr char kSubjectPrefix[] = "engram key subject v1\n";

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS data_keys(subject_hash BLOB PRIMARY KEY, "
    "  key_id BLOB NOT NULL UNIQUE, wrapped BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS erasures(id INTEGER PRIMARY KEY, pending_key TEXT UNIQUE, "
    "  forget_seq INTEGER, subjects BLOB NOT NULL, erased_seqs TEXT NOT NULL);";

Status SqlError(sqlite3* db, std::string_view what) {
  return Status::IOError("key store: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

// One prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
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
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(st_); }
  std::string ColBlob(int i) {
    const void* p = sqlite3_column_blob(st_, i);
    return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(st_, i)) : "";
  }
  int64_t ColInt(int i) { return sqlite3_column_int64(st_, i); }
  bool ColNull(int i) { return sqlite3_column_type(st_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

std::string JoinSeqs(const std::vector<uint64_t>& seqs) {
  std::string out;
  for (uint64_t s : seqs) {
    if (!out.empty()) out.push_back(',');
    out.append(std::to_string(s));
  }
  return out;
}

std::vector<uint64_t> SplitSeqs(const std::string& text) {
  std::vector<uint64_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(std::strtoull(text.substr(pos, comma - pos).c_str(), nullptr, 10));
    pos = comma + 1;
  }
  return out;
}

std::vector<std::string> SplitHashes(const std::string& blob) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 32 <= blob.size(); i += 32) out.push_back(blob.substr(i, 32));
  return out;
}

std::string WrapAad(std::string_view key_id, std::string_view subject_hash) {
  std::string aad(kWrapAad);
  aad.append(key_id).append(subject_hash);
  return aad;
}

}  // namespace

std::string KeyStore::SubjectHash(std::string_view subject) {
  std::string material(kSubjectPrefix);
  material.append(subject);
  auto d = crypto::Sha256(material);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

KeyStore::KeyStore(sqlite3* db, const SecretKey& master, bool read_only)
    : db_(db), master_(master), read_only_(read_only) {}

KeyStore::~KeyStore() { sqlite3_close(db_); }

Status KeyStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::IOError("key store: " + msg);
  }
  return Status::Ok();
}

Status KeyStore::Checkpoint() {
  int log_frames = 0, done = 0;
  if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &done) !=
      SQLITE_OK) {
    return SqlError(db_, "checkpoint");
  }
  return Status::Ok();
}

Result<std::unique_ptr<KeyStore>> KeyStore::Open(const std::string& path, const SecretKey& master,
                                                 bool create, bool read_only) {
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
  std::unique_ptr<KeyStore> store(new KeyStore(db, master, read_only));
  sqlite3_busy_timeout(db, 5000);
  ENGRAM_RETURN_IF_ERROR(store->Exec("PRAGMA secure_delete=ON; PRAGMA synchronous=FULL;"));
  if (!read_only) {
    ENGRAM_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL;"));
    ENGRAM_RETURN_IF_ERROR(store->Exec(kSchema));
    // A crash between an erasure's commit and its checkpoint left the
    // zeroed pages in the WAL only: the main file still holds the destroyed
    // keys, and nothing at this open would destroy anything again (the
    // erasure is done), so the WAL is folded in and truncated now.
    ENGRAM_RETURN_IF_ERROR(store->Checkpoint());
  }
  std::string check;
  {
    Stmt st(db, "SELECT value FROM meta WHERE name = 'check'");
    if (!st.ok()) return SqlError(db, "read check value");
    if (st.Step() == SQLITE_ROW) check = st.ColBlob(0);
  }
  if (check.empty()) {
    if (read_only) return Status::Corruption(path + " has no check value");
    ENGRAM_ASSIGN_OR_RETURN(std::string value, GcmSeal(master, kCheckText, kCheckText));
    Stmt st(db, "INSERT INTO meta(name, value) VALUES ('check', ?)");
    st.Blob(1, value);
    if (st.Step() != SQLITE_DONE) return SqlError(db, "write check value");
  } else {
    auto opened = GcmOpen(master, kCheckText, check);
    if (!opened.ok() || *opened != kCheckText) {
      return Status::InvalidArgument(
          "the master key does not open the key store " + path +
          " (it was made with another key: check ENGRAM_MASTER_KEY / --master-key-file)");
    }
  }
  return store;
}

Result<std::shared_ptr<const DataKey>> KeyStore::Unwrap(const std::string& key_id,
                                                        const std::string& subject_hash,
                                                        const std::string& wrapped,
                                                        const SecretKey& master) const {
  ENGRAM_ASSIGN_OR_RETURN(std::string raw, GcmOpen(master, WrapAad(key_id, subject_hash), wrapped));
  if (raw.size() != kKeyBytes) return Status::Corruption("key store: a wrapped key has a bad size");
  auto key = std::make_shared<DataKey>();
  key->key_id = key_id;
  std::memcpy(key->key.bytes.data(), raw.data(), kKeyBytes);
  std::fill(raw.begin(), raw.end(), '\0');
  return std::shared_ptr<const DataKey>(std::move(key));
}

void KeyStore::Cache(const std::string& subject_hash, std::shared_ptr<const DataKey> key) {
  std::lock_guard lock(cache_mu_);
  if (by_id_.size() >= kMaxCachedKeys) {
    by_id_.clear();
    by_subject_.clear();
  }
  if (!subject_hash.empty()) by_subject_[subject_hash] = key;
  by_id_[key->key_id] = std::move(key);
}

Result<std::shared_ptr<const DataKey>> KeyStore::KeyFor(std::string_view subject) {
  const std::string hash = SubjectHash(subject);
  // Cache hits (every event of a known caller) never wait for the
  // connection, which a key being made holds through its fsync.
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = by_subject_.find(hash); it != by_subject_.end()) return it->second;
  }
  if (read_only_) {
    std::lock_guard lock(mu_);
    Stmt st(db_, "SELECT key_id, wrapped FROM data_keys WHERE subject_hash = ?");
    if (!st.ok()) return SqlError(db_, "find key");
    st.Blob(1, hash);
    if (st.Step() != SQLITE_ROW) return Status::Unavailable("key store opened read-only");
    ENGRAM_ASSIGN_OR_RETURN(auto key, Unwrap(st.ColBlob(0), hash, st.ColBlob(1), master_));
    Cache(hash, key);
    return key;
  }
  // Group commit: callers queue their subject; whoever finds no commit
  // running commits everything queued in one synced transaction, so new
  // callers arriving together share one fsync instead of queueing for one
  // each.
  auto mine = std::make_shared<PendingKey>();
  mine->subject_hash = hash;
  std::unique_lock lock(create_mu_);
  create_queue_.push_back(mine);
  while (!mine->done) {
    if (committing_) {
      create_cv_.wait(lock);
      continue;
    }
    committing_ = true;
    std::vector<std::shared_ptr<PendingKey>> batch;
    batch.swap(create_queue_);
    lock.unlock();
    CommitNewKeys(batch);
    lock.lock();
    for (auto& p : batch) p->done = true;
    committing_ = false;
    create_cv_.notify_all();
  }
  if (!mine->status.ok()) return mine->status;
  return mine->key;
}

void KeyStore::CommitNewKeys(const std::vector<std::shared_ptr<PendingKey>>& batch) {
  std::lock_guard lock(mu_);
  // One entry per subject: the batch may name a subject twice, or one that
  // another commit made (or a row the cache had dropped).
  std::unordered_map<std::string, std::shared_ptr<const DataKey>> found;
  std::vector<std::pair<std::string, std::string>> inserts;  // subject hash, wrapped
  Status status;
  for (const auto& p : batch) {
    if (found.count(p->subject_hash)) continue;
    Stmt st(db_, "SELECT key_id, wrapped FROM data_keys WHERE subject_hash = ?");
    if (!st.ok()) {
      status = SqlError(db_, "find key");
      break;
    }
    st.Blob(1, p->subject_hash);
    int rc = st.Step();
    if (rc == SQLITE_ROW) {
      auto key = Unwrap(st.ColBlob(0), p->subject_hash, st.ColBlob(1), master_);
      if (!key.ok()) {
        status = key.status();
        break;
      }
      found[p->subject_hash] = *key;
      continue;
    }
    if (rc != SQLITE_DONE) {
      status = SqlError(db_, "find key");
      break;
    }
    auto key = std::make_shared<DataKey>();
    key->key_id.assign(kKeyIdBytes, '\0');
    status = RandomBytes(reinterpret_cast<uint8_t*>(key->key_id.data()), key->key_id.size());
    if (!status.ok()) break;
    auto secret = NewSecretKey();
    if (!secret.ok()) {
      status = secret.status();
      break;
    }
    key->key = *secret;
    auto wrapped = GcmSeal(master_, WrapAad(key->key_id, p->subject_hash), key->key.view());
    if (!wrapped.ok()) {
      status = wrapped.status();
      break;
    }
    inserts.emplace_back(p->subject_hash, *wrapped);
    found[p->subject_hash] = std::move(key);
  }
  if (status.ok() && !inserts.empty()) {
    status = Exec("BEGIN IMMEDIATE");
    for (size_t i = 0; status.ok() && i < inserts.size(); ++i) {
      Stmt st(db_, "INSERT INTO data_keys(subject_hash, key_id, wrapped) VALUES (?, ?, ?)");
      st.Blob(1, inserts[i].first);
      st.Blob(2, found[inserts[i].first]->key_id);
      st.Blob(3, inserts[i].second);
      if (!st.ok() || st.Step() != SQLITE_DONE) status = SqlError(db_, "add key");
    }
    // synchronous=FULL: the commit is on disk when it returns.
    if (status.ok()) status = Exec("COMMIT");
    if (!status.ok()) (void)Exec("ROLLBACK");
  }
  for (const auto& p : batch) {
    if (!status.ok()) {
      p->status = status;
      continue;
    }
    p->key = found[p->subject_hash];
    Cache(p->subject_hash, p->key);
  }
}

Result<std::shared_ptr<const DataKey>> KeyStore::Find(std::string_view key_id) {
  const std::string id(key_id);
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
    if (destroyed_ids_.count(id)) return std::shared_ptr<const DataKey>();
  }
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT subject_hash, wrapped FROM data_keys WHERE key_id = ?");
  if (!st.ok()) return SqlError(db_, "find key");
  st.Blob(1, id);
  int rc = st.Step();
  if (rc == SQLITE_DONE) {
    // Ids are random and never reused, so "gone" stays true.
    std::lock_guard cache_lock(cache_mu_);
    if (destroyed_ids_.size() >= kMaxCachedKeys) destroyed_ids_.clear();
    destroyed_ids_.insert(id);
    return std::shared_ptr<const DataKey>();
  }
  if (rc != SQLITE_ROW) return SqlError(db_, "find key");
  const std::string hash = st.ColBlob(0);
  ENGRAM_ASSIGN_OR_RETURN(auto key, Unwrap(id, hash, st.ColBlob(1), master_));
  Cache(hash, key);
  return key;
}

Status KeyStore::BeginErasure(const std::string& pending_key,
                              const std::vector<std::string>& subjects,
                              const std::vector<uint64_t>& erased_seqs,
                              const std::vector<std::string>& key_ids) {
  std::string hashes;
  for (const auto& s : subjects) hashes.append(SubjectHash(s));
  std::lock_guard lock(mu_);
  for (const std::string& id : key_ids) {
    Stmt st(db_, "SELECT subject_hash FROM data_keys WHERE key_id = ?");
    st.Blob(1, id);
    if (st.Step() == SQLITE_ROW) {
      const std::string hash = st.ColBlob(0);
      if (hashes.find(hash) == std::string::npos) hashes.append(hash);
    }
  }
  Stmt st(db_,
          "INSERT INTO erasures(pending_key, subjects, erased_seqs) VALUES (?, ?, ?) "
          "ON CONFLICT(pending_key) DO UPDATE SET subjects = excluded.subjects, "
          "erased_seqs = excluded.erased_seqs");
  if (!st.ok()) return SqlError(db_, "record erasure");
  st.Text(1, pending_key);
  st.Blob(2, hashes);
  st.Text(3, JoinSeqs(erased_seqs));
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "record erasure");
  return Status::Ok();
}

Status KeyStore::DestroyLocked(const std::vector<std::string>& subject_hashes, size_t* destroyed) {
  for (const std::string& hash : subject_hashes) {
    {
      Stmt find(db_, "SELECT key_id FROM data_keys WHERE subject_hash = ?");
      find.Blob(1, hash);
      if (find.Step() == SQLITE_ROW) {
        const std::string id = find.ColBlob(0);
        std::lock_guard cache_lock(cache_mu_);
        by_id_.erase(id);
        destroyed_ids_.insert(id);
      }
    }
    {
      std::lock_guard cache_lock(cache_mu_);
      by_subject_.erase(hash);
    }
    Stmt del(db_, "DELETE FROM data_keys WHERE subject_hash = ?");
    if (!del.ok()) return SqlError(db_, "destroy key");
    del.Blob(1, hash);
    if (del.Step() != SQLITE_DONE) return SqlError(db_, "destroy key");
    if (destroyed) *destroyed += static_cast<size_t>(sqlite3_changes(db_));
  }
  return Status::Ok();
}

Status KeyStore::CompleteErasure(const std::string& pending_key, uint64_t forget_seq) {
  std::lock_guard lock(mu_);
  std::string subjects;
  {
    Stmt st(db_, "SELECT subjects FROM erasures WHERE pending_key = ?");
    st.Text(1, pending_key);
    int rc = st.Step();
    if (rc == SQLITE_DONE) return Status::NotFound("no pending erasure");
    if (rc != SQLITE_ROW) return SqlError(db_, "read erasure");
    subjects = st.ColBlob(0);
  }
  ENGRAM_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status s = DestroyLocked(SplitHashes(subjects), nullptr);
  if (s.ok()) {
    Stmt st(db_, "UPDATE erasures SET pending_key = NULL, forget_seq = ? WHERE pending_key = ?");
    st.Int(1, static_cast<int64_t>(forget_seq));
    st.Text(2, pending_key);
    if (st.Step() != SQLITE_DONE) s = SqlError(db_, "complete erasure");
  }
  if (!s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  ENGRAM_RETURN_IF_ERROR(Exec("COMMIT"));
  return Checkpoint();
}

Status KeyStore::DropErasure(const std::string& pending_key) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "DELETE FROM erasures WHERE pending_key = ?");
  st.Text(1, pending_key);
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "drop erasure");
  return Status::Ok();
}

Result<std::vector<Erasure>> KeyStore::ListErasures() {
  std::lock_guard lock(mu_);
  std::vector<Erasure> out;
  Stmt st(db_,
          "SELECT coalesce(pending_key, ''), coalesce(forget_seq, 0), subjects, erased_seqs "
          "FROM erasures ORDER BY id");
  if (!st.ok()) return SqlError(db_, "list erasures");
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    Erasure e;
    e.pending_key = st.ColBlob(0);
    e.forget_seq = static_cast<uint64_t>(st.ColInt(1));
    e.subject_hashes = SplitHashes(st.ColBlob(2));
    e.erased_seqs = SplitSeqs(st.ColBlob(3));
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "list erasures");
  return out;
}

Result<size_t> KeyStore::ReapplyErasures() {
  ENGRAM_ASSIGN_OR_RETURN(auto erasures, ListErasures());
  std::vector<std::string> hashes;
  for (const auto& e : erasures) {
    if (e.pending_key.empty())
      hashes.insert(hashes.end(), e.subject_hashes.begin(), e.subject_hashes.end());
  }
  std::lock_guard lock(mu_);
  size_t destroyed = 0;
  ENGRAM_RETURN_IF_ERROR(DestroyLocked(hashes, &destroyed));
  if (destroyed > 0) ENGRAM_RETURN_IF_ERROR(Checkpoint());
  return destroyed;
}

Status KeyStore::Rotate(const SecretKey& new_master) {
  std::lock_guard lock(mu_);
  ENGRAM_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto rewrap = [&]() -> Status {
    std::vector<std::tuple<std::string, std::string, std::string>> rows;
    {
      Stmt st(db_, "SELECT subject_hash, key_id, wrapped FROM data_keys");
      int rc;
      while ((rc = st.Step()) == SQLITE_ROW)
        rows.emplace_back(st.ColBlob(0), st.ColBlob(1), st.ColBlob(2));
      if (rc != SQLITE_DONE) return SqlError(db_, "read keys");
    }
    for (const auto& [hash, id, wrapped] : rows) {
      ENGRAM_ASSIGN_OR_RETURN(auto key, Unwrap(id, hash, wrapped, master_));
      ENGRAM_ASSIGN_OR_RETURN(std::string again,
                              GcmSeal(new_master, WrapAad(id, hash), key->key.view()));
      Stmt up(db_, "UPDATE data_keys SET wrapped = ? WHERE subject_hash = ?");
      up.Blob(1, again);
      up.Blob(2, hash);
      if (up.Step() != SQLITE_DONE) return SqlError(db_, "rewrap key");
    }
    ENGRAM_ASSIGN_OR_RETURN(std::string check, GcmSeal(new_master, kCheckText, kCheckText));
    Stmt up(db_, "UPDATE meta SET value = ? WHERE name = 'check'");
    up.Blob(1, check);
    if (up.Step() != SQLITE_DONE) return SqlError(db_, "write check value");
    return Status::Ok();
  };
  if (Status s = rewrap(); !s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  ENGRAM_RETURN_IF_ERROR(Exec("COMMIT"));
  master_ = new_master;
  return Checkpoint();
}

Result<size_t> KeyStore::KeyCount() {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT count(*) FROM data_keys");
  if (st.Step() != SQLITE_ROW) return SqlError(db_, "count keys");
  return static_cast<size_t>(st.ColInt(0));
}

}  // namespace engram::keys
