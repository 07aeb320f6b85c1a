#include "keys/pg_key_table.h"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "common/crypto.h"
#include "keys/pg_connect.h"

namespace engram::keys {
namespace {

// Advisory lock keys: fixed 64-bit numbers, the same on every node.
// "ekeyuse" / "ekeyddl" in ASCII; the projector's lock is "engram".
constexpr int64_t kKeyStoreInUseLock = 0x656b6579757365;
constexpr int64_t kKeyTablesLock = 0x656b657964646c;
// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; past this many
// hex characters the payload is empty and every listener drops its cache.
constexpr size_t kMaxNotifyHex = 7900;

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Status FromPg(PGconn* conn, const PGresult* res, std::string_view what) {
  std::string msg = "key store: " + std::string(what) + ": " +
                    Trimmed(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  if (PQstatus(conn) != CONNECTION_OK) return Status::Unavailable(msg);
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view code = state ? state : "";
  if (code.starts_with("40") || code.starts_with("08") || code.starts_with("57P") ||
      code == "55P03") {
    return Status::Unavailable(msg);
  }
  if (code.starts_with("23")) return Status::Conflict(msg);
  return Status::IOError(msg);
}

// A PGresult, cleared on scope exit.
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&&) = delete;
  ~PgResult() { PQclear(r_); }
  const PGresult* get() const { return r_; }
  int Rows() const { return PQntuples(r_); }
  bool Null(int row, int col) const { return PQgetisnull(r_, row, col); }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), PQgetlength(r_, row, col));
  }
  int64_t Int(int row, int col) const {
    return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
  }
  bool Bool(int row, int col) const { return PQgetvalue(r_, row, col)[0] == 't'; }
  std::string Bytes(int row, int col) const {
    size_t n = 0;
    unsigned char* b =
        PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col)), &n);
    std::string out(reinterpret_cast<const char*>(b), b ? n : 0);
    PQfreemem(b);
    return out;
  }

 private:
  PGresult* r_;
};

// A statement parameter: text, or raw bytes sent in binary (bytea).
struct Param {
  std::string value;
  bool binary = false;
};
Param Bytes(std::string v) { return {std::move(v), true}; }
Param Text(std::string v) { return {std::move(v), false}; }
Param Int(int64_t v) { return {std::to_string(v), false}; }

Result<PgResult> Run(PGconn* conn, const char* sql, const std::vector<Param>& params = {}) {
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const Param& p : params) {
    values.push_back(p.value.data());
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(p.binary ? 1 : 0);
  }
  PgResult res(PQexecParams(conn, sql, static_cast<int>(params.size()), nullptr, values.data(),
                            lengths.data(), formats.data(), 0));
  ExecStatusType st = PQresultStatus(res.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return FromPg(conn, res.get(), sql);
  return res;
}

// The intent lock of one pending erasure: 64 bits of a hash of its key.
int64_t IntentLock(const std::string& pending_key) {
  auto d = crypto::Sha256("engram erasure intent\n" + pending_key);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d[i];
  return static_cast<int64_t>(v);
}

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

}  // namespace

PgKeyTable::PgKeyTable(std::string url, std::string shown, bool read_only, Access access)
    : url_(std::move(url)), shown_(std::move(shown)), read_only_(read_only), access_(access) {}

PgKeyTable::~PgKeyTable() {
  listener_.reset();
  if (conn_) PQfinish(conn_);
}

Result<std::unique_ptr<PgKeyTable>> PgKeyTable::Open(const std::string& url, bool read_only,
                                                     Access access) {
  PGconn* probe = ConnectPg(url);
  if (!probe || PQstatus(probe) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    std::string msg = PgErrorText(probe);
    if (probe) PQfinish(probe);
    return Status::Unavailable("key store: cannot connect to PostgreSQL: " + msg);
  }
  std::string shown = std::string("postgresql://") + PQhost(probe) + ":" + PQport(probe) + "/" +
                      PQdb(probe) + " (schema engram_keys)";
  std::unique_ptr<PgKeyTable> table(new PgKeyTable(url, shown, read_only, access));
  table->conn_ = probe;
  ENGRAM_RETURN_IF_ERROR(table->Connect());
  if (!read_only) {
    ENGRAM_RETURN_IF_ERROR(table->MakeTables());
  } else {
    ENGRAM_ASSIGN_OR_RETURN(
        PgResult r, Run(table->conn_, "SELECT to_regclass('engram_keys.meta') IS NOT NULL"));
    if (!r.Bool(0, 0)) return Status::NotFound("no key store in " + shown);
  }
  if (access == Access::kShared) {
    // Listening before the first key is read: nothing read from here on can
    // be destroyed unseen.
    ENGRAM_ASSIGN_OR_RETURN(table->listener_, DestructionListener::Start(url));
  }
  return table;
}

// Session settings and the in-use lock, on a fresh connection.
Status PgKeyTable::Connect() {
  std::string setup = "SET synchronous_commit = on; SET client_min_messages = warning;";
  if (read_only_) setup += "SET default_transaction_read_only = on;";
  PGresult* r = PQexec(conn_, setup.c_str());
  Status s =
      PQresultStatus(r) == PGRES_COMMAND_OK ? Status::Ok() : FromPg(conn_, r, "session setup");
  PQclear(r);
  ENGRAM_RETURN_IF_ERROR(s);
  return TakeInUseLock();
}

Status PgKeyTable::TakeInUseLock() {
  if (access_ == Access::kShared) {
    ENGRAM_ASSIGN_OR_RETURN(PgResult r, Run(conn_, "SELECT pg_try_advisory_lock_shared($1)",
                                            {Int(kKeyStoreInUseLock)}));
    if (!r.Bool(0, 0)) {
      return Status::Unavailable("key store " + shown_ +
                                 ": `engram keys rotate` is running on it; start again when it "
                                 "has finished (with the new master key)");
    }
    return Status::Ok();
  }
  ENGRAM_ASSIGN_OR_RETURN(PgResult r,
                          Run(conn_, "SELECT pg_try_advisory_lock($1)", {Int(kKeyStoreInUseLock)}));
  if (r.Bool(0, 0)) return Status::Ok();
  // pg_locks shows a bigint advisory key as classid (high half), objid (low
  // half), objsubid 1.
  ENGRAM_ASSIGN_OR_RETURN(
      PgResult holders,
      Run(conn_,
          "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
          "AND objsubid = 1 AND classid::bigint = ($1::bigint >> 32) "
          "AND objid::bigint = ($1::bigint & 4294967295)",
          {Int(kKeyStoreInUseLock)}));
  return Status::Conflict(std::to_string(holders.Int(0, 0)) + " process(es) have the key store " +
                          shown_ +
                          " open (engram serve nodes, audits, replays): stop every node first. "
                          "A node that kept running would go on wrapping new keys under the old "
                          "master key");
}

// A lost connection is made again: the session's locks went with it, so
// the in-use lock and this process's intent locks are taken again, and the
// check value is read again (a rotation may have run while the lock was
// not held: this process's master key would then be the old one).
Status PgKeyTable::EnsureConnected() {
  ENGRAM_RETURN_IF_ERROR(broken_);
  if (PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  if (in_transaction_) return Status::Unavailable("key store: connection lost in a transaction");
  PQfinish(conn_);
  conn_ = ConnectPg(url_);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    return Status::Unavailable("key store: PostgreSQL unreachable: " + PgErrorText(conn_));
  }
  ENGRAM_RETURN_IF_ERROR(Connect());
  ENGRAM_ASSIGN_OR_RETURN(PgResult r,
                          Run(conn_, "SELECT value FROM engram_keys.meta WHERE name = 'check'"));
  if (!check_seen_.empty() && (r.Rows() == 0 || r.Bytes(0, 0) != check_seen_)) {
    broken_ = Status::InvalidArgument(
        "key store " + shown_ +
        ": its master key changed (engram keys rotate) while this process was disconnected; "
        "restart it with the new master key");
    spdlog::critical("{}", broken_.ToString());
    return broken_;
  }
  for (auto it = owned_intents_.begin(); it != owned_intents_.end();) {
    ENGRAM_ASSIGN_OR_RETURN(PgResult got,
                            Run(conn_, "SELECT pg_try_advisory_lock($1)", {Int(it->second)}));
    if (got.Bool(0, 0)) {
      ++it;
    } else {  // another node's recovery has it now
      spdlog::warn("key store: a forget's intent was taken over by another node");
      it = owned_intents_.erase(it);
    }
  }
  spdlog::info("key store: reconnected to {}", shown_);
  return Status::Ok();
}

Status PgKeyTable::MakeTables() {
  // Nodes starting together: the transaction lock makes the DDL run once at
  // a time (CREATE ... IF NOT EXISTS races on the catalog otherwise).
  const std::string sql =
      "BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(kKeyTablesLock) +
      ");"
      "CREATE SCHEMA IF NOT EXISTS engram_keys;"
      "CREATE TABLE IF NOT EXISTS engram_keys.meta(name TEXT PRIMARY KEY, value BYTEA NOT NULL);"
      "CREATE TABLE IF NOT EXISTS engram_keys.data_keys(subject_hash BYTEA PRIMARY KEY, "
      "  key_id BYTEA NOT NULL UNIQUE, wrapped BYTEA NOT NULL);"
      "CREATE TABLE IF NOT EXISTS engram_keys.erasures(id BIGSERIAL PRIMARY KEY, "
      "  pending_key TEXT UNIQUE, forget_seq BIGINT, subjects BYTEA NOT NULL, "
      "  erased_seqs TEXT NOT NULL, destroyed_digests BYTEA);"
      "COMMIT;";
  PGresult* r = PQexec(conn_, sql.c_str());
  Status s = PQresultStatus(r) == PGRES_COMMAND_OK ? Status::Ok()
                                                   : FromPg(conn_, r, "make the key tables");
  PQclear(r);
  if (!s.ok()) {
    PGresult* rb = PQexec(conn_, "ROLLBACK");
    PQclear(rb);
  }
  return s;
}

Result<std::string> PgKeyTable::ReadCheck() {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  ENGRAM_ASSIGN_OR_RETURN(PgResult r,
                          Run(conn_, "SELECT value FROM engram_keys.meta WHERE name = 'check'"));
  if (r.Rows() == 0) return std::string();
  check_seen_ = r.Bytes(0, 0);
  return check_seen_;
}

Result<std::string> PgKeyTable::InitCheck(const std::string& value) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  ENGRAM_RETURN_IF_ERROR(Run(conn_,
                             "INSERT INTO engram_keys.meta(name, value) VALUES ('check', $1) "
                             "ON CONFLICT (name) DO NOTHING",
                             {Bytes(value)})
                             .status());
  return ReadCheck();
}

Result<std::optional<StoredKey>> PgKeyTable::FindBySubject(const std::string& subject_hash) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  ENGRAM_ASSIGN_OR_RETURN(PgResult r, Run(conn_,
                                          "SELECT key_id, wrapped FROM engram_keys.data_keys "
                                          "WHERE subject_hash = $1",
                                          {Bytes(subject_hash)}));
  if (r.Rows() == 0) return std::optional<StoredKey>();
  return std::optional<StoredKey>(StoredKey{subject_hash, r.Bytes(0, 0), r.Bytes(0, 1)});
}

Result<std::optional<StoredKey>> PgKeyTable::FindById(const std::string& key_id) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  ENGRAM_ASSIGN_OR_RETURN(
      PgResult r,
      Run(conn_, "SELECT subject_hash, wrapped FROM engram_keys.data_keys WHERE key_id = $1",
          {Bytes(key_id)}));
  if (r.Rows() == 0) return std::optional<StoredKey>();
  return std::optional<StoredKey>(StoredKey{r.Bytes(0, 0), key_id, r.Bytes(0, 1)});
}

namespace {

// Runs `body` in a transaction: COMMIT when it returns Ok, ROLLBACK
// otherwise.
template <typename F>
Status InTransaction(PGconn* conn, bool* in_transaction, F body) {
  ENGRAM_RETURN_IF_ERROR(Run(conn, "BEGIN").status());
  *in_transaction = true;
  Status s = body();
  if (s.ok()) s = Run(conn, "COMMIT").status();
  if (!s.ok()) {
    PGresult* r = PQexec(conn, "ROLLBACK");
    PQclear(r);
  }
  *in_transaction = false;
  return s;
}

}  // namespace

Result<std::vector<bool>> PgKeyTable::AddKeys(const std::vector<StoredKey>& keys) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  std::vector<bool> added(keys.size(), false);
  // ON CONFLICT DO NOTHING: two nodes making the first key of one subject
  // at once end with one key; the KeyStore reads the winner's. Rows go in
  // in subject order: two batches that share subjects then wait on each
  // other's uncommitted rows in one order, never in a cycle (which
  // PostgreSQL ends with "deadlock detected", failing one node's batch).
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return keys[x].subject_hash < keys[y].subject_hash; });
  ENGRAM_RETURN_IF_ERROR(InTransaction(conn_, &in_transaction_, [&]() -> Status {
    for (size_t i : order) {
      ENGRAM_ASSIGN_OR_RETURN(
          PgResult r,
          Run(conn_,
              "INSERT INTO engram_keys.data_keys(subject_hash, key_id, wrapped) "
              "VALUES ($1, $2, $3) ON CONFLICT (subject_hash) DO NOTHING",
              {Bytes(keys[i].subject_hash), Bytes(keys[i].key_id), Bytes(keys[i].wrapped)}));
      added[i] = std::string_view(PQcmdTuples(const_cast<PGresult*>(r.get()))) == "1";
    }
    return Status::Ok();
  }));
  return added;
}

Status PgKeyTable::RecordErasure(const std::string& pending_key,
                                 const std::vector<std::string>& subject_hashes,
                                 const std::vector<uint64_t>& erased_seqs) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  ENGRAM_ASSIGN_OR_RETURN(bool owned, ClaimErasure(pending_key));
  if (!owned) {
    return Status::Unavailable("a forget under the same key is in progress on another node");
  }
  return Run(conn_,
             "INSERT INTO engram_keys.erasures(pending_key, subjects, erased_seqs) "
             "VALUES ($1, $2, $3) ON CONFLICT (pending_key) DO UPDATE SET "
             "subjects = excluded.subjects, erased_seqs = excluded.erased_seqs",
             {Text(pending_key), Bytes(JoinHashes(subject_hashes)), Text(JoinSeqs(erased_seqs))})
      .status();
}

Result<bool> PgKeyTable::ClaimErasure(const std::string& pending_key) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  if (owned_intents_.count(pending_key)) return true;
  const int64_t lock = IntentLock(pending_key);
  ENGRAM_ASSIGN_OR_RETURN(PgResult r, Run(conn_, "SELECT pg_try_advisory_lock($1)", {Int(lock)}));
  if (!r.Bool(0, 0)) return false;
  owned_intents_[pending_key] = lock;
  return true;
}

Status PgKeyTable::ReleaseIntent(const std::string& pending_key) {
  auto it = owned_intents_.find(pending_key);
  if (it == owned_intents_.end()) return Status::Ok();
  const int64_t lock = it->second;
  owned_intents_.erase(it);
  if (PQstatus(conn_) != CONNECTION_OK) return Status::Ok();  // gone with the session
  return Run(conn_, "SELECT pg_advisory_unlock($1)", {Int(lock)}).status();
}

Status PgKeyTable::DeleteKeys(const std::vector<std::string>& subject_hashes,
                              const std::vector<std::string>& key_ids,
                              std::vector<std::string>* destroyed) {
  auto run = [&](const char* sql, const std::string& value) -> Status {
    ENGRAM_ASSIGN_OR_RETURN(PgResult r, Run(conn_, sql, {Bytes(value)}));
    for (int i = 0; i < r.Rows(); ++i) destroyed->push_back(r.Bytes(i, 0));
    return Status::Ok();
  };
  for (const std::string& hash : subject_hashes) {
    ENGRAM_RETURN_IF_ERROR(
        run("DELETE FROM engram_keys.data_keys WHERE subject_hash = $1 RETURNING key_id", hash));
  }
  for (const std::string& id : key_ids) {
    ENGRAM_RETURN_IF_ERROR(
        run("DELETE FROM engram_keys.data_keys WHERE key_id = $1 RETURNING key_id", id));
  }
  if (destroyed->empty()) return Status::Ok();
  // Delivered to every listener when the transaction commits, not before.
  std::string payload;
  for (const std::string& id : *destroyed) payload += Hex(id);
  if (payload.size() > kMaxNotifyHex) payload.clear();
  return Run(conn_, "SELECT pg_notify($1, $2)", {Text(kDestroyedChannel), Text(payload)}).status();
}

// The deleted rows out of the table's file: VACUUM FULL writes a new file
// without them and unlinks the old one. The table is small (~100 bytes a
// caller); other nodes' key reads wait for it, a few milliseconds.
Status PgKeyTable::Purge() {
  auto done = Run(conn_, "VACUUM FULL engram_keys.data_keys");
  if (!done.ok()) {
    spdlog::warn(
        "key store: destroyed keys are deleted but VACUUM FULL failed ({}); their dead "
        "rows stay in the table's file until the next VACUUM",
        done.status().ToString());
  }
  return Status::Ok();
}

Result<std::vector<std::string>> PgKeyTable::CompleteErasure(const std::string& pending_key,
                                                             uint64_t forget_seq) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  std::vector<std::string> destroyed;
  bool found = true;
  Status s = InTransaction(conn_, &in_transaction_, [&]() -> Status {
    ENGRAM_ASSIGN_OR_RETURN(PgResult r,
                            Run(conn_,
                                "SELECT subjects FROM engram_keys.erasures WHERE pending_key = $1 "
                                "FOR UPDATE",
                                {Text(pending_key)}));
    if (r.Rows() == 0) {
      found = false;
      return Status::NotFound("no pending erasure");
    }
    ENGRAM_RETURN_IF_ERROR(DeleteKeys(SplitHashes(r.Bytes(0, 0)), {}, &destroyed));
    return Run(conn_,
               "UPDATE engram_keys.erasures SET pending_key = NULL, forget_seq = $1, "
               "destroyed_digests = $2 WHERE pending_key = $3",
               {Int(static_cast<int64_t>(forget_seq)), Bytes(JoinDigests(destroyed)),
                Text(pending_key)})
        .status();
  });
  if (!s.ok()) {
    if (!found) (void)ReleaseIntent(pending_key);
    return s;
  }
  if (!destroyed.empty()) ENGRAM_RETURN_IF_ERROR(Purge());
  ENGRAM_RETURN_IF_ERROR(ReleaseIntent(pending_key));
  return destroyed;
}

Status PgKeyTable::DropErasure(const std::string& pending_key) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  ENGRAM_RETURN_IF_ERROR(
      Run(conn_, "DELETE FROM engram_keys.erasures WHERE pending_key = $1", {Text(pending_key)})
          .status());
  return ReleaseIntent(pending_key);
}

Result<std::vector<Erasure>> PgKeyTable::ListErasures() {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  ENGRAM_ASSIGN_OR_RETURN(
      PgResult r,
      Run(conn_,
          "SELECT coalesce(pending_key, ''), coalesce(forget_seq, 0), subjects, "
          "erased_seqs, destroyed_digests IS NOT NULL, destroyed_digests FROM engram_keys.erasures "
          "ORDER BY id"));
  std::vector<Erasure> out;
  for (int i = 0; i < r.Rows(); ++i) {
    Erasure e;
    e.pending_key = r.Text(i, 0);
    e.forget_seq = static_cast<uint64_t>(r.Int(i, 1));
    e.subject_hashes = SplitHashes(r.Bytes(i, 2));
    e.erased_seqs = SplitSeqs(r.Text(i, 3));
    if (r.Bool(i, 4)) e.destroyed_digests = SplitHashes(r.Bytes(i, 5));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<std::string>> PgKeyTable::DestroyKeys(
    const std::vector<std::string>& subject_hashes, const std::vector<std::string>& key_ids) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  std::vector<std::string> destroyed;
  ENGRAM_RETURN_IF_ERROR(InTransaction(conn_, &in_transaction_, [&]() -> Status {
    return DeleteKeys(subject_hashes, key_ids, &destroyed);
  }));
  if (!destroyed.empty()) ENGRAM_RETURN_IF_ERROR(Purge());
  return destroyed;
}

Status PgKeyTable::RewrapAll(const std::function<Result<std::string>(const StoredKey&)>& rewrap,
                             const std::string& new_check) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  ENGRAM_RETURN_IF_ERROR(InTransaction(conn_, &in_transaction_, [&]() -> Status {
    ENGRAM_ASSIGN_OR_RETURN(
        PgResult rows,
        Run(conn_, "SELECT subject_hash, key_id, wrapped FROM engram_keys.data_keys FOR UPDATE"));
    for (int i = 0; i < rows.Rows(); ++i) {
      StoredKey row{rows.Bytes(i, 0), rows.Bytes(i, 1), rows.Bytes(i, 2)};
      ENGRAM_ASSIGN_OR_RETURN(std::string again, rewrap(row));
      ENGRAM_RETURN_IF_ERROR(
          Run(conn_, "UPDATE engram_keys.data_keys SET wrapped = $1 WHERE subject_hash = $2",
              {Bytes(again), Bytes(row.subject_hash)})
              .status());
    }
    return Run(conn_, "UPDATE engram_keys.meta SET value = $1 WHERE name = 'check'",
               {Bytes(new_check)})
        .status();
  }));
  check_seen_ = new_check;
  // The rows wrapped under the old master key are dead tuples now.
  return Purge();
}

Result<size_t> PgKeyTable::KeyCount() {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  ENGRAM_ASSIGN_OR_RETURN(PgResult r, Run(conn_, "SELECT count(*) FROM engram_keys.data_keys"));
  return static_cast<size_t>(r.Int(0, 0));
}

void PgKeyTable::OnKeysDestroyed(std::function<void(const std::vector<std::string>&)> fn) {
  if (listener_) listener_->SetHandler(std::move(fn));
}

bool PgKeyTable::CacheIsCoherent() const { return listener_ && listener_->coherent(); }

}  // namespace engram::keys
