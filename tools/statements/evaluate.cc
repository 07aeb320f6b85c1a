#include "statements/evaluate.h"

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/clock.h"
#include "generalisation/engram_child.h"
#include "http/signature.h"

namespace engram::statements {
namespace {

using generalisation::EngramChild;
using generalisation::kAdminToken;
using generalisation::kToolSecret;
using generalisation::kWebhookSecret;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The given folder (kept), or a fresh one under $TMPDIR removed at the end.
class WorkDir {
 public:
  explicit WorkDir(const std::string& given) : path_(given) {
    if (!path_.empty()) {
      std::filesystem::create_directories(path_);
      return;
    }
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "engram-statements-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
    remove_ = true;
  }
  ~WorkDir() {
    std::error_code ec;
    if (remove_) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool remove_ = false;
};

class Run {
 public:
  Run(const StatementSet& set, const EvalOptions& o, EvalResult* out)
      : set_(set), o_(o), out_(out) {}

  Status Go(const std::string& dir) {
    const size_t n =
        o_.count == 0 ? set_.statements.size() : std::min(o_.count, set_.statements.size());
    std::filesystem::remove_all(dir + "/data");
    std::filesystem::create_directories(dir + "/data");
    child_ = std::make_unique<EngramChild>(
        generalisation::ChildOptions{o_.engram_binary, o_.embeddings, dir + "/data",
                                     dir + "/serve.log", o_.embedder, o_.serve_args});
    ENGRAM_RETURN_IF_ERROR(child_->Start());
    std::set<std::string> calls;
    for (size_t i = 0; i < n; ++i) {
      out_->outcomes.push_back({});
      StatementOutcome& s = out_->outcomes.back();
      s.id = set_.statements[i].id;
      s.conversation_id = set_.statements[i].conversation_id;
      calls.insert(s.conversation_id);
    }
    const auto ingest = Clock::now();
    std::map<std::string, std::vector<std::string>> reinforced;  // call -> memory ids
    for (size_t i = 0; i < n; ++i) {
      StatementOutcome& s = out_->outcomes[i];
      const auto start = Clock::now();
      ENGRAM_RETURN_IF_ERROR(PostCall(PostCallBody(set_, i), &s));
      ENGRAM_RETURN_IF_ERROR(Settle());
      s.learn_ms = MillisSince(start);
      ENGRAM_RETURN_IF_ERROR(Learnt(&s, &reinforced[s.conversation_id]));
    }
    out_->ingest_seconds = MillisSince(ingest) / 1000;
    ENGRAM_RETURN_IF_ERROR(FindUser());
    ENGRAM_ASSIGN_OR_RETURN(json memories,
                            Admin("/v1/users/" + out_->user_id + "/memories", "the memories"));
    ENGRAM_ASSIGN_OR_RETURN(out_->tally, TallyMemories(memories, calls));
    const MemoryTally& t = out_->tally;
    std::map<std::string, size_t> replaced;  // call -> its memories superseded by others
    for (const auto& [from, to] : t.wrong_supersessions) ++replaced[from];
    for (StatementOutcome& s : out_->outcomes) {
      auto count = [&](const std::map<std::string, size_t>& m) {
        auto it = m.find(s.conversation_id);
        return it == m.end() ? size_t{0} : it->second;
      };
      s.memories = count(t.by_conversation);
      s.current = count(t.current_by_conversation);
      s.superseded_by_other = count(replaced);
      for (const std::string& id : reinforced[s.conversation_id]) {
        auto src = t.source_of.find(id);
        if (src != t.source_of.end() && src->second != s.conversation_id &&
            calls.count(src->second)) {
          s.merged_into_other = true;
        }
      }
    }
    const auto queries = Clock::now();
    for (size_t i = 0; i < n; ++i) {
      ENGRAM_RETURN_IF_ERROR(Ask(set_.statements[i], &out_->outcomes[i]));
    }
    out_->query_seconds = MillisSince(queries) / 1000;
    const int exit_code = child_->Stop();
    if (exit_code != 0) {
      return Status::Internal("engram serve exited with " + std::to_string(exit_code) + ": " +
                              child_->LogTail());
    }
    return Status::Ok();
  }

 private:
  Status PostCall(const std::string& body, StatementOutcome* s) {
    const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    ENGRAM_ASSIGN_OR_RETURN(http::ClientResponse r,
                            child_->Send("POST", "/webhook/post-call", body,
                                         {{"ElevenLabs-Signature",
                                           http::SignatureHeaderValue(kWebhookSecret, now, body)},
                                          {"Content-Type", "application/json"}}));
    s->post_call_status = r.status;
    const json answer = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !answer.is_object() || answer.value("status", "") != "accepted") {
      return Status::Unavailable("post-call " + s->conversation_id + ": HTTP " +
                                 std::to_string(r.status) + ": " + r.body);
    }
    return Status::Ok();
  }

  // Until everything appended is projected and no extraction is queued or
  // pending, seen twice in a row with the same log head.
  Status Settle() { return child_->Settle(o_.settle_timeout, std::chrono::milliseconds(1)); }

  Result<json> Admin(const std::string& target, const std::string& what) {
    ENGRAM_ASSIGN_OR_RETURN(
        http::ClientResponse r,
        child_->Send("GET", target, "", {{"Authorization", std::string("Bearer ") + kAdminToken}}));
    json body = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !body.is_object()) {
      return Status::Unavailable(what + ": HTTP " + std::to_string(r.status) + ": " +
                                 r.body.substr(0, 300));
    }
    return body;
  }

  // The call's extraction status and the memories it reinforced; an error
  // unless it was extracted.
  Status Learnt(StatementOutcome* s, std::vector<std::string>* reinforced) {
    ENGRAM_ASSIGN_OR_RETURN(json learning, Admin("/v1/admin/conversations/" + s->conversation_id,
                                                 "conversation " + s->conversation_id));
    s->extraction = learning.value("extraction", "");
    for (const json& m : learning.value("memories", json::array())) {
      if (m.value("relation", "") == "reinforced") reinforced->push_back(m.value("id", ""));
    }
    if (s->extraction != "done") {
      return Status::Internal("conversation " + s->conversation_id + ": extraction '" +
                              s->extraction + "'");
    }
    return Status::Ok();
  }

  // The caller rings again: the init webhook names the user of the number.
  Status FindUser() {
    const json init = {{"caller_id", set_.caller_phone},
                       {"agent_id", set_.agent_id},
                       {"called_number", "+17205550100"}};
    ENGRAM_ASSIGN_OR_RETURN(
        http::ClientResponse r,
        child_->Send("POST", "/webhook/conversation-init", init.dump(),
                     {{"X-Engram-Secret", kToolSecret}, {"Content-Type", "application/json"}}));
    const json answer = json::parse(r.body, nullptr, false);
    if (r.status == 200 && answer.is_object() && answer.contains("dynamic_variables") &&
        answer["dynamic_variables"].is_object()) {
      out_->user_id = answer["dynamic_variables"].value("user_id", "");
    }
    if (out_->user_id.empty()) {
      return Status::Unavailable("init answered no user_id: HTTP " + std::to_string(r.status) +
                                 ": " + r.body);
    }
    return Settle();
  }

  Status Ask(const Statement& statement, StatementOutcome* s) {
    const json query = {{"query", statement.paraphrase},
                        {"user_id", out_->user_id},
                        {"limit", static_cast<int64_t>(o_.k)}};
    const std::string body = query.dump();
    const auto start = Clock::now();
    ENGRAM_ASSIGN_OR_RETURN(
        http::ClientResponse r,
        child_->Send("POST", "/tools/memory-query", body,
                     {{"X-Engram-Secret", kToolSecret}, {"Content-Type", "application/json"}}));
    s->query_ms = MillisSince(start);
    s->query_status = r.status;
    const json answer = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !answer.is_object() || !answer.contains("memories") ||
        !answer["memories"].is_array()) {
      return Status::Unavailable("memory-query \"" + statement.paraphrase + "\": HTTP " +
                                 std::to_string(r.status) + ": " + r.body.substr(0, 300));
    }
    std::vector<std::string> sources;
    for (const json& m : answer["memories"]) {
      s->returned.push_back(m.value("content", ""));
      const json& c = m.value("conversation_id", json(nullptr));
      sources.push_back(c.is_string() ? c.get<std::string>() : "");
    }
    s->rank = RankOf(sources, s->conversation_id);
    s->words_hit = WordsIn(s->returned, statement.must_contain, o_.k);
    return Settle();  // the recall's reinforcement, before the next question
  }

  const StatementSet& set_;
  const EvalOptions& o_;
  EvalResult* out_;
  std::unique_ptr<EngramChild> child_;
};

}  // namespace

EvalResult Evaluate(const StatementSet& set, const EvalOptions& options) {
  EvalResult result;
  WorkDir dir(options.work_dir);
  Run run(set, options, &result);
  Status s = run.Go(dir.path());
  if (!s.ok()) result.errors.push_back(s.ToString());
  return result;
}

}  // namespace engram::statements
