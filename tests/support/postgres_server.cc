#include "support/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "support/test_support.h"

namespace engram::testing {
namespace {

// A port the kernel just handed out on loopback; free unless another
// process takes it before the postmaster binds it (Start retries then).
uint16_t FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Forks `args` as uid/gid (dropping root's groups when root), in `cwd`,
// with stdout and stderr appended to `log_path`. Returns the child's pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& cwd,
            const std::string& log_path, uid_t uid, gid_t gid) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (log_fd >= 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(log_fd);
  }
  if (geteuid() == 0 && (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) {
    _exit(126);
  }
  // A test killed outright (a timeout, SIGKILL) takes its server along: the
  // kernel sends the fast-shutdown signal when the parent dies (set after
  // setuid, which clears it).
  prctl(PR_SET_PDEATHSIG, SIGINT);
  if (chdir(cwd.c_str()) != 0) _exit(126);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  _exit(127);
}

}  // namespace

std::string PostgresServer::BinDir() {
  const char* env = std::getenv("ENGRAM_PG_BIN");
  return env && *env ? env : "/usr/lib/postgresql/15/bin";
}

PostgresServer::PostgresServer() : dir_(std::make_unique<TempDir>()) {
  data_dir_ = dir_->path() + "/data";
  log_path_ = dir_->path() + "/postgres.log";
  uid_ = geteuid();
  gid_ = getegid();
  if (uid_ == 0) {
    // PostgreSQL will not run as root: the folder becomes the postgres user's.
    if (const passwd* pw = getpwnam("postgres")) {
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (chown(dir_->path().c_str(), uid_, gid_) != 0) error_ = "chown of the temp dir failed";
    } else {
      error_ = "running as root and there is no `postgres` user to run PostgreSQL as";
    }
  }
}

PostgresServer::~PostgresServer() { Stop(); }

bool PostgresServer::InitDb() {
  if (initialised_) return true;
  // --no-sync: a test cluster need not survive a power cut while it is made.
  pid_t pid = Spawn({BinDir() + "/initdb", "-D", data_dir_, "-U", "postgres", "--auth=trust",
                     "--locale=C", "-E", "UTF8", "--no-sync", "--no-instructions"},
                    dir_->path(), log_path_, uid_, gid_);
  if (pid < 0) {
    error_ = "fork failed";
    return false;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error_ = "initdb failed: " + LogText();
    return false;
  }
  initialised_ = true;
  return true;
}

bool PostgresServer::StartOn(uint16_t port) {
  pid_ = Spawn({BinDir() + "/postgres", "-D", data_dir_, "-p", std::to_string(port), "-c",
                "listen_addresses=127.0.0.1", "-k", dir_->path()},
               dir_->path(), log_path_, uid_, gid_);
  if (pid_ < 0) {
    error_ = "fork failed";
    return false;
  }
  port_ = port;
  const std::string conninfo = Url() + "?connect_timeout=2";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(conninfo.c_str()) == PQPING_OK) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {  // e.g. the port was taken meanwhile
      pid_ = -1;
      error_ = "postgres exited: " + LogText();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  error_ = "postgres did not accept connections within 30 s: " + LogText();
  Stop();
  return false;
}

bool PostgresServer::Start() {
  if (running()) return true;
  if (!error_.empty()) return false;
  if (access((BinDir() + "/postgres").c_str(), X_OK) != 0) {
    error_ = BinDir() + "/postgres is missing (install postgresql-15)";
    return false;
  }
  if (!InitDb()) return false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    uint16_t port = FreeLoopbackPort();
    if (port != 0 && StartOn(port)) {
      error_.clear();
      return true;
    }
  }
  return false;
}

void PostgresServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);  // fast shutdown: ends sessions, checkpoints, exits
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string PostgresServer::dir() const { return dir_->path(); }

std::string PostgresServer::Url(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PostgresServer::Query(const std::string& db, const std::string& sql) {
  PGconn* conn = PQconnectdb(Url(db).c_str());
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    error_ = PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK) {
      if (PQntuples(res) > 0 && PQnfields(res) > 0) out = PQgetvalue(res, 0, 0);
    } else if (st != PGRES_COMMAND_OK) {
      error_ = PQresultErrorMessage(res);
    }
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

std::string PostgresServer::CreateDatabase(const std::string& name) {
  error_.clear();
  Query("postgres", "CREATE DATABASE \"" + name + "\"");
  return error_.empty() ? Url(name) : "";
}

std::string PostgresServer::LogText() const {
  try {
    return ReadFile(log_path_);
  } catch (const std::exception&) {
    return "";
  }
}

PostgresServer* PostgresSuite::pg_ = nullptr;

void PostgresSuite::SetUpTestSuite() {
  pg_ = new PostgresServer();
  ASSERT_TRUE(pg_->Start()) << pg_->Error();
}

void PostgresSuite::TearDownTestSuite() {
  delete pg_;
  pg_ = nullptr;
}

void PostgresSuite::MakeDatabase(const std::string& prefix) {
  static int n = 0;
  ASSERT_NE(pg_, nullptr);
  db_ = prefix + "_" + std::to_string(++n);
  url_ = pg_->CreateDatabase(db_);
  ASSERT_FALSE(url_.empty()) << pg_->Error();
}

}  // namespace engram::testing
