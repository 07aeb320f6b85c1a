// Connecting to PostgreSQL the way the key store does (pg_key_table.h,
// pg_destruction_listener.h): a libpq URI plus TCP keepalives and a user
// timeout, so a connection to a server that vanished without a FIN (a
// partition, a dead machine) fails within ~10 s instead of the kernel's two
// hours, and the listener knows it may have missed a destruction.
#pragma once

#include <string>

struct pg_conn;

namespace engram::keys {

// Never null unless out of memory; check PQstatus. Notices are dropped.
pg_conn* ConnectPg(const std::string& url);
// libpq's last error for `conn`, without the trailing newline.
std::string PgErrorText(const pg_conn* conn);

}  // namespace engram::keys
