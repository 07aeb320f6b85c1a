#include "http/http_connection.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

namespace engram::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct HttpConnection::Impl {
  std::string host;
  uint16_t port;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  Status Connect() {
    stream.emplace(ioc);
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return Status::IOError("resolve " + host + ": " + ec.message());
    stream->expires_after(timeout);
    stream->connect(results, ec);
    if (ec) {
      stream.reset();
      return Status::Unavailable("connect " + host + ":" + std::to_string(port) + ": " +
                                 ec.message());
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    return Status::Ok();
  }

  // Runs the io_context until `done` or the deadline set on the stream.
  Result<ClientResponse> Exchange(bhttp::request<bhttp::string_body>& req) {
    beast::error_code ec;
    // Synchronous calls on a tcp_stream ignore expires_after, so use the
    // async forms driven by run_for() to honour the timeout.
    stream->expires_after(timeout);
    bool wrote = false;
    bhttp::async_write(*stream, req, [&](beast::error_code e, size_t) {
      ec = e;
      wrote = true;
    });
    ioc.restart();
    ioc.run();
    if (!wrote || ec) return Status::IOError("send: " + (ec ? ec.message() : "timeout"));
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1ull << 30);
    bool read = false;
    bhttp::async_read(*stream, buffer, parser, [&](beast::error_code e, size_t) {
      ec = e;
      read = true;
    });
    ioc.restart();
    ioc.run();
    if (!read || ec) return Status::IOError("receive: " + (ec ? ec.message() : "timeout"));
    auto res = parser.release();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    for (const auto& f : res) {
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    if (!res.keep_alive()) stream.reset();
    return out;
  }
};

HttpConnection::HttpConnection(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpConnection::~HttpConnection() = default;

void HttpConnection::Close() { impl_->stream.reset(); }

Result<ClientResponse> HttpConnection::Send(
    const std::string& method, const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
  req.set(bhttp::field::host, impl_->host);
  req.set(bhttp::field::user_agent, "engram-client");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST") {
    if (req[bhttp::field::content_type].empty())
      req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(true);
  req.prepare_payload();
  // One retry on a stale kept-alive connection (the server closed it while idle).
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool fresh = !impl_->stream;
    if (fresh) ENGRAM_RETURN_IF_ERROR(impl_->Connect());
    auto r = impl_->Exchange(req);
    if (r.ok() || fresh) {
      if (!r.ok()) impl_->stream.reset();
      return r;
    }
    impl_->stream.reset();
  }
  return Status::IOError("request failed");
}

Result<std::pair<std::string, uint16_t>> ParseHttpUrl(const std::string& url) {
  std::string_view rest = url;
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  while (rest.ends_with('/')) rest.remove_suffix(1);
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return std::make_pair(std::string(rest), uint16_t{80});
  uint16_t port = 0;
  std::string_view digits = rest.substr(colon + 1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || p != digits.data() + digits.size()) {
    return Status::InvalidArgument("bad URL " + url + " (want http://host:port)");
  }
  return std::make_pair(std::string(rest.substr(0, colon)), port);
}

}  // namespace engram::http
