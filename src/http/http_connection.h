// HttpConnection: a blocking HTTP/1.1 client over one keep-alive connection
// (Boost.Beast). For Engram's own tools and tests: the load generator,
// `engram simulate`, integration tests. Reconnects when the server closed the
// connection. Not thread-safe: one per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace engram::http {

struct ClientResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class HttpConnection {
 public:
  HttpConnection(std::string host, uint16_t port,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(30'000));
  ~HttpConnection();

  // Sends one request and reads the response. IOError/Unavailable on network
  // failures (the request may or may not have been processed).
  Result<ClientResponse> Send(const std::string& method, const std::string& target,
                              const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers = {});
  void Close();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Splits "http://host:port" into host and port. InvalidArgument otherwise.
Result<std::pair<std::string, uint16_t>> ParseHttpUrl(const std::string& url);

}  // namespace engram::http
