// JetStreamEventLog: log::EventLog on a NATS JetStream stream (file storage,
// 1 or 3 replicas), so several Engram nodes append to and read one log. The
// only files that include the NATS C client are in src/nats_log. Format and
// guarantees: src/nats_log/README.md; the envelope is src/log/FORMAT.md's,
// byte for byte.
//
// Seq is the stream sequence. An append is acknowledged when JetStream
// acknowledged the publish (stored on a quorum of the stream's replicas).
// Every publish carries Nats-Expected-Last-Sequence = the seq its chain hash
// was computed on, so the hash chain holds with any number of writers: a
// writer that lost the race re-reads the head, recomputes and retries.
//
// Idempotency: an event with a key is published on its own subject
// (SUBJECT.k.<SHA-256 of the key>) with Nats-Expected-Last-Subject-Sequence
// 0, i.e. "create if absent" on the stream's per-subject index, the same
// mechanism a JetStream KV bucket's create uses, but inside the log: the
// event and its key are one message, so no crash can separate them (see
// README.md for why this beats a separate KV bucket). A redelivery days
// later finds the key's subject taken and answers the original seq.
//
// Thread-safe. Appends of one process are serialised (each waits for its
// acknowledgement before the next computes its chain hash); reads run
// concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "log/append_threads.h"
#include "log/event_log.h"

namespace engram::nats_log {

struct JetStreamEventLogOptions {
  std::vector<std::string> urls;  // nats://HOST:PORT, one or more servers of one cluster
  std::string stream = "ENGRAM_LOG";
  // Events are published under SUBJECT.> ; the stream holds only that.
  std::string subject = "engram.log";
  // Stream replicas when the stream is made (1, or 3 on a 3-node cluster).
  // An existing stream keeps its own (a warning names the difference).
  int replicas = 1;
  // JetStream's duplicate window, used only to make a publish retried after
  // a lost acknowledgement land once; idempotency keys do not depend on it.
  std::chrono::milliseconds duplicate_window{120'000};
  // One JetStream request (publish, get, stream info).
  // Short, because a publish to a server that just lost the stream's
  // leadership is never answered: the retry (same message id, so it lands
  // once) goes to the new leader.
  std::chrono::milliseconds request_timeout{2'000};
  // How long an append keeps retrying through a leader election or a
  // reconnect before it answers Unavailable. A JetStream R3 election takes
  // a few seconds; longer than any webhook sender waits is pointless.
  std::chrono::milliseconds append_deadline{20'000};
  // How long Open waits for the servers and for JetStream to be ready (a
  // cluster that just started elects its meta leader first).
  std::chrono::milliseconds open_deadline{20'000};
  // Make the stream when it does not exist (serve); readers pass false and
  // get NotFound instead.
  bool create_stream = true;
};

// "nats://a:4222,nats://b:4222" -> the URLs. InvalidArgument unless every
// item is nats://HOST:PORT.
Result<std::vector<std::string>> ParseNatsUrls(std::string_view list);

class JetStreamEventLog final : public log::EventLog {
 public:
  // Connects, makes the stream if it does not exist, loads the head.
  // Unavailable when no server answers within open_deadline; InvalidArgument
  // when the stream exists with another subject or memory storage.
  // `clock` must outlive the log.
  static Result<std::unique_ptr<JetStreamEventLog>> Open(const JetStreamEventLogOptions& options,
                                                         const Clock& clock);
  ~JetStreamEventLog() override;

  // Durable = JetStream acknowledged it. Errors: Unavailable when no
  // acknowledgement came within append_deadline (the event may or may not
  // be in the stream; a retry with the same idempotency key answers
  // correctly either way); TooLarge when the envelope exceeds the server's
  // max_payload; Corruption when the stream holds something this log did
  // not write where the chain expects its own entry.
  Result<log::AppendResult> Append(log::NewEvent e) override;
  // Append on one of this log's threads (appends are serialised anyway;
  // an asynchronous publish-ack is left for later). `done` runs there.
  void AppendAsync(log::NewEvent e, log::AppendDone done) override;
  // Reads from the stream leader (read-your-writes after an Append).
  Result<std::vector<log::Event>> ReadAfter(log::Seq after, size_t limit) const override;
  // The highest seq this process knows to be stored: its own appends, the
  // stream's republished notices of everyone else's, and a stream-info poll
  // while a WaitForHead is waiting.
  log::Seq Head() const override;
  bool WaitForHead(log::Seq after, std::chrono::milliseconds timeout) const override;
  Result<std::optional<log::Seq>> FindByKey(const std::string& key) const override;
  Status WriteHealth() const override;
  // JetStream cannot rewrite a stored message, and deleting one would break
  // the chain (a gap). Bodies with personal data are sealed with the
  // caller's key (src/keys), so a forget destroys the key and the
  // ciphertext left in the stream is unreadable: Erase answers Ok for
  // sealed (or already empty) entries and changes nothing. Unavailable,
  // naming the entries, when one holds a plaintext body.
  Status Erase(const std::vector<log::Seq>& seqs, log::Seq by) override;

  // "jetstream:STREAM@CREATED_NS": the stream's creation time, fixed by the
  // server when the stream was made, so a replay database can name the log
  // it came from.
  Result<std::string> Identity() const;
  // Bytes the stream stores (one replica's worth).
  Result<uint64_t> StoredBytes() const;
  // The stream's replica count as the server reports it.
  int Replicas() const;
  // The name of the server leading the stream now ("" on a single server
  // without a cluster): where appends are ordered.
  Result<std::string> Leader() const;

  struct Impl;

 private:
  explicit JetStreamEventLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  // Last: destroyed first, finishing queued appends while impl_ is there.
  log::AppendThreads blocking_{4};
};

}  // namespace engram::nats_log
