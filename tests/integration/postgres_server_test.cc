// The test PostgreSQL: a real server in a temporary folder that starts,
// answers on loopback, and is gone after Stop.
#include "support/postgres_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

namespace engram::testing {
namespace {

TEST(PostgresServer, StartsAcceptsAConnectionAndStops) {
  PostgresServer pg;
  ASSERT_TRUE(pg.Start()) << pg.Error();
  ASSERT_NE(pg.port(), 0);
  EXPECT_EQ(pg.Query("postgres", "SELECT 40 + 2"), "42") << pg.Error();
  // The cluster sorts text byte-wise, as SQLite does.
  EXPECT_EQ(pg.Query("postgres", "SHOW lc_collate"), "C");
  // Not a superuser process: PostgreSQL refuses root, so tests never run it as root.
  EXPECT_EQ(pg.Query("postgres", "SHOW listen_addresses"), "127.0.0.1");
  std::string url = pg.CreateDatabase("engram_a");
  ASSERT_FALSE(url.empty()) << pg.Error();
  EXPECT_EQ(pg.Query("engram_a", "SELECT current_database()"), "engram_a");

  pg.Stop();
  EXPECT_FALSE(pg.running());
  EXPECT_EQ(PQping((pg.Url() + "?connect_timeout=2").c_str()), PQPING_NO_RESPONSE);
}

}  // namespace
}  // namespace engram::testing
