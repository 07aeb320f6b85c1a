#include "http/server.h"

#include <fcntl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "http/connection_cap.h"

namespace engram::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

namespace {

// Accept errors back off from kMinBackoff, doubling up to kMaxBackoff, so an
// exhausted descriptor table costs a few wake-ups a second, not a spinning core.
constexpr milliseconds kMinBackoff{1};
constexpr milliseconds kMaxBackoff{1000};
// Warnings a client can trigger at line rate are written at most this often.
constexpr std::chrono::seconds kWarnEvery{10};
// A reserve slot serves one GET /healthz; an idle client may not sit on it.
constexpr milliseconds kReserveTimeout{1000};

// Rate limit for one kind of warning; used only from the accept chain.
class ThrottledWarning {
 public:
  // True when a line may be written now; *held_back gets how many were
  // suppressed since the last one.
  bool Due(uint64_t* held_back) {
    const auto now = std::chrono::steady_clock::now();
    if (written_ && now - last_ < kWarnEvery) {
      ++suppressed_;
      return false;
    }
    *held_back = suppressed_;
    suppressed_ = 0;
    last_ = now;
    written_ = true;
    return true;
  }

 private:
  std::chrono::steady_clock::time_point last_{};
  uint64_t suppressed_ = 0;
  bool written_ = false;
};

// A 503 written straight to a socket that will get no session, which the
// caller then closes: one non-blocking send into an empty socket buffer, so
// it never waits.
void SendCanned503(int fd, std::string_view why) {
  const std::string body = "{\"error\":\"" + std::string(why) + "\"}";
  const std::string response =
      "HTTP/1.1 503 Service Unavailable\r\nServer: engram\r\nContent-Type: application/json\r\n"
      "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ssize_t sent = ::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)sent;
  // Closing with the request still unread would send a reset, which may
  // destroy the 503 before the client reads it: read what has arrived.
  ::shutdown(fd, SHUT_WR);
  char discard[4096];
  for (int i = 0; i < 4 && ::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0; ++i) {
  }
}

}  // namespace

struct HttpServer::Impl {
  // Counters come first: sessions still queued in `ioc` when it is destroyed
  // update them from their destructors.
  std::atomic<uint64_t> normal_open{0};
  std::atomic<uint64_t> reserve_open{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> accept_errors{0};
  std::atomic<uint64_t> inflight_body{0};
  std::atomic<uint64_t> budget_refusals{0};
  size_t max_connections = 0;  // effective, set by Start()

  ServerOptions options;
  RequestHandler handler;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_timer{ioc};
  milliseconds accept_backoff{0};
  // Kept open on /dev/null and given back when accept() runs out of
  // descriptors, so the pending connection can be told 503 and closed.
  int spare_fd = -1;
  ThrottledWarning accept_warning;
  ThrottledWarning refuse_warning;
  asio::thread_pool handlers;
  std::vector<std::thread> io_threads;
  std::atomic<int> in_flight{0};
  // Requests taken by the async handler whose session another thread may
  // still hold (a completion queued in the log): Stop waits for them, or
  // they would post to an executor that is gone.
  std::atomic<int> async_held{0};
  std::atomic<bool> stopping{false};
  uint16_t bound_port = 0;

  Impl(ServerOptions o, RequestHandler h)
      : options(std::move(o)), handler(std::move(h)), handlers(options.handler_threads) {}
  ~Impl() {
    if (spare_fd >= 0) ::close(spare_fd);
  }

  void Accept();
  void OnAcceptError(const beast::error_code& ec);
  void Admit(tcp::socket socket);
  // Answers the connection at the head of the backlog with 503 through the
  // spare descriptor; false when there was none to take.
  bool ShedOnePending();

  // Takes `n` bytes from the body budget; false when they do not fit.
  bool ReserveBody(uint64_t n) {
    const uint64_t budget = options.max_inflight_body_bytes;
    if (budget == 0) return true;
    uint64_t cur = inflight_body.load();
    do {
      if (n > budget || cur > budget - n) return false;
    } while (!inflight_body.compare_exchange_weak(cur, cur + n));
    return true;
  }
  void ReleaseBody(uint64_t n) {
    if (options.max_inflight_body_bytes != 0) inflight_body -= n;
  }
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // The caller has counted this connection in normal_open or reserve_open.
  Session(tcp::socket socket, HttpServer::Impl& server, bool reserve)
      : stream_(std::move(socket)),
        server_(server),
        reserve_(reserve),
        buffer_(server.options.header_limit + kReadSlackBytes) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }
  ~Session() {
    ReleaseBody();
    (reserve_ ? server_.reserve_open : server_.normal_open)--;
  }

  void Run() { ReadHeader(); }

 private:
  void ReadHeader() {
    if (server_.stopping) return Close();
    parser_.emplace();
    parser_->header_limit(server_.options.header_limit);
    parser_->body_limit(server_.options.body_limit);
    body_limit_ = server_.options.body_limit;
    stream_.expires_after(reserve_ ? std::min(server_.options.read_timeout, kReserveTimeout)
                                   : server_.options.read_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    auto& req = parser_->get();
    version_ = req.version();
    head_ = HttpRequest{};
    head_.method = std::string(req.method_string());
    head_.target = std::string(req.target());
    for (const auto& field : req) {
      head_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    head_.remote_address = remote_;
    if (reserve_ && !(head_.method == "GET" && head_.Path() == "/healthz")) {
      return Early(HttpResponse::Json(
          503, {{"error", "connection limit reached: only GET /healthz is served"}}));
    }
    uint64_t limit = server_.options.body_limit;
    if (server_.options.on_header) {
      HeaderDecision decision;
      try {
        decision = server_.options.on_header(head_);
      } catch (const std::exception& e) {
        spdlog::error("header hook threw: {}", e.what());
        return Early(HttpResponse::Json(500, {{"error", "internal error"}}));
      }
      if (decision.reject) return Early(std::move(*decision.reject));
      if (decision.body_limit != 0) limit = std::min(limit, decision.body_limit);
    }
    parser_->body_limit(limit);
    body_limit_ = limit;
    const auto length = parser_->content_length();
    if (length && *length > limit) return Early(TooLarge(limit));
    // A chunked body may grow to the limit, so that is what it reserves.
    const uint64_t want = length ? *length : (parser_->chunked() ? limit : 0);
    if (want != 0) {
      if (!server_.ReserveBody(want)) {
        server_.budget_refusals++;
        HttpResponse busy =
            HttpResponse::Json(503, {{"error", "too many request bodies in flight; retry later"}});
        busy.headers.emplace_back("Retry-After", "1");
        return Early(std::move(busy));
      }
      reserved_ = want;
    }
    if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
      // Large uploaders (curl, ElevenLabs' audio) wait for this before the body.
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       req.version());
      bhttp::async_write(stream_, *cont,
                         [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                           if (ec) return self->Close();
                           self->ReadBody();
                         });
      return;
    }
    ReadBody();
  }

  // Answers from the head alone and closes: the body, if any, is never read.
  void Early(HttpResponse response) {
    if (server_.options.on_response) server_.options.on_response(head_, response, 0.0);
    Reply(std::move(response), /*close=*/true);
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->OnReadError(ec);
                        self->Dispatch();
                      });
  }

  void OnReadError(beast::error_code ec) {
    ReleaseBody();
    if (ec == bhttp::error::body_limit) return Reply(TooLarge(body_limit_), true);
    if (ec == bhttp::error::header_limit) {
      return Reply(HttpResponse::Json(431, {{"error", "request headers too large"}}), true);
    }
    if (ec == bhttp::error::buffer_overflow) {
      return Reply(HttpResponse::Json(400, {{"error",
                                             "a request line, chunk header or trailer "
                                             "is too long"}}),
                   true);
    }
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    // Anything else is a malformed request.
    Reply(HttpResponse::Json(400, {{"error", "malformed HTTP request: " + ec.message()}}), true);
  }

  static HttpResponse TooLarge(uint64_t limit) {
    return HttpResponse::Json(
        413, {{"error", "body exceeds the limit of " + std::to_string(limit) + " bytes"}});
  }

  void ReleaseBody() {
    if (reserved_ == 0) return;
    server_.ReleaseBody(reserved_);
    reserved_ = 0;
  }

  void Dispatch() {
    auto msg = parser_->release();
    // A reserve slot serves one probe, then frees itself.
    keep_alive_ = msg.keep_alive() && !reserve_;
    auto request = std::make_shared<HttpRequest>(std::move(head_));
    request->body = std::move(msg.body());
    server_.in_flight++;
    const auto read_done = std::chrono::steady_clock::now();
    if (server_.options.async_handler && StartAsync(request, read_done)) return;
    // The handler may block; run it off the io threads, then come back to
    // this connection's executor to write.
    asio::post(server_.handlers, [self = shared_from_this(), request, read_done] {
      HttpResponse response;
      try {
        response = self->server_.handler(*request);
      } catch (const std::exception& e) {
        spdlog::error("handler threw: {}", e.what());
        response = HttpResponse::Json(500, {{"error", "internal error"}});
      }
      self->Finish(request, std::move(response), read_done, self);
    });
  }

  // Holds the session of a request the async handler took, for as long as
  // any thread holds its responder; counted in async_held. The session is
  // released before the count drops, so Stop outlives its destructor.
  struct AsyncHold {
    explicit AsyncHold(std::shared_ptr<Session> s) : session(std::move(s)) {
      session->server_.async_held++;
    }
    ~AsyncHold() {
      HttpServer::Impl& server = session->server_;
      session.reset();
      server.async_held--;
    }
    std::shared_ptr<Session> session;
    std::atomic<bool> answered{false};
  };

  // Offers the request to the async handler; false when it declined.
  bool StartAsync(const std::shared_ptr<HttpRequest>& request,
                  std::chrono::steady_clock::time_point read_done) {
    auto hold = std::make_shared<AsyncHold>(shared_from_this());
    const auto strand = stream_.get_executor();
    AsyncResponder responder;
    responder.resume = [hold, strand](std::function<void()> work) {
      asio::post(strand, [hold, work = std::move(work)] { work(); });
    };
    responder.run_blocking = [hold](std::function<void()> work) {
      asio::post(hold->session->server_.handlers, [hold, work = std::move(work)] { work(); });
    };
    responder.respond = [hold, request, read_done](HttpResponse response) {
      if (hold->answered.exchange(true)) return;
      hold->session->Finish(request, std::move(response), read_done, hold);
    };
    try {
      return server_.options.async_handler(request, responder);
    } catch (const std::exception& e) {
      spdlog::error("async handler threw: {}", e.what());
      responder.respond(HttpResponse::Json(500, {{"error", "internal error"}}));
      return true;
    }
  }

  // Records and writes the answer to `request`, on this connection's
  // executor; callable from any thread. `keep` (the session or its hold)
  // stays alive until the write has started.
  void Finish(const std::shared_ptr<const HttpRequest>& request, HttpResponse response,
              std::chrono::steady_clock::time_point read_done, std::shared_ptr<void> keep) {
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - read_done)
            .count();
    asio::post(stream_.get_executor(), [this, keep = std::move(keep), request, ms,
                                        response = std::move(response)]() mutable {
      if (server_.options.on_response) server_.options.on_response(*request, response, ms);
      server_.in_flight--;
      ReleaseBody();
      Reply(std::move(response), !keep_alive_);
    });
  }

  void Reply(HttpResponse response, bool close) {
    if (response.delay.count() > 0) {
      // Throttled: wait on a timer, not on a thread.
      auto timer = std::make_shared<asio::steady_timer>(stream_.get_executor(), response.delay);
      response.delay = milliseconds(0);
      timer->async_wait(
          [self = shared_from_this(), timer, response = std::move(response),
           close](beast::error_code) mutable { self->Reply(std::move(response), close); });
      return;
    }
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), version_ ? version_ : 11);
    res->set(bhttp::field::server, "engram");
    res->set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res->set(name, value);
    res->body() = std::move(response.body);
    res->keep_alive(!(close || server_.stopping));
    res->prepare_payload();
    stream_.expires_after(server_.options.read_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, size_t) {
                         if (ec || !res->keep_alive()) return self->Close();
                         self->ReadHeader();
                       });
  }

  // A lingering close: stop sending, then read and discard what the client
  // is still sending (at most kDrainBytes, for at most kDrainTime) before
  // closing. Closing with unread bytes makes the kernel reset the connection,
  // and a reset can destroy an answer the client has not read yet: a 401 or
  // 413 sent from the head while the client was still sending its body.
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return stream_.close();
    stream_.expires_after(kDrainTime);
    Drain(0);
  }

  void Drain(size_t drained) {
    if (drained >= kDrainBytes) return stream_.close();
    stream_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this(), drained](beast::error_code ec, size_t n) {
                              if (ec) return self->stream_.close();
                              self->Drain(drained + n);
                            });
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  const bool reserve_;
  // Bounded: Beast buffers a line until it ends (a chunk size with its
  // extensions, a trailer), and the body limit counts only chunk data, so an
  // endless line would otherwise grow without limit. Body bytes move from
  // here into the body as they are parsed.
  static constexpr size_t kReadSlackBytes = 64u << 10;
  beast::flat_buffer buffer_;
  static constexpr size_t kDrainBytes = 1u << 20;
  static constexpr std::chrono::milliseconds kDrainTime{1000};
  std::array<char, 16 << 10> drain_buffer_{};
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  HttpRequest head_;         // the request being read, without its body
  uint64_t body_limit_ = 0;  // of the request being read
  uint64_t reserved_ = 0;    // body bytes taken from the budget
  std::string remote_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping || ec == asio::error::operation_aborted) return;
    if (ec) return OnAcceptError(ec);
    accept_backoff = milliseconds(0);
    Admit(std::move(socket));
    Accept();
  });
}

void HttpServer::Impl::OnAcceptError(const beast::error_code& ec) {
  accept_errors++;
  // Out of descriptors the pending connection stays in the backlog and the
  // listening socket stays readable: accepting again at once would spin.
  // Shedding takes the pending connection off the backlog, so accepting
  // again at once makes progress (each round answers one client); without it
  // only waiting helps.
  const bool shed = (ec == asio::error::no_descriptors || ec.value() == ENFILE) && ShedOnePending();
  accept_backoff =
      shed ? milliseconds(0) : std::clamp(accept_backoff * 2, kMinBackoff, kMaxBackoff);
  if (uint64_t held_back = 0; accept_warning.Due(&held_back)) {
    spdlog::warn("accept failed: {} ({} more in the last {} s)", ec.message(), held_back,
                 kWarnEvery.count());
  }
  if (shed) return Accept();
  accept_timer.expires_after(accept_backoff);
  accept_timer.async_wait([this](beast::error_code wait_ec) {
    if (wait_ec || stopping) return;
    Accept();
  });
}

bool HttpServer::Impl::ShedOnePending() {
  if (spare_fd < 0) spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (spare_fd < 0) return false;
  ::close(spare_fd);
  spare_fd = -1;
  const int fd =
      ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    SendCanned503(fd, "out of file descriptors");
    ::close(fd);
    refused++;
  }
  spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd >= 0;
}

void HttpServer::Impl::Admit(tcp::socket socket) {
  // Only this accept chain adds connections; sessions ending elsewhere only
  // lower the counts, so a check here cannot be overtaken.
  if (normal_open.load() < max_connections) {
    normal_open++;
    std::make_shared<Session>(std::move(socket), *this, /*reserve=*/false)->Run();
    return;
  }
  if (reserve_open.load() < options.reserve_connections) {
    reserve_open++;
    std::make_shared<Session>(std::move(socket), *this, /*reserve=*/true)->Run();
    return;
  }
  SendCanned503(socket.native_handle(), "too many connections");
  beast::error_code ignored;
  socket.close(ignored);
  refused++;
  if (uint64_t held_back = 0; refuse_warning.Due(&held_back)) {
    spdlog::warn(
        "connection limit of {} (+{} reserve) reached: refusing new connections ({} more refused "
        "in the last {} s)",
        max_connections, options.reserve_connections, held_back, kWarnEvery.count());
  }
}

HttpServer::HttpServer(ServerOptions options, RequestHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(0)); }

Status HttpServer::Start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + impl_->options.host);
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + impl_->options.host + ":" +
                           std::to_string(impl_->options.port) + ": " + ec.message());
  }
  impl_->bound_port = acceptor.local_endpoint().port();
  impl_->spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  impl_->max_connections = EffectiveMaxConnections(impl_->options);
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->Accept();
  for (int i = 0; i < std::max(1, impl_->options.io_threads); ++i) {
    impl_->io_threads.emplace_back([this] {
      // Named for profiles (perf report --sort comm) and top -H.
      pthread_setname_np(pthread_self(), "http-io");
      impl_->ioc.run();
    });
  }
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

ServerStats HttpServer::stats() const {
  ServerStats s;
  s.open_connections = impl_->normal_open.load() + impl_->reserve_open.load();
  s.refused_connections = impl_->refused.load();
  s.accept_errors = impl_->accept_errors.load();
  s.inflight_body_bytes = impl_->inflight_body.load();
  s.body_budget_refusals = impl_->budget_refusals.load();
  s.effective_max_connections = impl_->max_connections;
  return s;
}

void HttpServer::Stop(std::chrono::milliseconds grace) {
  if (impl_->io_threads.empty()) return;
  impl_->stopping = true;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->accept_timer.cancel();
  });
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Past the grace too: a completion still held by the log would post to
  // this io_context after it is gone. An append always completes (the
  // writer answers every queued one, JetStream within its deadline).
  for (int waited_ms = 0; impl_->async_held > 0; waited_ms += 5) {
    if (waited_ms % 5000 == 0 && waited_ms > 0) {
      spdlog::warn("stopping: {} request(s) still wait for the log", impl_->async_held.load());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->io_threads) t.join();
  impl_->io_threads.clear();
  impl_->handlers.join();
}

}  // namespace engram::http
