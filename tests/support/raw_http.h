// Raw client sockets for tests that must control what a client sends and
// when: a request head without its body, idle connections, a chosen source
// address. Header-only; Linux.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace engram::testing {

// A connected TCP socket to 127.0.0.1:port from `source` (any loopback
// address), or -1.
inline int ConnectTo(uint16_t port, const char* source = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// False when the peer closed or reset the connection first.
inline bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// One response: read until its Content-Length is complete, the peer closes,
// or `timeout` passes. "" when nothing came.
inline std::string ReadResponse(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string in;
  char buf[4096];
  for (;;) {
    const auto head_end = in.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t length = 0;
      const auto at = in.find("Content-Length: ");
      if (at != std::string::npos && at < head_end) length = std::stoul(in.substr(at + 16));
      if (in.size() >= head_end + 4 + length) return in;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return in;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return in;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return in;
    in.append(buf, static_cast<size_t>(n));
  }
}

// The status code of a raw response, 0 when there is none.
inline int StatusOf(const std::string& response) {
  if (!response.starts_with("HTTP/1.")) return 0;
  return std::atoi(response.c_str() + 9);
}

// Sends `request` on a new connection from `source` and reads the answer;
// its status, 0 when none came within `timeout`.
inline int Exchange(uint16_t port, const std::string& request,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                    const char* source = "127.0.0.1", std::string* response = nullptr) {
  const int fd = ConnectTo(port, source);
  if (fd < 0) return 0;
  SendAll(fd, request);
  std::string got = ReadResponse(fd, timeout);
  close(fd);
  if (response) *response = got;
  return StatusOf(got);
}

// User plus system CPU time of process `pid`, in seconds.
inline double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  // After "pid (comm) ", fields start at 3 (state); utime and stime are 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A "VmRSS:"-style line of /proc/PID/status, in KiB.
inline uint64_t ProcStatusKiB(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key + ":")) return std::stoull(line.substr(key.size() + 1));
  }
  return 0;
}

}  // namespace engram::testing
