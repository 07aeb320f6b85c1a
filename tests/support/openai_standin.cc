#include "support/openai_standin.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "common/clock.h"
#include "common/crypto.h"

namespace engram::testing {

using nlohmann::json;

http::HttpResponse OpenAiStandIn::Handle(const http::HttpRequest& r) {
  if (r.Header("Authorization") != "Bearer test-key" || mode == Mode::kUnauthorized) {
    return http::HttpResponse::Json(401, {{"error", {{"message", "Incorrect API key"}}}});
  }
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded()) return http::HttpResponse::Json(400, {{"error", "bad json"}});
  if (r.Path() == "/v1/chat/completions") chat_attempts++;
  switch (mode.load()) {
    case Mode::kServerError:
      return http::HttpResponse::Json(500, {{"error", {{"message", "boom"}}}});
    case Mode::kRateLimited:
      return http::HttpResponse::Json(429, {{"error", {{"message", "slow down"}}}});
    case Mode::kSlow:
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      break;
    default:
      break;
  }
  if (r.Path() == "/v1/chat/completions") {
    chat_calls++;
    last_chat_body = r.body;
    if (body.value("model", "") != "test-model") {
      return http::HttpResponse::Json(404, {{"error", "no such model"}});
    }
    const std::string system = body["messages"][0].value("content", "");
    if (system.find("summary_v1") != std::string::npos) summary_calls++;
    std::string content =
        system.find("summary_v1") != std::string::npos  ? "LLM SUMMARY: Priya uses HubSpot."
        : system.find("recall_v1") != std::string::npos ? "LLM ANSWER: HubSpot."
        : mode == Mode::kGarbage
            ? "Sure! Here are the memories: HubSpot."
            : json({{"memories",
                     {{{"content", "Priya Raman's CRM is HubSpot."},
                       {"sector", "semantic"},
                       {"sectors", {"semantic"}},
                       {"subject", "crm"},
                       {"value", "HubSpot"},
                       {"salience", 0.8},
                       {"source_turns", {3}}},
                      {{"content", "Priya Raman is frustrated by duplicate contacts."},
                       {"sector", "emotional"},
                       {"sectors", {"emotional", "episodic", "nonsense"}},
                       {"salience", 7},
                       {"source_turns", {3, "x"}}}}}})
                  .dump();
    json choice = {{"index", 0},
                   {"message", {{"role", "assistant"}, {"content", content}}},
                   {"finish_reason", "stop"}};
    json reply = {{"id", "chatcmpl-1"}, {"object", "chat.completion"}, {"model", "test-model"}};
    reply["choices"] = json::array({choice});
    return http::HttpResponse::Json(200, reply);
  }
  if (r.Path() == "/v1/embeddings") {
    embedding_calls++;
    // A deterministic 8-d vector from the text's hash.
    auto digest = crypto::Sha256(body.value("input", ""));
    json v = json::array();
    for (int i = 0; i < (mode == Mode::kGarbage ? 5 : 8); ++i) v.push_back(digest[i] - 128.0);
    json item = {{"object", "embedding"}, {"index", 0}, {"embedding", v}};
    json reply = {{"object", "list"}, {"model", body.value("model", "")}};
    reply["data"] = json::array({item});
    return http::HttpResponse::Json(200, reply);
  }
  return http::HttpResponse::Json(404, {{"error", "unknown path"}});
}

memory::OpenAiEndpoint Endpoint(const OpenAiStandIn& s, int timeout_ms) {
  return {s.base_url(), "test-key", "test-model", std::chrono::milliseconds(timeout_ms)};
}

std::unique_ptr<log::RocksDbEventLog> LogWithFirstCall(const TempDir& dir) {
  log::RocksDbEventLogOptions lo;
  lo.path = dir / "log";
  auto log = std::move(log::RocksDbEventLog::Open(lo, SystemClock::Instance())).value();
  log::NewEvent e;
  e.type = "post_call_transcription";
  e.route = "/webhook/post-call";
  e.body = testing::Fixture("post_call_transcription.json");
  EXPECT_TRUE(log->Append(e).ok());
  return log;
}

projections::MemoryEngineParts Inline(projections::MemoryEngineParts parts) {
  parts.extraction = projections::ExtractionMode::kInline;
  return parts;
}

memory::ExtractionInput Input() {
  memory::ExtractionInput in;
  in.caller_name = "Priya Raman";
  in.turns = {{3, "user", "HubSpot is our CRM. Honestly, I'm really frustrated."}};
  return in;
}

}  // namespace engram::testing
