#include "http/server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <thread>
#include <vector>

namespace engram::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  ServerOptions options;
  RequestHandler handler;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  asio::thread_pool handlers;
  std::vector<std::thread> io_threads;
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};
  uint16_t bound_port = 0;

  Impl(ServerOptions o, RequestHandler h)
      : options(std::move(o)), handler(std::move(h)), handlers(options.handler_threads) {}

  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }

  void Run() { ReadHeader(); }

 private:
  void ReadHeader() {
    if (server_.stopping) return Close();
    parser_.emplace();
    parser_->header_limit(server_.options.header_limit);
    parser_->body_limit(server_.options.body_limit);
    stream_.expires_after(server_.options.read_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    auto& req = parser_->get();
    if (auto len = parser_->content_length(); len && *len > server_.options.body_limit) {
      return Reply(TooLarge(), /*close=*/true);
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

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->OnReadError(ec);
                        self->Dispatch();
                      });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return Reply(TooLarge(), true);
    if (ec == bhttp::error::header_limit) {
      return Reply(HttpResponse::Json(431, {{"error", "request headers too large"}}), true);
    }
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    // Anything else is a malformed request.
    Reply(HttpResponse::Json(400, {{"error", "malformed HTTP request: " + ec.message()}}), true);
  }

  HttpResponse TooLarge() const {
    return HttpResponse::Json(
        413, {{"error", "body exceeds the limit of " + std::to_string(server_.options.body_limit) +
                            " bytes"}});
  }

  void Dispatch() {
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    auto request = std::make_shared<HttpRequest>();
    request->method = std::string(msg.method_string());
    request->target = std::string(msg.target());
    for (const auto& field : msg) {
      request->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request->body = std::move(msg.body());
    request->remote_address = remote_;
    server_.in_flight++;
    // The handler may block; run it off the io threads, then come back to
    // this connection's executor to write.
    const auto read_done = std::chrono::steady_clock::now();
    asio::post(server_.handlers, [self = shared_from_this(), request, read_done] {
      HttpResponse response;
      try {
        response = self->server_.handler(*request);
      } catch (const std::exception& e) {
        spdlog::error("handler threw: {}", e.what());
        response = HttpResponse::Json(500, {{"error", "internal error"}});
      }
      if (self->server_.options.on_response) {
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - read_done)
                .count();
        self->server_.options.on_response(*request, response, ms);
      }
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->server_.in_flight--;
        self->Reply(std::move(response), !self->keep_alive_);
      });
    });
  }

  void Reply(HttpResponse response, bool close) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), version_ ? version_ : 11);
    res->set(bhttp::field::server, "engram");
    res->set(bhttp::field::content_type, response.content_type);
    res->body() = std::move(response.body);
    if (close || server_.stopping)
      res->keep_alive(false);
    else
      res->keep_alive(true);
    res->prepare_payload();
    stream_.expires_after(server_.options.read_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, size_t) {
                         if (ec || !res->keep_alive()) return self->Close();
                         self->ReadHeader();
                       });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remote_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping) return;
      // Out of file descriptors and the like: log, back off, keep accepting.
      spdlog::warn("accept failed: {}", ec.message());
    } else {
      std::make_shared<Session>(std::move(socket), *this)->Run();
    }
    if (!stopping) Accept();
  });
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
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->Accept();
  for (int i = 0; i < std::max(1, impl_->options.io_threads); ++i) {
    impl_->io_threads.emplace_back([this] { impl_->ioc.run(); });
  }
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

void HttpServer::Stop(std::chrono::milliseconds grace) {
  if (impl_->io_threads.empty()) return;
  impl_->stopping = true;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->io_threads) t.join();
  impl_->io_threads.clear();
  impl_->handlers.join();
}

}  // namespace engram::http
