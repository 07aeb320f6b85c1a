#include "projections/extraction_workers.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "common/crypto.h"
#include "common/json_fields.h"
#include "log/internal_events.h"
#include "memory/analysis_memories.h"
#include "memory/evidence.h"
#include "memory/relative_dates.h"

namespace engram::projections {

using nlohmann::json;
using Clock = std::chrono::steady_clock;  // durations

std::string ExtractionOutcomeKey(log::Seq source_seq, int64_t prior_attempts) {
  return log::InternalIdempotencyKey("extraction:" + std::to_string(source_seq) + ":" +
                                     std::to_string(prior_attempts));
}

namespace {
// Whether the outcome of (source_seq, prior_attempts) is in the log already.
// Logs written before internal keys had their prefix hold it under the bare
// key, which a webhook could also have taken: count that one only when the
// entry holding it is Engram's own.
bool OutcomeLogged(const log::EventLog& log, log::Seq source_seq, int64_t prior_attempts) {
  if (auto found = log.FindByKey(ExtractionOutcomeKey(source_seq, prior_attempts));
      found.ok() && *found) {
    return true;
  }
  auto legacy = log.FindByKey("extraction:" + std::to_string(source_seq) + ":" +
                              std::to_string(prior_attempts));
  if (!legacy.ok() || !*legacy) return false;
  auto entry = log.ReadAfter(**legacy - 1, 1);
  return entry.ok() && !entry->empty() && log::IsInternalRoute(entry->front().route);
}
}  // namespace

memory::ExtractionInput TranscriptInput(const json& data, const std::string& caller_name,
                                        int64_t call_time, json* canonical) {
  memory::ExtractionInput input;
  input.caller_name = caller_name;
  json turns = json::array();
  int index = 0;
  for (const json& turn : ArrayField(data, "transcript")) {
    memory::TranscriptTurn t;
    t.index = index++;
    t.role = OptString(turn, "role").value_or("");
    t.message = OptString(turn, "message").value_or("");
    if (t.message.empty()) continue;
    turns.push_back({t.index, t.role, t.message});
    input.turns.push_back(std::move(t));
  }
  input.conversation_id = OptString(data, "conversation_id").value_or("");
  input.call_time_ms = call_time;
  const json* analysis = Field(data, "analysis");
  if (analysis) {
    input.analysis = memory::AnalysisMemories(
        *analysis, OptString(data, "conversation_id").value_or(""), call_time, input.turns);
  }
  if (canonical) {
    json stated = json::array();
    for (const auto& m : input.analysis) stated.push_back(ExtractedToJson(m));
    *canonical = {{"name", caller_name},
                  {"conversation_id", input.conversation_id},
                  {"call_time", call_time},
                  {"turns", std::move(turns)},
                  {"analysis", stated}};
  }
  return input;
}

std::string ExtractionCacheKey(const std::string& extractor_identity, const json& canonical) {
  std::string material = extractor_identity;
  material.append("+").append(memory::kAnalysisRulesVersion);
  material.append("+").append(memory::kEvidenceRulesVersion);
  material.append("+").append(memory::kRelativeDatesVersion);
  material.append("\n").append(canonical.dump());
  return crypto::Sha256Hex(material);
}

Result<std::vector<memory::ExtractedMemory>> ExtractMemories(memory::Extractor& extractor,
                                                             const memory::ExtractionInput& input) {
  ENGRAM_ASSIGN_OR_RETURN(std::vector<memory::ExtractedMemory> out, extractor.Extract(input));
  out.insert(out.end(), input.analysis.begin(), input.analysis.end());
  std::vector<memory::ExtractedMemory> evidence =
      memory::EvidenceMemories(input.turns, input.conversation_id, input.caller_name);
  out.insert(out.end(), std::make_move_iterator(evidence.begin()),
             std::make_move_iterator(evidence.end()));
  // Relative dates as absolute ones beside the words ("next Friday
  // (2026-12-11)"): a memory is read long after the call it came from. Not
  // in the platform's analysis: its summary narrates the call in the past
  // tense ("booked a check on Thursday"), which says nothing about when the
  // Thursday is, and its answers are the platform LLM's words.
  if (input.call_time_ms > 0) {
    for (memory::ExtractedMemory& m : out) {
      if (m.subject.starts_with(memory::kDataCollectionSubject) ||
          m.subject.starts_with(memory::kCallSummarySubject)) {
        continue;
      }
      m.content = memory::AnnotateRelativeDates(m.content, input.call_time_ms / 1000);
    }
  }
  return out;
}

json ExtractedToJson(const memory::ExtractedMemory& m) {
  std::vector<std::string> sectors;
  for (memory::Sector s : m.sectors) sectors.emplace_back(memory::SectorName(s));
  json out = {{"content", m.content},
              {"primary", memory::SectorName(m.primary)},
              {"sectors", sectors},
              {"subject", m.subject},
              {"value", m.value},
              {"salience", m.salience},
              {"source_turns", m.source_turns}};
  // Only when present: outcomes recorded before it existed stay as they were.
  if (!m.replaces.empty()) out["replaces"] = m.replaces;
  return out;
}

memory::ExtractedMemory ExtractedFromJson(const json& j) {
  using memory::Sector;
  memory::ExtractedMemory m;
  m.content = j.value("content", "");
  m.primary = memory::ParseSector(j.value("primary", "semantic")).value_or(Sector::kSemantic);
  for (const json& s : j.value("sectors", json::array())) {
    if (!s.is_string()) continue;
    if (auto sector = memory::ParseSector(s.get<std::string>())) m.sectors.push_back(*sector);
  }
  if (m.sectors.empty()) m.sectors.push_back(m.primary);
  m.subject = j.value("subject", "");
  m.value = j.value("value", "");
  m.salience = std::clamp(j.value("salience", 0.5), 0.0, 1.0);
  m.source_turns = j.value("source_turns", std::vector<int>());
  for (const json& r : j.value("replaces", json::array())) {
    if (r.is_string()) m.replaces.push_back(r.get<std::string>());
  }
  return m;
}

ExtractionWorkers::ExtractionWorkers(log::EventLog& log, memory::Extractor& extractor,
                                     ExtractionWorkerOptions options, metrics::Registry* metrics,
                                     std::unique_ptr<JobQueue> queue)
    : log_(log),
      extractor_(extractor),
      options_(options),
      metrics_(metrics),
      queue_(queue ? std::move(queue) : std::make_unique<EmbeddedJobQueue>()) {
  options_.workers = std::max(1, options_.workers);
  options_.max_attempts = std::max(1, options_.max_attempts);
}

ExtractionWorkers::~ExtractionWorkers() { Stop(); }

void ExtractionWorkers::Start() {
  std::lock_guard lock(mu_);
  if (!threads_.empty()) return;
  stop_ = false;
  queue_->Resume();
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { Loop(); });
  if (queue_->KeepAliveEvery().count() > 0) threads_.emplace_back([this] { KeepAliveLoop(); });
}

void ExtractionWorkers::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  queue_->Interrupt();
  stop_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void ExtractionWorkers::Submit(ExtractionJob job) { queue_->Submit(std::move(job)); }

size_t ExtractionWorkers::Depth() const { return queue_->Depth(); }

bool ExtractionWorkers::WaitIdle(std::chrono::milliseconds timeout) const {
  return queue_->WaitIdle(timeout);
}

std::chrono::milliseconds ExtractionWorkers::Backoff(int attempts) {
  const int doublings = std::clamp(attempts - 1, 0, 30);
  const int64_t base = options_.backoff_base.count();
  const int64_t cap = options_.backoff_cap.count();
  const int64_t d = std::min<int64_t>(cap, base << std::min(doublings, 20));
  // Jitter spreads the retries of the many jobs one outage failed at once.
  std::uniform_int_distribution<int64_t> jitter(d / 2, std::max<int64_t>(d / 2, d));
  std::lock_guard lock(mu_);
  return std::chrono::milliseconds(jitter(rng_));
}

void ExtractionWorkers::Loop() {
  if (options_.nice != 0) {
    // Linux applies setpriority on a thread id to that thread alone.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.nice);
  }
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    // Bounded, so a stop is noticed even by a queue that cannot be woken.
    std::optional<TakenJob> taken = queue_->Take(std::chrono::milliseconds(500));
    if (!taken) continue;
    std::list<const TakenJob*>::iterator running;
    {
      std::lock_guard lock(mu_);
      running = running_.insert(running_.end(), &*taken);
    }
    const Outcome outcome = Attempt(*taken);
    {
      std::lock_guard lock(mu_);
      running_.erase(running);
    }
    if (outcome == Outcome::kRetry) {
      queue_->Retry(*taken, taken->attempts, Backoff(taken->attempts));
    } else {
      queue_->Finish(*taken);
    }
  }
}

void ExtractionWorkers::KeepAliveLoop() {
  const auto every = queue_->KeepAliveEvery();
  std::unique_lock lock(mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, every, [this] { return stop_; });
    // Under the lock: a worker removes its job only after its attempt, and
    // KeepAlive is a short fire-and-forget message.
    for (const TakenJob* t : running_) queue_->KeepAlive(*t);
  }
}

ExtractionWorkers::Outcome ExtractionWorkers::Attempt(TakenJob& taken) {
  const ExtractionJob& job = taken.job;
  // After a restart (or a redelivery in a cluster) the outcome may already be
  // in the log, not yet projected.
  if (OutcomeLogged(log_, job.source_seq, job.prior_attempts)) return Outcome::kFinished;
  ++attempts_started_;
  if (metrics_) {
    metrics_->GetCounter("engram_extraction_attempts_total", "Extraction attempts this node ran")
        .Inc();
  }

  auto counter = [this](const char* outcome) {
    if (metrics_) {
      metrics_
          ->GetCounter("engram_extractions_total", "Extractions by outcome", {{"outcome", outcome}})
          .Inc();
    }
  };
  json common = {{"source_seq", job.source_seq},           {"prior_attempts", job.prior_attempts},
                 {"conversation_id", job.conversation_id}, {"user_id", job.user_id},
                 {"caller_name", job.caller_name},         {"call_time", job.call_time},
                 {"extractor", extractor_.CacheIdentity()}};

  Status failure;
  std::vector<memory::ExtractedMemory> memories;
  json canonical;
  auto source = log_.ReadAfter(job.source_seq - 1, 1);
  if (taken.attempts >= options_.max_attempts) {
    // Only a shared queue hands out a job this often: each delivery whose
    // node died before an outcome counted as an attempt.
    failure = Status::Unavailable("delivered " + std::to_string(taken.attempts) +
                                  " times without an outcome (did each node running it die?)");
  } else if (!source.ok()) {
    failure = source.status();
  } else if (source->empty() || source->front().seq != job.source_seq) {
    failure = Status::NotFound("source event " + std::to_string(job.source_seq) + " not in log");
  } else {
    json body = json::parse(source->front().body, nullptr, false);
    try {
      if (body.is_discarded()) throw FieldTypeError("body is not JSON");
      const json& data = ObjectField(body, "data");
      // A job names its transcript by seq; a job from a shared queue that
      // names another transcript's conversation is not Engram's: no outcome.
      if (source->front().type != log::event_type::kPostCallTranscription ||
          OptString(data, "conversation_id").value_or("") != job.conversation_id) {
        spdlog::warn("extraction job for seq {} does not match its source event: dropped",
                     job.source_seq);
        return Outcome::kFinished;
      }
      memory::ExtractionInput input =
          TranscriptInput(data, job.caller_name, job.call_time, &canonical);
      const auto started = Clock::now();
      auto extracted = ExtractMemories(extractor_, input);
      if (metrics_) {
        metrics_->GetHistogram("engram_extraction_duration_ms", "Time to extract one conversation")
            .Observe(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
      }
      if (extracted.ok()) {
        memories = std::move(extracted).value();
      } else {
        failure = extracted.status();
      }
    } catch (const std::exception& e) {
      failure = Status::InvalidArgument(e.what());
    }
  }

  ++taken.attempts;
  std::string last_error;
  if (failure.ok()) {
    counter("ok");
    json body = common;
    body["attempts"] = taken.attempts;
    body["cache_key"] = ExtractionCacheKey(extractor_.CacheIdentity(), canonical);
    body["memories"] = json::array();
    for (const auto& m : memories) body["memories"].push_back(ExtractedToJson(m));
    Status appended = AppendOutcome(job, kMemoriesExtractedType, std::move(body));
    if (appended.ok()) return Outcome::kFinished;
    // The extraction worked but the log refused it (disk full?): try again
    // later rather than lose it.
    spdlog::error("extraction of seq {}: cannot append the result: {}", job.source_seq,
                  appended.ToString());
    last_error = "append: " + appended.ToString();
    return Outcome::kRetry;
  }
  counter("failed");
  last_error = failure.ToString();
  if (taken.attempts < options_.max_attempts) {
    spdlog::warn("extraction of seq {} failed (attempt {} of {}): {}", job.source_seq,
                 taken.attempts, options_.max_attempts, last_error);
    return Outcome::kRetry;
  }
  json body = common;
  body["attempts"] = taken.attempts;
  body["last_error"] = last_error;
  Status appended = AppendOutcome(job, kExtractionDeadType, std::move(body));
  if (!appended.ok()) {
    spdlog::error("extraction of seq {}: cannot append the dead letter: {}", job.source_seq,
                  appended.ToString());
    return Outcome::kRetry;
  }
  counter("dead");
  spdlog::error("extraction of seq {} is a dead letter after {} attempts: {}", job.source_seq,
                taken.attempts, last_error);
  return Outcome::kFinished;
}

Status ExtractionWorkers::AppendOutcome(const ExtractionJob& job, std::string_view type,
                                        json body) {
  log::NewEvent e;
  e.type = type;
  e.route = kInternalRoute;
  e.idempotency_key = ExtractionOutcomeKey(job.source_seq, job.prior_attempts);
  e.body = body.dump();
  // No request waits for it: it rides on the next acknowledgement's sync.
  e.deferrable = true;
  return log_.Append(std::move(e)).status();
}

}  // namespace engram::projections
