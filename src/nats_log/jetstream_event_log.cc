#include "nats_log/jetstream_event_log.h"

#include <sys/random.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/crypto.h"
#include "log/event_codec.h"
#include "nats_log/nats_stream.h"

namespace engram::nats_log {
namespace {

using Clock = std::chrono::steady_clock;

// Between retries of a transient failure: short first (a reconnect takes
// ~100 ms), then no faster than an election can finish.
std::chrono::milliseconds Backoff(int attempt) {
  return std::chrono::milliseconds(std::min(50 * (1 << std::min(attempt, 4)), 500));
}

// 128 random bits from the kernel, as hex: names one Append across its
// retries. Two appends sharing one would be taken for each other (the
// second answered with the first's seq), so not a seeded PRNG.
std::string AppendId() {
  uint8_t bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);  // else EINTR: again
  }
  return crypto::HexEncode(bytes, sizeof bytes);
}

Result<log::Event> DecodeStored(const StoredMsg& m) {
  ENGRAM_ASSIGN_OR_RETURN(log::Event e, log::DecodeEvent(m.data));
  if (e.seq != m.seq) {
    return Status::Corruption("stream message " + std::to_string(m.seq) +
                              " holds an event that says it is seq " + std::to_string(e.seq));
  }
  return e;
}

}  // namespace

Result<std::vector<std::string>> ParseNatsUrls(std::string_view list) {
  std::vector<std::string> urls;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view url = list.substr(start, comma - start);
    constexpr std::string_view kScheme = "nats://";
    const size_t colon = url.rfind(':');
    const bool has_port = colon != std::string_view::npos && colon > kScheme.size() &&
                          colon + 1 < url.size() &&
                          std::all_of(url.begin() + colon + 1, url.end(),
                                      [](char c) { return c >= '0' && c <= '9'; });
    if (!url.starts_with(kScheme) || !has_port) {
      std::string message(url);  // built in steps: GCC 12 misreads "'" + string (-Wrestrict)
      message.append(" is not nats://HOST:PORT (a list is comma-separated)");
      return Status::InvalidArgument(message);
    }
    urls.emplace_back(url);
    start = comma + 1;
  }
  return urls;
}

struct JetStreamEventLog::Impl {
  JetStreamEventLogOptions options;
  const engram::Clock* clock = nullptr;
  std::unique_ptr<NatsStream> stream;

  mutable std::mutex mu;
  mutable std::condition_variable head_cv;
  mutable log::Seq head = 0;  // highest seq known stored (raised by appends, notices, polls)
  Status write_error;
  mutable Clock::time_point last_poll{};

  // One append at a time per process: each computes its chain hash on the
  // previous one, so there is nothing to pipeline without a second race.
  // Timed, so an append queued behind others during an outage still
  // answers within its own deadline.
  std::timed_mutex append_mu;
  bool tail_known = false;  // guarded by append_mu: tail_seq/tail_chain are current
  log::Seq tail_seq = 0;
  std::string tail_chain;

  ~Impl() { stream.reset(); }  // stops the notices before anything they touch goes

  std::string KeySubject(const std::string& key) const {
    return options.subject + ".k." + crypto::Sha256Hex(key);
  }
  std::string PlainSubject() const { return options.subject + ".n"; }

  void RaiseHead(log::Seq seq) const {
    {
      std::lock_guard lock(mu);
      if (seq <= head) return;
      head = seq;
    }
    head_cv.notify_all();
  }

  // The last entry's seq and chain hash, from the stream leader.
  Result<std::pair<log::Seq, std::string>> ReadTail() {
    auto state = stream->State();
    if (!state.ok()) return state.error.status;
    const log::Seq last = state.value->last_seq;
    if (last == 0) return std::make_pair(log::Seq{0}, std::string());
    auto msg = stream->Get(last);
    if (!msg.ok()) return msg.error.status;
    if (!*msg.value) {  // a leader change between the two requests: ask again
      return Status::Unavailable("stream says seq " + std::to_string(last) +
                                 " is the last, but it cannot be read");
    }
    ENGRAM_ASSIGN_OR_RETURN(log::Event e, DecodeStored(**msg.value));
    return std::make_pair(last, e.chain_hash);
  }

  void SetWriteError(Status s) {
    std::lock_guard lock(mu);
    write_error = std::move(s);
  }

  // REQUIRES: append_mu held.
  Result<log::AppendResult> AppendLocked(log::NewEvent& ne, Clock::time_point deadline) {
    const std::string append_id = AppendId();
    const std::string subject =
        ne.idempotency_key.empty() ? PlainSubject() : KeySubject(ne.idempotency_key);
    Status last_error = Status::Unavailable("no attempt made");
    for (int attempt = 0; Clock::now() < deadline; ++attempt) {
      // After a failed attempt, the key first: the subject condition below
      // refused the publish because the key is taken (a redelivery, or our
      // own earlier attempt that landed: its Engram-Append id says which).
      // The first attempt skips this round trip; a redelivery then costs
      // one refused publish.
      if (!ne.idempotency_key.empty() && attempt > 0) {
        auto found = stream->GetLast(subject);
        if (!found.ok()) {
          last_error = found.error.status;
          if (found.error.failure != Failure::kTransient) return last_error;
          std::this_thread::sleep_for(Backoff(attempt));
          continue;
        }
        if (*found.value) {
          const StoredMsg& m = **found.value;
          RaiseHead(m.seq);
          tail_known = false;
          return log::AppendResult{m.seq, m.append_id != append_id, clock->NowMicros()};
        }
      }
      if (!tail_known) {
        auto tail = ReadTail();
        if (!tail.ok()) {
          last_error = tail.status();
          if (tail.status().code() != StatusCode::kUnavailable) return last_error;
          std::this_thread::sleep_for(Backoff(attempt));
          continue;
        }
        tail_seq = tail->first;
        tail_chain = tail->second;
        tail_known = true;
        RaiseHead(tail_seq);
      }
      log::Event e;
      e.seq = tail_seq + 1;
      e.received_at_us = clock->NowMicros();
      e.type = ne.type;
      e.route = ne.route;
      e.idempotency_key = ne.idempotency_key;
      e.headers = ne.headers;
      e.verification = ne.verification;
      e.flags = ne.flags;
      e.original_body_sha256 = ne.original_body_sha256;
      e.original_body_size = ne.original_body_size;
      // Sealed per attempt: the seal authenticates the seq, which moves
      // when another writer took the one this attempt aimed at.
      if (ne.seal) {
        e.body = ne.seal->Seal(e.seq, e.type, ne.body);
        e.flags |= log::kFlagSealed;
      } else {
        e.body = ne.body;
      }
      e.body_sha256 = crypto::Sha256Hex(e.body);
      e.chain_hash = log::ComputeChainHash(tail_chain, e);
      Publish p;
      p.subject = subject;
      p.data = log::EncodeEvent(e);
      p.msg_id = append_id;
      p.expected_last_seq = tail_seq;
      p.expect_no_subject_msg = !ne.idempotency_key.empty();
      p.append_id = append_id;
      if (static_cast<int64_t>(p.data.size()) + 512 > stream->MaxPayload()) {
        return Status::TooLarge("event of " + std::to_string(p.data.size()) +
                                " bytes exceeds the NATS server's max_payload (" +
                                std::to_string(stream->MaxPayload()) + ")");
      }
      auto ack = stream->PublishMsg(p);
      if (!ack.ok()) {
        last_error = ack.error.status;
        tail_known = false;
        switch (ack.error.failure) {
          case Failure::kWrongLastSequence:
            continue;  // another writer got there first: re-read the key and the tail
          case Failure::kTransient:
            std::this_thread::sleep_for(Backoff(attempt));
            continue;
          default:
            return last_error;
        }
      }
      if (ack.value->duplicate) {
        // The id is this append's own (random): an earlier attempt landed
        // and its acknowledgement was lost. That entry is the append.
        tail_known = false;
        RaiseHead(ack.value->seq);
        return log::AppendResult{ack.value->seq, false, e.received_at_us};
      }
      if (ack.value->seq != e.seq) {
        tail_known = false;
        return Status::Corruption("JetStream stored the event for seq " + std::to_string(e.seq) +
                                  " at seq " + std::to_string(ack.value->seq) +
                                  ": something else publishes to " + options.subject + ".>");
      }
      tail_seq = e.seq;
      tail_chain = e.chain_hash;
      RaiseHead(e.seq);
      return log::AppendResult{e.seq, false, e.received_at_us};
    }
    return Status::Unavailable("JetStream did not acknowledge the append within " +
                               std::to_string(options.append_deadline.count()) +
                               " ms: " + last_error.message());
  }
};

JetStreamEventLog::JetStreamEventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JetStreamEventLog::~JetStreamEventLog() = default;

Result<std::unique_ptr<JetStreamEventLog>> JetStreamEventLog::Open(
    const JetStreamEventLogOptions& options, const engram::Clock& clock) {
  if (options.replicas != 1 && options.replicas != 3) {
    return Status::InvalidArgument("--log-replicas must be 1 or 3");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = &clock;
  StreamSpec spec;
  spec.name = options.stream;
  spec.subjects = {options.subject + ".>"};
  spec.replicas = options.replicas;
  spec.duplicate_window = options.duplicate_window;
  spec.republish_source = options.subject + ".>";
  spec.republish_destination = options.subject + "-stored.>";
  spec.create = options.create_stream;
  ENGRAM_ASSIGN_OR_RETURN(impl->stream,
                          NatsStream::Connect(options.urls, spec, options.request_timeout,
                                              Clock::now() + options.open_deadline));
  impl->head = impl->stream->at_open().last_seq;
  Impl* raw = impl.get();
  ENGRAM_RETURN_IF_ERROR(impl->stream->Tail([raw](uint64_t seq) { raw->RaiseHead(seq); }));
  // The head may have moved between the stream info and the subscription.
  if (auto state = impl->stream->State(); state.ok()) raw->RaiseHead(state.value->last_seq);
  return std::unique_ptr<JetStreamEventLog>(new JetStreamEventLog(std::move(impl)));
}

void JetStreamEventLog::AppendAsync(log::NewEvent e, log::AppendDone done) {
  blocking_.Run(
      [this, e = std::move(e), done = std::move(done)]() mutable { done(Append(std::move(e))); });
}

Result<log::AppendResult> JetStreamEventLog::Append(log::NewEvent e) {
  const auto deadline = Clock::now() + impl_->options.append_deadline;
  std::unique_lock lock(impl_->append_mu, deadline);
  if (!lock.owns_lock()) {
    impl_->SetWriteError(Status::Unavailable("appends queued behind an unacknowledged one"));
    return Status::Unavailable("JetStream did not acknowledge the appends before this one within " +
                               std::to_string(impl_->options.append_deadline.count()) + " ms");
  }
  auto result = impl_->AppendLocked(e, deadline);
  if (result.ok()) {
    impl_->SetWriteError(Status::Ok());
  } else if (result.status().code() == StatusCode::kUnavailable ||
             result.status().code() == StatusCode::kIOError ||
             result.status().code() == StatusCode::kCorruption) {
    impl_->SetWriteError(result.status());  // a TooLarge event says nothing about the log
  }
  return result;
}

Result<std::vector<log::Event>> JetStreamEventLog::ReadAfter(log::Seq after, size_t limit) const {
  std::vector<log::Event> out;
  const log::Seq head = Head();
  if (after >= head || limit == 0) return out;
  const log::Seq last = std::min<log::Seq>(head, after + limit);
  // A long read (a projector catching up, replay, audit) asks for every
  // entry at once from any replica; a short one, and whatever a replica
  // could not answer yet, from the leader, which has every acknowledged
  // entry (read-your-writes).
  constexpr log::Seq kDirectFrom = 16;
  constexpr log::Seq kDirectBatch = 512;  // requests in flight at once
  while (last - after - out.size() >= kDirectFrom) {
    const log::Seq from = after + out.size() + 1;
    auto batch = impl_->stream->DirectRange(from, std::min(kDirectBatch, last - from + 1));
    if (!batch.ok() || batch.value->empty()) break;
    for (const StoredMsg& m : *batch.value) {
      ENGRAM_ASSIGN_OR_RETURN(log::Event e, DecodeStored(m));
      out.push_back(std::move(e));
    }
  }
  for (log::Seq seq = after + out.size() + 1; seq <= last; ++seq) {
    auto msg = impl_->stream->Get(seq);
    if (!msg.ok()) {
      if (!out.empty()) break;  // what was read is good; the caller asks again
      return msg.error.status;
    }
    // Not stored on the leader yet (a notice from a replica can be ahead
    // of it by an instant): what was read so far, in order, no gap.
    if (!*msg.value) break;
    ENGRAM_ASSIGN_OR_RETURN(log::Event e, DecodeStored(**msg.value));
    out.push_back(std::move(e));
  }
  return out;
}

log::Seq JetStreamEventLog::Head() const {
  std::lock_guard lock(impl_->mu);
  return impl_->head;
}

bool JetStreamEventLog::WaitForHead(log::Seq after, std::chrono::milliseconds timeout) const {
  // Notices wake us at once; a stream-info poll at most every 250 ms covers
  // those missed while reconnecting.
  constexpr auto kPoll = std::chrono::milliseconds(250);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    bool poll = false;
    {
      std::unique_lock lock(impl_->mu);
      const auto until = std::min(deadline, Clock::now() + kPoll);
      if (impl_->head_cv.wait_until(lock, until, [&] { return impl_->head > after; })) return true;
      if (Clock::now() >= deadline) return false;
      if (Clock::now() - impl_->last_poll >= kPoll) {
        impl_->last_poll = Clock::now();
        poll = true;
      }
    }
    if (poll) {
      if (auto state = impl_->stream->State(); state.ok()) impl_->RaiseHead(state.value->last_seq);
    }
  }
}

Result<std::optional<log::Seq>> JetStreamEventLog::FindByKey(const std::string& key) const {
  // A stream another node has just made, or whose leader is being elected,
  // times out for a few seconds: retried like an append, within its deadline.
  const auto deadline = Clock::now() + impl_->options.append_deadline;
  auto found = impl_->stream->GetLast(impl_->KeySubject(key));
  for (int attempt = 1; !found.ok() && found.error.failure == Failure::kTransient &&
                        Clock::now() + Backoff(attempt) < deadline;
       ++attempt) {
    std::this_thread::sleep_for(Backoff(attempt));
    found = impl_->stream->GetLast(impl_->KeySubject(key));
  }
  if (!found.ok()) return found.error.status;
  if (!*found.value) return std::optional<log::Seq>();
  // Stored, so readable: a ReadAfter of it must not stop at a head that has
  // not heard of it yet.
  impl_->RaiseHead((*found.value)->seq);
  return std::optional<log::Seq>((*found.value)->seq);
}

Status JetStreamEventLog::WriteHealth() const {
  std::lock_guard lock(impl_->mu);
  return impl_->write_error;
}

Status JetStreamEventLog::Erase(const std::vector<log::Seq>& seqs, log::Seq by) {
  (void)by;
  std::vector<log::Seq> plain;
  for (log::Seq seq : seqs) {
    auto msg = impl_->stream->Get(seq);
    if (!msg.ok()) return msg.error.status;
    if (!*msg.value) {
      return Status::InvalidArgument("cannot erase seq " + std::to_string(seq) +
                                     ": not in the log");
    }
    ENGRAM_ASSIGN_OR_RETURN(log::Event e, DecodeStored(**msg.value));
    if (!(e.flags & log::kFlagSealed) && !e.body.empty()) plain.push_back(seq);
  }
  if (plain.empty()) return Status::Ok();
  std::string list;
  for (log::Seq seq : plain) list += (list.empty() ? "" : ", ") + std::to_string(seq);
  return Status::Unavailable(
      "a JetStream log cannot rewrite entries: " + list +
      " hold plaintext bodies (sealed bodies are erased by destroying their key)");
}

Result<std::string> JetStreamEventLog::Identity() const {
  return "jetstream:" + impl_->options.stream + "@" +
         std::to_string(impl_->stream->at_open().created_ns);
}

Result<uint64_t> JetStreamEventLog::StoredBytes() const {
  auto state = impl_->stream->State();
  if (!state.ok()) return state.error.status;
  return state.value->bytes;
}

int JetStreamEventLog::Replicas() const { return impl_->stream->at_open().replicas; }

Result<std::string> JetStreamEventLog::Leader() const {
  auto state = impl_->stream->State();
  if (!state.ok()) return state.error.status;
  return state.value->leader;
}

}  // namespace engram::nats_log
