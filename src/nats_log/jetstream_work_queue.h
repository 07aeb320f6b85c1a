// JetStreamWorkQueue: a work queue on a NATS JetStream stream, read by one
// durable pull consumer that every Engram node shares. Engram puts its
// extraction jobs there in cluster mode (src/app/jetstream_job_queue.h turns
// jobs into messages); this file knows only messages.
//
// The stream: WorkQueue retention (a message is gone once acknowledged),
// file storage, the log's replica count, a duplicate window (a publish with
// the same Nats-Msg-Id within it is stored once), and bounded in messages,
// bytes and message size, with "discard new": a full queue refuses a publish
// rather than drop a job already queued.
//
// A fetched message belongs to the fetcher until it is acknowledged (Ack),
// handed back for later (Nak), or its ack wait passes without an InProgress:
// then JetStream hands it to another fetcher, on any node (the fetcher died).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace engram::nats_log {

struct WorkQueueOptions {
  std::vector<std::string> urls;  // nats://HOST:PORT, the log's servers
  std::string stream = "ENGRAM_JOBS";
  std::string subject = "engram.jobs";  // messages go to SUBJECT.<suffix>
  std::string consumer = "engram-workers";
  int replicas = 1;  // when the stream is made; an existing one keeps its own
  // Bounds (attacker mindset: a flood of transcripts must not fill the
  // servers' disks with jobs). A job is ~300 bytes: 1 MiB per 3,000 jobs.
  int64_t max_msgs = 100'000;
  int64_t max_bytes = 64 << 20;
  int32_t max_msg_size = 4096;
  // How long a fetched message stays with its fetcher without an ack or an
  // InProgress before JetStream redelivers it: the time a dead node's job
  // waits before another node takes it.
  std::chrono::milliseconds ack_wait{30'000};
  std::chrono::milliseconds duplicate_window{120'000};
  std::chrono::milliseconds request_timeout{2'000};
  std::chrono::milliseconds open_deadline{20'000};
};

// A fetched message.
struct WorkMessage {
  std::string subject;
  std::string data;
  uint64_t deliveries = 1;       // 1 on the first delivery, 2 on the first redelivery...
  std::shared_ptr<void> handle;  // the client's message; freed with the last copy
};

class JetStreamWorkQueue {
 public:
  // Connects, makes the stream and the consumer if absent (or finds them),
  // retrying transient failures until open_deadline. InvalidArgument when a
  // stream of that name exists without WorkQueue retention.
  static Result<std::unique_ptr<JetStreamWorkQueue>> Open(const WorkQueueOptions& options);
  ~JetStreamWorkQueue();

  // Publishes `data` to SUBJECT.`subject_suffix` with Nats-Msg-Id `msg_id`
  // and waits for JetStream's acknowledgement. Ok also for a duplicate.
  // TooLarge: over max_msg_size; Unavailable: the queue is full (the text
  // says so and names the bounds) or no server answered.
  Status Publish(const std::string& subject_suffix, const std::string& data,
                 const std::string& msg_id);
  // The next message, waiting at most `wait`; nullopt when none came.
  Result<std::optional<WorkMessage>> Fetch(std::chrono::milliseconds wait);
  // Done: waits for the server's confirmation that the message is gone.
  Status Ack(const WorkMessage& m);
  // Redeliver `m`, to any fetcher, no sooner than `delay`.
  Status Nak(const WorkMessage& m, std::chrono::milliseconds delay);
  // "Still working on it": the ack wait starts again.
  Status InProgress(const WorkMessage& m);
  // Never redeliver `m` (it is malformed).
  Status Term(const WorkMessage& m);
  // Messages in the stream: waiting, or fetched and not yet acknowledged.
  Result<uint64_t> Depth() const;
  const WorkQueueOptions& options() const { return options_; }

  struct Handles;

 private:
  explicit JetStreamWorkQueue(WorkQueueOptions options);
  WorkQueueOptions options_;
  std::unique_ptr<Handles> h_;
};

}  // namespace engram::nats_log
