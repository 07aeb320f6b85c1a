// JobQueue: where extraction workers take their jobs from.
//
// Two implementations: EmbeddedJobQueue (below), the in-process queue of a
// single node, which also keeps each user's jobs in order; and the JetStream
// work queue of cluster mode (src/app/jetstream_job_queue.h), shared by every
// node's workers, which leaves per-user order to the projector (it publishes
// a user's next job only after the previous one's outcome is applied:
// MemoryEngineParts::one_job_per_user).
//
// A job is taken by one worker at a time. The worker runs one attempt, then
// either Finishes it (the outcome is in the log) or Retries it after a delay.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "log/event.h"

namespace engram::projections {

struct ExtractionJob {
  log::Seq source_seq = 0;  // the post_call_transcription event
  // webhook_events.attempts when the job was queued. Each outcome adds its
  // attempts, so (source_seq, prior_attempts) names one run of the job, and
  // its outcome's idempotency key makes a restarted worker append nothing
  // twice.
  int64_t prior_attempts = 0;
  std::string user_id;
  std::string conversation_id;
  std::string caller_name;
  int64_t call_time = 0;  // conversations.started_at, ms
};

// A job a worker holds between Take and Finish/Retry.
struct TakenJob {
  ExtractionJob job;
  int attempts = 0;  // attempts made before this one
  // The queue's own handle on the job (the JetStream message); opaque.
  std::shared_ptr<void> handle;
};

class JobQueue {
 public:
  virtual ~JobQueue() = default;
  // Queues `job`. A job already queued or running may be ignored.
  virtual void Submit(ExtractionJob job) = 0;
  // The next job ready to run, waiting at most `wait`; nullopt when none
  // came, or after Interrupt.
  virtual std::optional<TakenJob> Take(std::chrono::milliseconds wait) = 0;
  // The attempt on `taken` is still running: a shared queue must not hand
  // it to another worker yet. Called every KeepAliveEvery() while it runs.
  virtual void KeepAlive(const TakenJob& taken) { (void)taken; }
  // 0: KeepAlive is never needed.
  virtual std::chrono::milliseconds KeepAliveEvery() const { return std::chrono::milliseconds(0); }
  // The job's outcome is in the log: it leaves the queue.
  virtual void Finish(const TakenJob& taken) = 0;
  // The attempt failed: the job runs again, no sooner than `delay`, with
  // `attempts` made so far.
  virtual void Retry(const TakenJob& taken, int attempts, std::chrono::milliseconds delay) = 0;
  // Jobs queued or running (for a shared queue: on every node).
  virtual size_t Depth() const = 0;
  // Blocks until Depth() is 0 or `timeout` passes.
  virtual bool WaitIdle(std::chrono::milliseconds timeout) const;
  // Wakes every Take (the workers are stopping); Resume undoes it.
  virtual void Interrupt() = 0;
  virtual void Resume() = 0;
};

// The in-process queue: jobs of one user run one at a time, in the order
// submitted; jobs of different users in parallel. A job submitted while the
// same (source_seq, prior_attempts) is queued or running is ignored. Jobs
// queued when the process stops are lost here and found again in the read
// model ('pending') by the next start.
class EmbeddedJobQueue final : public JobQueue {
 public:
  void Submit(ExtractionJob job) override;
  std::optional<TakenJob> Take(std::chrono::milliseconds wait) override;
  void Finish(const TakenJob& taken) override;
  void Retry(const TakenJob& taken, int attempts, std::chrono::milliseconds delay) override;
  size_t Depth() const override;
  bool WaitIdle(std::chrono::milliseconds timeout) const override;
  void Interrupt() override;
  void Resume() override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Queued {
    ExtractionJob job;
    int attempts = 0;
  };

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  mutable std::condition_variable idle_cv_;
  bool interrupted_ = false;
  // Each user with jobs is in exactly one of: ready_, delayed_, or running
  // (taken by a worker).
  std::map<std::string, std::deque<Queued>> by_user_;
  std::deque<std::string> ready_;
  std::multimap<Clock::time_point, std::string> delayed_;
  std::set<std::pair<log::Seq, int64_t>> known_;  // queued or running
  size_t jobs_ = 0;
};

}  // namespace engram::projections
