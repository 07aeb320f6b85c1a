// The web console's door (issue 15): absent without ENGRAM_ADMIN_TOKEN, the
// static files with their security headers, sign-in with a cookie and a
// CSRF token (or the Bearer token), the Origin check, sign-out, and what
// hostile requests get. Against the real `engram serve`.
#include <thread>

#include "integration/console_fixture.h"
#include "support/raw_http.h"

namespace engram::console_test {
namespace {

constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

void ExpectSecurityHeaders(const http::ClientResponse& r, const std::string& what) {
  EXPECT_EQ(HeaderOf(r, "Content-Security-Policy"), kCsp) << what;
  EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff") << what;
  EXPECT_EQ(HeaderOf(r, "Referrer-Policy"), "no-referrer") << what;
  EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY") << what;
}

TEST_F(ConsoleServer, AnswersNotFoundEverywhereWithoutTheAdminToken) {
  unsetenv("ENGRAM_ADMIN_TOKEN");
  Start();
  ConsoleClient client(port());
  for (const char* target : {"/console", "/console/", "/console/assets/uPlot.iife.min.js",
                             "/console/api/session", "/console/api/callers"}) {
    auto r = client.Send("GET", target);
    EXPECT_EQ(r.status, 404) << target;
    // The same answer as any unknown path: nothing says a console exists.
    EXPECT_EQ(HeaderOf(r, "Content-Security-Policy"), "") << target;
  }
  EXPECT_EQ(client.SignIn("anything").status, 404);
}

TEST_F(ConsoleServer, ServesTheStaticFilesWithSecurityHeadersAndValidators) {
  Start();
  ConsoleClient client(port());
  auto moved = client.Send("GET", "/console");
  EXPECT_EQ(moved.status, 308);
  EXPECT_EQ(HeaderOf(moved, "Location"), "/console/");

  auto page = client.Send("GET", "/console/");
  ASSERT_EQ(page.status, 200) << page.body;
  ExpectSecurityHeaders(page, "index");
  EXPECT_EQ(HeaderOf(page, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(HeaderOf(page, "Cache-Control"), "no-cache");
  EXPECT_NE(page.body.find("<html"), std::string::npos);
  // No data and no secret in the page itself.
  EXPECT_EQ(page.body.find(kAdminToken), std::string::npos);
  const std::string etag = HeaderOf(page, "ETag");
  ASSERT_FALSE(etag.empty());
  auto again = client.Send("GET", "/console/", "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.body, "");

  // uPlot, from npm at build time.
  auto chart = client.Send("GET", "/console/assets/uPlot.iife.min.js");
  ASSERT_EQ(chart.status, 200);
  EXPECT_EQ(HeaderOf(chart, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_NE(chart.body.find("uPlot"), std::string::npos);
  ExpectSecurityHeaders(chart, "uPlot");
  auto style = client.Send("GET", "/console/assets/uPlot.min.css");
  EXPECT_EQ(style.status, 200);
  EXPECT_EQ(HeaderOf(style, "Content-Type"), "text/css; charset=utf-8");

  for (const char* target :
       {"/console/assets/nope.js", "/console/assets/", "/console/assets/index.html",
        "/console/assets/..%2Fconsole_api_test.cc", "/console/assets/a/b.js", "/console/other"}) {
    auto r = client.Send("GET", target);
    EXPECT_EQ(r.status, 404) << target;
    ExpectSecurityHeaders(r, target);
  }
  EXPECT_EQ(client.Send("POST", "/console/").status, 405);
}

TEST_F(ConsoleServer, SignInSetsAStrictCookieAndStateChangesNeedTheCsrfToken) {
  Start();
  ConsoleClient client(port());
  // Before sign-in: the API wants it.
  auto anonymous = client.Send("GET", "/console/api/callers");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(json::parse(anonymous.body)["error"], "sign in");
  EXPECT_EQ(HeaderOf(anonymous, "Cache-Control"), "no-store");
  ExpectSecurityHeaders(anonymous, "401");
  EXPECT_EQ(client.Send("GET", "/console/api/session").status, 401);

  const double failures_before = Sample(Metrics(), "engram_auth_failures_total{route=\"other\"}");
  auto wrong = client.SignIn("adm_not_the_token_at_all_00000000");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(HeaderOf(wrong, "Set-Cookie"), "");
  // Counted like every failed authentication.
  EXPECT_EQ(Sample(Metrics(), "engram_auth_failures_total{route=\"other\"}"), failures_before + 1);

  auto signed_in = client.SignIn();
  ASSERT_EQ(signed_in.status, 200) << signed_in.body;
  const std::string cookie = HeaderOf(signed_in, "Set-Cookie");
  EXPECT_TRUE(cookie.starts_with("engram_console=")) << cookie;
  for (const char* attribute :
       {"; HttpOnly", "; SameSite=Strict", "; Path=/console/", "; Max-Age=28800"}) {
    EXPECT_NE(cookie.find(attribute), std::string::npos) << attribute << " in " << cookie;
  }
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "plain HTTP: " << cookie;
  // 256 random bits, base64url: 43 characters.
  EXPECT_EQ(client.cookie_.size(), std::string("engram_console=").size() + 43);
  json session = json::parse(signed_in.body);
  EXPECT_EQ(session["csrf"].get<std::string>().size(), 43u);
  EXPECT_TRUE(session["expires_at"].is_string());
  EXPECT_EQ(signed_in.body.find(kAdminToken), std::string::npos);

  // Over HTTPS (a proxy says so): Secure.
  ConsoleClient tls(port());
  auto secure = tls.Send("POST", "/console/api/session", json{{"token", kAdminToken}}.dump(),
                         {{"X-Forwarded-Proto", "https"}});
  ASSERT_EQ(secure.status, 200);
  EXPECT_NE(HeaderOf(secure, "Set-Cookie").find("; Secure"), std::string::npos);

  json again = client.Get("/console/api/session");
  EXPECT_EQ(again["csrf"], session["csrf"]);
  EXPECT_EQ(client.Send("GET", "/console/api/callers").status, 200);

  // A state change: without the token, with a wrong one, from another site.
  const std::string csrf = client.csrf_;
  client.csrf_.clear();
  const std::string retry = R"({"seq": 999999})";
  EXPECT_EQ(client.Send("POST", "/console/api/dead-letters/retry", retry).status, 403);
  EXPECT_EQ(client
                .Send("POST", "/console/api/dead-letters/retry", retry,
                      {{"X-CSRF-Token", std::string(43, 'A')}})
                .status,
            403);
  client.csrf_ = csrf;
  EXPECT_EQ(client
                .Send("POST", "/console/api/dead-letters/retry", retry,
                      {{"Origin", "https://evil.example"}})
                .status,
            403);
  EXPECT_EQ(client.Send("GET", "/console/api/callers", "", {{"Origin", "null"}}).status, 403);
  // Its own origin passes (404: no such dead letter, past every check), also
  // as a proxy that rewrote Host names it.
  EXPECT_EQ(
      client
          .Send("POST", "/console/api/dead-letters/retry", retry,
                {{"Origin", "https://console.example"}, {"X-Forwarded-Host", "console.example"}})
          .status,
      404);
  // Its own origin passes (404: no such dead letter, past every check).
  EXPECT_EQ(client
                .Send("POST", "/console/api/dead-letters/retry", retry,
                      {{"Origin", "http://" + client.host()}})
                .status,
            404);

  // The Bearer header works alone, without a cookie or CSRF token.
  ConsoleClient bearer(port());
  const Headers auth = {{"Authorization", std::string("Bearer ") + kAdminToken}};
  EXPECT_EQ(bearer.Send("GET", "/console/api/callers", "", auth).status, 200);
  EXPECT_EQ(bearer.Send("POST", "/console/api/dead-letters/retry", retry, auth).status, 404);
  EXPECT_EQ(bearer
                .Send("GET", "/console/api/callers", "",
                      {{"Authorization", "Bearer adm_wrong_wrong_wrong_wrong_0000"}})
                .status,
            401);

  // Sign-out: 204, the cookie cleared, and the old cookie refused.
  auto out = client.Send("DELETE", "/console/api/session");
  EXPECT_EQ(out.status, 204);
  EXPECT_NE(HeaderOf(out, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(client.Send("GET", "/console/api/session").status, 401);
  EXPECT_EQ(client.Send("GET", "/console/api/callers").status, 401);
}

TEST_F(ConsoleServer, SecureCookieFlagAndSessionMinutesShapeTheCookie) {
  Start({"--console-secure-cookie", "--console-session-minutes", "5"});
  ConsoleClient client(port());
  auto r = client.SignIn();
  ASSERT_EQ(r.status, 200);
  const std::string cookie = HeaderOf(r, "Set-Cookie");
  EXPECT_NE(cookie.find("; Secure"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; Max-Age=300"), std::string::npos) << cookie;
}

TEST_F(ConsoleServer, HostileRequestsAreRefusedAndTheSessionsStayBounded) {
  Start();
  ConsoleClient client(port());
  ASSERT_EQ(client.SignIn().status, 200);
  // A body over 16 KiB: refused from its head, with the console's headers
  // (raw socket: the body is never sent).
  std::string refused;
  EXPECT_EQ(testing::Exchange(port(),
                              "POST /console/api/session HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                  std::to_string(17 * 1024) + "\r\nConnection: close\r\n\r\n",
                              std::chrono::milliseconds(3000), "127.0.0.1", &refused),
            413)
      << refused;
  EXPECT_NE(refused.find("Content-Security-Policy"), std::string::npos) << refused;
  ConsoleClient& fresh = client;
  EXPECT_EQ(fresh.Send("POST", "/console/api/session", "not json").status, 400);
  EXPECT_EQ(
      fresh.Send("POST", "/console/api/session", std::string(100, '[') + std::string(100, ']'))
          .status,
      400);
  EXPECT_EQ(fresh.Send("POST", "/console/api/session", R"({"token": 5})").status, 400);
  EXPECT_EQ(fresh.Send("POST", "/console/api/dead-letters/retry", "[1,2]").status, 400);
  // A duplicated key (which "token" would count?) and bytes that are not
  // UTF-8 are refused, not read one way or the other.
  EXPECT_EQ(fresh
                .Send("POST", "/console/api/session",
                      std::string(R"({"token": "wrong-token-wrong-token", "token": ")") +
                          kAdminToken + "\"}")
                .status,
            400);
  EXPECT_EQ(
      fresh.Send("POST", "/console/api/session", std::string("{\"token\": \"\xff\xfe\"}")).status,
      400);
  // Ids over the limit; an escaped control character; a malformed escape.
  EXPECT_EQ(fresh.Send("GET", "/console/api/callers/" + std::string(200, 'u')).status, 400);
  EXPECT_EQ(fresh.Send("GET", "/console/api/calls/" + std::string(200, 'c')).status, 400);
  EXPECT_EQ(fresh.Send("GET", "/console/api/audit?user=" + std::string(200, 'a')).status, 400);
  EXPECT_EQ(fresh.Send("GET", "/console/api/callers?q=pri%01ya").status, 400);
  EXPECT_EQ(fresh.Send("GET", "/console/api/callers?q=%zz").status, 400);
  EXPECT_EQ(fresh.Send("GET", "/console/api/callers?q=" + std::string(3000, 'q')).status, 400);
  // Limits: clamped when numbers, refused when not.
  EXPECT_EQ(fresh.Send("GET", "/console/api/callers?limit=-1").status, 200);
  EXPECT_EQ(fresh.Send("GET", "/console/api/callers?limit=99999999999999999999999").status, 200);
  EXPECT_EQ(fresh.Send("GET", "/console/api/callers?limit=abc").status, 400);
  EXPECT_EQ(fresh.Send("GET", "/console/api/health?minutes=100000").status, 200);
  EXPECT_EQ(fresh.Send("GET", "/console/api/health?minutes=1e3").status, 400);
  EXPECT_EQ(fresh.Send("GET", "/console/api/audit").status, 400);
  EXPECT_EQ(fresh.Send("GET", "/console/api/nothing").status, 404);
  EXPECT_EQ(fresh.Send("DELETE", "/console/api/callers").status, 405);

  // A flood of sign-ins: the oldest sessions are dropped past the cap
  // (1000), so the first cookie stops working and memory stays bounded.
  const std::string first_cookie = fresh.cookie_;
  const Headers first = {{"Cookie", first_cookie}};
  ConsoleClient flood(port());
  for (int i = 0; i < 1005; ++i) {
    auto r = flood.Send("POST", "/console/api/session", json{{"token", kAdminToken}}.dump());
    ASSERT_EQ(r.status, 200) << i;
  }
  ConsoleClient old_one(port());
  EXPECT_EQ(old_one.Send("GET", "/console/api/session", "", first).status, 401);
  const std::string last =
      HeaderOf(flood.Send("POST", "/console/api/session", json{{"token", kAdminToken}}.dump()),
               "Set-Cookie");
  EXPECT_EQ(
      old_one.Send("GET", "/console/api/session", "", {{"Cookie", last.substr(0, last.find(';'))}})
          .status,
      200);
}

}  // namespace
}  // namespace engram::console_test
