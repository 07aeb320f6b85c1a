// HttpServer: a Boost.Beast HTTP/1.1 server. Listener and sessions run on a
// small io_context pool. A request the async handler takes (the post-call
// route) is answered from its connection's io thread and holds no thread
// while its append waits for the fsync: the log's completion hands it back
// to the connection's executor. Other handlers run on a separate pool
// because they may block; blocking an io thread would stall every
// connection it serves and defeat group commit.
//
// Each session owns its limits: a read timeout per request (so a slow or idle
// client cannot hold a connection forever), a header limit and a body limit
// on a fresh parser per request, keep-alive, and one request in flight per
// connection (no pipelining beyond what is buffered).
//
// The server bounds what clients can make it hold: connections (a cap below
// RLIMIT_NOFILE, plus a few reserve slots that answer only GET /healthz),
// body bytes of requests in flight (a global budget), and, through the header
// hook, what an unauthenticated request may send at all. Accept errors (out of
// file descriptors) back off instead of spinning.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "http/request.h"

namespace engram::http {

using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;
// Called once per answered request with the time from the request being
// fully read to the response being ready (server-side latency).
using ResponseObserver =
    std::function<void(const HttpRequest&, const HttpResponse&, double latency_ms)>;

// What the header hook decides from a request's head (method, target,
// headers, remote address), before any of its body is read.
struct HeaderDecision {
  // Set: answer this at once with Connection: close; the body is never read.
  std::optional<HttpResponse> reject;
  // Largest body this request may send; 0: ServerOptions::body_limit. Never
  // raises the server-wide limit.
  uint64_t body_limit = 0;
};
// Runs on an io thread: must be quick and must not block.
using HeaderHook = std::function<HeaderDecision(const HttpRequest& head)>;

// Offered every request first, on its connection's io thread, so it must
// not block. True: it took the request and will call responder.respond
// once (from any thread). False: the request goes to the RequestHandler on
// the handler pool, and the responder is dropped unused.
using AsyncRequestHandler = std::function<bool(const std::shared_ptr<const HttpRequest>& request,
                                               const AsyncResponder& responder)>;

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
  // Requests handled at once by blocking handlers (the memory routes, the
  // admin routes: reads, embeddings, appends that wait for their fsync).
  // Requests the async handler takes hold no thread while they wait.
  int handler_threads = 64;
  ResponseObserver on_response;  // optional
  // Connections served at once. Start() lowers it to what RLIMIT_NOFILE
  // leaves after the descriptors already open and a headroom, and logs the
  // effective value. Beyond it a new connection gets a canned 503 and is
  // closed at once.
  size_t max_connections = 4096;
  // Extra slots beyond max_connections that answer only GET /healthz (and
  // close after one answer, or after a short timeout), so a probe still gets
  // through when the cap is reached.
  size_t reserve_connections = 4;
  // Body bytes that requests in flight may hold at once: each request
  // reserves its Content-Length (or, chunked, its body limit) when its head
  // arrives and releases it when answered. Beyond it: 503 with Retry-After.
  // 0: no budget.
  uint64_t max_inflight_body_bytes = 256ull << 20;
  HeaderHook on_header;               // optional: every request may send up to body_limit
  AsyncRequestHandler async_handler;  // optional: every request goes to the pool
};

// Counters for /metrics. Read at any time from any thread.
struct ServerStats {
  uint64_t open_connections = 0;         // reserve slots included
  uint64_t refused_connections = 0;      // over the cap, or accepted only to be closed
  uint64_t accept_errors = 0;            // accept() failures (EMFILE and the like)
  uint64_t inflight_body_bytes = 0;      // reserved from the body budget now
  uint64_t body_budget_refusals = 0;     // requests answered 503 for want of budget
  size_t effective_max_connections = 0;  // after Start()'s clamp
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
  ServerStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram::http
