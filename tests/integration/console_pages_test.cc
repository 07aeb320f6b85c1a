// The web console's reads and actions (issue 15) on Priya Raman's two
// fixture calls: finding her by number, name and id; what the agent is told
// (exactly the init webhook's answer); her memory timeline with HubSpot
// superseded by Salesforce; a console query that appends nothing; a call
// with its transcript, tool calls and learning; the audit trail and the
// chain's verification; forgetting a caller behind a confirmation; health.
// Against the real `engram serve` (PostgreSQL read model too:
// postgresql.ConsoleServer.*).
#include <thread>

#include "integration/console_fixture.h"

namespace engram::console_test {
namespace {

// The sum of every series of metric `name` in /metrics text.
double SumOf(const std::string& text, const std::string& name) {
  double sum = 0;
  for (size_t at = text.find("\n" + name); at != std::string::npos;
       at = text.find("\n" + name, at + 1)) {
    const size_t end = text.find('\n', at + 1);
    const std::string line = text.substr(at + 1, end - at - 1);
    if (line.size() > name.size() && (line[name.size()] == '{' || line[name.size()] == ' ')) {
      sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return sum;
}

TEST_F(ConsoleServer, FindsTheCallerByNumberNameAndIdAndShowsHerTimeline) {
  Start();
  IngestPriya();
  ConsoleClient client(port());
  ASSERT_EQ(client.SignIn().status, 200);

  const std::string id = PriyaId(client);
  ASSERT_FALSE(id.empty());
  for (const std::string& q : {std::string("%2B15125550147"), std::string("(512)%20555-0147"),
                               std::string("priya"), std::string("RAMAN"), id}) {
    json found = client.Get("/console/api/callers?q=" + q);
    ASSERT_EQ(found["callers"].size(), 1u) << q << ": " << found.dump();
    const json& c = found["callers"][0];
    EXPECT_EQ(c["user_id"], id) << q;
    EXPECT_EQ(c["name"], "Priya Raman") << q;
    EXPECT_EQ(c["phones"], json::array({kPhone})) << q;
    EXPECT_EQ(c["calls"], 2) << q;
    EXPECT_GT(c["current_memories"].get<int>(), 0) << q;
    EXPECT_TRUE(c["last_call_at"].is_string()) << q;
    EXPECT_EQ(found["total"], 1) << q;
  }
  EXPECT_TRUE(client.Get("/console/api/callers?q=nobody%20here")["callers"].empty());
  json recent = client.Get("/console/api/callers");
  ASSERT_EQ(recent["callers"].size(), 1u);
  EXPECT_EQ(recent["total"], 1);
  EXPECT_EQ(client.Send("GET", "/console/api/callers/nobody").status, 404);

  json page = client.Get("/console/api/callers/" + http::EncodePathSegment(id));
  EXPECT_EQ(page["user"]["name"], "Priya Raman");
  EXPECT_EQ(page["user"]["calls"], 2);
  const json& memories = page["memories"];
  EXPECT_EQ(page["memories_total"].get<int64_t>(),
            page["user"]["current_memories"].get<int64_t>() +
                page["user"]["superseded_memories"].get<int64_t>());
  json hubspot, salesforce;
  bool superseded_seen = false;
  for (const json& m : memories) {
    // Current ones first, then superseded.
    if (!m["current"].get<bool>()) superseded_seen = true;
    EXPECT_FALSE(superseded_seen && m["current"].get<bool>()) << m.dump();
    if (m["content"] == "Priya Raman's CRM is HubSpot.") hubspot = m;
    if (m["content"] == "Priya Raman's CRM is Salesforce.") salesforce = m;
  }
  ASSERT_TRUE(hubspot.is_object()) << memories.dump(1);
  ASSERT_TRUE(salesforce.is_object()) << memories.dump(1);
  EXPECT_TRUE(salesforce["current"].get<bool>());
  EXPECT_TRUE(salesforce["valid_to"].is_null());
  EXPECT_FALSE(hubspot["current"].get<bool>());
  EXPECT_EQ(hubspot["valid_to"], salesforce["valid_from"]);
  EXPECT_TRUE(hubspot["valid_to"].get<std::string>().starts_with("2026-"));
  EXPECT_EQ(hubspot["superseded_by"]["id"], salesforce["id"]);
  EXPECT_EQ(hubspot["superseded_by"]["content"], salesforce["content"]);
  bool replaced_hubspot = false;  // (and the caller's words behind it)
  for (const json& old : salesforce["supersedes"]) replaced_hubspot |= old["id"] == hubspot["id"];
  EXPECT_TRUE(replaced_hubspot) << salesforce.dump(1);
  ASSERT_FALSE(hubspot["sources"].empty());
  EXPECT_EQ(hubspot["sources"][0]["conversation_id"], kFirstCall);
  EXPECT_EQ(hubspot["sources"][0]["turns"], json::array({3}));
  EXPECT_TRUE(hubspot["sources"][0]["started_at"].is_string());
  ASSERT_EQ(page["conversations"].size(), 2u);
  EXPECT_EQ(page["conversations"][0]["conversation_id"], kSecondCall);  // newest first
  EXPECT_EQ(page["conversations"][1]["extraction"], "done");
  EXPECT_GT(page["conversations"][1]["turns"].get<int>(), 10);

  // Paging: limit and offset walk the same order.
  json first = client.Get("/console/api/callers/" + http::EncodePathSegment(id) + "?limit=1");
  json second =
      client.Get("/console/api/callers/" + http::EncodePathSegment(id) + "?limit=1&offset=1");
  ASSERT_EQ(first["memories"].size(), 1u);
  ASSERT_EQ(second["memories"].size(), 1u);
  EXPECT_EQ(first["memories"][0]["id"], memories[0]["id"]);
  EXPECT_EQ(second["memories"][0]["id"], memories[1]["id"]);
  EXPECT_EQ(client.Send("GET", "/console/api/callers/" + id + "?offset=-3").status, 400);

  // What the agent is told: exactly the init webhook's answer for her now
  // (the preview first: it must change nothing the init reads).
  const json head_before = Healthz()["log_head"];
  json preview = page["init"]["dynamic_variables"];
  EXPECT_EQ(Healthz()["log_head"], head_before) << "the preview appended";
  auto init =
      Tool("/webhook/conversation-init",
           {{"caller_id", kPhone}, {"agent_id", "agent_console"}, {"call_sid", "CAconsole"}});
  ASSERT_EQ(init.status, 200) << init.body;
  json told = json::parse(init.body)["dynamic_variables"];
  // The call token is minted per call (and a credential): not previewed.
  EXPECT_FALSE(told["call_token"].get<std::string>().empty());
  EXPECT_EQ(preview["call_token"], "");
  told.erase("call_token");
  preview.erase("call_token");
  EXPECT_EQ(preview, told);
  EXPECT_EQ(preview["user_name"], "Priya Raman");
}

TEST_F(ConsoleServer, AConsoleQueryRanksLikeTheToolButAppendsAndCountsNothingOfTheAgent) {
  Start();
  IngestPriya();
  ConsoleClient client(port());
  ASSERT_EQ(client.SignIn().status, 200);
  const std::string id = PriyaId(client);
  const json head = Healthz()["log_head"];
  const std::string before = Metrics();
  auto r = client.Send("POST", "/console/api/callers/" + http::EncodePathSegment(id) + "/query",
                       json{{"query", "which CRM do they use"}, {"limit", 3}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json answer = json::parse(r.body);
  EXPECT_EQ(answer["console_query"], true);
  ASSERT_FALSE(answer["results"].empty());
  EXPECT_LE(answer["results"].size(), 3u);
  EXPECT_NE(answer["results"][0]["content"].get<std::string>().find("Salesforce"),
            std::string::npos)
      << answer.dump(1);
  double last = 1e9;
  for (const json& hit : answer["results"]) {
    EXPECT_LE(hit["score"].get<double>(), last);
    last = hit["score"];
    EXPECT_TRUE(hit["scores"].contains("similarity"));
  }
  EXPECT_FALSE(answer["answer"].get<std::string>().empty());
  EXPECT_TRUE(answer["latency_ms"].is_number());

  EXPECT_EQ(Healthz()["log_head"], head) << "a console query appended to the log";
  const std::string after = Metrics();
  EXPECT_EQ(SumOf(after, "engram_tool_calls_total"), SumOf(before, "engram_tool_calls_total"));
  EXPECT_EQ(SumOf(after, "engram_console_queries_total"),
            SumOf(before, "engram_console_queries_total") + 1);

  const std::string path = "/console/api/callers/" + http::EncodePathSegment(id) + "/query";
  EXPECT_EQ(client.Send("POST", path, R"({"query": ""})").status, 400);
  EXPECT_EQ(client.Send("POST", path, R"({"query": "x", "limit": -2})").status, 400);
  EXPECT_EQ(client.Send("POST", path, json{{"query", std::string(3000, 'q')}}.dump()).status, 400);
  EXPECT_EQ(client.Send("POST", "/console/api/callers/nobody/query", R"({"query": "x"})").status,
            404);
}

TEST_F(ConsoleServer, TheCallPageShowsTurnsToolCallsAndWhatTheCallTaught) {
  Start();
  IngestPriya();
  ConsoleClient client(port());
  ASSERT_EQ(client.SignIn().status, 200);
  const std::string id = PriyaId(client);
  // The agent asks once during the second call.
  auto asked =
      Tool("/tools/memory-query",
           {{"query", "what CRM do they use"}, {"user_id", id}, {"conversation_id", kSecondCall}});
  ASSERT_EQ(asked.status, 200) << asked.body;
  WaitForProjection();

  json first = client.Get(std::string("/console/api/calls/") + kFirstCall);
  EXPECT_EQ(first["conversation"]["user_id"], id);
  EXPECT_EQ(first["conversation"]["user_name"], "Priya Raman");
  EXPECT_TRUE(first["conversation"]["started_at"].is_string());
  ASSERT_EQ(first["turns"].size(), 15u);
  EXPECT_EQ(first["turns"][3]["index"], 3);
  EXPECT_EQ(first["turns"][3]["role"], "user");
  EXPECT_NE(first["turns"][3]["message"].get<std::string>().find("HubSpot"), std::string::npos);
  EXPECT_EQ(first["learning"]["extraction"], "done");
  bool taught_hubspot = false;
  for (const json& m : first["learning"]["memories"]) {
    if (m["content"] == "Priya Raman's CRM is HubSpot.") {
      taught_hubspot = true;
      EXPECT_EQ(m["relation"], "created");
      EXPECT_EQ(m["current"], false);
      EXPECT_EQ(m["replacement"], "Priya Raman's CRM is Salesforce.");
    }
  }
  EXPECT_TRUE(taught_hubspot) << first["learning"].dump(1);
  EXPECT_TRUE(first["dead_letters"].empty());

  json second = client.Get(std::string("/console/api/calls/") + kSecondCall);
  ASSERT_EQ(second["tool_calls"].size(), 1u) << second["tool_calls"].dump();
  const json& call = second["tool_calls"][0];
  EXPECT_EQ(call["query"], "what CRM do they use");
  EXPECT_TRUE(call["latency_ms"].is_number());
  EXPECT_EQ(call["is_error"], false);
  ASSERT_FALSE(call["returned"].empty());
  EXPECT_TRUE(call["returned"][0]["content"].is_string());
  EXPECT_EQ(client.Send("GET", "/console/api/calls/conv_nope").status, 404);
}

TEST_F(ConsoleServer, TheAuditTrailComesWithTheChainsVerification) {
  Start();
  IngestPriya();
  ConsoleClient client(port());
  ASSERT_EQ(client.SignIn().status, 200);
  json by_phone = client.Get("/console/api/audit?user=%2B15125550147");
  EXPECT_EQ(by_phone["verification"]["ok"], true) << by_phone["verification"].dump();
  EXPECT_GT(by_phone["verification"]["entries"].get<int>(), 2);
  // What `engram audit verify` prints.
  EXPECT_TRUE(by_phone["verification"]["detail"].get<std::string>().starts_with("chain intact: "))
      << by_phone["verification"].dump();
  const json& trail = by_phone["trail"];
  EXPECT_EQ(trail["conversations"].size(), 2u) << trail.dump(1);
  EXPECT_NE(trail.dump().find("created: Priya Raman's CRM is HubSpot."), std::string::npos);
  json by_call = client.Get(std::string("/console/api/audit?conversation=") + kFirstCall);
  EXPECT_EQ(by_call["verification"]["ok"], true);
  EXPECT_FALSE(by_call["trail"]["entries"].empty());
  EXPECT_EQ(client.Send("GET", "/console/api/audit?user=nobody").status, 404);
  EXPECT_EQ(client.Send("GET", "/console/api/audit?user=a&conversation=b").status, 400);
}

TEST_F(ConsoleServer, ForgettingACallerWantsTheirNameThenTheyAreGone) {
  Start();
  IngestPriya();
  json other = testing::MakeTranscription(
      "conv_console_forget", "+15550142",
      {"My name is Thaddeus Pemberton", "We use Quibblesoft for our invoices"});
  PostCall(other.dump());
  WaitForProjection();
  ConsoleClient client(port());
  ASSERT_EQ(client.SignIn().status, 200);
  json found = client.Get("/console/api/callers?q=thaddeus");
  ASSERT_EQ(found["callers"].size(), 1u) << found.dump();
  const std::string id = found["callers"][0]["user_id"];
  const std::string path = "/console/api/callers/" + http::EncodePathSegment(id) + "/forget";

  auto wrong = client.Send("POST", path, R"({"confirm": "Priya Raman"})");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(json::parse(wrong.body)["error"], "confirmation does not name the caller");
  EXPECT_EQ(client.Send("POST", path, R"({})").status, 400);
  EXPECT_EQ(client.Get("/console/api/callers?q=thaddeus")["callers"].size(), 1u);

  auto done = client.Send("POST", path, R"({"confirm": " thaddeus pemberton "})");
  ASSERT_EQ(done.status, 200) << done.body;
  json forgotten = json::parse(done.body);
  EXPECT_EQ(forgotten["forgotten"], id);
  EXPECT_GT(forgotten["erased_entries"].get<int>(), 0);
  WaitForProjection();
  EXPECT_TRUE(client.Get("/console/api/callers?q=thaddeus")["callers"].empty());
  EXPECT_EQ(client.Send("GET", "/console/api/callers/" + http::EncodePathSegment(id)).status, 404);
  // Priya is untouched; the chain still verifies after the erasure.
  EXPECT_EQ(client.Get("/console/api/callers?q=priya")["callers"].size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  json audit = client.Get("/console/api/audit?user=%2B15125550147");
  EXPECT_EQ(audit["verification"]["ok"], true);
}

TEST_F(ConsoleServer, HealthHasRouteSeriesLagAlertsAndSizesAfterAnInterval) {
  Start();
  ConsoleClient client(port());
  ASSERT_EQ(client.SignIn().status, 200);
  json empty = client.Get("/console/api/health");
  EXPECT_EQ(empty["interval_secs"], 1);
  EXPECT_EQ(empty["node"]["status"], "ok");
  for (int i = 0; i < 5; ++i) Healthz();
  IngestPriya();
  // Two intervals of 1 s (--console-sample-secs 1) close meanwhile.
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  json health = client.Get("/console/api/health?minutes=5");
  ASSERT_TRUE(health["routes"].contains("/healthz")) << health.dump(1);
  ASSERT_TRUE(health["routes"].contains("/webhook/post-call")) << health.dump(1);
  const json& point = health["routes"]["/webhook/post-call"][0];
  EXPECT_GE(point["count"].get<int>(), 1);
  EXPECT_GT(point["t"].get<int64_t>(), 1'700'000'000'000);
  EXPECT_GT(point["p50"].get<double>(), 0);
  EXPECT_LE(point["p50"].get<double>(), point["p95"].get<double>());
  EXPECT_LE(point["p95"].get<double>(), point["p99"].get<double>());
  EXPECT_GE(health["projection_lag"].size(), 2u);
  EXPECT_TRUE(health["alerts"].is_array());
  EXPECT_GT(health["sizes"]["log_bytes"].get<int64_t>(), 0);
  EXPECT_GT(health["sizes"]["read_model_bytes"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace engram::console_test
