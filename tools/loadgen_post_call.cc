// engram-loadgen --mode post-call: signed ElevenLabs post-call webhooks
// alone, closed or open loop (how it works: loadgen.cc).

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
#include "loadgen.h"

namespace engram::tools {
namespace {

using nlohmann::ordered_json;

// Distinct documents serialised up front. Enough that consecutive requests
// differ (users, phone numbers, transcripts), few enough to build in well
// under a second even at large --body-bytes.
constexpr size_t kBodyPoolSize = 64;
// Width of the per-request index in conversation ids: 10 digits covers any
// run this tool can do (10^10 requests).
constexpr int kIndexDigits = 10;

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
  LoadRun(const Flags& flags, std::vector<Target> targets, std::string run_id)
      : flags_(flags), targets_(std::move(targets)), run_id_(std::move(run_id)) {}

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
          targets_[i % targets_.size()].host, targets_[i % targets_.size()].port,
          std::chrono::milliseconds(flags_.timeout_ms)));
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
  std::vector<Target> targets_;  // connection i goes to targets_[i % size]
  std::string run_id_;
  std::vector<BodyTemplate> templates_;
  std::vector<std::unique_ptr<http::HttpConnection>> connections_;
  std::atomic<uint64_t> next_{0};
};

// ---------------------------------------------------------------------------
// Reporting.

}  // namespace

int RunPostCalls(Flags& flags, bool requests_given) {
  auto targets = ParseLoopbackUrls(flags.url);
  if (!targets.ok()) {
    std::cerr << "engram-loadgen: " << targets.status().message() << "\n";
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
  LoadRun run(flags, *targets, run_id);
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

}  // namespace engram::tools
