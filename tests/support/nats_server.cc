#include "nats_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace engram::testing {
namespace {

bool Accepts(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

uint16_t FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string NatsServer::Binary() {
  if (const char* env = std::getenv("ENGRAM_NATS_SERVER"); env && *env) {
    return ::access(env, X_OK) == 0 ? env : "";
  }
  for (const char* path :
       {"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

NatsServer::NatsServer(std::string dir, Options options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  std::filesystem::create_directories(dir_ + "/store");
}

NatsServer::~NatsServer() { Kill9(); }

std::string NatsServer::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

std::string NatsServer::LogText() const {
  std::ifstream in(dir_ + "/server.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool NatsServer::Start() {
  if (pid_ > 0) return true;
  const std::string binary = Binary();
  if (binary.empty()) return false;
  if (port_ == 0) port_ = FreeLoopbackPort();
  std::vector<std::string> args = {
      binary,          "-a", "127.0.0.1",   "-p", std::to_string(port_), "-js", "-sd",
      dir_ + "/store", "-n", options_.name, "-l", dir_ + "/server.log"};
  if (options_.cluster_port != 0) {
    std::string routes;
    for (uint16_t r : options_.routes) {
      routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(r);
    }
    args.insert(args.end(),
                {"--cluster", "nats://127.0.0.1:" + std::to_string(options_.cluster_port),
                 "--cluster_name", options_.cluster_name, "--routes", routes});
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    const std::string out = dir_ + "/stdout.log";
    FILE* f = std::freopen(out.c_str(), "a", stdout);
    (void)f;
    ::dup2(::fileno(stdout), ::fileno(stderr));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (pid_ < 0) return false;
  for (int i = 0; i < 200; ++i) {  // 10 s
    if (Accepts(port_)) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void NatsServer::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

NatsCluster::NatsCluster(const std::string& dir, int size) {
  std::vector<uint16_t> cluster_ports;
  for (int i = 0; i < size; ++i) cluster_ports.push_back(FreeLoopbackPort());
  for (int i = 0; i < size; ++i) {
    NatsServer::Options o;
    o.name = std::string("n").append(std::to_string(i + 1));  // not "n" + ...: GCC 12 -Wrestrict
    o.cluster_name = "engram_test";
    o.cluster_port = cluster_ports[i];
    o.routes = cluster_ports;
    nodes_.push_back(std::make_unique<NatsServer>(dir + "/" + o.name, o));
  }
}

bool NatsCluster::Start() {
  bool ok = true;
  for (auto& n : nodes_) ok = n->Start() && ok;
  return ok;
}

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) out.push_back(n->url());
  return out;
}

std::string NatsCluster::url_list() const {
  std::string out;
  for (const auto& u : urls()) out += (out.empty() ? "" : ",") + u;
  return out;
}

}  // namespace engram::testing
