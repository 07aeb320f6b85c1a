// Real nats-server processes for tests: JetStream on, file storage in a
// folder of their own, listening on 127.0.0.1 only. NatsCluster routes
// three of them into one JetStream cluster (for streams with 3 replicas).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace engram::testing {

// Skips the test when nats-server is not installed (tools/setup.sh installs it).
#define ENGRAM_REQUIRE_NATS_SERVER()                                                  \
  if (::engram::testing::NatsServer::Binary().empty())                                \
  GTEST_SKIP() << "nats-server is not installed (tools/setup.sh installs Debian's); " \
                  "the JetStream tests need it"

// A port nothing listens on now (bound to 127.0.0.1:0 and closed again).
uint16_t FreeLoopbackPort();

class NatsServer {
 public:
  struct Options {
    std::string name = "n1";
    // Cluster mode when cluster_port != 0: routes name every member's
    // cluster port (its own included; nats-server ignores that one).
    std::string cluster_name;
    uint16_t cluster_port = 0;
    std::vector<uint16_t> routes;
  };

  // ENGRAM_NATS_SERVER, else /usr/sbin/nats-server or nats-server on PATH;
  // "" when there is none.
  static std::string Binary();

  // `dir` holds its store (dir/store) and log (dir/server.log); the client
  // port is picked once and kept across restarts.
  NatsServer(std::string dir, Options options);
  ~NatsServer();  // SIGKILLs a running server
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // Starts (or restarts, on the same ports and store) and waits until it
  // accepts connections. False, with the log kept, when it did not.
  bool Start();
  void Kill9();
  bool running() const { return pid_ > 0; }
  std::string url() const;  // nats://127.0.0.1:PORT
  uint16_t port() const { return port_; }
  std::string LogText() const;

 private:
  std::string dir_;
  Options options_;
  uint16_t port_ = 0;
  int pid_ = -1;
};

class NatsCluster {
 public:
  explicit NatsCluster(const std::string& dir, int size = 3);
  // Starts every member; true when all accept connections.
  bool Start();
  NatsServer& node(size_t i) { return *nodes_[i]; }
  size_t size() const { return nodes_.size(); }
  std::vector<std::string> urls() const;
  std::string url_list() const;  // comma-separated, as --log takes it

 private:
  std::vector<std::unique_ptr<NatsServer>> nodes_;
};

}  // namespace engram::testing
