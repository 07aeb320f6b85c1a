#include "generalisation/evaluate.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/clock.h"
#include "generalisation/engram_child.h"
#include "http/signature.h"

namespace engram::generalisation {
namespace {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// A folder for data folders: the given one (kept), or a fresh one under
// $TMPDIR, removed on destruction unless kept.
class WorkDir {
 public:
  explicit WorkDir(const EvalOptions& o) : path_(o.work_dir), remove_(false) {
    if (!path_.empty()) {
      std::filesystem::create_directories(path_);
      return;
    }
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "engram-generalisation-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
    remove_ = !o.keep;
  }
  ~WorkDir() {
    std::error_code ec;
    if (remove_) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool remove_;
};

json ParseBody(const std::string& body) { return json::parse(body, nullptr, false); }

// One pass over a fixture: a fresh `engram serve`, the calls, the questions
// asked with `limit`.
class Pass {
 public:
  Pass(const Fixture& f, const EvalOptions& o, size_t limit, const std::string& dir)
      : f_(f), o_(o), limit_(limit), dir_(dir) {}

  // Runs the pass; an error stops it (what ran is kept in the members).
  Status Run() {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ + "/data");
    child_ = std::make_unique<EngramChild>(ChildOptions{
        o_.engram_binary, o_.embeddings, dir_ + "/data", dir_ + "/serve.log", o_.embedder, {}});
    ENGRAM_RETURN_IF_ERROR(child_->Start());
    for (size_t i = 0; i < f_.calls.size(); ++i) {
      const Call& call = f_.calls[i];
      CallOutcome outcome;
      outcome.conversation_id = call.conversation_id;
      // The init of call i+1 (i > 0) is also the first look at what call i
      // taught about the name.
      ENGRAM_ASSIGN_OR_RETURN(json vars, Init(call, /*with_call_sid=*/true, &outcome.init_status));
      if (i > 0) {
        names_.push_back(vars.value("user_name", ""));
        ENGRAM_RETURN_IF_ERROR(AskQuestions(static_cast<int>(i)));
      }
      calls_.push_back(outcome);
      ENGRAM_RETURN_IF_ERROR(PostCall(call, &calls_.back()));
      ENGRAM_RETURN_IF_ERROR(Settle());
      ENGRAM_RETURN_IF_ERROR(CheckLearnt(&calls_.back()));
    }
    // The next call rings: no call_sid, nothing bound, only the answer read.
    int status = 0;
    ENGRAM_ASSIGN_OR_RETURN(json vars, Init(f_.calls.back(), /*with_call_sid=*/false, &status));
    names_.push_back(vars.value("user_name", ""));
    ENGRAM_RETURN_IF_ERROR(AskQuestions(static_cast<int>(f_.calls.size())));
    const int exit_code = child_->Stop();
    if (exit_code != 0) {
      return Status::Internal("engram serve exited with " + std::to_string(exit_code) + ": " +
                              child_->LogTail());
    }
    return Status::Ok();
  }

  std::vector<CallOutcome> calls_;
  std::vector<std::string> names_;  // user_name after call 1, after call 2
  std::string user_id_;
  // Per question index: the HTTP status and the contents in rank order.
  std::map<size_t, int> status_;
  std::map<size_t, std::vector<RecalledMemory>> answers_;

 private:
  Result<json> Init(const Call& call, bool with_call_sid, int* status) {
    json init = {{"caller_id", call.caller_id},
                 {"agent_id", call.agent_id},
                 {"called_number", call.called_number}};
    if (with_call_sid) init["call_sid"] = call.call_sid;
    ENGRAM_ASSIGN_OR_RETURN(
        http::ClientResponse r,
        child_->Send("POST", "/webhook/conversation-init", init.dump(),
                     {{"X-Engram-Secret", kToolSecret}, {"Content-Type", "application/json"}}));
    *status = r.status;
    const json answer = ParseBody(r.body);
    if (r.status != 200 || !answer.is_object() || !answer.contains("dynamic_variables") ||
        !answer["dynamic_variables"].is_object()) {
      return Status::Unavailable("init for " + call.conversation_id + ": HTTP " +
                                 std::to_string(r.status) + ": " + r.body);
    }
    const json& vars = answer["dynamic_variables"];
    user_id_ = vars.value("user_id", "");
    if (user_id_.empty()) return Status::Unavailable("init answered no user_id: " + r.body);
    ENGRAM_RETURN_IF_ERROR(Settle());
    return vars;
  }

  Status PostCall(const Call& call, CallOutcome* outcome) {
    const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    ENGRAM_ASSIGN_OR_RETURN(
        http::ClientResponse r,
        child_->Send(
            "POST", "/webhook/post-call", call.body,
            {{"ElevenLabs-Signature", http::SignatureHeaderValue(kWebhookSecret, now, call.body)},
             {"Content-Type", "application/json"}}));
    outcome->post_call_status = r.status;
    const json answer = ParseBody(r.body);
    if (r.status != 200 || !answer.is_object() || answer.value("status", "") != "accepted") {
      return Status::Unavailable("post-call " + call.conversation_id + ": HTTP " +
                                 std::to_string(r.status) + ": " + r.body);
    }
    return Status::Ok();
  }

  // Waits until everything appended is projected and no extraction is queued
  // or pending, seen twice in a row with the same log head.
  Status Settle() { return child_->Settle(o_.settle_timeout, std::chrono::milliseconds(2)); }

  // What the call taught, through the admin API; an error unless extracted.
  Status CheckLearnt(CallOutcome* outcome) {
    ENGRAM_ASSIGN_OR_RETURN(
        http::ClientResponse r,
        child_->Send("GET", "/v1/admin/conversations/" + outcome->conversation_id, "",
                     {{"Authorization", std::string("Bearer ") + kAdminToken}}));
    const json learning = ParseBody(r.body);
    if (r.status != 200 || !learning.is_object()) {
      return Status::Unavailable("conversation " + outcome->conversation_id +
                                 " not projected: HTTP " + std::to_string(r.status));
    }
    outcome->extraction = learning.value("extraction", "");
    for (const json& m : learning.value("memories", json::array())) {
      const std::string relation = m.value("relation", "");
      outcome->created += relation == "created";
      outcome->reinforced += relation == "reinforced";
      outcome->superseded += relation == "superseded";
    }
    if (outcome->extraction != "done") {
      return Status::Internal("conversation " + outcome->conversation_id + ": extraction '" +
                              outcome->extraction + "'");
    }
    return Status::Ok();
  }

  Status AskQuestions(int after_call) {
    for (size_t i = 0; i < f_.questions.size(); ++i) {
      if (f_.questions[i].after_call != after_call) continue;
      json query = {{"query", f_.questions[i].question},
                    {"user_id", user_id_},
                    {"limit", static_cast<int64_t>(limit_)}};
      ENGRAM_ASSIGN_OR_RETURN(
          http::ClientResponse r,
          child_->Send("POST", "/tools/memory-query", query.dump(),
                       {{"X-Engram-Secret", kToolSecret}, {"Content-Type", "application/json"}}));
      status_[i] = r.status;
      const json answer = ParseBody(r.body);
      if (r.status != 200 || !answer.is_object() || !answer.contains("memories") ||
          !answer["memories"].is_array()) {
        return Status::Unavailable("memory-query \"" + f_.questions[i].question + "\": HTTP " +
                                   std::to_string(r.status) + ": " + r.body);
      }
      auto& memories = answers_[i];
      for (const json& m : answer["memories"]) {
        memories.push_back({m.value("content", ""), m.value("score", 0.0)});
      }
      ENGRAM_RETURN_IF_ERROR(Settle());  // the recall's reinforcement
    }
    return Status::Ok();
  }

  const Fixture& f_;
  const EvalOptions& o_;
  size_t limit_;
  std::string dir_;
  std::unique_ptr<EngramChild> child_;
};

std::vector<std::string> Contents(const std::vector<RecalledMemory>& memories) {
  std::vector<std::string> out;
  for (const RecalledMemory& m : memories) out.push_back(m.content);
  return out;
}

std::string Stem(const std::string& file) { return std::filesystem::path(file).stem().string(); }

FixtureResult EvaluateIn(const Fixture& f, const EvalOptions& o, const std::string& root) {
  const auto start = std::chrono::steady_clock::now();
  FixtureResult result;
  result.file = f.file;
  result.trade = f.trade;
  result.expected_user_name = f.expected_user_name;
  const std::vector<size_t> cutoffs = Cutoffs(o.k);
  // The pass at limit k first; then one per cut-off above k.
  std::vector<size_t> limits = {o.k};
  for (size_t c : cutoffs) {
    if (c > o.k) limits.push_back(c);
  }
  for (const Question& q : f.questions) result.questions.push_back({q, 0, {}, false, {}});
  for (size_t limit : limits) {
    Pass pass(f, o, limit, root + "/" + Stem(f.file) + "-limit" + std::to_string(limit));
    Status s = pass.Run();
    if (!s.ok()) result.errors.push_back("limit " + std::to_string(limit) + ": " + s.ToString());
    for (size_t i = 0; i < f.questions.size(); ++i) {
      QuestionOutcome& out = result.questions[i];
      auto answer = pass.answers_.find(i);
      auto status = pass.status_.find(i);
      const std::vector<std::string> contents =
          answer == pass.answers_.end() ? std::vector<std::string>() : Contents(answer->second);
      for (size_t c : cutoffs) {
        // Cut-offs up to k from the pass at limit k; one above k from its own pass.
        const bool from_this_pass = limit == o.k ? c <= o.k : c == limit;
        if (from_this_pass)
          out.hit[c] = answer != pass.answers_.end() && HitAt(contents, f.questions[i], c);
      }
      if (limit != o.k) continue;  // its failures are in `errors`
      out.http_status = status == pass.status_.end() ? 0 : status->second;
      out.top1_violation = Top1Violation(contents, f.questions[i]);
      if (answer != pass.answers_.end()) out.memories = answer->second;
    }
    if (limit != o.k) continue;
    result.calls = pass.calls_;
    result.user_id = pass.user_id_;
    for (size_t n = 0; n < 2 && n < pass.names_.size(); ++n) {
      result.user_name[n] = pass.names_[n];
      result.name_match[n] = MatchName(pass.names_[n], f.expected_user_name);
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

std::vector<size_t> Cutoffs(size_t k) {
  std::set<size_t> c = {1, 3, 5, k};
  return {c.begin(), c.end()};
}

FixtureResult EvaluateFixture(const Fixture& fixture, const EvalOptions& options) {
  WorkDir root(options);
  return EvaluateIn(fixture, options, root.path());
}

std::vector<FixtureResult> EvaluateAll(const std::vector<std::string>& files,
                                       const EvalOptions& options) {
  WorkDir root(options);
  std::vector<FixtureResult> results;
  for (const std::string& file : files) {
    Result<Fixture> f = LoadFixture(file);
    if (!f.ok()) {
      FixtureResult failed;
      failed.file = std::filesystem::path(file).filename().string();
      failed.errors.push_back(f.status().ToString());
      results.push_back(std::move(failed));
      continue;
    }
    results.push_back(EvaluateIn(*f, options, root.path()));
  }
  return results;
}

}  // namespace engram::generalisation
