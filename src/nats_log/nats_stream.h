// NatsStream: the part of the NATS C client JetStreamEventLog uses, behind
// Engram's own types. Internal to src/nats_log (only its .cc files include
// <nats/nats.h>); the log's logic lives in jetstream_event_log.cc.
//
// Thread-safe: the client's connection and JetStream context are.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace engram::nats_log {

// A stored stream message: its sequence, subject, headers and data.
struct StoredMsg {
  uint64_t seq = 0;
  std::string subject;
  std::string data;
  std::string append_id;  // the Engram-Append header (who appended it), "" if absent
};

struct StreamSpec {
  std::string name;
  std::vector<std::string> subjects;  // wildcards allowed
  int replicas = 1;
  std::chrono::milliseconds duplicate_window{120'000};
  // Core subject every stored message's headers are republished to (its
  // Nats-Sequence header wakes readers); must not overlap `subjects`.
  std::string republish_source;
  std::string republish_destination;
  bool create = true;  // false: a missing stream is NotFound (readers such as audit)
};

struct StreamState {
  uint64_t last_seq = 0;
  uint64_t bytes = 0;
  int64_t created_ns = 0;
  int replicas = 1;
  std::string leader;  // the server name of the stream's leader ("" when single-server)
};

// What a conditional publish needs.
struct Publish {
  std::string subject;
  std::string data;
  std::string msg_id;              // Nats-Msg-Id: a retry within the duplicate window lands once
  uint64_t expected_last_seq = 0;  // Nats-Expected-Last-Sequence (always sent)
  bool expect_no_subject_msg = false;  // Nats-Expected-Last-Subject-Sequence: 0
  std::string append_id;               // Engram-Append, stored with the message
};

struct PublishAck {
  uint64_t seq = 0;
  bool duplicate = false;  // the msg_id was seen within the window; seq is that message's
};

// Why a request failed, beyond the Status.
enum class Failure {
  kNone,
  kWrongLastSequence,  // an expected-last(-subject)-sequence header did not hold
  kTransient,          // timeout, no responders, reconnecting, election: retry
  kTooLarge,           // over the server's max_payload or the stream's max size
  kPermanent,
};

struct NatsError {
  Status status;
  Failure failure = Failure::kNone;
};

template <typename T>
struct NatsResult {
  std::optional<T> value;
  NatsError error;
  bool ok() const { return value.has_value(); }
};

class NatsStream {
 public:
  // Connects to `urls` (reconnecting forever afterwards) and makes or finds
  // the stream, retrying transient failures until `deadline`.
  static Result<std::unique_ptr<NatsStream>> Connect(
      const std::vector<std::string>& urls, const StreamSpec& spec,
      std::chrono::milliseconds request_timeout, std::chrono::steady_clock::time_point deadline);
  ~NatsStream();

  NatsResult<PublishAck> PublishMsg(const Publish& p);
  // The message at `seq`; nullopt when there is none (NotFound is not an error).
  NatsResult<std::optional<StoredMsg>> Get(uint64_t seq);
  // Messages first, first+1, ... up to `count` of them, with every request
  // in flight at once (direct gets: any replica answers, so a long read
  // costs about one round trip, not one per message). Stops before the
  // first one not answered: past the end, a replica a little behind, or
  // a timeout. Callers read the rest from the leader (Get).
  NatsResult<std::vector<StoredMsg>> DirectRange(uint64_t first, size_t count);
  // The last message on `subject`; nullopt when there is none.
  NatsResult<std::optional<StoredMsg>> GetLast(const std::string& subject);
  NatsResult<StreamState> State();
  // Calls `on_seq` with the Nats-Sequence of every republished notice, on
  // the client's thread. Call once, after Connect.
  Status Tail(std::function<void(uint64_t)> on_seq);
  // The server's max_payload, bytes.
  int64_t MaxPayload() const;
  const StreamState& at_open() const { return at_open_; }

  struct Handles;

 private:
  NatsStream() = default;
  std::unique_ptr<Handles> h_;
  std::string name_;
  StreamState at_open_;
  std::chrono::milliseconds timeout_{5000};
  std::string tail_subject_;
  std::function<void(uint64_t)> on_seq_;
};

}  // namespace engram::nats_log
