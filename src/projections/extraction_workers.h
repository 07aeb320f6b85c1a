// Extraction off the projector's thread, with retries and dead letters.
//
// Why: an LLM extractor takes seconds and fails now and then; the projector
// is SQLite's one writer and must not wait for it. So the memory projector
// only queues a job for each transcript it sees (webhook_events.status
// 'pending'), and a pool of workers runs the extractor. Each outcome is
// appended to the log as an event of its own:
//   memories_extracted  {source_seq, prior_attempts, attempts, extractor,
//                        cache_key, conversation_id, user_id, caller_name,
//                        call_time, memories}
//   extraction_dead     {source_seq, prior_attempts, attempts, extractor,
//                        conversation_id, user_id, caller_name, call_time,
//                        last_error}
// The outcome carries the transcript's context as the job saw it, so
// applying it gives what extracting at the transcript's place in the log
// would have given (what `engram replay --re-extract` does).
// and the memory projector applies those, in log order, like any event. A
// replay therefore reproduces exactly what the LLM said, never asks it
// again, and the log records what each call taught (the audit trail).
//
// An operator requeues a dead letter with an `extraction_requeued
// {source_seq}` event (`engram dead-letters retry`); the projector turns it
// back into a pending job.
//
// The workers take jobs from a JobQueue (job_queue.h): the in-process one by
// default, where jobs of one user run one at a time, in the order submitted,
// and jobs of different users in parallel on `workers` threads; or the
// JetStream work queue every node of a cluster reads (`--log nats://`). A
// failed attempt is retried after an exponential backoff with jitter; a job
// that keeps failing for `max_attempts` becomes a dead letter.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "log/event_log.h"
#include "log/event_types.h"
#include "memory/extractor.h"
#include "memory/memory_types.h"
#include "projections/job_queue.h"

namespace engram::projections {

inline constexpr std::string_view kMemoriesExtractedType = log::event_type::kMemoriesExtracted;
inline constexpr std::string_view kExtractionDeadType = log::event_type::kExtractionDead;
inline constexpr std::string_view kExtractionRequeuedType = log::event_type::kExtractionRequeued;
// The route internal events carry (they come from no HTTP request).
inline constexpr std::string_view kInternalRoute = log::event_route::kExtraction;

// "engram/extraction:<source_seq>:<prior_attempts>" (log/internal_events.h).
std::string ExtractionOutcomeKey(log::Seq source_seq, int64_t prior_attempts);

// The extractor's input from a transcription's `data` object, and its
// canonical JSON (the extraction cache key's material). Skips empty turns.
// `input.analysis` holds the memories data.analysis states (dated by
// `call_time`, ms), which the canonical JSON includes.
memory::ExtractionInput TranscriptInput(const nlohmann::json& data, const std::string& caller_name,
                                        int64_t call_time, nlohmann::json* canonical);
// SHA-256 of the extractor's identity, the analysis rules' version and the
// canonical input: outputs cached before the analysis memories existed, or
// under other analysis rules, are never reused.
std::string ExtractionCacheKey(const std::string& extractor_identity,
                               const nlohmann::json& canonical);
// What one extraction yields: the extractor's memories, then
// `input.analysis`, then the evidence of every caller utterance
// (memory/evidence.h; after, so the extractor's keep their positions and so
// their memory ids). The extractor's error when it fails.
Result<std::vector<memory::ExtractedMemory>> ExtractMemories(memory::Extractor& extractor,
                                                             const memory::ExtractionInput& input);

nlohmann::json ExtractedToJson(const memory::ExtractedMemory& m);
memory::ExtractedMemory ExtractedFromJson(const nlohmann::json& j);

struct ExtractionWorkerOptions {
  int workers = 3;
  int max_attempts = 5;  // attempts before a dead letter (>= 1)
  // The n-th retry waits min(cap, base * 2^(n-1)), jittered into [d/2, d].
  std::chrono::milliseconds backoff_base{1'000};
  std::chrono::milliseconds backoff_cap{60'000};
  // Niceness of the worker threads (0: unchanged). Learning is background
  // work: the acknowledgements on the request threads come first.
  int nice = 0;
};

class ExtractionWorkers {
 public:
  // `log` and `extractor` must outlive the workers; `extractor` must be
  // thread-safe. `metrics` may be null. `queue` null: an EmbeddedJobQueue.
  ExtractionWorkers(log::EventLog& log, memory::Extractor& extractor,
                    ExtractionWorkerOptions options, metrics::Registry* metrics,
                    std::unique_ptr<JobQueue> queue = nullptr);
  ~ExtractionWorkers();  // Stop()

  void Start();
  // Waits for the attempts in flight, then joins. Queued jobs stay 'pending'
  // in the read model and are queued again by the next start (the shared
  // queue also keeps them).
  void Stop();

  // Queues `job` (thread-safe): JobQueue::Submit.
  void Submit(ExtractionJob job);

  // Jobs queued or running (in the shared queue: on every node).
  size_t Depth() const;
  // Blocks until no job is queued or running, or the timeout passes.
  bool WaitIdle(std::chrono::milliseconds timeout) const;
  // Attempts this node started (metrics: engram_extraction_attempts_total).
  uint64_t AttemptsStarted() const { return attempts_started_.load(); }

 private:
  enum class Outcome { kFinished, kRetry };

  void Loop();
  // Calls JobQueue::KeepAlive for the attempts running, while any run.
  void KeepAliveLoop();
  // One attempt at `taken` (its attempts counts it on return); appends the
  // outcome when it is final.
  Outcome Attempt(TakenJob& taken);
  Status AppendOutcome(const ExtractionJob& job, std::string_view type, nlohmann::json body);
  std::chrono::milliseconds Backoff(int attempts);

  log::EventLog& log_;
  memory::Extractor& extractor_;
  ExtractionWorkerOptions options_;
  metrics::Registry* metrics_;
  std::unique_ptr<JobQueue> queue_;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::list<const TakenJob*> running_;  // for KeepAlive
  std::mt19937_64 rng_{std::random_device{}()};
  std::atomic<uint64_t> attempts_started_{0};
  std::vector<std::thread> threads_;
};

}  // namespace engram::projections
