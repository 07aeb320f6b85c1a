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
#include <arpa/inet.h>
#include <netinet/in.h>

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
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/http_connection.h"
#include "http/signature.h"

namespace engram::tools {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using nlohmann::ordered_json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// The cut-offs the protocol reports, and the largest one, which is also the
// limit asked of the memory tool.
constexpr std::array<size_t, 3> kCutoffs = {1, 5, 10};
constexpr size_t kMaxK = 10;
// Seconds between two turns of a replayed session: the sessions carry no
// timing, and the server only needs it to increase.
constexpr int kSecondsPerTurn = 10;
// How often /healthz is polled while waiting for the projection: short
// enough that the per-question settle costs milliseconds, long enough not to
// busy-spin the server.
constexpr auto kPollInterval = std::chrono::milliseconds(2);
// How long a server that does not accept connections yet is waited for: it
// opens RocksDB, SQLite and the GloVe file first, which takes a second or two.
constexpr auto kStartupGrace = std::chrono::seconds(10);
// Category names by id (README: vendors label the columns differently, so
// reports go by id; the names are only a reading aid).
const std::map<int, std::string> kCategoryNames = {
    {1, "multi-hop"}, {2, "temporal"}, {3, "open-domain"}, {4, "single-hop"}};

struct Flags {
  std::string url = "http://127.0.0.1:18300";
  std::string dataset = "/work/shared/datasets/locomo_dev.json";
  std::string webhook_secret;  // default: ENGRAM_WEBHOOK_SECRET
  std::string tool_secret;     // default: ENGRAM_TOOL_SECRET
  std::string tool_secret_header = "X-Engram-Secret";
  std::string id_prefix = "locomo";
  std::vector<std::string> samples;  // empty: all
  bool settle = true;
  bool dedupe = true;
  int passes = 1;
  double deadline_secs = 1200;
  int timeout_ms = 30000;
  std::string dump_path;  // per-question JSON lines, for error analysis
  bool json = false;
};

// ---------------------------------------------------------------------------
// Dataset.

struct Turn {
  std::string speaker;
  std::string dia_id;
  std::string text;
  std::string caption;  // blip_caption, "" when none
};

struct Session {
  int number = 0;
  std::string date_time;
  int64_t start_secs = 0;
  std::vector<Turn> turns;
};

struct Question {
  std::string text;
  int category = 0;
  std::vector<std::string> evidence;  // normalised, valid, unique
};

struct Sample {
  std::string id;
  std::string speaker_a, speaker_b;
  std::vector<Session> sessions;
  std::vector<Question> questions;  // categories 1-4 with valid evidence
  size_t skipped = 0;               // categories 1-4 without valid evidence
  size_t dropped_ids = 0;           // evidence ids that pointed nowhere
};

// "1:56 pm on 8 May, 2023" -> Unix seconds (UTC). InvalidArgument otherwise.
Result<int64_t> ParseSessionTime(const std::string& text) {
  int hour = 0, minute = 0, day = 0, year = 0;
  char ampm[3] = {};
  char month_name[16] = {};
  if (std::sscanf(text.c_str(), "%d:%d %2s on %d %15[A-Za-z], %d", &hour, &minute, ampm, &day,
                  month_name, &year) != 6) {
    return Status::InvalidArgument("unparsable session date '" + text + "'");
  }
  static constexpr std::array<std::string_view, 12> kMonths = {
      "January", "February", "March",     "April",   "May",      "June",
      "July",    "August",   "September", "October", "November", "December"};
  auto it = std::find(kMonths.begin(), kMonths.end(), std::string_view(month_name));
  const std::string half = ampm;
  if (it == kMonths.end() || hour < 1 || hour > 12 || minute < 0 || minute > 59 ||
      (half != "am" && half != "pm")) {
    return Status::InvalidArgument("unparsable session date '" + text + "'");
  }
  const int h24 = hour % 12 + (half == "pm" ? 12 : 0);
  const std::chrono::year_month_day ymd{
      std::chrono::year(year), std::chrono::month(static_cast<unsigned>(it - kMonths.begin() + 1)),
      std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return Status::InvalidArgument("no such date '" + text + "'");
  const auto days = std::chrono::sys_days(ymd).time_since_epoch();
  return std::chrono::duration_cast<std::chrono::seconds>(days).count() + h24 * 3600 + minute * 60;
}

// All ids an evidence string names, canonical ("D8:6; D9:17" -> D8:6, D9:17;
// "D:11:26" -> D11:26; "D01:2" -> D1:2). Not a hot path: std::regex is fine.
std::vector<std::string> NormaliseEvidence(const std::string& raw) {
  static const std::regex kEvidence(R"(D\s*:?\s*(\d+)\s*:\s*(\d+))");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(raw.begin(), raw.end(), kEvidence);
       it != std::sregex_iterator(); ++it) {
    out.push_back("D" + std::to_string(std::stoi((*it)[1].str())) + ":" +
                  std::to_string(std::stoi((*it)[2].str())));
  }
  return out;
}

Result<std::vector<Sample>> LoadDataset(const std::string& path,
                                        const std::vector<std::string>& only) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path);
  json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array()) {
    return Status::InvalidArgument(path + " is not a JSON array of LoCoMo samples");
  }
  std::vector<Sample> out;
  try {
    for (const json& s : doc) {
      Sample sample;
      sample.id = s.at("sample_id").get<std::string>();
      if (!only.empty() && std::find(only.begin(), only.end(), sample.id) == only.end()) continue;
      const json& conv = s.at("conversation");
      sample.speaker_a = conv.at("speaker_a").get<std::string>();
      sample.speaker_b = conv.at("speaker_b").get<std::string>();
      // Sessions by number. Some samples carry date keys for sessions that do
      // not exist (conv-26): only session_N arrays count.
      for (const auto& [key, value] : conv.items()) {
        if (!key.starts_with("session_") || !value.is_array()) continue;
        const std::string digits = key.substr(8);
        if (digits.empty() ||
            !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
          continue;
        Session session;
        session.number = std::stoi(digits);
        session.date_time = conv.at(key + "_date_time").get<std::string>();
        auto start = ParseSessionTime(session.date_time);
        if (!start.ok()) return start.status();
        session.start_secs = *start;
        for (const json& t : value) {
          Turn turn;
          turn.speaker = t.at("speaker").get<std::string>();
          turn.dia_id = t.at("dia_id").get<std::string>();
          turn.text = t.at("text").get<std::string>();
          if (auto c = t.find("blip_caption"); c != t.end() && c->is_string()) {
            turn.caption = c->get<std::string>();
          }
          session.turns.push_back(std::move(turn));
        }
        sample.sessions.push_back(std::move(session));
      }
      std::sort(sample.sessions.begin(), sample.sessions.end(),
                [](const Session& a, const Session& b) { return a.number < b.number; });
      std::set<std::string> known;
      for (const Session& session : sample.sessions) {
        for (const Turn& t : session.turns) known.insert(t.dia_id);
      }
      for (const json& q : s.at("qa")) {
        const int category = q.at("category").get<int>();
        if (!kCategoryNames.count(category)) continue;
        Question question;
        question.text = q.at("question").get<std::string>();
        question.category = category;
        for (const json& raw : q.value("evidence", json::array())) {
          if (!raw.is_string()) continue;
          for (std::string& id : NormaliseEvidence(raw.get<std::string>())) {
            if (!known.count(id)) {
              ++sample.dropped_ids;
              continue;
            }
            if (std::find(question.evidence.begin(), question.evidence.end(), id) ==
                question.evidence.end()) {
              question.evidence.push_back(std::move(id));
            }
          }
        }
        if (question.evidence.empty()) {
          ++sample.skipped;
          continue;
        }
        sample.questions.push_back(std::move(question));
      }
      out.push_back(std::move(sample));
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  if (out.empty()) return Status::NotFound("no samples selected from " + path);
  return out;
}

// ---------------------------------------------------------------------------
// Target.

struct Target {
  std::string host;
  uint16_t port = 0;
};

bool IsLoopbackLiteral(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// http://HOST:PORT with HOST a loopback literal. Names are refused, even
// "localhost": the tool writes into the server it targets, and a name could
// resolve anywhere.
Result<Target> ParseTarget(const std::string& url) {
  auto parsed = http::ParseHttpUrl(url);
  if (!parsed.ok()) return parsed.status();
  Target t{parsed->first, parsed->second};
  if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') {
    t.host = t.host.substr(1, t.host.size() - 2);
  }
  if (!IsLoopbackLiteral(t.host)) {
    return Status::Forbidden("refusing " + t.host +
                             ": only loopback addresses (127.x.x.x, ::1) are allowed");
  }
  return t;
}

// ---------------------------------------------------------------------------
// Talking to the server.

class Server {
 public:
  Server(const Target& target, const Flags& flags, Clock::time_point deadline)
      : conn_(target.host, target.port, std::chrono::milliseconds(flags.timeout_ms)),
        flags_(flags),
        deadline_(deadline) {}

  Status CheckDeadline() const {
    if (Clock::now() > deadline_) {
      return Status::Unavailable("deadline of " + std::to_string(flags_.deadline_secs) +
                                 " s passed");
    }
    return Status::Ok();
  }

  // POST /webhook/post-call, signed now. Sets *duplicate for a redelivery.
  Status PostCall(const std::string& body, bool* duplicate) {
    ENGRAM_RETURN_IF_ERROR(CheckDeadline());
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    auto r = conn_.Send(
        "POST", "/webhook/post-call", body,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(flags_.webhook_secret, now, body)},
         {"Content-Type", "application/json"}});
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      return Status::Unavailable("post-call answered " + std::to_string(r->status) + ": " +
                                 r->body);
    }
    json answer = json::parse(r->body, nullptr, false);
    *duplicate = answer.is_object() && answer.value("status", "") == "duplicate";
    return Status::Ok();
  }

  // Waits until every logged event is projected (and the memory index
  // updated). Two consecutive polls must agree: the runner publishes
  // `applied` a moment before it hands its staged index changes over.
  Status WaitForProjection() {
    int agreeing = 0;
    for (;;) {
      ENGRAM_RETURN_IF_ERROR(CheckDeadline());
      auto r = conn_.Send("GET", "/healthz", "");
      if (!r.ok()) return r.status();
      json h = json::parse(r->body, nullptr, false);
      if (r->status != 200 || !h.is_object() || !h.contains("applied")) {
        return Status::Unavailable("/healthz answered " + std::to_string(r->status) + ": " +
                                   r->body);
      }
      if (h.contains("projection_error")) {
        return Status::Unavailable("projection error: " + h["projection_error"].dump());
      }
      if (h.value("applied", uint64_t{0}) >= h.value("log_head", uint64_t{0})) {
        if (++agreeing >= 2) return Status::Ok();
      } else {
        agreeing = 0;
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  // POST /tools/memory-query; the "memories" array of the answer.
  Result<json> Query(const std::string& query, const std::string& user_id, size_t limit) {
    ENGRAM_RETURN_IF_ERROR(CheckDeadline());
    const json body = {{"query", query}, {"user_id", user_id}, {"limit", limit}};
    auto r = conn_.Send(
        "POST", "/tools/memory-query", body.dump(),
        {{flags_.tool_secret_header, flags_.tool_secret}, {"Content-Type", "application/json"}});
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      return Status::Unavailable("memory tool answered " + std::to_string(r->status) + ": " +
                                 r->body);
    }
    json answer = json::parse(r->body, nullptr, false);
    if (!answer.is_object() || !answer.contains("memories") || !answer["memories"].is_array()) {
      return Status::Unavailable("memory tool answer has no memories array: " + r->body);
    }
    return answer["memories"];
  }

 private:
  http::HttpConnection conn_;
  const Flags& flags_;
  Clock::time_point deadline_;
};

// ---------------------------------------------------------------------------
// Ingestion.

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string UserId(const Flags& flags, const Sample& sample, const std::string& speaker) {
  return flags.id_prefix + "-" + sample.id + "-" + Lower(speaker);
}

std::string ConversationId(const Flags& flags, const Sample& sample, const Session& session,
                           const std::string& speaker) {
  return flags.id_prefix + "-" + sample.id + "-s" + std::to_string(session.number) + "-" +
         Lower(speaker);
}

// The message a turn becomes: the speaker's name first, so the extractor
// knows who speaks, and the shared image's caption, which often holds the
// answer ("What did Melanie paint?").
std::string Message(const Turn& t) {
  std::string m = t.speaker + ": " + t.text;
  if (!t.caption.empty()) m += " [shares " + t.caption + "]";
  return m;
}

// One session as a post_call_transcription for the user `speaker`.
std::string PostCallBody(const Flags& flags, const Sample& sample, const Session& session,
                         const std::string& speaker) {
  const int duration = static_cast<int>(session.turns.size()) * kSecondsPerTurn;
  ordered_json doc;
  doc["type"] = "post_call_transcription";
  doc["event_timestamp"] = session.start_secs + duration;
  ordered_json& data = doc["data"];
  data["agent_id"] = "agent_locomo_replay";
  data["agent_name"] = "LoCoMo replay";
  data["conversation_id"] = ConversationId(flags, sample, session, speaker);
  data["status"] = "done";
  data["user_id"] = UserId(flags, sample, speaker);
  ordered_json transcript = ordered_json::array();
  int time_in_call = 0;
  for (const Turn& t : session.turns) {
    ordered_json turn;
    turn["role"] = t.speaker == speaker ? "user" : "agent";
    turn["message"] = Message(t);
    turn["tool_calls"] = ordered_json::array();
    turn["tool_results"] = ordered_json::array();
    turn["time_in_call_secs"] = time_in_call;
    turn["interrupted"] = false;
    turn["source_medium"] = "text";
    transcript.push_back(std::move(turn));
    time_in_call += kSecondsPerTurn;
  }
  data["transcript"] = std::move(transcript);
  data["metadata"] = {{"start_time_unix_secs", session.start_secs},
                      {"call_duration_secs", duration},
                      {"termination_reason", "session ended"},
                      {"main_language", "en"},
                      {"text_only", true}};
  return doc.dump();
}

struct IngestStats {
  size_t conversations = 0;
  size_t duplicates = 0;
  size_t turns = 0;
  double seconds = 0;
  double projection_seconds = 0;
};

// conversation_id -> dia_id by transcript position.
using TurnMap = std::map<std::string, std::vector<std::string>>;

Status Ingest(Server& server, const Flags& flags, const std::vector<Sample>& samples,
              TurnMap* turn_map, IngestStats* stats) {
  const auto start = Clock::now();
  for (const Sample& sample : samples) {
    for (const Session& session : sample.sessions) {
      for (const std::string& speaker : {sample.speaker_a, sample.speaker_b}) {
        std::vector<std::string>& dia =
            (*turn_map)[ConversationId(flags, sample, session, speaker)];
        dia.clear();
        for (const Turn& t : session.turns) dia.push_back(t.dia_id);
        bool duplicate = false;
        ENGRAM_RETURN_IF_ERROR(
            server.PostCall(PostCallBody(flags, sample, session, speaker), &duplicate));
        ++stats->conversations;
        stats->duplicates += duplicate;
        stats->turns += session.turns.size();
      }
    }
  }
  const auto sent = Clock::now();
  stats->seconds = std::chrono::duration<double>(sent - start).count();
  ENGRAM_RETURN_IF_ERROR(server.WaitForProjection());
  stats->projection_seconds = std::chrono::duration<double>(Clock::now() - sent).count();
  return Status::Ok();
}

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
}  // namespace engram::tools

int main(int argc, char** argv) {
  engram::tools::Flags flags;
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
  return engram::tools::Run(flags);
}
