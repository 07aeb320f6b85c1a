#include "statements/report.h"

#include <cstdio>
#include <map>
#include <sstream>

namespace engram::statements {
namespace {

std::string Pct(size_t part, size_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", whole == 0 ? 0.0 : 100.0 * part / whole);
  return buf;
}

std::string Ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f ms", v);
  return buf;
}

}  // namespace

Summary Summarise(const EvalResult& r) {
  Summary s;
  std::vector<double> query_ms, learn_ms;
  for (const StatementOutcome& o : r.outcomes) {
    ++s.statements;
    s.with_memory += o.memories > 0;
    s.without_current += o.current == 0;
    s.superseded_by_other += o.superseded_by_other > 0;
    s.merged_into_other += o.merged_into_other;
    if (o.learn_ms > 0) learn_ms.push_back(o.learn_ms);
    if (o.query_status != 200) continue;
    ++s.asked;
    s.found_top1 += o.rank == 1;
    s.found_topk += o.rank >= 1;
    s.words_topk += o.words_hit;
    query_ms.push_back(o.query_ms);
  }
  s.wrong_supersessions = r.tally.wrong_supersessions.size();
  s.query_p50_ms = Percentile(query_ms, 50);
  s.query_p95_ms = Percentile(query_ms, 95);
  s.query_max_ms = Percentile(query_ms, 100);
  s.learn_p50_ms = Percentile(learn_ms, 50);
  s.learn_p95_ms = Percentile(learn_ms, 95);
  return s;
}

std::string TextReport(const EvalResult& r, const EvalOptions& o) {
  const Summary s = Summarise(r);
  const std::string k = std::to_string(o.k);
  std::ostringstream out;
  out << "statements: " << s.statements << " calls of one caller, " << s.asked
      << " paraphrases answered (limit " << k << ")\n";
  out << "found in top " << k << " (own call's memory): " << s.found_topk << "/" << s.statements
      << " = " << Pct(s.found_topk, s.statements) << "\n";
  out << "found at top 1: " << s.found_top1 << "/" << s.statements << " = "
      << Pct(s.found_top1, s.statements) << "\n";
  out << "must_contain words in top " << k << ": " << s.words_topk << "/" << s.statements << " = "
      << Pct(s.words_topk, s.statements) << "\n";
  out << "statements with a memory: " << s.with_memory
      << "; without a current memory: " << s.without_current << "\n";
  out << "wrong supersessions (a statement's memory replaced by another statement's): "
      << s.wrong_supersessions << " memories, " << s.superseded_by_other << " statements\n";
  out << "statements merged into another statement's memory (reinforced it): "
      << s.merged_into_other << "\n";
  out << "read model: " << r.tally.memories << " memories, " << r.tally.current << " current, "
      << r.tally.superseded_within_call << " superseded within their call, "
      << r.tally.superseded_by_unknown << " by a memory of no statement's call, "
      << r.tally.ended_without_replacement << " ended without replacement\n";
  out << "memory tool latency (loopback round trip): p50 " << Ms(s.query_p50_ms) << ", p95 "
      << Ms(s.query_p95_ms) << ", max " << Ms(s.query_max_ms) << "\n";
  out << "learning per call (post-call to projected): p50 " << Ms(s.learn_p50_ms) << ", p95 "
      << Ms(s.learn_p95_ms) << "\n";
  char times[96];
  std::snprintf(times, sizeof times, "ingestion %.1f s, queries %.1f s\n", r.ingest_seconds,
                r.query_seconds);
  out << times;
  for (const std::string& e : r.errors) out << "ERROR: " << e << "\n";
  return out.str();
}

nlohmann::json JsonReport(const EvalResult& r, const EvalOptions& o) {
  const Summary s = Summarise(r);
  nlohmann::json per = nlohmann::json::array();
  for (const StatementOutcome& x : r.outcomes) {
    per.push_back({{"id", x.id},
                   {"rank", x.rank},
                   {"words_hit", x.words_hit},
                   {"memories", x.memories},
                   {"current", x.current},
                   {"superseded_by_other", x.superseded_by_other},
                   {"merged_into_other", x.merged_into_other},
                   {"query_ms", x.query_ms},
                   {"learn_ms", x.learn_ms}});
  }
  nlohmann::json wrong = nlohmann::json::array();
  for (const auto& [from, to] : r.tally.wrong_supersessions) {
    wrong.push_back({{"superseded", from}, {"by", to}});
  }
  return {{"k", o.k},
          {"statements", s.statements},
          {"answered", s.asked},
          {"found_topk", s.found_topk},
          {"found_top1", s.found_top1},
          {"words_topk", s.words_topk},
          {"with_memory", s.with_memory},
          {"without_current_memory", s.without_current},
          {"wrong_supersessions", s.wrong_supersessions},
          {"statements_superseded_by_other", s.superseded_by_other},
          {"merged_into_other", s.merged_into_other},
          {"memories", r.tally.memories},
          {"current_memories", r.tally.current},
          {"query_ms", {{"p50", s.query_p50_ms}, {"p95", s.query_p95_ms}, {"max", s.query_max_ms}}},
          {"learn_ms", {{"p50", s.learn_p50_ms}, {"p95", s.learn_p95_ms}}},
          {"ingest_seconds", r.ingest_seconds},
          {"query_seconds", r.query_seconds},
          {"errors", r.errors},
          {"wrong_supersession_pairs", wrong},
          {"per_statement", per}};
}

std::string MissesReport(const EvalResult& r, const StatementSet& set) {
  std::map<std::string, const Statement*> by_call;
  for (const Statement& s : set.statements) by_call[s.conversation_id] = &s;
  std::ostringstream out;
  for (const StatementOutcome& o : r.outcomes) {
    if (o.rank >= 1 || o.query_status == 0) continue;
    const Statement& s = *by_call.at(o.conversation_id);
    out << "MISS " << s.id << " (" << o.current << " current of " << o.memories
        << ")\n  said:  " << s.statement << "\n  asked: " << s.paraphrase << "\n";
    for (const std::string& c : o.returned) out << "    - " << c << "\n";
  }
  for (const auto& [from, to] : r.tally.wrong_supersessions) {
    auto a = by_call.find(from), b = by_call.find(to);
    if (a == by_call.end() || b == by_call.end()) continue;
    out << "SUPERSEDED " << a->second->id << " \"" << a->second->statement << "\"\n  by "
        << b->second->id << " \"" << b->second->statement << "\"\n";
  }
  return out.str();
}

}  // namespace engram::statements
