// engram-locomo: measures how well Engram's memory tool recalls the evidence
// of LoCoMo questions (Maharana et al., 2024), end to end over HTTP against a
// running `engram serve`.
//
// What it measures: for every question of categories 1-4 with valid evidence,
// whether the memories the tool returns were learnt from the dialogue turns
// that hold the answer. Per category id and overall: hit@k (any evidence turn
// among the sources of the top k memories) and fractional recall@k (the share
// of evidence turns covered; the LoCoMo paper's Table 3 metric) for k = 1, 5,
// 10, plus the words returned per answer at k = 10, since a memory that
// covered a whole session would win recall unfairly. The protocol is the one
// of /work/shared/datasets/README.md.
//
// Why: extraction rules and recall weights are easy to tune by anecdote and
// hard to tune by evidence. This tool drives the real routes (signed post-call
// webhooks in, the memory tool out), so what it reports is what an agent
// would get, including extraction, deduplication, waypoints, salience and
// recency.
//
// How:
//  1. One Engram user per speaker per sample ("<prefix>-<sample>-<speaker>").
//     Every session is sent twice as a post_call_transcription, once per
//     speaker-user: that speaker's turns have role "user", the other's role
//     "agent". Each turn is a transcript message "<Speaker>: <text>", plus
//     " [shares <blip_caption>]" for an image; time_in_call_secs grows by
//     kSecondsPerTurn; metadata.start_time_unix_secs is the session's date;
//     the conversation id is unique per (sample, session, speaker). Bodies are
//     signed with the server's webhook secret just before they are sent.
//  2. Per conversation id, the tool keeps turn index -> dia_id, so a memory's
//     (conversation_id, source_turns) maps back to LoCoMo evidence ids.
//  3. It waits until the server has projected the whole log (GET /healthz:
//     applied == log_head), then asks the memory tool each question with
//     limit 10. Questions do not say whose memory they are about (most name a
//     speaker, some name both, some neither), so the tool queries BOTH
//     speaker-users of the sample and merges the two ranked lists by the
//     tool's score (ties: better rank, then speaker a). Memories with the same
//     content from both users (a turn learnt once per perspective) are kept
//     once, at their better score, so a duplicate cannot fill a slot; the
//     merged list is cut to 10. Both choices favour neither speaker and stay
//     within what one tool call per user returns.
//  4. Every tool call is itself an event: the server reinforces the salience
//     of what it returned. The tool therefore waits for the projection after
//     each question (unless --no-settle), so a run is deterministic in
//     question order rather than dependent on projector timing. --passes N
//     asks every question N times to show how much that reinforcement moves
//     the figures.
//
// Evidence ids are normalised with D\s*:?\s*(\d+)\s*:\s*(\d+) (a few strings
// hold several ids or stray colons); ids that point at no turn are dropped,
// and a question left without evidence is skipped.
//
// Only loopback addresses (127.0.0.0/8, ::1) are accepted: the tool writes
// into the server it measures. The run is bounded by --deadline-secs.
//
// Exit status: 0 on a complete run, 1 when the server failed or the deadline
// passed, 2 on bad arguments or an unreadable dataset.
#include "locomo_recall.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/http_connection.h"

namespace engram::tools::locomo {
namespace {

// ---------------------------------------------------------------------------
// Querying and scoring.

struct Returned {
  double score = 0;
  size_t user = 0;  // 0: speaker a, 1: speaker b
  size_t rank = 0;
  std::string content;
  std::set<std::string> dia_ids;
};

// The two users' ranked lists merged by score (ties: better rank, then
// speaker a), equal contents kept once at their better place, cut to kMaxK.
std::vector<Returned> Merge(std::vector<Returned> all, bool dedupe) {
  std::stable_sort(all.begin(), all.end(), [](const Returned& a, const Returned& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.user < b.user;
  });
  std::vector<Returned> out;
  std::set<std::string> seen;
  for (Returned& r : all) {
    if (out.size() == kMaxK) break;
    if (dedupe && !seen.insert(r.content).second) continue;
    out.push_back(std::move(r));
  }
  return out;
}

size_t CountWords(const std::string& s) {
  std::istringstream in(s);
  size_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

struct Tally {
  size_t n = 0;
  std::array<double, kCutoffs.size()> hit{};
  std::array<double, kCutoffs.size()> recall{};
  double words = 0;     // at k = kMaxK
  double returned = 0;  // memories in the merged list

  void Add(const Tally& o) {
    n += o.n;
    for (size_t i = 0; i < kCutoffs.size(); ++i) {
      hit[i] += o.hit[i];
      recall[i] += o.recall[i];
    }
    words += o.words;
    returned += o.returned;
  }
  double Mean(double sum) const { return n ? sum / static_cast<double>(n) : 0.0; }
};

struct PassResult {
  std::map<int, Tally> by_category;
  Tally overall;
  double seconds = 0;
  size_t unmapped = 0;  // returned memories whose conversation/turns were not ours
};

Result<PassResult> RunPass(Server& server, const Flags& flags, const std::vector<Sample>& samples,
                           const TurnMap& turn_map, std::ostream* dump) {
  PassResult result;
  const auto start = Clock::now();
  for (const Sample& sample : samples) {
    const std::array<std::string, 2> users = {UserId(flags, sample, sample.speaker_a),
                                              UserId(flags, sample, sample.speaker_b)};
    for (const Question& q : sample.questions) {
      std::vector<Returned> all;
      for (size_t u = 0; u < users.size(); ++u) {
        ENGRAM_ASSIGN_OR_RETURN(json memories, server.Query(q.text, users[u], kMaxK));
        for (size_t rank = 0; rank < memories.size(); ++rank) {
          const json& m = memories[rank];
          Returned r;
          r.score = m.value("score", 0.0);
          r.user = u;
          r.rank = rank;
          r.content = m.value("content", "");
          auto it = turn_map.find(m.value("conversation_id", ""));
          bool mapped = it != turn_map.end();
          for (const json& turn : m.value("source_turns", json::array())) {
            if (!turn.is_number_integer()) continue;
            const int64_t index = turn.get<int64_t>();
            if (mapped && index >= 0 && static_cast<size_t>(index) < it->second.size()) {
              r.dia_ids.insert(it->second[static_cast<size_t>(index)]);
            } else {
              mapped = false;
            }
          }
          result.unmapped += !mapped;
          all.push_back(std::move(r));
        }
      }
      if (flags.settle) ENGRAM_RETURN_IF_ERROR(server.WaitForProjection());
      const std::vector<Returned> merged = Merge(std::move(all), flags.dedupe);

      Tally t;
      t.n = 1;
      std::set<std::string> covered;
      size_t taken = 0;
      for (size_t c = 0; c < kCutoffs.size(); ++c) {
        for (; taken < std::min(kCutoffs[c], merged.size()); ++taken) {
          covered.insert(merged[taken].dia_ids.begin(), merged[taken].dia_ids.end());
        }
        size_t found = 0;
        for (const std::string& e : q.evidence) found += covered.count(e);
        t.hit[c] = found > 0 ? 1.0 : 0.0;
        t.recall[c] = static_cast<double>(found) / static_cast<double>(q.evidence.size());
      }
      for (const Returned& r : merged) t.words += static_cast<double>(CountWords(r.content));
      t.returned = static_cast<double>(merged.size());
      result.by_category[q.category].Add(t);
      result.overall.Add(t);

      if (dump) {
        json returned = json::array();
        for (const Returned& r : merged) {
          returned.push_back({{"score", r.score},
                              {"user", r.user == 0 ? sample.speaker_a : sample.speaker_b},
                              {"content", r.content},
                              {"dia_ids", r.dia_ids}});
        }
        *dump << json({{"sample", sample.id},
                       {"category", q.category},
                       {"question", q.text},
                       {"evidence", q.evidence},
                       {"recall@10", t.recall.back()},
                       {"returned", returned}})
                     .dump()
              << "\n";
      }
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

// ---------------------------------------------------------------------------
// Reporting.

json TallyJson(const Tally& t) {
  json j = {{"n", t.n}};
  for (size_t c = 0; c < kCutoffs.size(); ++c) {
    const std::string k = std::to_string(kCutoffs[c]);
    j["hit@" + k] = std::round(t.Mean(t.hit[c]) * 10000) / 10000;
    j["recall@" + k] = std::round(t.Mean(t.recall[c]) * 10000) / 10000;
  }
  j["words_per_answer@10"] = std::round(t.Mean(t.words) * 10) / 10;
  j["memories_per_answer"] = std::round(t.Mean(t.returned) * 100) / 100;
  return j;
}

void PrintTable(const PassResult& r, int pass, int passes) {
  if (passes > 1) std::printf("pass %d of %d (%.1f s)\n", pass, passes, r.seconds);
  std::printf("%-16s %5s %7s %7s %7s %7s %7s %7s %9s\n", "category", "n", "hit@1", "hit@5",
              "hit@10", "R@1", "R@5", "R@10", "words@10");
  auto row = [](const std::string& name, const Tally& t) {
    std::printf("%-16s %5zu %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %9.1f\n", name.c_str(), t.n,
                100 * t.Mean(t.hit[0]), 100 * t.Mean(t.hit[1]), 100 * t.Mean(t.hit[2]),
                100 * t.Mean(t.recall[0]), 100 * t.Mean(t.recall[1]), 100 * t.Mean(t.recall[2]),
                t.Mean(t.words));
  };
  for (const auto& [category, t] : r.by_category) {
    row(std::to_string(category) + " " + kCategoryNames.at(category), t);
  }
  row("overall", r.overall);
}

int Run(const Flags& flags_in) {
  Flags flags = flags_in;
  if (flags.webhook_secret.empty()) {
    const char* s = std::getenv("ENGRAM_WEBHOOK_SECRET");
    flags.webhook_secret = s ? s : "";
  }
  if (flags.tool_secret.empty()) {
    const char* s = std::getenv("ENGRAM_TOOL_SECRET");
    flags.tool_secret = s ? s : "";
  }
  if (flags.webhook_secret.empty() || flags.tool_secret.empty()) {
    std::fprintf(stderr,
                 "engram-locomo: set ENGRAM_WEBHOOK_SECRET and ENGRAM_TOOL_SECRET (or "
                 "--webhook-secret/--tool-secret) to the server's secrets\n");
    return 2;
  }
  auto target = ParseTarget(flags.url);
  if (!target.ok()) {
    std::fprintf(stderr, "engram-locomo: %s\n", target.status().ToString().c_str());
    return 2;
  }
  auto samples = LoadDataset(flags.dataset, flags.samples);
  if (!samples.ok()) {
    std::fprintf(stderr, "engram-locomo: %s\n", samples.status().ToString().c_str());
    return 2;
  }
  size_t questions = 0, skipped = 0, dropped = 0, sessions = 0;
  for (const Sample& s : *samples) {
    questions += s.questions.size();
    skipped += s.skipped;
    dropped += s.dropped_ids;
    sessions += s.sessions.size();
  }
  std::unique_ptr<std::ofstream> dump;
  if (!flags.dump_path.empty()) {
    dump = std::make_unique<std::ofstream>(flags.dump_path);
    if (!*dump) {
      std::fprintf(stderr, "engram-locomo: cannot write %s\n", flags.dump_path.c_str());
      return 2;
    }
  }

  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(flags.deadline_secs * 1000));
  Server server(*target, flags, deadline);
  auto fail = [](const char* phase, const Status& s) {
    std::fprintf(stderr, "engram-locomo: %s: %s\n", phase, s.ToString().c_str());
    return 1;
  };
  // A server started a moment ago may not listen yet: retry connecting for a
  // while before giving up.
  for (auto until = Clock::now() + kStartupGrace;;) {
    Status s = server.WaitForProjection();
    if (s.ok()) break;
    if (!s.message().starts_with("connect ") || Clock::now() > until) {
      return fail("server not ready", s);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::fprintf(stderr, "engram-locomo: ingesting %zu samples, %zu sessions (x2 speakers)\n",
               samples->size(), sessions);
  TurnMap turn_map;
  IngestStats ingest;
  if (Status s = Ingest(server, flags, *samples, &turn_map, &ingest); !s.ok()) {
    return fail("ingestion", s);
  }
  std::fprintf(stderr,
               "engram-locomo: %zu conversations sent in %.1f s, projected %.1f s later; asking "
               "%zu questions\n",
               ingest.conversations, ingest.seconds, ingest.projection_seconds, questions);

  std::vector<PassResult> passes;
  for (int p = 0; p < flags.passes; ++p) {
    auto r =
        RunPass(server, flags, *samples, turn_map, p == flags.passes - 1 ? dump.get() : nullptr);
    if (!r.ok()) return fail("querying", r.status());
    passes.push_back(std::move(r).value());
  }

  const PassResult& last = passes.back();
  if (flags.json) {
    json out = {{"dataset", flags.dataset},
                {"url", flags.url},
                {"samples", samples->size()},
                {"sessions", sessions},
                {"questions", questions},
                {"skipped_without_evidence", skipped},
                {"dropped_evidence_ids", dropped},
                {"merge", flags.dedupe ? "both speaker-users by score, equal contents once"
                                       : "both speaker-users by score"},
                {"settle", flags.settle},
                {"ingest",
                 {{"conversations", ingest.conversations},
                  {"duplicates", ingest.duplicates},
                  {"turns", ingest.turns},
                  {"send_seconds", std::round(ingest.seconds * 100) / 100},
                  {"projection_seconds", std::round(ingest.projection_seconds * 100) / 100}}},
                {"query_seconds", std::round(last.seconds * 100) / 100},
                {"unmapped_memories", last.unmapped},
                {"overall", TallyJson(last.overall)}};
    json categories = json::object();
    for (const auto& [category, t] : last.by_category) {
      json c = TallyJson(t);
      c["name"] = kCategoryNames.at(category);
      categories[std::to_string(category)] = c;
    }
    out["categories"] = categories;
    if (passes.size() > 1) {
      json per_pass = json::array();
      for (const PassResult& r : passes) per_pass.push_back(TallyJson(r.overall));
      out["passes"] = per_pass;
    }
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf(
        "LoCoMo recall: %s, %zu samples, %zu questions (categories 1-4; %zu without valid "
        "evidence skipped, %zu evidence ids dropped)\n"
        "both speaker-users queried with limit %zu, merged by score%s; hit and R (fractional "
        "recall) in %%\n",
        flags.dataset.c_str(), samples->size(), questions, skipped, dropped, kMaxK,
        flags.dedupe ? ", equal contents once" : "");
    for (size_t p = 0; p < passes.size(); ++p) {
      PrintTable(passes[p], static_cast<int>(p + 1), static_cast<int>(passes.size()));
    }
    std::printf("ingest %.1f s + projection %.1f s, queries %.1f s, unmapped memories %zu\n",
                ingest.seconds, ingest.projection_seconds, last.seconds, last.unmapped);
  }
  return 0;
}

}  // namespace
}  // namespace engram::tools::locomo

int main(int argc, char** argv) {
  engram::tools::locomo::Flags flags;
  CLI::App app{
      "engram-locomo: LoCoMo recall of a running `engram serve` through its real routes (signed "
      "post-call webhooks in, the memory tool out)"};
  app.add_option("--url", flags.url, "Server to measure (loopback addresses only)")
      ->capture_default_str();
  app.add_option("--dataset", flags.dataset, "LoCoMo JSON file")->capture_default_str();
  app.add_option("--webhook-secret", flags.webhook_secret,
                 "Post-call HMAC secret (default: $ENGRAM_WEBHOOK_SECRET)");
  app.add_option("--tool-secret", flags.tool_secret,
                 "Memory tool secret (default: $ENGRAM_TOOL_SECRET)");
  app.add_option("--tool-secret-header", flags.tool_secret_header, "Header carrying it")
      ->capture_default_str();
  app.add_option("--id-prefix", flags.id_prefix,
                 "Prefix of user and conversation ids (change it to ingest again into the same "
                 "server)")
      ->capture_default_str();
  app.add_option("--sample", flags.samples, "Only these sample ids (repeatable; default all)");
  app.add_flag("!--no-settle", flags.settle,
               "Do not wait for the projection after each question (faster; results then depend "
               "on projector timing, since each query reinforces what it returned)");
  app.add_flag("!--no-dedupe", flags.dedupe,
               "Keep memories of equal content from both users in the merged list");
  app.add_option("--passes", flags.passes, "Ask every question this many times; report each pass")
      ->check(CLI::Range(1, 10))
      ->capture_default_str();
  app.add_option("--deadline-secs", flags.deadline_secs, "The whole run ends by then")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--timeout-ms", flags.timeout_ms, "Per-request timeout")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--dump", flags.dump_path,
                 "Write one JSON line per question of the last pass (evidence, returned "
                 "memories) to this file");
  app.add_flag("--json", flags.json, "Print one JSON object instead of the table");
  CLI11_PARSE(app, argc, argv);
  return engram::tools::locomo::Run(flags);
}
