#include "console/console.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/json_guard.h"
#include "console/api.h"
#include "http/auth_throttle.h"
#include "http/credentials.h"
#include "http/path_decode.h"
#include "http/telemetry.h"
#include "log/chain_verify.h"
#include "log/event_log.h"
#include "projections/projector_runner.h"
#include "replay/audit.h"

namespace engram::console {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using nlohmann::json;

constexpr char kCookieName[] = "engram_console";
constexpr char kCookiePath[] = "/console/";
constexpr char kApiPrefix[] = "/console/api/";
constexpr char kAssetsPrefix[] = "/console/assets/";
// Path segments and query parameters an API request may have: far above
// the contract's deepest path (3) and widest query (2).
constexpr size_t kMaxSegments = 8;
constexpr size_t kMaxParams = 16;

// Every /console answer: no inline script or style, nothing from elsewhere,
// never framed, no referrer leaking an id in a URL.
const std::vector<std::pair<std::string, std::string>>& SecurityHeaders() {
  static const std::vector<std::pair<std::string, std::string>> kHeaders = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  };
  return kHeaders;
}

HttpResponse Error(int status, const std::string& message) {
  return HttpResponse::Json(status, {{"error", message}});
}

// The value of cookie `name` in the Cookie header, or "".
std::string CookieValue(const HttpRequest& request, std::string_view name) {
  const std::string header = request.Header("Cookie");
  std::string_view rest = header;
  while (!rest.empty()) {
    const size_t end = rest.find(';');
    std::string_view pair = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return std::string(pair.substr(name.size() + 1));
    }
  }
  return "";
}

// A request the browser sent from another site's page: its Origin names
// another host than the one it was sent to (Host, or X-Forwarded-Host from a
// proxy that rewrites Host). A page elsewhere cannot forge either: a custom
// header makes the browser ask first (CORS preflight), which is never allowed.
bool ForeignOrigin(const HttpRequest& request) {
  const std::string origin = request.Header("Origin");
  if (origin.empty()) return false;
  for (const char* header : {"Host", "X-Forwarded-Host"}) {
    const std::string host = request.Header(header);
    if (!host.empty() && (origin == "http://" + host || origin == "https://" + host)) return false;
  }
  return true;
}

Result<std::vector<std::string>> SplitSegments(std::string_view rest) {
  std::vector<std::string> out;
  if (rest.empty()) return out;
  for (;;) {
    const size_t slash = rest.find('/');
    if (out.size() >= kMaxSegments) return Status::NotFound("no such console API path");
    ENGRAM_ASSIGN_OR_RETURN(std::string s, http::DecodePathSegment(rest.substr(0, slash), "path"));
    out.push_back(std::move(s));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseParams(std::string_view target) {
  std::map<std::string, std::string> out;
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  size_t count = 0;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string pair(rest.substr(0, amp));
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    if (++count > kMaxParams) return Status::InvalidArgument("too many query parameters");
    for (char& c : pair) {
      if (c == '+') c = ' ';
    }
    const size_t eq = pair.find('=');
    ENGRAM_ASSIGN_OR_RETURN(std::string key,
                            http::DecodePathSegment(pair.substr(0, eq), "query parameter"));
    std::string value;
    if (eq != std::string::npos) {
      ENGRAM_ASSIGN_OR_RETURN(value,
                              http::DecodePathSegment(pair.substr(eq + 1), "parameter " + key));
    }
    out.emplace(std::move(key), std::move(value));  // the first of a repeated name wins
  }
  return out;
}

}  // namespace

Console::Console(http::Services& services, ConsoleOptions options, ConsoleInputs inputs)
    : services_(services),
      options_(options),
      inputs_(std::move(inputs)),
      sessions_(options.session_minutes * 60 * 1'000'000, options.max_sessions),
      // 60 minutes of intervals, whatever their length.
      ring_(static_cast<size_t>(kHealthMaxMinutes * 60 / std::max(options.sample_secs, 1))) {}

Console::~Console() { Stop(); }

http::ConsoleHook Console::Hook() {
  http::ConsoleHook hook;
  hook.handle = [this](const HttpRequest& request) { return Handle(request); };
  hook.headers = SecurityHeaders();
  hook.body_limit = 16 * 1024;
  return hook;
}

void Console::Start() {
  std::lock_guard lock(stop_mu_);
  if (sampler_.joinable()) return;
  stop_ = false;
  sampler_ = std::thread([this] { SamplerLoop(); });
}

void Console::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

void Console::SamplerLoop() {
  std::unique_lock lock(stop_mu_);
  const auto every = std::chrono::seconds(std::max(options_.sample_secs, 1));
  while (!stop_cv_.wait_for(lock, every, [this] { return stop_; })) {
    lock.unlock();
    SampleNow();
    lock.lock();
  }
}

void Console::Observe(std::string_view route, double latency_ms) {
  ring_.Observe(route, latency_ms);
}

void Console::SampleNow() {
  int64_t lag = 0;
  if (services_.projector && services_.log) {
    const log::Seq head = services_.log->Head();
    const log::Seq applied = services_.projector->Applied();
    lag = head > applied ? static_cast<int64_t>(head - applied) : 0;
  }
  ring_.Close(services_.clock->NowMicros() / 1000, lag);
}

Result<json> Console::Verification() {
  std::lock_guard lock(verify_mu_);
  const int64_t now = services_.clock->NowMicros();
  if (verified_at_us_ != 0 && now - verified_at_us_ < kVerifyCacheSecs * 1'000'000) {
    return verified_;
  }
  const log::EventLog& stored = inputs_.stored_log ? *inputs_.stored_log : *services_.log;
  ENGRAM_ASSIGN_OR_RETURN(log::ChainReport report, log::VerifyChain(stored));
  // As `engram audit verify --json` says it.
  json out = replay::VerificationJson(report);
  verified_ = out;
  verified_at_us_ = now;
  return out;
}

HttpResponse Console::Handle(const HttpRequest& request) {
  const std::string_view path = request.Path();
  HttpResponse response;
  if (path.starts_with(kApiPrefix) || path == "/console/api") {
    try {
      response = HandleApi(request);
    } catch (const std::exception& e) {
      // A handler's bug must not take the server's thread down.
      spdlog::error("console: {} {}: {}", request.method, std::string(path), e.what());
      response = Error(500, "internal error");
    }
    response.headers.emplace_back("Cache-Control", "no-store");
  } else {
    response = HandleStatic(request);
  }
  for (const auto& header : SecurityHeaders()) response.headers.push_back(header);
  return response;
}

HttpResponse Console::HandleStatic(const HttpRequest& request) {
  const std::string_view path = request.Path();
  if (path == "/console") {
    HttpResponse moved = Error(308, "moved to /console/");
    moved.headers.emplace_back("Location", "/console/");
    return moved;
  }
  const StaticFile* file = nullptr;
  if (path == "/console/") {
    file = files_.Find("index.html");
  } else if (path.starts_with(kAssetsPrefix)) {
    const std::string_view name = path.substr(std::string_view(kAssetsPrefix).size());
    // The folder is flat: index.html is the page, not an asset.
    if (name.find('/') == std::string_view::npos && name != "index.html") file = files_.Find(name);
  }
  if (!file) return Error(404, "no route for " + std::string(path));
  if (request.method != "GET") {
    return Error(405, "method " + request.method + " not allowed on " + std::string(path));
  }
  HttpResponse response;
  response.headers.emplace_back("ETag", file->etag);
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.content_type = file->content_type;
  if (request.Header("If-None-Match") == file->etag) {
    response.status = 304;
    return response;
  }
  response.status = 200;
  response.body = std::string(file->body);
  return response;
}

HttpResponse Console::HandleApi(const HttpRequest& request) {
  if (ForeignOrigin(request)) return Error(403, "cross-origin request refused");
  const std::string_view path = request.Path();
  const std::string_view rest =
      path.size() > std::string_view(kApiPrefix).size() ? path.substr(std::strlen(kApiPrefix)) : "";
  auto segments = SplitSegments(rest);
  if (!segments.ok()) return http::ErrorResponse(segments.status());
  auto params = ParseParams(request.target);
  if (!params.ok()) return http::ErrorResponse(params.status());
  const int64_t now = services_.clock->NowMicros();
  const bool secure = options_.secure_cookie || request.Header("X-Forwarded-Proto") == "https";
  auto cookie_header = [&](const std::string& value, int64_t max_age) {
    return std::string(kCookieName) + "=" + value + "; Path=" + kCookiePath +
           "; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age) +
           (secure ? "; Secure" : "");
  };
  auto refuse = [&](HttpResponse response) {
    // Counted and slowed like every other failed authentication.
    http::NoteAuthFailure(services_.auth_throttle, request, &response);
    return response;
  };

  // Who is asking: the Bearer header when sent (then it must be right), else
  // the session cookie.
  const bool bearer_sent = !request.Header("Authorization").empty();
  bool bearer_ok = false;
  std::optional<Session> session;
  const std::string cookie = CookieValue(request, kCookieName);
  if (bearer_sent) {
    Status s = http::CheckBearerToken(request, services_.admin_token, "ENGRAM_ADMIN_TOKEN");
    if (!s.ok()) return refuse(http::ErrorResponse(s));
    bearer_ok = true;
  } else if (!cookie.empty()) {
    session = sessions_.Find(cookie, now);
  }
  const bool state_change = request.method != "GET";
  // The page's token, in a header a cross-site form cannot send.
  if (session && state_change &&
      !(segments->size() == 1 && (*segments)[0] == "session" && request.method == "POST")) {
    const std::string given = request.Header("X-CSRF-Token");
    if (given.empty() || !crypto::ConstantTimeEquals(given, session->csrf)) {
      return Error(403, "missing or wrong X-CSRF-Token");
    }
  }

  if (segments->size() == 1 && (*segments)[0] == "session") {
    if (request.method == "POST") {
      auto body = ParseJsonGuarded(request.body);
      if (!body.ok()) return http::ErrorResponse(body.status());
      if (!body->is_object() || !body->contains("token") || !(*body)["token"].is_string()) {
        return Error(400, R"(want {"token": "<admin token>"})");
      }
      const std::string& token = (*body)["token"].get_ref<const std::string&>();
      if (!crypto::ConstantTimeEquals(token, services_.admin_token)) {
        return refuse(Error(401, "wrong token"));
      }
      auto created = sessions_.Create(now);
      if (!created.ok()) return http::ErrorResponse(created.status());
      HttpResponse response = HttpResponse::Json(
          200, {{"csrf", created->session.csrf},
                {"expires_at", UtcSecondsText(created->session.expires_at_us / 1000)}});
      response.headers.emplace_back("Set-Cookie",
                                    cookie_header(created->cookie, sessions_.ttl_us() / 1'000'000));
      return response;
    }
    if (request.method == "GET") {
      if (session) {
        return HttpResponse::Json(200,
                                  {{"csrf", session->csrf},
                                   {"expires_at", UtcSecondsText(session->expires_at_us / 1000)}});
      }
      if (bearer_ok) return HttpResponse::Json(200, {{"csrf", nullptr}, {"expires_at", nullptr}});
      return Error(401, "sign in");
    }
    if (request.method == "DELETE") {
      if (!session && !bearer_ok) return Error(401, "sign in");
      if (session) sessions_.Remove(cookie);
      HttpResponse response{204, "", "application/json"};
      response.headers.emplace_back("Set-Cookie", cookie_header("", 0));
      return response;
    }
    return Error(405, "method " + request.method + " not allowed on " + std::string(path));
  }

  if (!session && !bearer_ok) return Error(401, "sign in");
  if (!services_.queries) return Error(503, "the read model is not open");

  ApiRequest api{request, std::move(*segments), std::move(*params)};
  ApiContext context{services_, inputs_, ring_, options_.sample_secs,
                     [this] { return Verification(); }};
  const std::vector<std::string>& s = api.segments;
  using Handler = ApiResult (*)(const ApiRequest&, ApiContext&);
  Handler handler = nullptr;
  std::string_view method;
  if (s.size() == 1 && s[0] == "callers") {
    handler = ListCallers, method = "GET";
  } else if (s.size() == 2 && s[0] == "callers" && !s[1].empty()) {
    handler = ReadCaller, method = "GET";
  } else if (s.size() == 3 && s[0] == "callers" && !s[1].empty() && s[2] == "query") {
    handler = QueryCaller, method = "POST";
  } else if (s.size() == 3 && s[0] == "callers" && !s[1].empty() && s[2] == "forget") {
    handler = ForgetCaller, method = "POST";
  } else if (s.size() == 2 && s[0] == "calls" && !s[1].empty()) {
    handler = ReadCall, method = "GET";
  } else if (s.size() == 2 && s[0] == "dead-letters" && s[1] == "retry") {
    handler = RetryDeadLetter, method = "POST";
  } else if (s.size() == 1 && s[0] == "audit") {
    handler = ReadAudit, method = "GET";
  } else if (s.size() == 1 && s[0] == "health") {
    handler = ReadHealth, method = "GET";
  }
  if (!handler) return Error(404, "no route for " + std::string(path));
  if (request.method != method) {
    return Error(405, "method " + request.method + " not allowed on " + std::string(path));
  }
  ApiResult result = handler(api, context);
  return result.ok() ? std::move(result).value() : http::ErrorResponse(result.status());
}

}  // namespace engram::console
