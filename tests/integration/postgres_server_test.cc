// The test PostgreSQL: a real server in a temporary folder that starts,
// answers on loopback, and is gone after Stop.
#include "support/postgres_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

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

TEST(PostgresServer, StopsWhenTheTestProcessDiesWithoutCleaningUp) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  if (child == 0) {
    auto* pg = new PostgresServer();  // never destroyed: _exit below
    uint16_t port = pg->Start() ? pg->port() : 0;
    char dir[256] = {};
    snprintf(dir, sizeof dir, "%s", pg->dir().c_str());
    (void)!write(fds[1], &port, sizeof port);
    (void)!write(fds[1], dir, sizeof dir);
    _exit(0);
  }
  close(fds[1]);
  uint16_t port = 0;
  char dir[256] = {};
  ASSERT_EQ(read(fds[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
  ASSERT_EQ(read(fds[0], dir, sizeof dir), static_cast<ssize_t>(sizeof dir));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_NE(port, 0);
  const std::string conninfo =
      "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/postgres?connect_timeout=2";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (PQping(conninfo.c_str()) != PQPING_NO_RESPONSE) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the orphaned server still runs";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The postmaster removes its pid file last, once shut down.
  while (std::filesystem::exists(std::string(dir) + "/data/postmaster.pid")) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the orphaned server still runs";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // what the child's TempDir would have removed
}

}  // namespace
}  // namespace engram::testing
