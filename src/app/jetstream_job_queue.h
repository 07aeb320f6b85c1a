// JetStreamJobQueue: extraction jobs on the JetStream work queue every node
// of a cluster shares (`engram serve --log nats://...`; docs/CLUSTER.md,
// "Extraction queue"). Any node's workers take any job; a job whose worker
// dies is redelivered to another after the ack wait.
//
// A job message is small JSON (ids and numbers, under 4 KiB): the worker
// reads the transcript from the log by source_seq. Nats-Msg-Id is the job's
// outcome key, so a republish within the duplicate window is stored once,
// and a late one costs a lookup (the outcome is already logged).
//
// Per-user order is the projector's (MemoryEngineParts::one_job_per_user):
// this queue runs whatever it holds in parallel.
//
// Submit never blocks on the network: jobs wait in a local outbox (at most
// kMaxOutbox) that a publisher thread drains, retrying while the servers are
// away or the queue is full. A job dropped from a full outbox, or lost with
// the process, is still 'pending' in the read model and published again by
// the next start or projector takeover.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "common/metrics.h"
#include "nats_log/jetstream_work_queue.h"
#include "projections/job_queue.h"

namespace engram::app {

class JetStreamJobQueue final : public projections::JobQueue {
 public:
  // The outbox's bound: the stream's own default bound on jobs.
  static constexpr size_t kMaxOutbox = 100'000;

  // `metrics` may be null.
  JetStreamJobQueue(std::unique_ptr<nats_log::JetStreamWorkQueue> queue,
                    metrics::Registry* metrics);
  ~JetStreamJobQueue() override;

  void Submit(projections::ExtractionJob job) override;
  std::optional<projections::TakenJob> Take(std::chrono::milliseconds wait) override;
  void KeepAlive(const projections::TakenJob& taken) override;
  std::chrono::milliseconds KeepAliveEvery() const override;
  void Finish(const projections::TakenJob& taken) override;
  void Retry(const projections::TakenJob& taken, int attempts,
             std::chrono::milliseconds delay) override;
  // Jobs in the shared stream (every node's, waiting or running) plus this
  // node's outbox; the last known count while the servers do not answer.
  size_t Depth() const override;
  void Interrupt() override;
  void Resume() override;

  // The message for `job`, and back. nullopt for anything but a well-formed
  // job within bounds (another node, or anyone who can publish, is hostile).
  static std::string Encode(const projections::ExtractionJob& job);
  static std::optional<projections::ExtractionJob> Decode(const std::string& data);

 private:
  void PublishLoop();

  std::unique_ptr<nats_log::JetStreamWorkQueue> queue_;
  metrics::Registry* metrics_;
  std::atomic<bool> interrupted_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<projections::ExtractionJob> outbox_;
  bool closing_ = false;
  std::thread publisher_;
  mutable std::atomic<uint64_t> last_depth_{0};
};

}  // namespace engram::app
