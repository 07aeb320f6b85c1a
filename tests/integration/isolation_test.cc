// Caller isolation and identity against the real binary (issue 10, items 7,
// 8 and 12): call bindings that hold, --strict-isolation, call tokens for
// calls without a call_sid, keyed user ids that keep the old ones, and
// caller numbers normalised to E.164.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/http_connection.h"
#include "http/services.h"
#include "http/signature.h"
#include "identity/caller_ids.h"
#include "identity/identity_key.h"
#include "projections/conversation_projector.h"
#include "support/test_support.h"

namespace engram {
namespace {

using nlohmann::json;
using testing::ServerProcess;
using testing::TempDir;

class Client {
 public:
  explicit Client(uint16_t port) : http_("127.0.0.1", port, std::chrono::seconds(10)) {}

  http::ClientResponse Post(const std::string& path, const json& body) {
    auto r = http_.Send("POST", path, body.dump(), {{"X-Engram-Secret", testing::kToolSecret}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }

  // The init webhook; returns the answer (status and body).
  http::ClientResponse Init(const std::string& caller, std::optional<std::string> call_sid) {
    json body = {{"caller_id", caller}, {"agent_id", "agent_1"}, {"called_number", "+17375550100"}};
    if (call_sid) body["call_sid"] = *call_sid;
    return Post("/webhook/conversation-init", body);
  }

  // The init's dynamic variables; fails the test unless it answered 200.
  json InitVars(const std::string& caller, std::optional<std::string> call_sid) {
    http::ClientResponse r = Init(caller, call_sid);
    EXPECT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("dynamic_variables", json::object()) : json::object();
  }

  // The memory tool; returns its HTTP status.
  int Tool(const json& fields) {
    json body = {{"query", "what did we agree"}};
    body.update(fields);
    http::ClientResponse r = Post("/tools/memory-query", body);
    return r.status;
  }

  int SignedPostCall(const json& body) {
    const std::string text = body.dump();
    const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r = http_.Send(
        "POST", "/webhook/post-call", text,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, text)}});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->status : 0;
  }

 private:
  http::HttpConnection http_;
};

// Polls the read model until `sql` answers `want` (projection is
// asynchronous); returns what it last answered.
std::vector<std::string> WaitForRows(const std::string& db_path, const std::string& sql,
                                     const std::vector<std::string>& want) {
  std::vector<std::string> rows;
  for (int i = 0; i < 200; ++i) {
    auto db = testing::OpenDb(db_path);
    rows = testing::QueryColumn(*db, sql);
    if (rows == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return rows;
}

// Polls until `count_sql` answers at least `n`.
int64_t WaitForCount(const std::string& db_path, const std::string& count_sql, int64_t n) {
  int64_t got = 0;
  for (int i = 0; i < 200 && got < n; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    auto db = testing::OpenDb(db_path);
    got = testing::QueryInt(*db, count_sql);
  }
  return got;
}

constexpr char kCallerA[] = "+15125550147";
constexpr char kCallerB[] = "+15125550199";

// ---- item 7: a binding, once made, holds ----

TEST(CallBinding, ConflictingInitIsRefusedAndTheFirstBindingHolds) {
  TempDir dir;
  ServerProcess server(dir.path());
  ASSERT_TRUE(server.Start()) << server.LogText();
  std::string user_a, user_b;
  {
    Client c(server.port());
    user_a = c.InitVars(kCallerA, "CA_shared")["user_id"];
    user_b = c.InitVars(kCallerB, "CA_b_own")["user_id"];
    ASSERT_NE(user_a, user_b);

    http::ClientResponse conflict = c.Init(kCallerB, "CA_shared");
    EXPECT_EQ(conflict.status, 409) << conflict.body;
    EXPECT_NE(conflict.body.find("call_sid"), std::string::npos) << conflict.body;
    // A retry of the real caller's init is still answered, for the same user.
    EXPECT_EQ(c.InitVars(kCallerA, "CA_shared")["user_id"], user_a);

    EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_sid", "CA_shared"}}), 200);
    EXPECT_EQ(c.Tool({{"user_id", user_b}, {"call_sid", "CA_shared"}}), 403);
  }
  // After a restart the binding comes from the read model, and still holds.
  ASSERT_EQ(server.Terminate(), 0);
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  EXPECT_EQ(c.Init(kCallerB, "CA_shared").status, 409);
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_sid", "CA_shared"}}), 200);
  EXPECT_EQ(c.Tool({{"user_id", user_b}, {"call_sid", "CA_shared"}}), 403);
}

// ---- item 8: strict isolation ----

TEST(StrictIsolation, RefusesCallsNotBoundToTheUserAndAcceptsTheBoundOnes) {
  TempDir dir;
  ServerProcess server(dir.path(), {"--strict-isolation"});
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  json a = c.InitVars(kCallerA, "CA_strict_a");
  json b = c.InitVars(kCallerB, "CA_strict_b");
  const std::string user_a = a["user_id"], user_b = b["user_id"];
  const std::string token_a = a["call_token"], token_b = b["call_token"];
  ASSERT_FALSE(token_a.empty());

  // Missing, empty, null, unknown, or another user's call: refused.
  EXPECT_EQ(c.Tool({{"user_id", user_a}}), 403);
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_sid", ""}}), 403);
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_sid", nullptr}}), 403);
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_sid", "CA_never_initiated"}}), 403);
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_sid", "CA_strict_b"}}), 403);
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_token", token_b}}), 403);
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_token", "ct1.99999999999.0000000000000000.00"}}),
            403);
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_sid", ""}, {"call_token", ""}}), 403);
  // The call_sid init bound to the user, or the token it minted: answered.
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_sid", "CA_strict_a"}}), 200);
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_token", token_a}}), 200);
  EXPECT_EQ(c.Tool({{"user_id", user_b}, {"call_token", token_b}, {"call_sid", ""}}), 200);
  // A good token does not excuse a call_sid bound to someone else.
  EXPECT_EQ(c.Tool({{"user_id", user_a}, {"call_token", token_a}, {"call_sid", "CA_strict_b"}}),
            403);
}

// A web or SDK call has no Twilio call_sid: the app's backend calls the init
// route and hands the variables (user_id, call_token) to the session.
TEST(StrictIsolation, WebCallWithoutCallSidIsBoundByItsToken) {
  TempDir dir;
  ServerProcess server(dir.path(), {"--strict-isolation"});
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  json vars = c.InitVars("web-user-4711", std::nullopt);
  const std::string user = vars["user_id"];
  EXPECT_EQ(c.Tool({{"user_id", user}}), 403);
  EXPECT_EQ(c.Tool({{"user_id", user}, {"call_token", vars["call_token"]}}), 200);
  EXPECT_EQ(c.Tool({{"user_id", "u_someone_else"}, {"call_token", vars["call_token"]}}), 403);
}

TEST(StrictIsolation, WithoutTheFlagAToolCallNamingNoCallIsStillAnswered) {
  TempDir dir;
  ServerProcess server(dir.path());
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  const std::string user = c.InitVars(kCallerA, "CA_lenient")["user_id"];
  EXPECT_EQ(c.Tool({{"user_id", user}}), 200);
  EXPECT_EQ(c.Tool({{"user_id", user}, {"call_token", "forged"}}), 403) << "a token must verify";
}

// ---- item 8: keyed user ids ----

TEST(IdentityKey, NewCallersGetKeyedIdsNotAHashOfTheirNumber) {
  TempDir dir;
  ServerProcess server(dir.path());
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  const std::string user = c.InitVars(kCallerA, "CA_keyed")["user_id"];
  EXPECT_NE(user, projections::DerivedUserId(kCallerA));
  EXPECT_EQ(user.rfind("u_", 0), 0u);

  // The key was made in the data folder, readable by its owner only, and
  // the id is its HMAC of the number.
  struct stat st {};
  ASSERT_EQ(stat((dir / "identity.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string secret = testing::ReadFile(dir / "identity.key");
  while (!secret.empty() && secret.back() == '\n') secret.pop_back();
  EXPECT_EQ(identity::IdentityKey::FromSecret(secret)->UserIdFor(kCallerA), user);

  // Another key on the same log is refused rather than deriving other ids.
  ASSERT_EQ(server.Terminate(), 0);
  auto [code, out] = testing::RunEngram(
      "serve --data-dir " + dir.path() + " --listen 127.0.0.1:0",
      // `timeout`: a server that does not refuse must not hang the test.
      std::string(
          "ENGRAM_IDENTITY_KEY=another_key_0123456789abcdef0123456789 ENGRAM_WEBHOOK_SECRET=") +
          std::string(testing::kTestSecret) + " ENGRAM_TOOL_SECRET=" + testing::kToolSecret +
          " timeout 20 ");
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("identity key"), std::string::npos) << out;
}

// A log written before keyed ids (here by an in-process Engram, which adopts
// no identity scheme) keeps its callers' ids, and replays to the same rows.
TEST(IdentityKey, ExistingCallersKeepTheirIdsAndAnOldLogReplaysEqual) {
  TempDir dir;
  const std::string old_number = "+15125550111";
  {
    testing::EngramInstance old_engram(dir.path());
    Client c(old_engram.port);
    EXPECT_EQ(c.SignedPostCall(
                  testing::MakeTranscription("conv_old", old_number, {"My CRM is HubSpot."})),
              200);
    old_engram.WaitForProjection();
  }
  const std::string legacy = projections::DerivedUserId(old_number);
  ServerProcess server(dir.path());
  ASSERT_TRUE(server.Start()) << server.LogText();
  {
    Client c(server.port());
    json vars = c.InitVars(old_number, "CA_old_caller");
    EXPECT_EQ(vars["user_id"], legacy);
    EXPECT_EQ(vars["caller_known"], true);
    EXPECT_EQ(c.InitVars("+1 512-555-0111", "CA_old_caller_2")["user_id"], legacy);
    EXPECT_EQ(c.SignedPostCall(testing::MakeTranscription("conv_new", "+15125550122",
                                                          {"My CRM is Salesforce."})),
              200);
  }
  const std::string db = dir / "engram.db";
  EXPECT_EQ(WaitForCount(db, "SELECT count(*) FROM users", 2), 2);
  ASSERT_EQ(server.Terminate(), 0);
  auto final_db = testing::OpenDb(db);
  std::vector<std::string> users =
      testing::QueryColumn(*final_db, "SELECT id FROM users ORDER BY created_seq");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0], legacy);
  EXPECT_NE(users[1], projections::DerivedUserId("+15125550122"));

  auto [code, out] = testing::RunEngram("replay --verify --data-dir " + dir.path());
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("equal"), std::string::npos) << out;
  // Without the key, a replay of the keyed part is refused, not guessed.
  std::filesystem::rename(dir / "identity.key", dir / "identity.key.moved");
  auto [no_key, no_key_out] = testing::RunEngram("replay --verify --data-dir " + dir.path());
  EXPECT_NE(no_key, 0) << no_key_out;
}

// ---- item 12: one caller, any spelling ----

TEST(CallerNumbers, SpellingsOfOneNumberAreOneCallerAndInvalidOnesStayRaw) {
  TempDir dir;
  setenv("ENGRAM_ADMIN_TOKEN", "adm_isolation_test", 1);
  ServerProcess server(dir.path());
  ASSERT_TRUE(server.Start()) << server.LogText();
  Client c(server.port());
  ASSERT_EQ(c.SignedPostCall(testing::MakeTranscription("conv_spelled", "+1 512-555-0147",
                                                        {"My CRM is HubSpot."})),
            200);
  const std::string db = dir / "engram.db";
  std::vector<std::string> ids =
      WaitForRows(db, "SELECT caller_id FROM user_identities", {kCallerA});
  ASSERT_EQ(ids, std::vector<std::string>{kCallerA}) << "identity is E.164";
  auto rm = testing::OpenDb(db);
  const std::string user = testing::QueryColumn(*rm, "SELECT id FROM users")[0];
  EXPECT_EQ(testing::QueryColumn(*rm, "SELECT caller_id FROM conversations"),
            std::vector<std::string>{"+1 512-555-0147"})
      << "the raw form is kept for display";

  // The init webhook finds that caller under every spelling, national too
  // (--default-region US).
  for (const char* spelling : {kCallerA, "+1 (512) 555-0147", "5125550147", "+1.512.555.0147"}) {
    json vars = c.InitVars(spelling, std::nullopt);
    EXPECT_EQ(vars["user_id"], user) << spelling;
    EXPECT_EQ(vars["caller_known"], true) << spelling;
  }
  // The tool's caller check uses the same identity.
  EXPECT_EQ(c.Tool({{"user_id", "u_other"}, {"caller_id", "+1 512 555 0147"}}), 403);
  EXPECT_EQ(c.Tool({{"user_id", user}, {"caller_id", "+1 512 555 0147"}}), 200);

  // What is not a valid number stays as it came.
  c.InitVars("anonymous", "CA_anon");
  c.InitVars("sip:+15125550147@pbx.example", "CA_sip");
  WaitForRows(db, "SELECT caller_id FROM user_identities ORDER BY caller_id",
              {kCallerA, "anonymous", "sip:+15125550147@pbx.example"});
  auto rm2 = testing::OpenDb(db);
  EXPECT_EQ(testing::QueryColumn(*rm2, "SELECT caller_id FROM user_identities ORDER BY caller_id"),
            (std::vector<std::string>{kCallerA, "anonymous", "sip:+15125550147@pbx.example"}));
  EXPECT_NE(testing::QueryColumn(
                *rm2,
                "SELECT user_id FROM user_identities WHERE caller_id = 'sip:+15125550147@"
                "pbx.example'")[0],
            user);

  // The admin API (ENGRAM_ADMIN_TOKEN, inherited by the server) and the
  // command line find the caller by any spelling too.
  {
    http::HttpConnection admin("127.0.0.1", server.port());
    auto r = admin.Send("GET", "/v1/users/5125550147", "",
                        {{"Authorization", "Bearer adm_isolation_test"}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(json::parse(r->body, nullptr, false).value("id", ""), user) << r->body;
  }

  auto [code, out] =
      testing::RunEngram("audit user '+1 (512) 555-0147' --data-dir " + dir.path() + " --json");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(user), std::string::npos) << out;
  // An id is one path segment, whatever it holds: "5125550147?x=1" names no
  // one (sent unescaped, the server would read the caller's number and a
  // query string, and forget the caller).
  for (const char* other : {"'5125550147?x=1'", "'5125550147#x'", "'5125550147/memories'"}) {
    auto [code_other, out_other] =
        testing::RunEngram(std::string("forget user ") + other +
                               " --url http://127.0.0.1:" + std::to_string(server.port()),
                           "ENGRAM_ADMIN_TOKEN=adm_isolation_test ");
    EXPECT_NE(code_other, 0) << other << ": " << out_other;
    auto still = testing::OpenDb(db);
    EXPECT_EQ(testing::QueryInt(*still, "SELECT count(*) FROM users WHERE id = '" + user + "'"), 1)
        << other << " forgot the caller: " << out_other;
  }
  // ...and forgetting by a national spelling forgets that user.
  auto [forgot, forgot_out] = testing::RunEngram(
      "forget user 5125550147 --url http://127.0.0.1:" + std::to_string(server.port()),
      "ENGRAM_ADMIN_TOKEN=adm_isolation_test ");
  EXPECT_EQ(forgot, 0) << forgot_out;
  EXPECT_NE(forgot_out.find(user), std::string::npos) << forgot_out;
}

// ---- the pieces, without a server ----

TEST(CallBindings, AFullMapForgetsOnlyBindingsTheReadModelHolds) {
  http::CallBindings bindings;
  const size_t n = http::CallBindings::kMaxEntries + 10;
  // Nothing projected yet: every live call keeps its binding (the old map
  // cleared them all here).
  for (size_t i = 1; i <= n; ++i) bindings.Bind("CA" + std::to_string(i), "u_a", i, 0);
  EXPECT_EQ(bindings.size(), n);
  EXPECT_EQ(bindings.Find("CA1"), "u_a");
  // Once projected, the oldest give way to new ones.
  bindings.Bind("CA_new", "u_b", n + 1, n);
  EXPECT_EQ(bindings.size(), http::CallBindings::kMaxEntries);
  EXPECT_FALSE(bindings.Find("CA1").has_value());
  EXPECT_EQ(bindings.Find("CA_new"), "u_b");
  // First binding wins.
  EXPECT_EQ(bindings.Bind("CA_new", "u_c", n + 2, n), "u_b");
  EXPECT_EQ(bindings.Find("CA_new"), "u_b");
}

TEST(CallerIdNormalizer, NormalisesValidNumbersAndKeepsEverythingElse) {
  const identity::CallerIdNormalizer& n = identity::PhoneNumbers();
  EXPECT_EQ(n.Normalize("+1 512-555-0147", "US"), "+15125550147");
  EXPECT_EQ(n.Normalize("(512) 555-0147", "US"), "+15125550147");
  EXPECT_EQ(n.Normalize("020 7946 0958", "GB"), "+442079460958");
  EXPECT_EQ(n.Normalize("+44 20 7946 0958", "US"), "+442079460958") << "'+' ignores the region";
  for (const char* raw : {"anonymous", "sip:+15125550147@pbx.example", "web-user-4711", "", "+1555",
                          "+15550100001", "12345", "+1 512 555 0147 ext. 9"}) {
    EXPECT_EQ(n.Normalize(raw, "US"), raw);
  }
  EXPECT_TRUE(n.IsKnownRegion("GB"));
  EXPECT_FALSE(n.IsKnownRegion("XX"));
}

TEST(CallToken, VerifiesOnlyForItsUserItsKeyAndUntilItExpires) {
  auto key = identity::IdentityKey::FromSecret(std::string(64, 'k'));
  auto other = identity::IdentityKey::FromSecret(std::string(64, 'o'));
  const int64_t now = 1'800'000'000;
  const std::string token = key->MintCallToken("u_a", now);
  EXPECT_TRUE(key->VerifyCallToken(token, "u_a", now).ok());
  EXPECT_TRUE(key->VerifyCallToken(token, "u_a", now + identity::kCallTokenTtlSecs).ok());
  EXPECT_FALSE(key->VerifyCallToken(token, "u_a", now + identity::kCallTokenTtlSecs + 1).ok());
  EXPECT_FALSE(key->VerifyCallToken(token, "u_b", now).ok());
  EXPECT_FALSE(other->VerifyCallToken(token, "u_a", now).ok());
  std::string later = token;
  later[4] = later[4] == '9' ? '8' : '9';  // another expiry, same MAC
  EXPECT_FALSE(key->VerifyCallToken(later, "u_a", now).ok());
  for (const char* bad : {"", "ct1.", "ct1...", "ct2.1.0000000000000000.00", "garbage"}) {
    EXPECT_FALSE(key->VerifyCallToken(bad, "u_a", now).ok()) << bad;
  }
  EXPECT_NE(key->MintCallToken("u_a", now), token) << "a fresh nonce per call";
  EXPECT_NE(key->UserIdFor("+15125550147"), other->UserIdFor("+15125550147"));
}

}  // namespace
}  // namespace engram
