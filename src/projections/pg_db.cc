#include "projections/pg_db.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cstdlib>
#include <vector>

#include "projections/pg_dialect.h"

namespace engram::projections {
namespace {

// Type oids of pg_type.h (server headers, not installed with libpq-dev);
// fixed since PostgreSQL 7.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

// The advisory lock key of the projector role: one fixed 64-bit number
// (ASCII "engram" read as an integer), the same on every node.
constexpr int64_t kProjectorLockKey = 0x656e6772616d;

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Maps libpq's answer to our codes by SQLSTATE class.
Status FromPg(PGconn* conn, const PGresult* res, std::string_view what) {
  std::string msg =
      std::string(what) + ": " + Trimmed(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  if (PQstatus(conn) != CONNECTION_OK) return Status::Unavailable(msg);
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view code = state ? state : "";
  if (code.starts_with("23")) return Status::Conflict(msg);  // integrity constraint
  if (code.starts_with("40") || code.starts_with("08") || code.starts_with("57P") ||
      code == "55P03") {
    return Status::Unavailable(msg);  // serialization, connection, shutdown, lock not available
  }
  if (code.starts_with("53")) return Status::IOError(msg);  // disk full, out of memory
  if (code == "XX001" || code == "XX002") return Status::Corruption(msg);
  return Status::Internal(msg);
}

bool ChangesRows(const PGresult* res) {
  std::string_view tag = PQcmdStatus(const_cast<PGresult*>(res));
  return tag.starts_with("INSERT") || tag.starts_with("UPDATE") || tag.starts_with("DELETE");
}

void IgnoreNotice(void*, const char*) {}

}  // namespace

// One statement: its text in PostgreSQL's dialect, the bound values, and the
// result of its last execution. Executes on the first Step after a Reset.
class PgStatement : public StatementBackend {
 public:
  PgStatement(PgDb* db, std::string sql, int params, std::string name)
      : db_(db), sql_(std::move(sql)), name_(std::move(name)) {
    Resize(params);
  }
  ~PgStatement() override { PQclear(result_); }

  void BindInt(int index, int64_t value) override { Set(index, std::to_string(value), 0); }
  void BindDouble(int index, double value) override {
    std::string text = RenderReal(value);
    if (text == "inf") text = "Infinity";
    if (text == "-inf") text = "-Infinity";
    if (text == "nan" || text == "-nan") text = "NaN";
    Set(index, std::move(text), 0);
  }
  void BindText(int index, std::string_view value) override { Set(index, std::string(value), 0); }
  void BindNull(int index) override {
    if (index >= 1 && index <= static_cast<int>(nulls_.size())) nulls_[index - 1] = true;
  }
  void BindBlob(int index, const void* data, size_t size) override {
    Set(index, std::string(static_cast<const char*>(data), size), 1);  // binary: raw bytes
  }

  Result<bool> Step() override {
    if (!executed_) {
      ENGRAM_RETURN_IF_ERROR(Execute());
      executed_ = true;
      row_ = -1;
    }
    if (!result_) return false;
    return ++row_ < PQntuples(result_);
  }

  void Reset() override {
    PQclear(result_);
    result_ = nullptr;
    executed_ = false;
    std::fill(nulls_.begin(), nulls_.end(), true);
  }

  // Prepares on the server (named statements), again after a reconnect.
  Status PrepareOnServer() {
    if (name_.empty() || prepared_generation_ == db_->generation_) return Status::Ok();
    PGresult* res = PQprepare(db_->conn_, name_.c_str(), sql_.c_str(),
                              static_cast<int>(values_.size()), nullptr);
    Status s = PQresultStatus(res) == PGRES_COMMAND_OK ? Status::Ok()
                                                       : FromPg(db_->conn_, res, "prepare " + sql_);
    PQclear(res);
    if (s.ok()) prepared_generation_ = db_->generation_;
    return s;
  }

  int ColumnCount() const override { return result_ ? PQnfields(result_) : 0; }
  bool IsNull(int col) const override { return PQgetisnull(result_, row_, col); }
  int64_t Int(int col) const override {
    if (Type(col) == kBoolOid) return Raw(col)[0] == 't';
    return std::strtoll(Raw(col), nullptr, 10);
  }
  double Double(int col) const override {
    if (Type(col) == kBoolOid) return Raw(col)[0] == 't';
    return std::strtod(Raw(col), nullptr);
  }
  std::string Text(int col) const override {
    if (IsNull(col)) return "";
    if (Type(col) == kBoolOid) return Raw(col)[0] == 't' ? "1" : "0";
    if (Type(col) == kByteaOid) return Blob(col);
    return std::string(Raw(col), PQgetlength(result_, row_, col));
  }
  std::string Blob(int col) const override {
    if (IsNull(col)) return "";
    if (Type(col) != kByteaOid) return std::string(Raw(col), PQgetlength(result_, row_, col));
    size_t n = 0;
    unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(Raw(col)), &n);
    std::string out(reinterpret_cast<const char*>(bytes), n);
    PQfreemem(bytes);
    return out;
  }
  std::string ColumnName(int col) const override { return PQfname(result_, col); }

  std::string Render(int col) const override {
    if (IsNull(col)) return "NULL";
    switch (Type(col)) {
      case kInt2Oid:
      case kInt4Oid:
      case kInt8Oid:
      case kOidOid:
      case kNumericOid:
        return Raw(col);
      case kBoolOid:
        return Text(col);
      case kFloat4Oid:
      case kFloat8Oid:
        return RenderReal(Double(col));
      case kByteaOid:
        return RenderBlob(Blob(col));
      default:
        return RenderText(Text(col));
    }
  }

 private:
  void Resize(int params) {
    values_.resize(params);
    nulls_.assign(params, true);
    formats_.assign(params, 0);
  }
  // Out-of-range indexes are ignored, as sqlite3_bind_* ignores them.
  void Set(int index, std::string value, int format) {
    if (index < 1 || index > static_cast<int>(values_.size())) return;
    values_[index - 1] = std::move(value);
    nulls_[index - 1] = false;
    formats_[index - 1] = format;
  }
  Oid Type(int col) const { return PQftype(result_, col); }
  const char* Raw(int col) const { return PQgetvalue(result_, row_, col); }

  Status Execute() {
    ENGRAM_RETURN_IF_ERROR(db_->EnsureConnected());
    ENGRAM_RETURN_IF_ERROR(PrepareOnServer());
    const int n = static_cast<int>(values_.size());
    std::vector<const char*> values(n);
    std::vector<int> lengths(n);
    for (int i = 0; i < n; ++i) {
      values[i] = nulls_[i] ? nullptr : values_[i].data();
      lengths[i] = static_cast<int>(values_[i].size());
    }
    PGresult* res = name_.empty() ? PQexecParams(db_->conn_, sql_.c_str(), n, nullptr,
                                                 values.data(), lengths.data(), formats_.data(), 0)
                                  : PQexecPrepared(db_->conn_, name_.c_str(), n, values.data(),
                                                   lengths.data(), formats_.data(), 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      Status s = FromPg(db_->conn_, res, sql_);
      PQclear(res);
      return s;
    }
    if (ChangesRows(res)) db_->changes_ = std::strtoll(PQcmdTuples(res), nullptr, 10);
    if (st == PGRES_TUPLES_OK) {
      result_ = res;
    } else {
      PQclear(res);
    }
    return Status::Ok();
  }

  PgDb* db_;
  std::string sql_;
  std::string name_;  // server-side prepared statement; empty: unnamed, parsed per run
  int prepared_generation_ = -1;
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> formats_;
  PGresult* result_ = nullptr;
  int row_ = -1;
  bool executed_ = false;
};

bool PgDb::IsUrl(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

PgDb::PgDb(pg_conn* conn, std::string url, std::string shown, bool read_only)
    : ReadModelDb(std::move(shown)), conn_(conn), url_(std::move(url)), read_only_(read_only) {}

Result<std::unique_ptr<PgDb>> PgDb::Open(const std::string& url, bool read_only) {
  // The password, if the URL has one, stays out of path() (logs, messages).
  std::string shown = url;
  if (size_t at = shown.find('@'), scheme = shown.find("://");
      at != std::string::npos && scheme != std::string::npos) {
    if (size_t colon = shown.find(':', scheme + 3); colon != std::string::npos && colon < at) {
      shown.erase(colon, at - colon);
    }
  }
  // connect_timeout: an unreachable server fails the call (and a round
  // retries) instead of hanging for the kernel's TCP timeout; the URL's own
  // connect_timeout, given later, wins.
  const char* keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"10", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (PQstatus(conn) != CONNECTION_OK) {
    Status s = Status::Unavailable("read model " + shown + ": " + Trimmed(PQerrorMessage(conn)));
    PQfinish(conn);
    return s;
  }
  std::unique_ptr<PgDb> db(new PgDb(conn, url, shown, read_only));
  ENGRAM_RETURN_IF_ERROR(db->SessionSetup());
  return db;
}

PgDb::~PgDb() {
  DropCachedStatements();
  PQfinish(conn_);
}

Status PgDb::SessionSetup() {
  // Notices ("relation already exists, skipping") are not errors; keep
  // them off stderr.
  PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
  ++generation_;
  if (read_only_) return Exec("SET default_transaction_read_only = on");
  return Status::Ok();
}

Status PgDb::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Status::Unavailable("read model " + path() + ": " + Trimmed(PQerrorMessage(conn_)));
  }
  return SessionSetup();
}

Status PgDb::Exec(std::string_view sql) {
  std::string text = pg::ToPostgresSchema(sql);
  if (text.find_first_not_of(" \t\r\n;") == std::string::npos) return Status::Ok();  // PRAGMAs
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  PGresult* res = PQexec(conn_, text.c_str());
  ExecStatusType st = PQresultStatus(res);
  Status s = Status::Ok();
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    s = FromPg(conn_, res, "exec " + text);
  } else if (std::string_view(PQcmdStatus(res)) == "ROLLBACK" && text.starts_with("COMMIT")) {
    // COMMIT of a transaction an error had aborted rolls back "successfully".
    s = Status::Internal("commit: the transaction had failed and was rolled back");
  } else if (ChangesRows(res)) {
    changes_ = std::strtoll(PQcmdTuples(res), nullptr, 10);
  }
  PQclear(res);
  return s;
}

Result<Statement> PgDb::Prepare(std::string_view sql) {
  return Statement(
      std::make_unique<PgStatement>(this, pg::ToPostgres(sql), pg::CountPlaceholders(sql), ""));
}

Result<Statement> PgDb::PrepareCached(std::string_view sql) {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  auto st = std::make_unique<PgStatement>(this, pg::ToPostgres(sql), pg::CountPlaceholders(sql),
                                          "engram_" + std::to_string(next_statement_++));
  ENGRAM_RETURN_IF_ERROR(st->PrepareOnServer());  // errors surface here, as SQLite's do
  return Statement(std::move(st));
}

Status PgDb::Begin() { return Exec("BEGIN"); }

Result<bool> PgDb::HasTable(std::string_view name) {
  // Cached: the identity rules ask on every event.
  ENGRAM_ASSIGN_OR_RETURN(
      Statement * st, Cached("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                             "current_schema() AND table_name = ?"));
  st->Bind(1, name);
  auto row = st->Step();
  const bool found = row.ok() && *row && st->Int(0) > 0;
  st->Reset();
  if (!row.ok()) return row.status();
  return found;
}

Result<std::vector<std::string>> PgDb::TableNames() {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st, Prepare("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                            "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"));
  return FirstColumn(st);
}

Result<bool> PgDb::TryLockProjector() {
  ENGRAM_RETURN_IF_ERROR(EnsureConnected());
  if (HoldsProjectorLock()) return true;
  ENGRAM_ASSIGN_OR_RETURN(Statement st, Prepare("SELECT pg_try_advisory_lock(?)"));
  st.Bind(1, kProjectorLockKey);
  ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row || st.Int(0) != 1) return false;
  lock_held_ = true;
  lock_generation_ = generation_;
  return true;
}

Status PgDb::Listen(std::string_view channel) {
  for (char c : channel) {
    if (!((c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9'))) {
      return Status::InvalidArgument("channel name " + std::string(channel));
    }
  }
  return Exec("LISTEN " + std::string(channel));
}

Result<std::vector<std::string>> PgDb::AwaitNotifications(std::string_view channel,
                                                          std::chrono::milliseconds timeout,
                                                          size_t max) {
  std::vector<std::string> payloads;
  auto take = [&] {
    while (payloads.size() < max) {
      PGnotify* n = PQnotifies(conn_);
      if (!n) break;
      if (channel == n->relname) payloads.emplace_back(n->extra ? n->extra : "");
      PQfreemem(n);
    }
  };
  auto broken = [&] {
    return Status::Unavailable("read model " + path() +
                               ": listening connection lost: " + Trimmed(PQerrorMessage(conn_)));
  };
  if (PQstatus(conn_) != CONNECTION_OK) return broken();
  take();  // queued while statements ran on this connection
  if (!payloads.empty()) return payloads;
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  if (fd.fd < 0) return broken();
  const int ready = poll(&fd, 1, static_cast<int>(timeout.count()));
  if (ready < 0) return payloads;  // EINTR: the caller asks again
  if (ready > 0) {
    // A closed socket reads as readable; consuming it reports the loss.
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) return broken();
    take();
  }
  return payloads;
}

bool PgDb::HoldsProjectorLock() const {
  return lock_held_ && lock_generation_ == generation_ && PQstatus(conn_) == CONNECTION_OK;
}

}  // namespace engram::projections
