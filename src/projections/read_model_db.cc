#include "projections/read_model_db.h"

#include <cstdio>

#include "common/crypto.h"

namespace engram::projections {

Result<std::vector<std::string>> FirstColumn(Statement& st) {
  std::vector<std::string> out;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(st.Text(0));
  }
}

std::string RenderReal(double value) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

std::string RenderBlob(const std::string& bytes) {
  std::string out = "x'";  // built by appends: GCC 12 misreports "lit" + string (-Wrestrict)
  out += crypto::HexEncode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  out += '\'';
  return out;
}

std::string RenderText(const std::string& text) {
  std::string out = "'";
  out += text;
  out += '\'';
  return out;
}

Status Statement::Run() {
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

std::optional<std::string> Statement::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}

std::optional<int64_t> Statement::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

Result<Statement*> ReadModelDb::Cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    ENGRAM_ASSIGN_OR_RETURN(Statement st, PrepareCached(sql));
    it = cache_.emplace(std::string(sql), std::move(st)).first;
  }
  return &it->second;
}

Transaction::~Transaction() {
  if (open_) (void)db_.Exec("ROLLBACK");
}

Status Transaction::Begin() {
  ENGRAM_RETURN_IF_ERROR(db_.Begin());
  open_ = true;
  return Status::Ok();
}

Status Transaction::Commit() {
  Status s = db_.Exec("COMMIT");
  if (s.ok()) open_ = false;
  return s;
}

}  // namespace engram::projections
