#include "projections/job_queue.h"

#include <thread>

namespace engram::projections {

bool JobQueue::WaitIdle(std::chrono::milliseconds timeout) const {
  // A shared queue has no local signal for "empty everywhere": poll.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (Depth() == 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void EmbeddedJobQueue::Submit(ExtractionJob job) {
  {
    std::lock_guard lock(mu_);
    if (!known_.emplace(job.source_seq, job.prior_attempts).second) return;
    auto& queue = by_user_[job.user_id];
    const bool idle_user = queue.empty();
    const std::string user = job.user_id;
    queue.push_back({std::move(job), 0});
    ++jobs_;
    // A user with jobs already is ready, delayed or running: it picks this
    // one up after the ones before it.
    if (idle_user) ready_.push_back(user);
  }
  work_cv_.notify_one();
}

std::optional<TakenJob> EmbeddedJobQueue::Take(std::chrono::milliseconds wait) {
  const auto until = Clock::now() + wait;
  std::unique_lock lock(mu_);
  for (;;) {
    if (interrupted_) return std::nullopt;
    const auto now = Clock::now();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      ready_.push_back(delayed_.begin()->second);
      delayed_.erase(delayed_.begin());
    }
    if (!ready_.empty()) break;
    if (now >= until) return std::nullopt;
    // A copy: wait_until reads its deadline again after waking, when
    // another worker may have erased the map entry.
    auto deadline = until;
    if (!delayed_.empty()) deadline = std::min(deadline, delayed_.begin()->first);
    work_cv_.wait_until(lock, deadline);
  }
  const std::string user = std::move(ready_.front());
  ready_.pop_front();
  // The user is now running: nobody else takes its jobs until Finish or
  // Retry puts it back.
  const Queued& q = by_user_[user].front();
  return TakenJob{q.job, q.attempts, nullptr};
}

void EmbeddedJobQueue::Finish(const TakenJob& taken) {
  {
    std::lock_guard lock(mu_);
    const std::string& user = taken.job.user_id;
    auto& queue = by_user_[user];
    known_.erase({taken.job.source_seq, taken.job.prior_attempts});
    if (!queue.empty()) queue.pop_front();
    --jobs_;
    if (queue.empty()) {
      by_user_.erase(user);
    } else {
      ready_.push_back(user);
    }
    if (jobs_ == 0) idle_cv_.notify_all();
  }
  work_cv_.notify_one();
}

void EmbeddedJobQueue::Retry(const TakenJob& taken, int attempts, std::chrono::milliseconds delay) {
  {
    std::lock_guard lock(mu_);
    auto& queue = by_user_[taken.job.user_id];
    if (!queue.empty()) queue.front().attempts = attempts;
    delayed_.emplace(Clock::now() + delay, taken.job.user_id);
  }
  work_cv_.notify_all();  // someone must watch the new deadline
}

size_t EmbeddedJobQueue::Depth() const {
  std::lock_guard lock(mu_);
  return jobs_;
}

bool EmbeddedJobQueue::WaitIdle(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return jobs_ == 0; });
}

void EmbeddedJobQueue::Interrupt() {
  {
    std::lock_guard lock(mu_);
    interrupted_ = true;
  }
  work_cv_.notify_all();
}

void EmbeddedJobQueue::Resume() {
  std::lock_guard lock(mu_);
  interrupted_ = false;
}

}  // namespace engram::projections
