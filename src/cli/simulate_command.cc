// engram simulate --url http://HOST:PORT CALL.json...
//
// Plays each call as ElevenLabs would, against a running Engram:
//   1. the conversation-initiation webhook, built from the call's phone
//      metadata (prints the dynamic variables the agent would get);
//   2. the memory-tool calls found in the transcript (query_user_memory);
//   3. the signed post-call webhook (the file's bytes, verbatim);
// then waits for the extraction and prints what the call taught Engram:
// memories created, reinforced and superseded (through the admin API, so
// ENGRAM_ADMIN_TOKEN must be set on both sides for that part).
//
// A CALL.json is a post_call_transcription webhook body, like
// ../shared/elevenlabs/post_call_transcription.json.
#include <spdlog/fmt/fmt.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/json_fields.h"
#include "common/json_guard.h"
#include "http/signature.h"
#include "http_client/http_client.h"

namespace engram::cli {
namespace {

using nlohmann::json;

struct SimulateFlags {
  std::string url = "http://127.0.0.1:8080";
  std::vector<std::string> calls;
  std::string tool_secret_header = "X-Engram-Secret";
  int wait_secs = 30;
  bool json_output = false;
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

class Simulator {
 public:
  explicit Simulator(const SimulateFlags& flags)
      : flags_(flags),
        client_(http::MakeCurlHttpClient()),
        webhook_secret_(Env("ENGRAM_WEBHOOK_SECRET")),
        tool_secret_(Env("ENGRAM_TOOL_SECRET")),
        admin_token_(Env("ENGRAM_ADMIN_TOKEN")) {
    base_ = flags.url;
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  }

  // Plays one call; returns false when a request failed.
  bool Play(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Fail("cannot read " + path);
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string body = buf.str();
    // A post-call body, as deep as that route allows.
    auto parsed = ParseJsonGuarded(body, {.max_depth = kDeepJsonMaxDepth, .what = path});
    if (!parsed.ok()) return Fail(parsed.status().message());
    json call = std::move(parsed).value();
    if (!call.is_object() || !call.contains("data") || !call["data"].is_object()) {
      return Fail(path + " is not an ElevenLabs post-call webhook body");
    }
    const json& data = call["data"];
    const std::string conversation_id = data.value("conversation_id", "");
    report_ = {
        {"file", path}, {"conversation_id", conversation_id}, {"type", call.value("type", "")}};
    Say(fmt::format("== {} ({})", conversation_id, path));

    bool ok = true;
    std::string user_id = data.value("user_id", "");
    if (call.value("type", "") == "post_call_transcription") {
      ok &= Init(data, &user_id);
      ok &= ToolCalls(data, user_id);
    }
    ok &= PostCall(body);
    if (ok && call.value("type", "") == "post_call_transcription")
      ok &= ShowLearning(conversation_id);
    if (flags_.json_output) std::cout << report_.dump() << "\n";  // JSON Lines
    return ok;
  }

 private:
  Result<http::OutboundResponse> Send(const std::string& method, const std::string& path,
                                      const std::string& body,
                                      std::vector<std::pair<std::string, std::string>> headers) {
    http::OutboundRequest r;
    r.method = method;
    r.url = base_ + path;
    r.body = body;
    headers.emplace_back("Content-Type", "application/json");
    r.headers = std::move(headers);
    r.timeout = std::chrono::seconds(10);
    return client_->Send(r);
  }

  bool Init(const json& data, std::string* user_id) {
    const json metadata = data.value("metadata", json::object());
    const json phone = metadata.is_object() ? metadata.value("phone_call", json()) : json();
    if (!phone.is_object() || !phone.contains("external_number")) {
      Say("init: skipped (the call has no phone_call metadata)");
      return true;
    }
    // What ElevenLabs sends while the phone rings: the customer's number is
    // the caller for an inbound call, and the number called for an outbound one.
    json init = {{"caller_id", phone.value("external_number", "")},
                 {"agent_id", data.value("agent_id", "")},
                 {"called_number", phone.value("agent_number", "")},
                 {"call_sid", phone.value("call_sid", "")}};
    auto r = Send("POST", "/webhook/conversation-init", init.dump(),
                  {{flags_.tool_secret_header, tool_secret_}});
    if (!r.ok()) return Fail("init: " + r.status().ToString());
    json answer = ParseOrDiscarded(r->body, AnswerLimits());
    report_["init"] = {{"status", r->status}, {"response", answer}};
    if (r->status != 200 || !answer.is_object()) {
      return Fail(fmt::format("init: HTTP {}: {}", r->status, r->body));
    }
    const json vars = answer.value("dynamic_variables", json::object());
    Say("init: the agent starts with");
    for (const auto& [k, v] : vars.items()) {
      Say(fmt::format("  {{{{{}}}}} = {}", k, v.is_string() ? v.get<std::string>() : v.dump()));
    }
    if (vars.contains("user_id") && vars["user_id"].is_string() &&
        !vars["user_id"].get<std::string>().empty()) {
      *user_id = vars["user_id"];
    }
    call_sid_ = phone.value("call_sid", "");
    return true;
  }

  bool ToolCalls(const json& data, const std::string& user_id) {
    bool ok = true;
    int n = 0;
    report_["tool_calls"] = json::array();
    for (const json& turn : data.value("transcript", json::array())) {
      if (!turn.is_object()) continue;
      for (const json& call : turn.value("tool_calls", json::array())) {
        if (!call.is_object() || call.value("tool_name", "") != "query_user_memory") continue;
        const json details = call.value("tool_details", json::object());
        json params = details.is_object() ? details.value("body", json()) : json();
        if (params.is_string()) {
          params = ParseOrDiscarded(params.get<std::string>(), AnswerLimits());
        }
        if (!params.is_object()) params = json::object();
        // ElevenLabs fills the bound parameters from the call, not the LLM.
        if (!params.contains("user_id")) params["user_id"] = user_id;
        if (!params.contains("conversation_id")) {
          params["conversation_id"] = data.value("conversation_id", "");
        }
        if (!params.contains("call_sid") && !call_sid_.empty()) params["call_sid"] = call_sid_;
        auto r = Send("POST", "/tools/memory-query", params.dump(),
                      {{flags_.tool_secret_header, tool_secret_}});
        ++n;
        if (!r.ok()) {
          ok = Fail("tool: " + r.status().ToString());
          continue;
        }
        json answer = ParseOrDiscarded(r->body, AnswerLimits());
        report_["tool_calls"].push_back(
            {{"params", params}, {"status", r->status}, {"response", answer}});
        Say(fmt::format("tool: \"{}\" -> HTTP {}", params.value("query", ""), r->status));
        if (r->status != 200) {
          ok = Fail(r->body);
          continue;
        }
        for (const json& m : answer.value("memories", json::array())) {
          Say(fmt::format("  {:.3f} {}", m.value("score", 0.0), m.value("content", "")));
        }
      }
    }
    if (n == 0) Say("tool: the transcript has no query_user_memory calls");
    return ok;
  }

  bool PostCall(const std::string& body) {
    if (webhook_secret_.empty()) return Fail("set ENGRAM_WEBHOOK_SECRET to sign the post-call");
    const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r =
        Send("POST", "/webhook/post-call", body,
             {{"ElevenLabs-Signature", http::SignatureHeaderValue(webhook_secret_, now, body)}});
    if (!r.ok()) return Fail("post-call: " + r.status().ToString());
    json answer = ParseOrDiscarded(r->body, AnswerLimits());
    report_["post_call"] = {{"status", r->status}, {"response", answer}};
    if (r->status != 200) return Fail(fmt::format("post-call: HTTP {}: {}", r->status, r->body));
    Say(fmt::format("post-call: {} as seq {}", answer.value("status", "?"),
                    answer.value("seq", json()).dump()));
    post_call_seq_ = answer.value("seq", int64_t{0});
    return true;
  }

  bool ShowLearning(const std::string& conversation_id) {
    if (admin_token_.empty()) {
      Say("learnt: set ENGRAM_ADMIN_TOKEN (here and on the server) to see what was learnt");
      return true;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(flags_.wait_secs);
    json learning;
    for (;;) {
      auto r = Send("GET", "/v1/admin/conversations/" + conversation_id, "",
                    {{"Authorization", "Bearer " + admin_token_}});
      if (!r.ok()) return Fail("learnt: " + r.status().ToString());
      if (r->status == 200) {
        learning = ParseOrDiscarded(r->body, AnswerLimits());
        // A tool call during the call makes the conversation known before
        // its transcript is projected: wait for this very transcript.
        const bool projected = learning.value("transcript_seq", int64_t{0}) >= post_call_seq_;
        const std::string state = learning.value("extraction", "");
        if (projected && state != "pending") break;  // done, dead, failed, or none
      } else if (r->status != 404) {                 // 404: not projected yet
        return Fail(fmt::format("learnt: HTTP {}: {}", r->status, r->body));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Fail(fmt::format("learnt: extraction still pending after {} s", flags_.wait_secs));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    report_["learning"] = learning;
    const std::string state = learning.value("extraction", "");
    if (state == "dead" || state == "failed") {
      Say("learnt: nothing, the extraction failed (see `engram dead-letters list`)");
      return true;
    }
    if (state == "none") {
      Say("learnt: nothing (no known caller for this conversation)");
      return true;
    }
    int created = 0, reinforced = 0, superseded = 0;
    for (const json& m : learning.value("memories", json::array())) {
      const std::string relation = m.value("relation", "");
      const std::string content = m.value("content", "");
      if (relation == "created") {
        ++created;
        Say(fmt::format("  + new        [{}] {}", m.value("sector", ""), content));
      } else if (relation == "reinforced") {
        ++reinforced;
        Say(fmt::format("  = reinforced [{}] {}", m.value("sector", ""), content));
      } else if (relation == "superseded") {
        ++superseded;
        std::string by;
        if (m.contains("superseded_by")) by = m["superseded_by"].value("content", "");
        Say(fmt::format("  - superseded [{}] {}  ->  {}", m.value("sector", ""), content, by));
      }
    }
    Say(fmt::format("learnt: {} new, {} reinforced, {} superseded", created, reinforced,
                    superseded));
    return true;
  }

  void Say(const std::string& line) {
    if (!flags_.json_output) std::cout << line << "\n";
  }
  bool Fail(const std::string& message) {
    std::cerr << "engram simulate: " << message << "\n";
    return false;
  }

  const SimulateFlags& flags_;
  std::unique_ptr<http::HttpClient> client_;
  std::string base_;
  std::string webhook_secret_, tool_secret_, admin_token_;
  std::string call_sid_;
  int64_t post_call_seq_ = 0;
  json report_;
};

int Simulate(const SimulateFlags& flags) {
  Simulator sim(flags);
  bool ok = true;
  for (const std::string& call : flags.calls) ok &= sim.Play(call);
  return ok ? 0 : 1;
}

}  // namespace

void RegisterSimulate(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<SimulateFlags>();
  auto* cmd = app.add_subcommand(
      "simulate",
      "Play calls as ElevenLabs would (init webhook, memory-tool calls, signed post-call) and "
      "show what Engram learnt");
  cmd->add_option("--url", flags->url, "The Engram server")->capture_default_str();
  cmd->add_option("calls", flags->calls, "post_call_transcription bodies, played in order")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--tool-secret-header", flags->tool_secret_header,
                  "Header carrying ENGRAM_TOOL_SECRET (as for engram serve)")
      ->capture_default_str();
  cmd->add_option("--wait-secs", flags->wait_secs, "How long to wait for each extraction")
      ->capture_default_str();
  cmd->add_flag("--json", flags->json_output, "One JSON report per call and line instead of text");
  cmd->callback([flags, exit_code] { *exit_code = Simulate(*flags); });
}

}  // namespace engram::cli
