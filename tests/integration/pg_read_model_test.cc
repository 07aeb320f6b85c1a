// `engram serve --read-model postgresql://...` against a real PostgreSQL 15:
// the fixture story answers from PostgreSQL, the rows equal a SQLite
// rebuild of the same log table by table, and a standby node takes the
// projector role over when the active one is killed.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "projections/read_model.h"
#include "projections/table_dump.h"
#include "support/postgres_server.h"
#include "support/test_support.h"

namespace engram {
namespace {

using nlohmann::json;
using testing::Fixture;
using testing::PostgresServer;
using testing::ServerProcess;
using testing::TempDir;
using Headers = std::vector<std::pair<std::string, std::string>>;

Headers ToolHeaders() { return {{"X-Engram-Secret", testing::kToolSecret}}; }

http::ClientResponse Send(uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body = "", const Headers& headers = {}) {
  http::HttpConnection client("127.0.0.1", port);
  auto r = client.Send(method, target, body, headers);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : http::ClientResponse{};
}

int PostCall(uint16_t port, const std::string& body) {
  int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  return Send(port, "POST", "/webhook/post-call", body,
              {{"ElevenLabs-Signature",
                http::SignatureHeaderValue(testing::kTestSecret, now, body)}})
      .status;
}

json Healthz(uint16_t port) {
  auto r = Send(port, "GET", "/healthz");
  return json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

// Waits until `port`'s node has projected its whole log, extraction outcomes
// included (no webhook event still pending in PostgreSQL).
void WaitForProjection(uint16_t port, PostgresServer& pg, const std::string& db) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    json h = Healthz(port);
    const bool settled =
        h.is_object() && h["applied"] == h["log_head"] &&
        pg.Query(db, "SELECT count(*) FROM webhook_events WHERE status = 'pending'") == "0";
    if (settled) {
      // An extraction outcome appended just now moves the head again.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      json again = Healthz(port);
      if (again["log_head"] == h["log_head"] && again["applied"] == again["log_head"]) return;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "projection never settled: " << h;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

class PgReadModel : public testing::PostgresSuite {
 protected:
  void SetUp() override { MakeDatabase("engram"); }

  TempDir dir_;
};

TEST_F(PgReadModel, FixtureStoryIsServedFromPostgresAndEqualsASqliteRebuild) {
  ServerProcess server(dir_ / "data", {"--read-model", url_, "--node-name", "node-a"});
  ASSERT_TRUE(server.Start()) << server.LogText();
  const uint16_t port = server.port();
  ASSERT_EQ(PostCall(port, Fixture("post_call_transcription.json")), 200);
  WaitForProjection(port, *pg_, db_);
  ASSERT_EQ(PostCall(port, Fixture("post_call_transcription_2.json")), 200);
  WaitForProjection(port, *pg_, db_);

  // The rows are in PostgreSQL, with the checkpoints; no SQLite read model.
  EXPECT_EQ(pg_->Query(db_, "SELECT count(*) FROM conversations"), "2");
  EXPECT_EQ(pg_->Query(db_,
                       "SELECT content || '|' || (valid_to IS NOT NULL) || '|' || "
                       "(superseded_by IS NOT NULL) FROM memories WHERE subject = 'crm=HubSpot'"),
            "Priya Raman's CRM is HubSpot.|true|true");
  EXPECT_EQ(pg_->Query(db_, "SELECT count(*) FROM checkpoints WHERE seq > 0"), "2");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data/engram.db"));
  json h = Healthz(port);
  EXPECT_EQ(h["projector_active"], true) << h;
  EXPECT_EQ(h["node"]["read_model"], "postgresql") << h;
  EXPECT_EQ(h["node"]["log"].get<std::string>().rfind("rocksdb ", 0), 0u) << h;
  EXPECT_EQ(h["node"]["name"], "node-a") << h;
  http::ClientResponse metrics = Send(port, "GET", "/metrics");
  EXPECT_NE(metrics.body.find(
                R"(engram_node_info{node="node-a",log="rocksdb",read_model="postgresql"} 1)"),
            std::string::npos)
      << metrics.body.substr(0, 2000);
  EXPECT_EQ(h["lag_events"], 0) << h;

  // The tool and the init webhook answer from it.
  auto tool =
      Send(port, "POST", "/tools/memory-query",
           json({{"query", "what CRM does the customer use"}, {"user_id", "cust_000184"}}).dump(),
           ToolHeaders());
  ASSERT_EQ(tool.status, 200) << tool.body;
  json answer = json::parse(tool.body);
  ASSERT_FALSE(answer["memories"].empty());
  EXPECT_NE(answer["memories"][0]["content"].get<std::string>().find("Salesforce"),
            std::string::npos)
      << answer.dump(2);
  auto init = Send(port, "POST", "/webhook/conversation-init",
                   Fixture("conversation_init_request.json"), ToolHeaders());
  ASSERT_EQ(init.status, 200) << init.body;
  json vars = json::parse(init.body)["dynamic_variables"];
  EXPECT_EQ(vars["user_name"], "Priya Raman");
  EXPECT_EQ(vars["caller_known"], true);
  const std::string context = vars["memory_context"];
  EXPECT_NE(context.find("The CRM Priya uses is Salesforce."), std::string::npos) << context;
  WaitForProjection(port, *pg_, db_);
  ASSERT_EQ(server.Terminate(), 0) << server.LogText();

  // Replay equality across backends: a SQLite read model rebuilt from the
  // same log equals the PostgreSQL one, table by table...
  auto [code, out] = testing::RunEngram("replay --data-dir " + (dir_ / "data") + " --out " +
                                        (dir_ / "rebuilt.db") + " --verify --read-model " + url_);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("replay verify: equal"), std::string::npos) << out;
  // ... and directly, through the dump both backends render alike.
  auto live = projections::OpenReadModelReadOnly(url_);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  std::tie(code, out) =
      testing::RunEngram("replay --data-dir " + (dir_ / "data") + " --out " + (dir_ / "plain.db") +
                         " --read-model " + url_);  // where the caller keys are
  ASSERT_EQ(code, 0) << out;
  auto rebuilt = projections::OpenReadModelReadOnly(dir_ / "plain.db");
  ASSERT_TRUE(rebuilt.ok());
  auto tables = projections::ProjectedTables(**live);
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(*tables, *projections::ProjectedTables(**rebuilt));
  size_t rows = 0;
  for (const std::string& table : *tables) {
    auto a = projections::DumpTable(**live, table);
    auto b = projections::DumpTable(**rebuilt, table);
    ASSERT_TRUE(a.ok() && b.ok()) << table;
    EXPECT_EQ(*a, *b) << table;
    rows += a->size();
  }
  EXPECT_GT(rows, 50u) << "the story fills the tables";
  auto diffs = projections::DiffReadModels(**live, **rebuilt);
  ASSERT_TRUE(diffs.ok());
  EXPECT_TRUE(diffs->empty()) << (*diffs)[0];
}

TEST_F(PgReadModel, AStandbyNodeTakesOverProjectionWhenTheActiveOneIsKilled) {
  ServerProcess a(dir_ / "a", {"--read-model", url_});
  ASSERT_TRUE(a.Start()) << a.LogText();
  ASSERT_EQ(PostCall(a.port(), Fixture("post_call_transcription.json")), 200);
  WaitForProjection(a.port(), *pg_, db_);
  ASSERT_EQ(Healthz(a.port())["projector_active"], true);
  const json applied_by_a = Healthz(a.port())["applied"];

  ServerProcess b(dir_ / "b", {"--read-model", url_});
  // Nodes sharing a read model share its caller keys, so one master key
  // (docs/CLUSTER.md): B gets a copy of the one A made.
  std::filesystem::create_directories(dir_ / "b");
  std::filesystem::copy_file(dir_ / "a/master.key", dir_ / "b/master.key");
  std::filesystem::permissions(dir_ / "b/master.key", std::filesystem::perms::owner_read |
                                                          std::filesystem::perms::owner_write);
  ASSERT_TRUE(b.Start()) << b.LogText();
  // B stands by, yet follows what A committed.
  const auto follow_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Healthz(b.port())["applied"] != applied_by_a) {
    ASSERT_LT(std::chrono::steady_clock::now(), follow_deadline) << b.LogText();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(Healthz(b.port())["projector_active"], false);
  EXPECT_EQ(Healthz(a.port())["projector_active"], true);
  // The projector's lock (0x656e6772616d as classid, objid) once; each node
  // also holds the caller keys' in-use lock, shared (src/keys/pg_key_table.h).
  EXPECT_EQ(pg_->Query(db_,
                       "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                       "classid = 25966 AND objid = 1735549293"),
            "1");
  // A learns more while B stands by: Salesforce replaces HubSpot.
  ASSERT_EQ(PostCall(a.port(), Fixture("post_call_transcription_2.json")), 200);
  WaitForProjection(a.port(), *pg_, db_);

  // A dies without a word; its session ends and its lock with it.
  a.Kill9();
  const auto killed = std::chrono::steady_clock::now();
  while (Healthz(b.port())["projector_active"] != true) {
    ASSERT_LT(std::chrono::steady_clock::now(), killed + std::chrono::seconds(5)) << b.LogText();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed);
  std::printf("takeover after kill -9: %lld ms\n", static_cast<long long>(took.count()));
  EXPECT_NE(b.LogText().find("holds the projector lock"), std::string::npos);
  // A's rows stay, and B, which took over, serves what A learnt after B
  // started: its vector index reloaded when it took the lock.
  EXPECT_EQ(pg_->Query(db_, "SELECT count(*) FROM conversations"), "2");
  auto tool =
      Send(b.port(), "POST", "/tools/memory-query",
           json({{"query", "what CRM does the customer use"}, {"user_id", "cust_000184"}}).dump(),
           ToolHeaders());
  ASSERT_EQ(tool.status, 200) << tool.body;
  json answer = json::parse(tool.body);
  ASSERT_FALSE(answer["memories"].empty());
  EXPECT_NE(answer["memories"][0]["content"].get<std::string>().find("Salesforce"),
            std::string::npos)
      << answer.dump(2);
}

TEST_F(PgReadModel, ServeRefusesAReadModelThatIsNotAPostgresUrl) {
  auto [code, out] = testing::RunEngram(
      "serve --insecure-no-signature --insecure-no-tool-secret "
      "--data-dir " +
      (dir_ / "data") + " --read-model /tmp/x.db");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("postgresql://"), std::string::npos) << out;
}

}  // namespace
}  // namespace engram
