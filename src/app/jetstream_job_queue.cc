#include "app/jetstream_job_queue.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "projections/extraction_workers.h"

namespace engram::app {

using nlohmann::json;
using projections::ExtractionJob;
using projections::TakenJob;

namespace {
// Longer ids than these are no Engram's (conversation ids are ~40 chars,
// user ids a hash or a caller's own id, names a few words).
constexpr size_t kMaxIdBytes = 256;
}  // namespace

JetStreamJobQueue::JetStreamJobQueue(std::unique_ptr<nats_log::JetStreamWorkQueue> queue,
                                     metrics::Registry* metrics)
    : queue_(std::move(queue)), metrics_(metrics) {
  publisher_ = std::thread([this] { PublishLoop(); });
}

JetStreamJobQueue::~JetStreamJobQueue() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  publisher_.join();
}

std::string JetStreamJobQueue::Encode(const ExtractionJob& job) {
  return json{{"source_seq", job.source_seq},   {"prior_attempts", job.prior_attempts},
              {"user_id", job.user_id},         {"conversation_id", job.conversation_id},
              {"caller_name", job.caller_name}, {"call_time", job.call_time}}
      .dump();
}

std::optional<ExtractionJob> JetStreamJobQueue::Decode(const std::string& data) {
  json j = json::parse(data, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    std::string s = it->get<std::string>();
    if (s.size() > kMaxIdBytes) return std::nullopt;
    return s;
  };
  auto number = [&](const char* key) -> std::optional<int64_t> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  auto seq = number("source_seq");
  auto prior = number("prior_attempts");
  auto call_time = number("call_time");
  auto user = text("user_id");
  auto conversation = text("conversation_id");
  auto name = text("caller_name");
  if (!seq || *seq < 1 || !prior || *prior < 0 || !call_time || !user || user->empty() ||
      !conversation || conversation->empty() || !name) {
    return std::nullopt;
  }
  return ExtractionJob{
      static_cast<log::Seq>(*seq), *prior, *user, *conversation, *name, *call_time};
}

void JetStreamJobQueue::Submit(ExtractionJob job) {
  {
    std::lock_guard lock(mu_);
    if (outbox_.size() >= kMaxOutbox) {
      spdlog::error(
          "extraction queue: {} jobs wait to be published; job for seq {} dropped here (still "
          "pending in the read model: published again at the next start or takeover)",
          outbox_.size(), job.source_seq);
      return;
    }
    outbox_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void JetStreamJobQueue::PublishLoop() {
  std::unique_lock lock(mu_);
  std::chrono::milliseconds pause{0};
  bool complained = false;
  while (!closing_) {
    if (outbox_.empty() || pause.count() > 0) {
      cv_.wait_for(lock, pause.count() > 0 ? pause : std::chrono::milliseconds(1000));
      pause = std::chrono::milliseconds(0);
      continue;
    }
    ExtractionJob job = outbox_.front();
    lock.unlock();
    const std::string key = projections::ExtractionOutcomeKey(job.source_seq, job.prior_attempts);
    Status published = queue_->Publish(std::to_string(job.source_seq), Encode(job), key);
    lock.lock();
    if (published.ok() || published.code() == StatusCode::kTooLarge) {
      // Too large cannot get better by waiting (names over the bounds were
      // refused already); the job stays pending in the read model.
      if (!published.ok()) spdlog::error("extraction queue: {}", published.ToString());
      if (complained && published.ok()) spdlog::info("extraction queue: publishing again");
      complained = complained && !published.ok();
      if (!outbox_.empty()) outbox_.pop_front();
      continue;
    }
    // Full, or no server: keep the order, try again soon.
    if (!complained) spdlog::error("extraction queue: {}", published.ToString());
    complained = true;
    if (metrics_) {
      metrics_
          ->GetCounter("engram_extraction_queue_publish_failures_total",
                       "Publishes of extraction jobs the shared queue refused or missed")
          .Inc();
    }
    pause = std::chrono::milliseconds(1000);
  }
}

std::optional<TakenJob> JetStreamJobQueue::Take(std::chrono::milliseconds wait) {
  if (interrupted_) return std::nullopt;
  auto fetched = queue_->Fetch(wait);
  if (!fetched.ok()) {
    // The servers are away: the client reconnects meanwhile.
    std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(200)));
    return std::nullopt;
  }
  if (!*fetched) return std::nullopt;
  auto message = std::make_shared<nats_log::WorkMessage>(std::move(**fetched));
  std::optional<ExtractionJob> job = Decode(message->data);
  if (!job) {
    spdlog::warn("extraction queue: dropped a malformed job message on {} ({} bytes)",
                 message->subject, message->data.size());
    (void)queue_->Term(*message);
    return std::nullopt;
  }
  // Each delivery is an attempt started; one that never reported back (its
  // node died) counts too, so a job that kills every node that runs it ends
  // as a dead letter rather than going round for ever.
  const int attempts = static_cast<int>(std::min<uint64_t>(message->deliveries - 1, 1'000'000));
  return TakenJob{std::move(*job), attempts, message};
}

void JetStreamJobQueue::KeepAlive(const TakenJob& taken) {
  (void)queue_->InProgress(*static_cast<nats_log::WorkMessage*>(taken.handle.get()));
}

std::chrono::milliseconds JetStreamJobQueue::KeepAliveEvery() const {
  return std::max(std::chrono::milliseconds(100), queue_->options().ack_wait / 3);
}

void JetStreamJobQueue::Finish(const TakenJob& taken) {
  Status acked = queue_->Ack(*static_cast<nats_log::WorkMessage*>(taken.handle.get()));
  // A lost ack redelivers the job; its outcome is logged, so that costs a
  // lookup and nothing more.
  if (!acked.ok()) spdlog::warn("extraction queue: {}", acked.ToString());
}

void JetStreamJobQueue::Retry(const TakenJob& taken, int attempts,
                              std::chrono::milliseconds delay) {
  (void)attempts;  // the delivery count carries it (Take)
  Status naked = queue_->Nak(*static_cast<nats_log::WorkMessage*>(taken.handle.get()), delay);
  if (!naked.ok()) spdlog::warn("extraction queue: {}", naked.ToString());
}

size_t JetStreamJobQueue::Depth() const {
  auto depth = queue_->Depth();
  if (depth.ok()) last_depth_ = *depth;
  size_t outbox = 0;
  {
    std::lock_guard lock(mu_);
    outbox = outbox_.size();
  }
  return static_cast<size_t>(last_depth_.load()) + outbox;
}

void JetStreamJobQueue::Interrupt() { interrupted_ = true; }
void JetStreamJobQueue::Resume() { interrupted_ = false; }

}  // namespace engram::app
