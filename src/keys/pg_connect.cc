#include "keys/pg_connect.h"

#include <libpq-fe.h>

namespace engram::keys {

pg_conn* ConnectPg(const std::string& url) {
  static constexpr const char* kKeys[] = {"dbname",
                                          "keepalives",
                                          "keepalives_idle",
                                          "keepalives_interval",
                                          "keepalives_count",
                                          "tcp_user_timeout",
                                          nullptr};
  const char* values[] = {url.c_str(), "1", "5", "2", "2", "10000", nullptr};
  PGconn* conn = PQconnectdbParams(kKeys, values, /*expand_dbname=*/1);
  if (conn)
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
  return conn;
}

std::string PgErrorText(const pg_conn* conn) {
  std::string s = conn ? PQerrorMessage(conn) : "out of memory";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace engram::keys
