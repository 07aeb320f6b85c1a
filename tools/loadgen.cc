// engram-loadgen: drives a running `engram serve` and reports throughput and
// latency percentiles. Two modes:
//  --mode post-call (the default): signed ElevenLabs post-call webhooks
//    (POST /webhook/post-call) alone, closed or open loop; described first.
//  --mode calls: whole phone calls through all three routes, open loop, with
//    the projection queue watched through GET /metrics; described under
//    "Calls mode" below.
//
// Why: the server's promise is "every accepted webhook is durable" (a synced
// WAL write before the 200), and group commit is what keeps that promise
// cheap under concurrency. This tool measures what that costs end to end, so
// it can be compared with the bare-RocksDB limit (engram-bench-rocksdb).
//
// How:
//  - N connections, one thread each, each with its own keep-alive
//    engram::http::HttpConnection. Every connection is opened (GET /healthz)
//    before the timed part, so connects are not measured.
//  - Closed loop (--rate 0): a connection sends as soon as its previous answer
//    arrived. Open loop (--rate R): request i is due at t0 + i/R; whichever
//    connection is free takes the next due request, and its latency is counted
//    from the time it was due, not from when it was sent, so a stalled server
//    cannot hide its stall by slowing the sender (coordinated omission).
//  - Bodies are post_call_transcription documents shaped like
//    /work/shared/elevenlabs/post_call_transcription.json, about --body-bytes
//    each, built before the timed part. Each request gets a unique
//    data.conversation_id ("conv_<run id>_<index>"), so the server's
//    (type, conversation_id) deduplication never kicks in, and the random run
//    id keeps reruns against the same data dir from colliding. To keep memory
//    bounded for long runs, a pool of distinct documents is serialised once
//    with a fixed-width id slot; a request copies one and stamps its id into
//    the slot (a memcpy, far cheaper than the HMAC that follows).
//  - Each body is signed right before it is sent (ElevenLabs-Signature with
//    the current time), as ElevenLabs would.
//  - Only loopback targets are accepted: this is a load generator, and a typo
//    must not point it at someone else's server.
//
// Calls mode (--mode calls). Why: in production the three routes share one
// process and two cores with the projector that learns from every call, so
// each route's latency, and whether learning keeps up, can only be judged
// under the mix a call produces. How:
//  - A call is: POST /webhook/conversation-init (X-Engram-Secret, the body
//    ElevenLabs sends: caller_id, agent_id, called_number, call_sid), then
//    --tool-calls memory-tool requests (POST /tools/memory-query with the
//    user_id init answered, the call's call_sid, conversation_id and
//    caller_id, as the agent's tool config binds them), then the signed
//    post_call_transcription webhook with that user_id. Steps are spread
//    evenly over --call-secs (the call's length, time-compressed): init at 0,
//    tool call j at j/(K+1), post-call at the end.
//  - Callers come from a pool of --callers phone numbers, so callers return
//    and their memories accumulate (across runs too: the numbers and each
//    caller's persona depend only on the caller's index). Transcripts carry
//    facts the rule extractor keeps: a name, a CRM (now and then a switch,
//    which supersedes), a contact preference, and (at the default --turns
//    20) about eight statements about problems, plans with dates, routines
//    and feelings drawn from phrase banks with --seed.
//  - Arrivals (call starts) are open loop and can be combined:
//    --calls-per-sec R for --duration-secs (evenly spaced, or --poisson);
//    --burst-calls N spread over --burst-secs from --burst-at; --day-calls N
//    drawn from a support line's day (hourly profile, 30% of calls clustered
//    within 10 minutes of another) played --day-compression times faster.
//  - Latency is counted from when a request was due, not when it was sent.
//    Init is due at the call's start; a later step is due at its planned time
//    or when the call's previous answer arrived, whichever is later (an agent
//    cannot ask the tool about a call that init has not answered for). Steps
//    are sent by --connections workers, each with its own keep-alive
//    connection; an idle one sleeps until the next step is due. When all are
//    busy, due requests wait and the wait is counted.
//  - The queue: a watcher scrapes GET /metrics every --scrape-ms for
//    engram_projection_lag_events, engram_webhook_events{status="pending"}
//    and engram_extraction_queue_depth (reported as absent when the server
//    does not export it). After the last call it scrapes every 100 ms until
//    all are 0 or --drain-secs pass; the queue kept up when that took at most
//    --keepup-secs.
//  - It stops by itself: no step starts after the last call's planned end
//    plus 30 s, and requests time out after --timeout-ms.
//
// Exit status: 0 when every request (warm-up included) got a 200 (and, in
// calls mode, the queue drained within --drain-secs), 1 otherwise, 2 on bad
// arguments or when the server cannot be reached at all.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "common/status.h"
#include "http/http_connection.h"
#include "http/signature.h"

namespace engram::tools {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::ordered_json;

constexpr char kPostCallPath[] = "/webhook/post-call";
// Distinct documents serialised up front. Enough that consecutive requests
// differ (users, phone numbers, transcripts), few enough to build in well
// under a second even at large --body-bytes.
constexpr size_t kBodyPoolSize = 64;
// Width of the per-request index in conversation ids: 10 digits covers any
// run this tool can do (10^10 requests).
constexpr int kIndexDigits = 10;
// Error messages printed at the end, so a failing run says why without
// flooding the terminal.
constexpr size_t kMaxErrorSamples = 5;

struct Flags {
  std::string url = "http://127.0.0.1:8080";
  std::string secret;
  int connections = 50;
  uint64_t requests = 10000;
  double duration_secs = 0;  // 0: no time limit
  double rate = 0;           // requests/s over all connections; 0: closed loop
  size_t body_bytes = 20000;
  uint64_t warmup = 0;
  int timeout_ms = 30000;
  bool json = false;

  // --mode calls.
  std::string mode = "post-call";
  std::string tool_secret;
  std::string tool_secret_header = "X-Engram-Secret";
  double calls_per_sec = 0;
  uint64_t calls = 0;  // 0: as many as --duration-secs allows
  bool poisson = false;
  uint64_t burst_calls = 0;
  double burst_secs = 2;
  double burst_at = 0;
  uint64_t day_calls = 0;
  double day_compression = 1440;
  double call_secs = 0;  // 0: 180 s / --day-compression with --day-calls, else 2 s
  int tool_calls = 3;
  int callers = 200;
  int turns = 20;
  uint64_t seed = 20261124;
  int scrape_ms = 1000;
  double drain_secs = 30;
  // A projector that keeps up holds only what is in flight, which drains
  // within a few 100 ms polls; a backlog that takes longer grew while calls
  // arrived faster than they were projected.
  double keepup_secs = 1;
};

// ---------------------------------------------------------------------------
// Target URL.

// ---------------------------------------------------------------------------
// Bodies.

constexpr const char* kAgentLines[] = {
    "Thank you for calling Tandem Desk support, this is Sage. May I have your name and the "
    "company you're calling from?",
    "Thanks. What can I help you with today?",
    "I'm sorry to hear that, that sounds really frustrating, especially when your team relies on "
    "that data every day.",
    "Let me make sure I have this right: the sync started creating duplicates about two weeks "
    "ago, and it happens whenever a customer replies to an email. Is that correct?",
    "Could you tell me which plan you're on and roughly how many contacts are affected?",
    "I've opened a ticket with our integrations team and marked it as high priority.",
    "In the meantime, you can pause the two-way sync under Settings, Integrations, so no new "
    "duplicates are created while we investigate.",
    "Would you prefer updates by email or by phone?",
    "I've noted that. You'll get an update by Thursday at the latest, and sooner if we find the "
    "cause.",
    "Is there anything else I can help you with today?",
    "I completely understand. I'll add a note so whoever picks this up knows the history and you "
    "won't have to explain it again.",
    "Let me check your account. I can see the HubSpot connection was re-authorised on the "
    "second, which lines up with when the duplicates started.",
};

constexpr const char* kUserLines[] = {
    "Hi. This is the operations manager at a logistics company, we've been customers for about "
    "three years.",
    "So we connect Tandem to our CRM, it's what we use for everything, sales and support. For "
    "about two weeks now the sync has been creating a duplicate contact every time a customer "
    "replies to an email.",
    "Honestly, I'm really frustrated. My sales team has stopped trusting the data and I'm the one "
    "who gets blamed for it.",
    "Yes, that's right. It started right after we changed the admin account on the integration.",
    "We're on the business plan. I'd guess a few hundred contacts so far, maybe more.",
    "Email, please. I never pick up unknown numbers, and I'd like a written record anyway.",
    "Can someone also check whether the old duplicates can be merged automatically? Doing it by "
    "hand will take my team days.",
    "Okay. And what should we do in the meantime, just keep deleting them?",
    "Thursday works. If it's not fixed by then I'll need to talk to someone about our renewal.",
    "No, that's everything. Thanks for actually listening, the last time I called it took an "
    "hour.",
    "One more thing: our billing contact changed, it should go to the finance inbox now.",
    "Right, that's the one. We also added a second pipeline last month, could that matter?",
};

std::string RandomRunId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// A serialised document plus where its conversation id's index digits sit.
struct BodyTemplate {
  std::string text;
  std::vector<size_t> index_offsets;
};

// Builds document `variant` of about `target_bytes`, with conversation id
// `id_prefix` followed by kIndexDigits zeros (the slot stamped per request).
BodyTemplate BuildTemplate(size_t variant, const std::string& id_prefix, size_t target_bytes,
                           int64_t now_secs) {
  std::mt19937_64 rng(variant * 0x9E3779B97F4A7C15ull + 1);
  auto pick = [&rng](const auto& lines) { return std::string(lines[rng() % std::size(lines)]); };
  const std::string agent_id = "agent_5301k6yq2h8vfx0r7nwa3c9tjm4e";
  const std::string conversation_id = id_prefix + std::string(kIndexDigits, '0');
  char user_id[32];
  std::snprintf(user_id, sizeof(user_id), "cust_%06zu", 100 + variant);
  char external_number[32];
  std::snprintf(external_number, sizeof(external_number), "+1512555%04zu", variant % 10000);
  const int64_t start = now_secs - 300 - static_cast<int64_t>(rng() % 3600);

  ordered_json doc = PostCallEnvelope(agent_id, conversation_id, user_id, now_secs);
  ordered_json& data = doc["data"];
  data["transcript"] = ordered_json::array();
  ordered_json& metadata = data["metadata"];
  metadata["start_time_unix_secs"] = start;
  metadata["accepted_time_unix_secs"] = start;
  metadata["call_duration_secs"] = 0;  // set once the transcript is complete
  metadata["cost"] = 905;
  metadata["authorization_method"] = "public";
  metadata["phone_call"] = {{"type", "twilio"},
                            {"direction", "inbound"},
                            {"phone_number_id", "phnum_2201k6yq5a7tnm3x9cp0dw4rbe8h"},
                            {"agent_number", "+17375550100"},
                            {"external_number", external_number},
                            {"stream_sid", "MZ48f6d30c01c3f252edc87ff4adfa36d0"},
                            {"call_sid", "CAdcfaea21818b904ce6087413e3b266f8"}};
  metadata["termination_reason"] = "Call ended by remote party";
  metadata["error"] = nullptr;
  metadata["warnings"] = ordered_json::array();
  metadata["main_language"] = "en";
  metadata["text_only"] = false;
  ordered_json& analysis = data["analysis"];
  analysis["evaluation_criteria_results"] = {
      {"issue_captured",
       {{"criteria_id", "issue_captured"},
        {"result", "success"},
        {"rationale", "The agent identified the problem, its start date and its impact."}}}};
  analysis["data_collection_results"] = {
      {"crm_system",
       {{"data_collection_id", "crm_system"},
        {"value", "HubSpot"},
        {"json_schema", {{"type", "string"}, {"description", "CRM the customer uses"}}},
        {"rationale", "The caller said HubSpot is their CRM for sales and support."}}},
      {"contact_preference",
       {{"data_collection_id", "contact_preference"},
        {"value", "email"},
        {"json_schema",
         {{"type", "string"}, {"description", "How the customer wants to be contacted"}}},
        {"rationale", "The caller asked for email updates."}}}};
  analysis["call_successful"] = "success";
  analysis["transcript_summary"] =
      "The caller reported that the CRM sync creates a duplicate contact whenever a customer "
      "replies to an email. A high-priority ticket was opened and an email update promised.";
  analysis["call_summary_title"] = "CRM sync duplicating contacts";
  data["conversation_initiation_client_data"] = {{"user_id", user_id},
                                                 {"dynamic_variables",
                                                  {{"system__agent_id", agent_id},
                                                   {"system__caller_id", external_number},
                                                   {"system__called_number", "+17375550100"},
                                                   {"system__conversation_id", conversation_id}}}};

  // Add turns until the document reaches the target size. Re-serialising on
  // every turn would be quadratic; track the size from the turns' own dumps.
  ordered_json& transcript = data["transcript"];
  size_t size = doc.dump().size();
  int time_in_call = 0;
  bool agent = true;
  while (size < target_bytes) {
    ordered_json t =
        TranscriptTurn(agent, agent_id, agent ? pick(kAgentLines) : pick(kUserLines), time_in_call);
    size += t.dump().size() + 1;  // + the comma
    transcript.push_back(std::move(t));
    time_in_call += 3 + static_cast<int>(rng() % 12);
    agent = !agent;
  }
  metadata["call_duration_secs"] = time_in_call;

  BodyTemplate out;
  out.text = doc.dump();
  // Every occurrence of the id is a slot: data.conversation_id and
  // system__conversation_id.
  for (size_t pos = out.text.find(conversation_id); pos != std::string::npos;
       pos = out.text.find(conversation_id, pos + 1)) {
    out.index_offsets.push_back(pos + id_prefix.size());
  }
  return out;
}

// Writes `index` as kIndexDigits zero-padded digits at each slot of `body`.
void StampIndex(const BodyTemplate& tmpl, uint64_t index, std::string* body) {
  body->assign(tmpl.text);
  char digits[kIndexDigits + 1];
  std::snprintf(digits, sizeof(digits), "%0*llu", kIndexDigits,
                static_cast<unsigned long long>(index));
  for (size_t offset : tmpl.index_offsets) body->replace(offset, kIndexDigits, digits);
}

// ---------------------------------------------------------------------------
// Running.

struct WorkerStats {
  std::vector<int64_t> latency_us;    // measured requests only
  std::vector<int64_t> start_lag_us;  // open loop: how late a request left
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t non_200 = 0;
  uint64_t transport_errors = 0;
  uint64_t duplicates = 0;
  std::map<int, uint64_t> statuses;
  std::vector<std::string> error_samples;
  Clock::time_point last_done{};
};

// One phase (warm-up or measured): indices [first, first + count) are handed
// out to the connections, subject to the deadline.
struct Phase {
  uint64_t first_index = 0;
  uint64_t count = 0;
  double rate = 0;
  std::optional<Clock::duration> duration;
  bool record = false;
};

class LoadRun {
 public:
  LoadRun(const Flags& flags, Target target, std::string run_id)
      : flags_(flags), target_(std::move(target)), run_id_(std::move(run_id)) {}

  void BuildBodies() {
    const int64_t now_secs = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    const std::string prefix = "conv_" + run_id_ + "_";
    for (size_t v = 0; v < kBodyPoolSize; ++v) {
      templates_.push_back(BuildTemplate(v, prefix, flags_.body_bytes, now_secs));
    }
  }

  double AverageBodyBytes() const {
    double total = 0;
    for (const auto& t : templates_) total += static_cast<double>(t.text.size());
    return templates_.empty() ? 0 : total / static_cast<double>(templates_.size());
  }

  // Opens every connection with GET /healthz. Returns the first failure.
  Status Connect() {
    for (int i = 0; i < flags_.connections; ++i) {
      connections_.push_back(std::make_unique<http::HttpConnection>(
          target_.host, target_.port, std::chrono::milliseconds(flags_.timeout_ms)));
    }
    std::vector<Status> results(connections_.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < connections_.size(); ++i) {
      threads.emplace_back([this, i, &results] {
        auto r = connections_[i]->Send("GET", "/healthz", "");
        if (!r.ok()) {
          results[i] = r.status();
        } else if (r->status != 200) {
          results[i] = Status::Unavailable("GET /healthz answered " + std::to_string(r->status) +
                                           ": " + r->body);
        }
      });
    }
    for (auto& t : threads) t.join();
    for (auto& s : results) {
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  // Runs `phase` on every connection and returns per-connection stats and
  // the phase's start time.
  std::pair<std::vector<WorkerStats>, Clock::time_point> Run(const Phase& phase) {
    std::vector<WorkerStats> stats(connections_.size());
    next_.store(0);
    std::latch start(1);
    Clock::time_point t0;
    std::vector<std::thread> threads;
    for (size_t i = 0; i < connections_.size(); ++i) {
      threads.emplace_back([&, i] {
        start.wait();
        Worker(phase, t0, *connections_[i], stats[i]);
      });
    }
    t0 = Clock::now();
    start.count_down();  // publishes t0 to the workers
    for (auto& t : threads) t.join();
    return {std::move(stats), t0};
  }

 private:
  void Worker(const Phase& phase, Clock::time_point t0, http::HttpConnection& conn,
              WorkerStats& stats) {
    const bool open_loop = phase.rate > 0;
    const auto interval = open_loop ? std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(1.0 / phase.rate))
                                    : Clock::duration::zero();
    // No deadline is a deadline that never comes.
    const Clock::time_point end = phase.duration ? t0 + *phase.duration : Clock::time_point::max();
    std::string body;
    body.reserve(flags_.body_bytes * 2);
    std::vector<std::pair<std::string, std::string>> headers(1);
    headers[0].first = "ElevenLabs-Signature";
    if (phase.record) {
      // Roughly this connection's share, so the hot loop does not reallocate.
      stats.latency_us.reserve(std::min<uint64_t>(phase.count, 1u << 22) / connections_.size() +
                               16);
    }
    for (;;) {
      const uint64_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= phase.count) break;
      Clock::time_point due;
      if (open_loop) {
        due = t0 + interval * static_cast<int64_t>(i);
        if (due >= end) break;
        std::this_thread::sleep_until(due);
      } else {
        due = Clock::now();
        if (due >= end) break;
      }
      const uint64_t index = phase.first_index + i;
      StampIndex(templates_[index % templates_.size()], index, &body);
      const Clock::time_point sent_at = Clock::now();
      const int64_t now_secs = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
      headers[0].second = http::SignatureHeaderValue(flags_.secret, now_secs, body);
      auto r = conn.Send("POST", kPostCallPath, body, headers);
      const Clock::time_point done = Clock::now();
      stats.sent++;
      stats.last_done = done;
      if (phase.record) {
        stats.latency_us.push_back(
            std::chrono::duration_cast<std::chrono::microseconds>(done - due).count());
        if (open_loop) {
          stats.start_lag_us.push_back(
              std::chrono::duration_cast<std::chrono::microseconds>(sent_at - due).count());
        }
      }
      if (!r.ok()) {
        stats.transport_errors++;
        if (stats.error_samples.size() < kMaxErrorSamples) {
          stats.error_samples.push_back(r.status().ToString());
        }
        continue;
      }
      stats.statuses[r->status]++;
      if (r->status != 200) {
        stats.non_200++;
        if (stats.error_samples.size() < kMaxErrorSamples) {
          stats.error_samples.push_back("HTTP " + std::to_string(r->status) + ": " + r->body);
        }
        continue;
      }
      stats.ok++;
      // Unique ids should never be deduplicated; a duplicate means an id
      // collided or HttpConnection retried a request the server had taken.
      if (r->body.find("\"duplicate\"") != std::string::npos) stats.duplicates++;
    }
  }

  const Flags& flags_;
  Target target_;
  std::string run_id_;
  std::vector<BodyTemplate> templates_;
  std::vector<std::unique_ptr<http::HttpConnection>> connections_;
  std::atomic<uint64_t> next_{0};
};

// ---------------------------------------------------------------------------
// Reporting.

struct Totals {
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t non_200 = 0;
  uint64_t transport_errors = 0;
  uint64_t duplicates = 0;
  std::map<int, uint64_t> statuses;
  std::vector<std::string> error_samples;
  std::vector<int64_t> latency_us;
  std::vector<int64_t> start_lag_us;
  Clock::time_point last_done{};

  uint64_t errors() const { return non_200 + transport_errors; }
};

Totals Merge(std::vector<WorkerStats>& stats) {
  Totals t;
  for (auto& s : stats) {
    t.sent += s.sent;
    t.ok += s.ok;
    t.non_200 += s.non_200;
    t.transport_errors += s.transport_errors;
    t.duplicates += s.duplicates;
    for (const auto& [code, n] : s.statuses) t.statuses[code] += n;
    for (auto& e : s.error_samples) {
      if (t.error_samples.size() < kMaxErrorSamples) t.error_samples.push_back(std::move(e));
    }
    t.latency_us.insert(t.latency_us.end(), s.latency_us.begin(), s.latency_us.end());
    t.start_lag_us.insert(t.start_lag_us.end(), s.start_lag_us.begin(), s.start_lag_us.end());
    t.last_done = std::max(t.last_done, s.last_done);
  }
  std::sort(t.latency_us.begin(), t.latency_us.end());
  std::sort(t.start_lag_us.begin(), t.start_lag_us.end());
  return t;
}

// Nearest-rank percentile of sorted microseconds, in milliseconds.

double MeanMs(const std::vector<int64_t>& us) {
  if (us.empty()) return 0;
  long double sum = 0;
  for (int64_t v : us) sum += v;
  return static_cast<double>(sum / us.size()) / 1000.0;
}

double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

// printf into a std::string.
[[gnu::format(printf, 1, 2)]] std::string Format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, args);
  va_end(args);
  return out;
}

int Main(Flags& flags, bool requests_given) {
  auto target = ParseLoopbackUrl(flags.url);
  if (!target.ok()) {
    std::cerr << "engram-loadgen: " << target.status().message() << "\n";
    return 2;
  }
  if (flags.secret.empty()) {
    std::cerr << "engram-loadgen: no secret: pass --secret or set ENGRAM_WEBHOOK_SECRET "
                 "(the server's webhook secret; requests are signed with it)\n";
    return 2;
  }
  // --duration-secs alone means "run for this long"; with --requests too,
  // whichever limit comes first.
  uint64_t measured = flags.requests;
  if (flags.duration_secs > 0 && !requests_given) {
    measured = std::numeric_limits<uint64_t>::max() / 2;
  }

  const std::string run_id = RandomRunId();
  LoadRun run(flags, *target, run_id);
  run.BuildBodies();
  Status connected = run.Connect();
  if (!connected.ok()) {
    std::cerr << "engram-loadgen: cannot reach " << flags.url << ": " << connected.ToString()
              << "\n";
    return 2;
  }

  Totals warmup;
  if (flags.warmup > 0) {
    Phase phase;
    phase.first_index = 0;
    phase.count = flags.warmup;
    phase.rate = flags.rate;
    auto [stats, t0] = run.Run(phase);
    warmup = Merge(stats);
  }
  Phase phase;
  phase.first_index = flags.warmup;
  phase.count = measured;
  phase.rate = flags.rate;
  if (flags.duration_secs > 0) {
    phase.duration = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(flags.duration_secs));
  }
  phase.record = true;
  auto [stats, t0] = run.Run(phase);
  Totals t = Merge(stats);

  const double duration_secs =
      t.sent == 0 ? 0 : std::chrono::duration<double>(t.last_done - t0).count();
  const double throughput = duration_secs > 0 ? static_cast<double>(t.sent) / duration_secs : 0;
  const bool open_loop = flags.rate > 0;

  nlohmann::ordered_json out;
  out["tool"] = "engram-loadgen";
  out["run_id"] = run_id;
  out["url"] = flags.url;
  out["mode"] = open_loop ? "open" : "closed";
  out["connections"] = flags.connections;
  out["rate"] = flags.rate;
  out["body_bytes"] = static_cast<int64_t>(run.AverageBodyBytes());
  out["warmup"] = warmup.sent;
  out["warmup_errors"] = warmup.errors();
  out["requests"] = t.sent;
  out["ok"] = t.ok;
  out["errors"] = t.errors();
  out["non_200"] = t.non_200;
  out["transport_errors"] = t.transport_errors;
  out["duplicates"] = t.duplicates;
  nlohmann::ordered_json statuses = nlohmann::ordered_json::object();
  for (const auto& [code, n] : t.statuses) statuses[std::to_string(code)] = n;
  out["statuses"] = statuses;
  out["duration_secs"] = Round3(duration_secs);
  out["throughput_rps"] = Round3(throughput);
  out["latency_ms"] = {{"p50", Round3(PercentileMs(t.latency_us, 50))},
                       {"p95", Round3(PercentileMs(t.latency_us, 95))},
                       {"p99", Round3(PercentileMs(t.latency_us, 99))},
                       {"max", Round3(PercentileMs(t.latency_us, 100))},
                       {"mean", Round3(MeanMs(t.latency_us))}};
  if (open_loop) {
    // How late requests left relative to their schedule. Large values mean
    // every connection was busy (the server fell behind the rate) or this
    // process could not keep up; latencies above already include the delay.
    out["start_lag_ms"] = {{"p50", Round3(PercentileMs(t.start_lag_us, 50))},
                           {"p99", Round3(PercentileMs(t.start_lag_us, 99))},
                           {"max", Round3(PercentileMs(t.start_lag_us, 100))}};
  }

  std::string summary = Format("engram-loadgen %s loop, %d connections",
                               open_loop ? "open" : "closed", flags.connections);
  if (open_loop) summary += Format(", %g req/s", flags.rate);
  summary += Format(
      ", body ~%lld bytes, run %s\n"
      "  requests   %llu (+%llu warm-up)\n"
      "  errors     %llu (non-200 %llu, transport %llu), duplicates %llu\n"
      "  duration   %.3f s\n"
      "  throughput %.1f req/s\n"
      "  latency ms p50 %.3f  p95 %.3f  p99 %.3f  max %.3f  (mean %.3f)\n",
      static_cast<long long>(run.AverageBodyBytes()), run_id.c_str(),
      static_cast<unsigned long long>(t.sent), static_cast<unsigned long long>(warmup.sent),
      static_cast<unsigned long long>(t.errors()), static_cast<unsigned long long>(t.non_200),
      static_cast<unsigned long long>(t.transport_errors),
      static_cast<unsigned long long>(t.duplicates), duration_secs, throughput,
      PercentileMs(t.latency_us, 50), PercentileMs(t.latency_us, 95),
      PercentileMs(t.latency_us, 99), PercentileMs(t.latency_us, 100), MeanMs(t.latency_us));
  if (open_loop) {
    summary += Format(
        "  (open loop: latency counted from each request's scheduled time)\n"
        "  start lag ms p50 %.3f  p99 %.3f  max %.3f\n",
        PercentileMs(t.start_lag_us, 50), PercentileMs(t.start_lag_us, 99),
        PercentileMs(t.start_lag_us, 100));
  }
  // With --json, stdout carries only the JSON object; the summary goes to
  // stderr so a human still sees it.
  std::ostream& human = flags.json ? std::cerr : std::cout;
  human << summary;
  for (const auto& e : warmup.error_samples) human << "  warm-up error: " << e << "\n";
  for (const auto& e : t.error_samples) human << "  error: " << e << "\n";
  if (flags.json) std::cout << out.dump() << "\n";

  const bool failed = t.errors() > 0 || warmup.errors() > 0 || t.sent == 0;
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Calls mode: whole calls through the three routes.

constexpr char kInitPath[] = "/webhook/conversation-init";
constexpr char kToolPath[] = "/tools/memory-query";
constexpr char kCallsAgentId[] = "agent_5301k6yq2h8vfx0r7nwa3c9tjm4e";
constexpr char kAgentNumber[] = "+17375550100";
// What the agent's tool config sends as "limit".
constexpr int kToolLimit = 5;
// Caller numbers are "+1512555" and four digits.
constexpr int kMaxCallers = 10000;
// After the last call's planned end, steps still waiting are abandoned this
// much later: the run must stop by itself even if the server stalls.
constexpr auto kStragglerGrace = std::chrono::seconds(30);
// How often the queue is read while it drains after the load.
constexpr auto kDrainPoll = std::chrono::milliseconds(100);
// A real call lasts about three minutes; with --day-calls the call is
// compressed with the day.
constexpr double kRealCallSecs = 180;
constexpr double kDefaultCallSecs = 2;

enum RouteId { kInitRoute = 0, kToolRoute = 1, kPostCallRoute = 2, kRouteCount = 3 };
constexpr const char* kRouteNames[kRouteCount] = {"init", "tool", "post_call"};
constexpr const char* kRoutePaths[kRouteCount] = {kInitPath, kToolPath, kPostCallPath};

// Phrase banks for callers' statements. Sentence shapes follow what the rule
// extractor keeps (see tools/bench_memory.cc for the long version); a few
// dozen entries per bank keep calls from repeating each other.
constexpr std::string_view kFirstNames[] = {
    "Maria", "Tom",   "Aisha", "Kenji", "Lucia", "Omar",  "Sven",   "Grace",  "Diego", "Fatima",
    "Liam",  "Mei",   "Noah",  "Zara",  "Ravi",  "Elena", "Marcus", "Ines",   "Jonah", "Hana",
    "Felix", "Nadia", "Oscar", "Yuki",  "Bruno", "Leila", "Caleb",  "Ingrid", "Mateo", "Sofia"};
constexpr std::string_view kLastNames[] = {"Okafor", "Lindqvist", "Moreau", "Tanaka",  "Brennan",
                                           "Haddad", "Kowalski",  "Reyes",  "Fischer", "Patel",
                                           "Nguyen", "Oduya",     "Larsen"};
constexpr std::string_view kCompanies[] = {
    "Harbor Freight Logistics", "Bluebird Dental",   "Northwind Bakery",  "Crestline Realty",
    "Pinecone Outfitters",      "Riverside Clinic",  "Atlas Movers",      "Copperleaf Catering",
    "Summit Roofing",           "Lakeside Vet",      "Brightpath Tutors", "Meridian Wines",
    "Ironwood Fitness",         "Greenway Florists", "Keystone Plumbing", "Saltmarsh Brewery"};
constexpr std::string_view kCities[] = {"Austin",  "Denver",    "Leeds",   "Rotterdam", "Lyon",
                                        "Toronto", "Phoenix",   "Dublin",  "Melbourne", "Porto",
                                        "Calgary", "Nashville", "Glasgow", "Tucson",    "Hamburg",
                                        "Osaka",   "Raleigh",   "Boise",   "Cork",      "Valencia"};
// Most callers keep their CRM; now and then one switches (a supersession).
constexpr std::string_view kCrms[] = {"HubSpot",    "Salesforce", "Pipedrive", "Zoho",
                                      "Freshsales", "Attio",      "Insightly", "Keap"};
constexpr std::string_view kTools[] = {
    "Xero",   "QuickBooks", "Shopify",  "Slack",    "Excel",   "Airtable",    "Notion",
    "Trello", "Asana",      "Jira",     "Stripe",   "Square",  "Gusto",       "Dropbox",
    "Zapier", "Calendly",   "DocuSign", "Intercom", "Outlook", "Google Drive"};
constexpr std::string_view kDocs[] = {"the pipeline report",
                                      "the payroll sheet",
                                      "the overdue invoice list",
                                      "the shipping manifests",
                                      "the inventory counts",
                                      "the refund requests",
                                      "the support backlog",
                                      "the purchase orders",
                                      "the timesheets",
                                      "the contract renewals",
                                      "the vendor bills",
                                      "the expense receipts",
                                      "the delivery routes",
                                      "the appointment schedule",
                                      "the staff rota",
                                      "the price list",
                                      "the quarterly tax filings",
                                      "the booking calendar",
                                      "the supplier quotes",
                                      "the warranty claims",
                                      "the returns log",
                                      "the loyalty card balances",
                                      "the tenant repair requests",
                                      "the event guest list"};
constexpr std::string_view kGroups[] = {
    "the finance team", "our dispatchers",    "the warehouse crew", "our bookkeepers",
    "the night shift",  "the sales reps",     "the front desk",     "our field technicians",
    "the billing team", "our store managers", "the kitchen staff",  "our delivery drivers"};
constexpr std::string_view kProblems[] = {"the sync creates duplicate contacts",
                                          "the export drops the last column",
                                          "the mobile app logs us out every hour",
                                          "invoices show the wrong tax rate",
                                          "the dashboard takes forever to load",
                                          "large attachments fail to upload",
                                          "the calendar shows double bookings",
                                          "the webhooks time out",
                                          "reminder emails go out twice",
                                          "the barcode scanner stops pairing",
                                          "time zones shift appointments by an hour",
                                          "PDF exports come out blank",
                                          "notifications arrive hours late",
                                          "merged records lose their notes",
                                          "discount codes apply twice",
                                          "phone numbers lose their country code",
                                          "recurring invoices skip February",
                                          "the stock levels go negative",
                                          "refunds post to the wrong bank account",
                                          "the CSV import swaps day and month"};
constexpr std::string_view kPast[] = {
    "since the March update",        "since we opened the second site",
    "ever since the new firmware",   "since the daylight saving change",
    "after the power cut last week", "since the migration",
    "since the Christmas rush",      "after the router was replaced",
    "since the spring sale"};
constexpr std::string_view kFuture[] = {"by Friday",
                                        "before the end of the quarter",
                                        "before our lease renewal",
                                        "before the auditors arrive",
                                        "by the end of next month",
                                        "before the new hires start",
                                        "ahead of Black Friday",
                                        "before the board meeting on the 14th",
                                        "by the first week of June"};
constexpr std::string_view kPlans[] = {
    "open a new warehouse",           "hire three more drivers",         "run the annual stocktake",
    "launch the spring catalogue",    "close the books for the quarter", "renew our contract",
    "start a pilot with five stores", "add a second delivery van",       "open on Sundays",
    "bring payroll in house"};
constexpr std::string_view kBadFeelings[] = {"frustrated", "worried",      "annoyed",
                                             "stressed",   "disappointed", "anxious"};
constexpr std::string_view kDays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"};
constexpr std::string_view kVerbs[] = {"export", "reconcile", "review", "upload", "audit",
                                       "print",  "merge",     "check",  "update", "scan"};
constexpr std::string_view kReasons[] = {
    "the auditors asked for it",    "our insurance requires it",
    "the drivers get paid from it", "we got fined for missing it last year",
    "the busy season starts soon",  "half the team is new",
    "our biggest client audits us", "the owner reads it on Sunday nights"};

// {bank} placeholders in the statements below.
struct CallBank {
  std::string_view name;
  std::span<const std::string_view> words;
};
constexpr CallBank kCallBanks[] = {
    {"tool", kTools}, {"doc", kDocs},      {"group", kGroups},   {"problem", kProblems},
    {"past", kPast},  {"future", kFuture}, {"plan", kPlans},     {"bad", kBadFeelings},
    {"day", kDays},   {"verb", kVerbs},    {"reason", kReasons}, {"city", kCities}};

constexpr std::string_view kStatements[] = {
    "Every {day} I {verb} {doc} with {group}, because {reason}.",
    "Our routine is to {verb} {doc} every {day} before {group} start.",
    "Every month we {verb} {doc} into {tool} so {group} can plan ahead.",
    "Honestly, I'm {bad} because {problem} {past}, and {group} are fed up too.",
    "My team is {bad} that {problem} whenever {group} open {doc}.",
    "We plan to {plan} {future}, and {group} will need {doc} by then.",
    "I need {doc} fixed {future}, because {reason}.",
    "Next week we're going to {plan}, so {tool} has to work for {group}.",
    "We use {tool} for {doc} and {group} check it every {day}.",
    "I'm based in {city} and look after {doc} for {group}.",
    "The problem is that {problem} whenever {group} try to {verb} {doc}.",
    "We also have an issue where {problem} {past}, so {group} {verb} {doc} by hand.",
    "There's an error when we {verb} {doc} from {tool}, and {problem} {past}.",
    "I think the trouble started when we connected {tool} {past}, because {problem}.",
    "Could someone check whether {doc} can be imported into {tool} {future}?"};

constexpr std::string_view kCallAgentLines[] = {"I understand.",
                                                "Thanks for explaining that.",
                                                "Could you tell me a bit more about that?",
                                                "Let me look into that for you.",
                                                "How long has that been going on?",
                                                "Got it, thank you.",
                                                "I'm sorry to hear that.",
                                                "Okay, I'm writing that down."};

// What an agent's LLM asks the memory tool during a call.
constexpr std::string_view kQuestions[] = {"what CRM do they use",
                                           "what problems are they having",
                                           "how does the caller feel about the service",
                                           "what do they do every Monday",
                                           "when is their next deadline",
                                           "what did we promise to send them",
                                           "how do they prefer to be contacted",
                                           "what are they planning next month",
                                           "which reports do they export",
                                           "what went wrong after the last update",
                                           "which tools do they use",
                                           "why are they frustrated",
                                           "where are they based",
                                           "what happened with the duplicate contacts"};

// Hourly share of a support line's calls (local time, 0h..23h): quiet
// nights, a morning peak around 10h and an afternoon one around 14h.
constexpr double kHourWeights[24] = {0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 4.0, 7.0, 8.0, 7.0,
                                     5.0, 6.0, 7.0, 6.0, 5.0, 3.0, 2.0, 1.5, 1.0, 0.7, 0.4, 0.3};
// Share of a day's calls that follow another call within kClusterSecs (a
// dropped call rung back, colleagues hit by the same outage).
constexpr double kClusteredShare = 0.3;
constexpr double kClusterSecs = 600;

template <typename Bank>
std::string_view PickFrom(const Bank& bank, std::mt19937_64& rng) {
  return bank[rng() % std::size(bank)];
}

// Replaces each {bank} in `tmpl` with a pick from that bank.
std::string FillStatement(std::string_view tmpl, std::mt19937_64& rng) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    const size_t open = tmpl.find('{', i);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    const size_t close = tmpl.find('}', open);
    out.append(tmpl.substr(i, open - i));
    const std::string_view name = tmpl.substr(open + 1, close - open - 1);
    bool found = false;
    for (const CallBank& b : kCallBanks) {
      if (b.name != name) continue;
      out.append(b.words[rng() % b.words.size()]);
      found = true;
      break;
    }
    if (!found) out.append(tmpl.substr(open, close - open + 1));  // a typo stays visible
    i = close + 1;
  }
  return out;
}

// Who a caller is: fixed by the caller's index alone, so a caller is the same
// person in every run and every call.
struct Persona {
  std::string phone;
  std::string first_name;
  std::string name;
  std::string company;
  std::string city;
  std::string crm;
  bool prefers_email = true;
};

Persona PersonaFor(int caller) {
  const size_t c = static_cast<size_t>(caller);
  Persona p;
  p.phone = Format("+1512555%04d", caller);
  p.first_name = kFirstNames[c % std::size(kFirstNames)];
  p.name = p.first_name;
  p.name.append(" ").append(kLastNames[(c / std::size(kFirstNames) + c) % std::size(kLastNames)]);
  p.company = kCompanies[c % std::size(kCompanies)];
  p.city = kCities[(c * 7) % std::size(kCities)];
  p.crm = kCrms[(c * 3) % std::size(kCrms)];
  p.prefers_email = c % 3 != 0;
  return p;
}

// The state of one simulated call. Steps of a call run one after another
// (step k+1 is scheduled only when step k has finished), and the hand-over
// goes through the run's mutex, so no further locking is needed.
struct CallState {
  Clock::time_point start;  // planned
  int caller = 0;
  uint64_t seed = 0;
  std::string call_sid;
  std::string conversation_id;
  std::string user_id;  // what init answered; empty when it failed
  std::string post_call_body;
  int64_t start_unix = 0;
};

// The post_call_transcription body of `call`, made after init answered.
std::string BuildCallBody(const CallState& call, const Persona& who, int turns, int64_t now_secs) {
  std::mt19937_64 rng(call.seed ^ 0x5bd1e9955bd1e995ull);
  ordered_json transcript = ordered_json::array();
  int time_in_call = 0;
  auto add = [&](bool agent, const std::string& message) {
    transcript.push_back(TranscriptTurn(agent, kCallsAgentId, message, time_in_call));
    time_in_call += 3 + static_cast<int>(rng() % 15);
  };
  add(true, "Thank you for calling Tandem Desk support, this is Sage. How can I help you today?");
  add(false, Format("Hi, this is %s from %s in %s.", who.name.c_str(), who.company.c_str(),
                    who.city.c_str()));
  // One call in twenty reports a switch of CRM: learning must supersede.
  std::string crm = who.crm;
  if (rng() % 20 == 0) {
    crm = std::string(PickFrom(kCrms, rng));
    add(true, "Thanks. What can I help you with?");
    add(false,
        Format("We switched to %s last month, so %s is our CRM now.", crm.c_str(), crm.c_str()));
  } else {
    add(true, "Thanks. Which CRM are you connecting to Tandem?");
    add(false, Format("We use %s for sales, and Tandem for support.", crm.c_str()));
  }
  const int exchanges = std::max(1, (turns - 6) / 2);
  const int preference_at = static_cast<int>(rng() % static_cast<uint64_t>(exchanges));
  for (int e = 0; e < exchanges; ++e) {
    add(true, std::string(PickFrom(kCallAgentLines, rng)));
    if (e == preference_at) {
      add(false, who.prefers_email ? "Email updates, please, I'd like a written record."
                                   : "Please call me back, I prefer a call to email.");
      continue;
    }
    std::string message = FillStatement(PickFrom(kStatements, rng), rng);
    if (rng() % 3 == 0) message.append(" ").append(FillStatement(PickFrom(kStatements, rng), rng));
    add(false, message);
  }
  add(true, "I've noted all of that and opened a ticket. Is there anything else?");
  add(false, "No, that's everything. Thanks, bye.");

  const std::string problem(PickFrom(kProblems, rng));
  ordered_json doc = PostCallEnvelope(kCallsAgentId, call.conversation_id, call.user_id, now_secs);
  ordered_json& data = doc["data"];
  if (call.user_id.empty()) data["user_id"] = nullptr;  // init failed: resolved by number
  data["transcript"] = std::move(transcript);
  data["metadata"] = {{"start_time_unix_secs", call.start_unix},
                      {"accepted_time_unix_secs", call.start_unix},
                      {"call_duration_secs", time_in_call},
                      {"cost", 700 + static_cast<int>(rng() % 400)},
                      {"authorization_method", "public"},
                      {"phone_call",
                       {{"type", "twilio"},
                        {"direction", "inbound"},
                        {"phone_number_id", "phnum_2201k6yq5a7tnm3x9cp0dw4rbe8h"},
                        {"agent_number", kAgentNumber},
                        {"external_number", who.phone},
                        {"call_sid", call.call_sid}}},
                      {"termination_reason", "Call ended by remote party"},
                      {"error", nullptr},
                      {"warnings", ordered_json::array()},
                      {"main_language", "en"},
                      {"text_only", false}};
  data["analysis"] = {
      {"evaluation_criteria_results", ordered_json::object()},
      {"data_collection_results",
       {{"customer_name",
         {{"data_collection_id", "customer_name"},
          {"value", who.name},
          {"rationale", "The caller introduced themselves."}}}}},
      {"call_successful", "success"},
      {"transcript_summary", Format("%s from %s called because %s.", who.name.c_str(),
                                    who.company.c_str(), problem.c_str())},
      {"call_summary_title", Format("Support call: %s", problem.c_str())}};
  ordered_json vars = {{"system__agent_id", kCallsAgentId},
                       {"system__caller_id", who.phone},
                       {"system__called_number", kAgentNumber},
                       {"system__call_sid", call.call_sid},
                       {"system__conversation_id", call.conversation_id}};
  if (!call.user_id.empty()) vars["user_id"] = call.user_id;
  data["conversation_initiation_client_data"] = {{"dynamic_variables", vars}};
  if (!call.user_id.empty()) data["conversation_initiation_client_data"]["user_id"] = call.user_id;
  return doc.dump();
}

// Call start times in seconds from the run's start, sorted, with the caller
// of each call. Deterministic for a given --seed.
struct PlannedCall {
  double start_secs = 0;
  int caller = 0;
};

std::vector<PlannedCall> PlanCalls(const Flags& flags) {
  std::mt19937_64 rng(flags.seed);
  std::vector<double> starts;
  if (flags.calls_per_sec > 0) {
    uint64_t n = flags.calls;
    if (flags.duration_secs > 0) {
      const auto by_time = static_cast<uint64_t>(flags.calls_per_sec * flags.duration_secs);
      n = n == 0 ? by_time : std::min(n, by_time);
    }
    std::exponential_distribution<double> gap(flags.calls_per_sec);
    double t = 0;
    for (uint64_t i = 0; i < n; ++i) {
      starts.push_back(flags.poisson ? t : static_cast<double>(i) / flags.calls_per_sec);
      t += gap(rng);
    }
  }
  for (uint64_t i = 0; i < flags.burst_calls; ++i) {
    starts.push_back(flags.burst_at + flags.burst_secs * static_cast<double>(i) /
                                          static_cast<double>(flags.burst_calls));
  }
  if (flags.day_calls > 0) {
    std::discrete_distribution<int> hour(std::begin(kHourWeights), std::end(kHourWeights));
    std::uniform_real_distribution<double> unit(0, 1);
    std::vector<double> day;  // seconds since midnight, real time
    for (uint64_t i = 0; i < flags.day_calls; ++i) {
      if (!day.empty() && unit(rng) < kClusteredShare) {
        day.push_back(std::min(86399.0, day[rng() % day.size()] + unit(rng) * kClusterSecs));
      } else {
        day.push_back(hour(rng) * 3600.0 + unit(rng) * 3600.0);
      }
    }
    // The day starts with its first call: the quiet night before it is not
    // waited through.
    const double first = *std::min_element(day.begin(), day.end());
    for (double t : day) starts.push_back((t - first) / flags.day_compression);
  }
  std::sort(starts.begin(), starts.end());
  std::vector<PlannedCall> plan;
  for (double s : starts) {
    plan.push_back({s, static_cast<int>(rng() % static_cast<uint64_t>(flags.callers))});
  }
  return plan;
}

// What one worker saw, per route.
struct RouteStats {
  std::vector<int64_t> latency_us;
  std::vector<int64_t> start_lag_us;  // sent - due: the client was late
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t transport_errors = 0;
  std::map<int, uint64_t> statuses;
  std::vector<std::string> error_samples;

  void Merge(RouteStats& o) {
    latency_us.insert(latency_us.end(), o.latency_us.begin(), o.latency_us.end());
    start_lag_us.insert(start_lag_us.end(), o.start_lag_us.begin(), o.start_lag_us.end());
    sent += o.sent;
    ok += o.ok;
    transport_errors += o.transport_errors;
    for (const auto& [code, n] : o.statuses) statuses[code] += n;
    for (auto& e : o.error_samples) {
      if (error_samples.size() < kMaxErrorSamples) error_samples.push_back(std::move(e));
    }
  }
  uint64_t errors() const { return sent - ok; }
};

struct CallWorkerStats {
  RouteStats routes[kRouteCount];
  uint64_t tool_with_memories = 0;
  uint64_t tool_skipped = 0;  // init failed: the agent had no user_id to ask with
  uint64_t init_known = 0;
  Clock::time_point last_done{};
};

// One scrape of GET /metrics.
struct QueueSample {
  double t_secs = 0;  // since the run's start
  std::optional<double> lag;
  std::optional<double> pending;
  std::optional<double> depth;
  bool ok = false;
};

QueueSample ScrapeQueue(http::HttpConnection& conn, Clock::time_point t0) {
  QueueSample s;
  s.t_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  auto r = conn.Send("GET", "/metrics", "");
  if (!r.ok() || r->status != 200) return s;
  s.ok = true;
  s.lag = PrometheusValue(r->body, "engram_projection_lag_events");
  s.pending = PrometheusValue(r->body, "engram_webhook_events", R"(status="pending")");
  s.depth = PrometheusValue(r->body, "engram_extraction_queue_depth");
  return s;
}

bool QueueEmpty(const QueueSample& s) {
  return s.ok && s.lag.value_or(0) <= 0 && s.pending.value_or(0) <= 0 && s.depth.value_or(0) <= 0;
}

// Scrapes the queue every `period` on its own connection until stopped.
class QueueWatch {
 public:
  QueueWatch(const Target& target, std::chrono::milliseconds period, Clock::time_point t0,
             std::chrono::milliseconds timeout)
      : conn_(target.host, target.port, timeout), period_(period), t0_(t0) {}

  void Start() {
    thread_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!stop_) {
        lock.unlock();
        QueueSample s = ScrapeQueue(conn_, t0_);
        lock.lock();
        samples_.push_back(s);
        cv_.wait_for(lock, period_, [this] { return stop_; });
      }
    });
  }

  // Stops the periodic scrapes, then scrapes every kDrainPoll until the queue
  // is empty or `limit` passes. Returns how long draining took, or nullopt.
  std::optional<double> StopAndDrain(std::chrono::duration<double> limit) {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    const Clock::time_point from = Clock::now();
    for (;;) {
      QueueSample s = ScrapeQueue(conn_, t0_);
      samples_.push_back(s);
      const auto waited = Clock::now() - from;
      if (QueueEmpty(s)) return std::chrono::duration<double>(waited).count();
      if (waited >= limit) return std::nullopt;
      std::this_thread::sleep_for(kDrainPoll);
    }
  }

  // Only after StopAndDrain.
  const std::vector<QueueSample>& samples() const { return samples_; }

 private:
  http::HttpConnection conn_;
  std::chrono::milliseconds period_;
  Clock::time_point t0_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<QueueSample> samples_;
  std::thread thread_;
};

// Plays the planned calls on --connections workers, each with its own
// keep-alive connection.
class CallRun {
 public:
  CallRun(const Flags& flags, Target target, std::string run_id, std::vector<PlannedCall> plan)
      : flags_(flags), target_(std::move(target)), run_id_(std::move(run_id)) {
    call_secs_ = flags.call_secs > 0 ? flags.call_secs
                                     : (flags.day_calls > 0 ? kRealCallSecs / flags.day_compression
                                                            : kDefaultCallSecs);
    calls_.resize(plan.size());
    for (size_t i = 0; i < plan.size(); ++i) {
      CallState& c = calls_[i];
      c.caller = plan[i].caller;
      c.seed = flags.seed * 0x9E3779B97F4A7C15ull + i;
      c.call_sid = Format("CA%s%016zx", run_id_.c_str(), i);
      c.conversation_id = Format("conv_%s_%06zu", run_id_.c_str(), i);
      offsets_.push_back(plan[i].start_secs);
    }
    for (int i = 0; i < flags.callers; ++i) personas_.push_back(PersonaFor(i));
  }

  double call_secs() const { return call_secs_; }

  Status Connect() {
    for (int i = 0; i < flags_.connections; ++i) {
      connections_.push_back(std::make_unique<http::HttpConnection>(
          target_.host, target_.port, std::chrono::milliseconds(flags_.timeout_ms)));
    }
    for (auto& c : connections_) {
      auto r = c->Send("GET", "/healthz", "");
      if (!r.ok()) return r.status();
      if (r->status != 200) {
        return Status::Unavailable(
            Format("GET /healthz answered %d: %s", r->status, r->body.c_str()));
      }
    }
    return Status::Ok();
  }

  // Plays every call from `t0`; returns when all have finished or the
  // straggler deadline passed.
  std::vector<CallWorkerStats> Run(Clock::time_point t0) {
    {
      std::lock_guard lock(mu_);
      for (size_t i = 0; i < calls_.size(); ++i) {
        calls_[i].start = t0 + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(offsets_[i]));
        heap_.push({calls_[i].start, static_cast<uint32_t>(i), 0});
      }
      const double last = offsets_.empty() ? 0 : offsets_.back();
      deadline_ = t0 +
                  std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(last + call_secs_)) +
                  kStragglerGrace;
      stop_ = calls_.empty();
    }
    std::vector<CallWorkerStats> stats(connections_.size());
    std::vector<std::thread> workers;
    for (size_t i = 0; i < connections_.size(); ++i) {
      workers.emplace_back([this, i, &stats] { Worker(*connections_[i], stats[i]); });
    }
    for (auto& w : workers) w.join();
    return stats;
  }

  uint64_t finished() const { return finished_; }
  uint64_t total() const { return calls_.size(); }

 private:
  struct Step {
    Clock::time_point due;
    uint32_t call;
    int step;  // 0: init, 1..K: tool calls, K+1: post-call
    bool operator>(const Step& o) const { return due > o.due; }
  };

  // Leader/followers: one idle worker (the leader) sleeps until the earliest
  // step is due, takes it, hands leadership to another idle worker and sends
  // it. A due step thus wakes one thread, not a dispatcher and then a
  // worker, which keeps the client's own delay out of the latencies as far
  // as two shared cores allow. When every worker is busy, due steps wait in
  // the heap and the wait is counted.
  void Worker(http::HttpConnection& conn, CallWorkerStats& stats) {
    std::unique_lock lock(mu_);
    for (;;) {
      if (stop_) return;
      if (has_leader_) {
        follower_cv_.wait(lock);
        continue;
      }
      has_leader_ = true;
      bool took = false;
      Step step{};
      while (!stop_) {
        if (Clock::now() >= deadline_) {
          stop_ = true;  // stragglers are abandoned; the report says how many
          stop_flag_ = true;
          break;
        }
        if (heap_.empty()) {
          leader_cv_.wait_until(lock, deadline_);
        } else if (heap_.top().due > Clock::now()) {
          leader_cv_.wait_until(lock, std::min(heap_.top().due, deadline_));
        } else {
          step = heap_.top();
          heap_.pop();
          took = true;
          break;
        }
      }
      has_leader_ = false;
      if (!took) {
        follower_cv_.notify_all();
        return;
      }
      follower_cv_.notify_one();  // the next leader
      lock.unlock();
      // A step whose successor is already due runs it at once, on this
      // connection.
      std::optional<Step> next = Execute(step, conn, stats);
      while (next && next->due <= Clock::now() && !stop_flag_.load(std::memory_order_relaxed)) {
        next = Execute(*next, conn, stats);
      }
      lock.lock();
      if (!next) {
        if (++finished_ == calls_.size()) {
          stop_ = true;
          stop_flag_ = true;
          follower_cv_.notify_all();
          leader_cv_.notify_all();
        }
      } else {
        const bool earliest = heap_.empty() || next->due < heap_.top().due;
        heap_.push(*next);
        if (earliest) leader_cv_.notify_one();
      }
    }
  }

  // Sends `step` and returns the call's next step, if any.
  std::optional<Step> Execute(const Step& step, http::HttpConnection& conn,
                              CallWorkerStats& stats) {
    CallState& call = calls_[step.call];
    const Persona& who = personas_[static_cast<size_t>(call.caller)];
    const int k = flags_.tool_calls;
    const RouteId route = step.step == 0   ? kInitRoute
                          : step.step <= k ? kToolRoute
                                           : kPostCallRoute;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool skip = false;
    if (route == kInitRoute) {
      call.start_unix = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
      headers.emplace_back(flags_.tool_secret_header, flags_.tool_secret);
      body = nlohmann::json({{"caller_id", who.phone},
                             {"agent_id", kCallsAgentId},
                             {"called_number", kAgentNumber},
                             {"call_sid", call.call_sid}})
                 .dump();
    } else if (route == kToolRoute) {
      if (call.user_id.empty()) {
        skip = true;
      } else {
        std::mt19937_64 rng(call.seed + static_cast<uint64_t>(step.step));
        headers.emplace_back(flags_.tool_secret_header, flags_.tool_secret);
        body = nlohmann::json({{"query", std::string(PickFrom(kQuestions, rng))},
                               {"user_id", call.user_id},
                               {"limit", kToolLimit},
                               {"conversation_id", call.conversation_id},
                               {"call_sid", call.call_sid},
                               {"caller_id", who.phone},
                               {"agent_id", kCallsAgentId}})
                   .dump();
      }
    } else {
      body = std::move(call.post_call_body);
      const int64_t now_secs = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
      headers.emplace_back("ElevenLabs-Signature",
                           http::SignatureHeaderValue(flags_.secret, now_secs, body));
    }

    Clock::time_point done = Clock::now();
    if (skip) {
      stats.tool_skipped++;
    } else {
      RouteStats& rs = stats.routes[route];
      const Clock::time_point sent_at = Clock::now();
      auto r = conn.Send("POST", kRoutePaths[route], body, headers);
      done = Clock::now();
      stats.last_done = done;
      rs.sent++;
      rs.latency_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(done - step.due).count());
      rs.start_lag_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(sent_at - step.due).count());
      if (!r.ok()) {
        rs.transport_errors++;
        if (rs.error_samples.size() < kMaxErrorSamples) {
          rs.error_samples.push_back(r.status().ToString());
        }
      } else {
        rs.statuses[r->status]++;
        if (r->status == 200) {
          rs.ok++;
        } else if (rs.error_samples.size() < kMaxErrorSamples) {
          rs.error_samples.push_back(
              Format("HTTP %d: %s", r->status, r->body.substr(0, 200).c_str()));
        }
        if (r->status == 200 && route == kInitRoute) {
          auto answer = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
          const nlohmann::json* vars = answer.is_object() && answer.contains("dynamic_variables")
                                           ? &answer["dynamic_variables"]
                                           : nullptr;
          if (vars && vars->is_object() && vars->contains("user_id") &&
              (*vars)["user_id"].is_string()) {
            call.user_id = (*vars)["user_id"].get<std::string>();
          }
          if (vars && vars->value("caller_known", false)) stats.init_known++;
        }
        if (r->status == 200 && route == kToolRoute &&
            r->body.find("\"memories\":[]") == std::string::npos) {
          stats.tool_with_memories++;
        }
      }
    }
    if (route == kInitRoute) {
      // Built now, between the call's steps, so the post-call's latency does
      // not include making its body.
      const int64_t now_secs = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
      call.post_call_body = BuildCallBody(call, who, flags_.turns, now_secs);
    }
    if (route == kPostCallRoute) return std::nullopt;
    const int next = step.step + 1;
    const Clock::time_point planned =
        call.start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(call_secs_ * next / (k + 1)));
    return Step{std::max(planned, done), step.call, next};
  }

  const Flags& flags_;
  Target target_;
  std::string run_id_;
  double call_secs_ = kDefaultCallSecs;
  std::vector<CallState> calls_;
  std::vector<double> offsets_;
  std::vector<Persona> personas_;
  std::vector<std::unique_ptr<http::HttpConnection>> connections_;

  std::mutex mu_;
  std::condition_variable leader_cv_;    // the leader: a new earliest step, or stop
  std::condition_variable follower_cv_;  // idle workers: lead now, or stop
  std::priority_queue<Step, std::vector<Step>, std::greater<Step>> heap_;
  bool has_leader_ = false;
  uint64_t finished_ = 0;
  bool stop_ = false;
  std::atomic<bool> stop_flag_{false};  // stop_, readable without mu_
  Clock::time_point deadline_{};
};

int MainCalls(const Flags& flags) {
  auto target = ParseLoopbackUrl(flags.url);
  if (!target.ok()) {
    std::cerr << "engram-loadgen: " << target.status().message() << "\n";
    return 2;
  }
  if (flags.secret.empty() || flags.tool_secret.empty()) {
    std::cerr << "engram-loadgen: --mode calls needs both secrets: --secret (or "
                 "ENGRAM_WEBHOOK_SECRET) and --tool-secret (or ENGRAM_TOOL_SECRET)\n";
    return 2;
  }
  std::vector<PlannedCall> plan = PlanCalls(flags);
  if (plan.empty()) {
    std::cerr << "engram-loadgen: no calls planned: give --calls-per-sec with --duration-secs "
                 "or --calls, --burst-calls, or --day-calls\n";
    return 2;
  }
  const std::string run_id = RandomRunId();
  CallRun run(flags, *target, run_id, plan);
  Status connected = run.Connect();
  if (!connected.ok()) {
    std::cerr << "engram-loadgen: cannot reach " << flags.url << ": " << connected.ToString()
              << "\n";
    return 2;
  }

  // A short head start, so the first calls are not late because threads
  // were still starting.
  const Clock::time_point t0 = Clock::now() + std::chrono::milliseconds(50);
  QueueWatch watch(*target, std::chrono::milliseconds(flags.scrape_ms), t0,
                   std::chrono::milliseconds(flags.timeout_ms));
  watch.Start();
  std::vector<CallWorkerStats> stats = run.Run(t0);
  const Clock::time_point load_end = Clock::now();
  const std::optional<double> drain_secs =
      watch.StopAndDrain(std::chrono::duration<double>(flags.drain_secs));

  RouteStats routes[kRouteCount];
  uint64_t tool_with_memories = 0, tool_skipped = 0, init_known = 0;
  Clock::time_point last_done = t0;
  RouteStats all;
  for (auto& s : stats) {
    for (int r = 0; r < kRouteCount; ++r) {
      RouteStats copy = s.routes[r];
      all.Merge(copy);
      routes[r].Merge(s.routes[r]);
    }
    tool_with_memories += s.tool_with_memories;
    tool_skipped += s.tool_skipped;
    init_known += s.init_known;
    last_done = std::max(last_done, s.last_done);
  }
  for (auto& r : routes) {
    std::sort(r.latency_us.begin(), r.latency_us.end());
    std::sort(r.start_lag_us.begin(), r.start_lag_us.end());
  }
  std::sort(all.start_lag_us.begin(), all.start_lag_us.end());

  const double duration = std::chrono::duration<double>(last_done - t0).count();
  const double arrival_span = plan.back().start_secs - plan.front().start_secs;
  const uint64_t errors = all.errors();
  const bool all_finished = run.finished() == run.total();

  // The queue while the load ran, and how it drained.
  const auto& samples = watch.samples();
  const double load_secs = std::chrono::duration<double>(load_end - t0).count();
  double max_lag = 0, max_pending = 0, max_depth = 0, lag_at_end = 0;
  bool depth_seen = false, pending_seen = false;
  uint64_t scrape_failures = 0;
  nlohmann::ordered_json lag_series = nlohmann::ordered_json::array();
  for (const QueueSample& s : samples) {
    if (!s.ok) {
      scrape_failures++;
      continue;
    }
    max_lag = std::max(max_lag, s.lag.value_or(0));
    if (s.pending) {
      pending_seen = true;
      max_pending = std::max(max_pending, *s.pending);
    }
    if (s.depth) {
      depth_seen = true;
      max_depth = std::max(max_depth, *s.depth);
    }
    if (s.t_secs <= load_secs) {
      lag_at_end = s.lag.value_or(0);
      lag_series.push_back({Round3(s.t_secs), s.lag.value_or(0)});
    }
  }
  const bool kept_up = drain_secs && *drain_secs <= flags.keepup_secs;

  nlohmann::ordered_json out;
  out["tool"] = "engram-loadgen";
  out["mode"] = "calls";
  out["run_id"] = run_id;
  out["url"] = flags.url;
  out["connections"] = flags.connections;
  out["schedule"] = {{"calls_per_sec", flags.calls_per_sec},
                     {"poisson", flags.poisson},
                     {"duration_secs", flags.duration_secs},
                     {"burst_calls", flags.burst_calls},
                     {"burst_secs", flags.burst_secs},
                     {"burst_at", flags.burst_at},
                     {"day_calls", flags.day_calls},
                     {"day_compression", flags.day_calls > 0 ? flags.day_compression : 0},
                     {"call_secs", Round3(run.call_secs())},
                     {"tool_calls_per_call", flags.tool_calls},
                     {"callers", flags.callers},
                     {"seed", flags.seed}};
  out["calls"] = {{"planned", run.total()},
                  {"finished", run.finished()},
                  {"arrival_span_secs", Round3(arrival_span)},
                  {"offered_calls_per_sec",
                   arrival_span > 0 ? Round3(static_cast<double>(run.total()) / arrival_span) : 0}};
  out["duration_secs"] = Round3(duration);
  out["requests"] = all.sent;
  out["throughput_rps"] = duration > 0 ? Round3(static_cast<double>(all.sent) / duration) : 0;
  out["errors"] = errors;
  nlohmann::ordered_json per_route = nlohmann::ordered_json::object();
  for (int r = 0; r < kRouteCount; ++r) {
    const RouteStats& rs = routes[r];
    nlohmann::ordered_json statuses = nlohmann::ordered_json::object();
    for (const auto& [code, n] : rs.statuses) statuses[std::to_string(code)] = n;
    per_route[kRouteNames[r]] = {{"path", kRoutePaths[r]},
                                 {"requests", rs.sent},
                                 {"ok", rs.ok},
                                 {"errors", rs.errors()},
                                 {"transport_errors", rs.transport_errors},
                                 {"statuses", statuses},
                                 {"latency_ms", LatencyMsJson(rs.latency_us)}};
  }
  out["routes"] = per_route;
  out["tool_answers_with_memories"] = routes[kToolRoute].ok > 0
                                          ? Round3(static_cast<double>(tool_with_memories) /
                                                   static_cast<double>(routes[kToolRoute].ok))
                                          : 0;
  out["tool_calls_skipped"] = tool_skipped;
  out["init_caller_known"] =
      routes[kInitRoute].ok > 0
          ? Round3(static_cast<double>(init_known) / static_cast<double>(routes[kInitRoute].ok))
          : 0;
  out["start_lag_ms"] = {{"p50", Round3(PercentileMs(all.start_lag_us, 50))},
                         {"p99", Round3(PercentileMs(all.start_lag_us, 99))},
                         {"max", Round3(PercentileMs(all.start_lag_us, 100))}};
  nlohmann::ordered_json queue;
  queue["scrapes"] = samples.size();
  queue["scrape_failures"] = scrape_failures;
  queue["max_lag_events"] = max_lag;
  queue["lag_at_load_end"] = lag_at_end;
  queue["max_pending_webhook_events"] =
      pending_seen ? nlohmann::ordered_json(max_pending) : nlohmann::ordered_json(nullptr);
  queue["max_extraction_queue_depth"] =
      depth_seen ? nlohmann::ordered_json(max_depth) : nlohmann::ordered_json(nullptr);
  queue["drained"] = drain_secs.has_value();
  queue["drain_secs"] =
      drain_secs ? nlohmann::ordered_json(Round3(*drain_secs)) : nlohmann::ordered_json(nullptr);
  queue["keepup_secs"] = flags.keepup_secs;
  queue["kept_up"] = kept_up;
  queue["lag_series"] = lag_series;
  out["queue"] = queue;

  std::string summary = Format(
      "engram-loadgen calls: %llu calls (%llu finished) over %.1f s of arrivals, %d tool "
      "calls each, %d connections, run %s\n",
      static_cast<unsigned long long>(run.total()), static_cast<unsigned long long>(run.finished()),
      arrival_span, flags.tool_calls, flags.connections, run_id.c_str());
  summary += Format("  requests %llu in %.2f s (%.1f req/s), errors %llu\n",
                    static_cast<unsigned long long>(all.sent), duration,
                    duration > 0 ? static_cast<double>(all.sent) / duration : 0,
                    static_cast<unsigned long long>(errors));
  summary +=
      "  route       requests  errors     p50      p95      p99      max  (ms, from due time)\n";
  for (int r = 0; r < kRouteCount; ++r) {
    const RouteStats& rs = routes[r];
    summary += Format("  %-10s %9llu %7llu %8.3f %8.3f %8.3f %8.3f\n", kRouteNames[r],
                      static_cast<unsigned long long>(rs.sent),
                      static_cast<unsigned long long>(rs.errors()), PercentileMs(rs.latency_us, 50),
                      PercentileMs(rs.latency_us, 95), PercentileMs(rs.latency_us, 99),
                      PercentileMs(rs.latency_us, 100));
    for (const auto& [code, n] : rs.statuses) {
      if (code != 200)
        summary += Format("    HTTP %d: %llu\n", code, static_cast<unsigned long long>(n));
    }
  }
  summary += Format(
      "  tool answers with memories %.1f%%, init knew the caller %.1f%%, start lag p99 %.3f ms\n",
      100.0 * out["tool_answers_with_memories"].get<double>(),
      100.0 * out["init_caller_known"].get<double>(), PercentileMs(all.start_lag_us, 99));
  summary += Format(
      "  queue: max lag %.0f events, lag at load end %.0f, pending max %s, "
      "extraction queue max %s; ",
      max_lag, lag_at_end, pending_seen ? Format("%.0f", max_pending).c_str() : "n/a",
      depth_seen ? Format("%.0f", max_depth).c_str() : "n/a");
  summary += drain_secs
                 ? Format("drained %.2f s after the load: %s\n", *drain_secs,
                          kept_up ? "kept up" : "did NOT keep up")
                 : Format("not drained %.0f s after the load: did NOT keep up\n", flags.drain_secs);
  std::ostream& human = flags.json ? std::cerr : std::cout;
  human << summary;
  for (int r = 0; r < kRouteCount; ++r) {
    for (const auto& e : routes[r].error_samples) {
      human << "  error (" << kRouteNames[r] << "): " << e << "\n";
    }
  }
  if (flags.json) std::cout << out.dump() << "\n";
  const bool failed = errors > 0 || !all_finished || !drain_secs;
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace engram::tools

int main(int argc, char** argv) {
  engram::tools::Flags flags;
  CLI::App app{
      "Send signed ElevenLabs post-call webhooks to a local engram server and report "
      "throughput and latency."};
  app.add_option("--url", flags.url, "Server base URL; loopback only (127.x.x.x, localhost, ::1)")
      ->capture_default_str();
  app.add_option("--secret", flags.secret, "Webhook HMAC secret (the server's)")
      ->envname("ENGRAM_WEBHOOK_SECRET");
  app.add_option("--connections", flags.connections, "Concurrent keep-alive connections")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  auto* requests =
      app.add_option("--requests", flags.requests,
                     "Measured requests; with --duration-secs, whichever limit comes first")
          ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000'000}))
          ->capture_default_str();
  app.add_option("--duration-secs", flags.duration_secs,
                 "Stop the measured part after this long (alone: no request limit)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--rate", flags.rate,
                 "Requests/s over all connections; 0 = closed loop (send when the previous "
                 "answer arrived)")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
  app.add_option("--body-bytes", flags.body_bytes, "Approximate size of each webhook body")
      ->check(CLI::Range(size_t{1}, size_t{64} << 20))
      ->capture_default_str();
  app.add_option("--warmup", flags.warmup,
                 "Requests sent before the measured part, excluded from the statistics")
      ->capture_default_str();
  app.add_option("--timeout-ms", flags.timeout_ms, "Per-request timeout")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  app.add_flag("--json", flags.json, "Print one JSON object with the results on stdout");

  app.add_option("--mode", flags.mode,
                 "post-call: post-call webhooks alone; calls: whole calls (init, tool calls, "
                 "post-call) through all three routes")
      ->check(CLI::IsMember({"post-call", "calls"}))
      ->capture_default_str();
  const char* calls = "Calls mode (--mode calls)";
  app.add_option("--tool-secret", flags.tool_secret, "The memory routes' shared secret")
      ->envname("ENGRAM_TOOL_SECRET")
      ->group(calls);
  app.add_option("--tool-secret-header", flags.tool_secret_header,
                 "Header that carries the tool secret")
      ->capture_default_str()
      ->group(calls);
  app.add_option("--calls-per-sec", flags.calls_per_sec,
                 "Sustained call arrivals per second, for --duration-secs (or --calls)")
      ->check(CLI::Range(0.0, 1e5))
      ->group(calls);
  app.add_option("--calls", flags.calls, "Limit on the sustained calls")->group(calls);
  app.add_flag("--poisson", flags.poisson,
               "Sustained arrivals with exponential gaps instead of evenly spaced")
      ->group(calls);
  app.add_option("--burst-calls", flags.burst_calls, "Extra calls arriving in a burst")
      ->group(calls);
  app.add_option("--burst-secs", flags.burst_secs, "The burst's length")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--burst-at", flags.burst_at, "When the burst starts, seconds into the run")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--day-calls", flags.day_calls,
                 "Calls of one support-line day (hourly profile, clustered), time-compressed")
      ->group(calls);
  app.add_option("--day-compression", flags.day_compression,
                 "How many times faster than real time the day is played")
      ->check(CLI::Range(1.0, 1e7))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--call-secs", flags.call_secs,
                 "A call's length from init to post-call (0: 180 s / --day-compression with "
                 "--day-calls, else 2 s)")
      ->check(CLI::Range(0.0, 3600.0))
      ->group(calls);
  app.add_option("--tool-calls", flags.tool_calls, "Memory-tool calls per call")
      ->check(CLI::Range(0, 100))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--callers", flags.callers, "Distinct returning callers (phone numbers)")
      ->check(CLI::Range(1, engram::tools::kMaxCallers))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--turns", flags.turns, "Transcript turns per call (about)")
      ->check(CLI::Range(8, 400))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--seed", flags.seed, "Seed for arrivals, callers and transcripts")
      ->capture_default_str()
      ->group(calls);
  app.add_option("--scrape-ms", flags.scrape_ms, "How often GET /metrics is read during the load")
      ->check(CLI::Range(50, 60000))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--drain-secs", flags.drain_secs,
                 "How long to wait for the queue to empty after the load")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str()
      ->group(calls);
  app.add_option("--keepup-secs", flags.keepup_secs,
                 "The queue kept up when it emptied within this long after the load")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str()
      ->group(calls);
  CLI11_PARSE(app, argc, argv);
  if (flags.mode == "calls") {
    for (const char* post_call_only : {"--requests", "--rate", "--body-bytes", "--warmup"}) {
      if (app.count(post_call_only) > 0) {
        std::cerr << "engram-loadgen: " << post_call_only << " is for --mode post-call\n";
        return 2;
      }
    }
    return engram::tools::MainCalls(flags);
  }
  return engram::tools::Main(flags, requests->count() > 0);
}
