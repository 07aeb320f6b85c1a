// HttpServer: a Boost.Beast HTTP/1.1 server. Listener and sessions run on a
// small io_context pool; handlers run on a separate pool because they may
// block (an append waits for its fsync). Blocking an io thread would stall
// every connection it serves and defeat group commit.
//
// Each session owns its limits: a read timeout per request (so a slow or idle
// client cannot hold a connection forever), a header limit and a body limit
// on a fresh parser per request, keep-alive, and one request in flight per
// connection (no pipelining beyond what is buffered).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/request.h"

namespace engram::http {

using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;
// Called once per answered request with the time from the request being
// fully read to the response being ready (server-side latency).
using ResponseObserver =
    std::function<void(const HttpRequest&, const HttpResponse&, double latency_ms)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: pick a free port (tests)
  // post_call_audio bodies carry whole calls as base64 MP3 (tens of MB).
  uint64_t body_limit = 64ull << 20;
  uint32_t header_limit = 16u << 10;
  // Time allowed to receive one whole request, and to wait for the next one
  // on a kept-alive connection.
  std::chrono::milliseconds read_timeout{30'000};
  int io_threads = 2;
  // Requests handled at once. Appends block for their group commit, so this
  // bounds how many appends can share one fsync.
  int handler_threads = 64;
  ResponseObserver on_response;  // optional
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, RequestHandler handler);
  ~HttpServer();

  // Binds and starts serving. IOError when the address cannot be bound.
  Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // Stops accepting, lets in-flight requests finish (up to `grace`), then
  // closes every connection.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram::http
