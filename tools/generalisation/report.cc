#include "generalisation/report.h"

#include <spdlog/fmt/fmt.h>

namespace engram::generalisation {
namespace {

using nlohmann::json;

std::string Percent(size_t n, size_t of) {
  return of == 0 ? "-" : fmt::format("{:.1f}%", 100.0 * static_cast<double>(n) / of);
}

std::string NameCell(const FixtureResult& r, int n) {
  return fmt::format("{} (\"{}\")", NameMatchLabel(r.name_match[n]), r.user_name[n]);
}

// "exact a/N, first name b/N" (first name counts the exact matches too).
std::string NameLine(const std::vector<FixtureResult>& results, int n) {
  size_t exact = 0, first = 0;
  for (const FixtureResult& r : results) {
    exact += r.name_match[n] == NameMatch::kExact;
    first += r.name_match[n] != NameMatch::kNo;
  }
  return fmt::format("exact {}/{}, first name {}/{}", exact, results.size(), first, results.size());
}

std::string HitsLine(Tally t, const std::vector<size_t>& cutoffs) {
  std::string out = fmt::format("{} questions", t.questions);
  for (size_t c : cutoffs) {
    out += fmt::format(", hit@{} {} ({})", c, t.hits[c], Percent(t.hits[c], t.questions));
  }
  return out;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

Tally Count(const std::vector<FixtureResult>& results, int after_call) {
  Tally t;
  for (const FixtureResult& r : results) {
    for (const QuestionOutcome& q : r.questions) {
      if (after_call != 0 && q.question.after_call != after_call) continue;
      ++t.questions;
      for (const auto& [c, hit] : q.hit) t.hits[c] += hit;
      t.updates += !q.question.must_not_top1.empty();
      t.top1_violations += q.top1_violation;
      t.answered += q.http_status == 200;
    }
  }
  return t;
}

std::string TextReport(const std::vector<FixtureResult>& results, const EvalOptions& options) {
  const std::vector<size_t> cutoffs = Cutoffs(options.k);
  std::string out = "| trade | questions |";
  std::string rule = "| --- | ---: |";
  for (size_t c : cutoffs) {
    out += fmt::format(" hit@{} |", c);
    rule += " ---: |";
  }
  out += " top-1 old value | user_name after call 1 | user_name after call 2 |\n";
  out += rule + " ---: | --- | --- |\n";
  for (const FixtureResult& r : results) {
    Tally t = Count({r});
    out += fmt::format("| {} | {} |", r.trade.empty() ? r.file : r.trade, t.questions);
    for (size_t c : cutoffs) out += fmt::format(" {} |", t.hits[c]);
    out += fmt::format(" {}/{} | {} | {} |\n", t.top1_violations, t.updates, NameCell(r, 0),
                       NameCell(r, 1));
  }
  const Tally all = Count(results);
  out += "\n";
  out += fmt::format(
      "overall (memory tool limit {}): {}; top-1 old value {} of {} update "
      "questions\n",
      options.k, HitsLine(all, cutoffs), all.top1_violations, all.updates);
  for (int n : {1, 2}) {
    out += fmt::format("after_call {}: {}\n", n, HitsLine(Count(results, n), cutoffs));
  }
  out += fmt::format("user_name after call 1: {}\n", NameLine(results, 0));
  out += fmt::format("user_name after call 2: {}\n", NameLine(results, 1));
  size_t errors = 0;
  for (const FixtureResult& r : results) {
    for (const std::string& e : r.errors) {
      out += fmt::format("ERROR {}: {}\n", r.file, e);
      ++errors;
    }
  }
  if (errors == 0) out += "errors: none\n";
  return out;
}

std::string VerboseReport(const std::vector<FixtureResult>& results) {
  std::string out;
  for (const FixtureResult& r : results) {
    out += fmt::format("== {} ({}), user_id {}, {:.1f} s\n", r.trade, r.file, r.user_id, r.seconds);
    for (size_t i = 0; i < r.calls.size(); ++i) {
      const CallOutcome& c = r.calls[i];
      out += fmt::format(
          "  call {} {}: init {}, post-call {}, extraction {}: {} new, {} "
          "reinforced, {} superseded\n",
          i + 1, c.conversation_id, c.init_status, c.post_call_status, c.extraction, c.created,
          c.reinforced, c.superseded);
    }
    out += fmt::format("  user_name after call 1 \"{}\", after call 2 \"{}\", expected \"{}\"\n",
                       r.user_name[0], r.user_name[1], r.expected_user_name);
    for (const QuestionOutcome& q : r.questions) {
      std::string hits;
      for (const auto& [c, hit] : q.hit) hits += fmt::format(" @{}:{}", c, hit ? "hit" : "miss");
      std::string must = Join(q.question.must_contain);
      if (!q.question.must_not_top1.empty()) {
        must += fmt::format("; not top-1: {}", Join(q.question.must_not_top1));
      }
      out += fmt::format("  [after {}] {} ({}) HTTP {}{}{}\n", q.question.after_call,
                         q.question.question, must, q.http_status, hits,
                         q.top1_violation ? " TOP-1 OLD VALUE" : "");
      for (size_t m = 0; m < q.memories.size(); ++m) {
        out +=
            fmt::format("      {}. {:.4f} {}\n", m + 1, q.memories[m].score, q.memories[m].content);
      }
    }
    for (const std::string& e : r.errors) out += fmt::format("  ERROR {}\n", e);
  }
  return out;
}

json JsonReport(const std::vector<FixtureResult>& results, const EvalOptions& options) {
  auto tally = [](const Tally& t) {
    json hits = json::object();
    for (const auto& [c, n] : t.hits) hits[std::to_string(c)] = n;
    return json{{"questions", t.questions},
                {"answered", t.answered},
                {"hits", hits},
                {"update_questions", t.updates},
                {"top1_violations", t.top1_violations}};
  };
  json fixtures = json::array();
  for (const FixtureResult& r : results) {
    json calls = json::array();
    for (const CallOutcome& c : r.calls) {
      calls.push_back({{"conversation_id", c.conversation_id},
                       {"init_status", c.init_status},
                       {"post_call_status", c.post_call_status},
                       {"extraction", c.extraction},
                       {"created", c.created},
                       {"reinforced", c.reinforced},
                       {"superseded", c.superseded}});
    }
    json questions = json::array();
    for (const QuestionOutcome& q : r.questions) {
      json hit = json::object(), memories = json::array();
      for (const auto& [c, h] : q.hit) hit[std::to_string(c)] = h;
      for (const RecalledMemory& m : q.memories) {
        memories.push_back({{"content", m.content}, {"score", m.score}});
      }
      questions.push_back({{"question", q.question.question},
                           {"after_call", q.question.after_call},
                           {"must_contain", q.question.must_contain},
                           {"must_not_contain_top1", q.question.must_not_top1},
                           {"http_status", q.http_status},
                           {"hit", hit},
                           {"top1_violation", q.top1_violation},
                           {"memories", memories}});
    }
    fixtures.push_back({{"file", r.file},
                        {"trade", r.trade},
                        {"user_id", r.user_id},
                        {"expected_user_name", r.expected_user_name},
                        {"user_name_after_call_1", r.user_name[0]},
                        {"user_name_after_call_2", r.user_name[1]},
                        {"name_match_after_call_1", NameMatchLabel(r.name_match[0])},
                        {"name_match_after_call_2", NameMatchLabel(r.name_match[1])},
                        {"scores", tally(Count({r}))},
                        {"calls", calls},
                        {"questions", questions},
                        {"errors", r.errors},
                        {"seconds", r.seconds}});
  }
  auto names = [&](int n) {
    size_t exact = 0, first = 0;
    for (const FixtureResult& r : results) {
      exact += r.name_match[n] == NameMatch::kExact;
      first += r.name_match[n] != NameMatch::kNo;
    }
    return json{{"exact", exact}, {"first_name", first}, {"of", results.size()}};
  };
  return {{"k", options.k},
          {"cutoffs", Cutoffs(options.k)},
          {"overall", tally(Count(results))},
          {"after_call_1", tally(Count(results, 1))},
          {"after_call_2", tally(Count(results, 2))},
          {"user_name_after_call_1", names(0)},
          {"user_name_after_call_2", names(1)},
          {"fixtures", fixtures}};
}

}  // namespace engram::generalisation
