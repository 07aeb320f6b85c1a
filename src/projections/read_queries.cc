#include "projections/read_queries.h"

#include <algorithm>

#include "memory/speakable.h"
#include "memory/text.h"
#include "projections/read_model.h"

namespace engram::projections {

// Idle connections kept for reuse; more are opened under load and closed.
constexpr size_t kMaxIdleConnections = 16;

Result<std::unique_ptr<ReadQueries>> ReadQueries::Open(const std::string& path) {
  std::unique_ptr<ReadQueries> q(new ReadQueries(path));
  ENGRAM_RETURN_IF_ERROR(q->Lease().status());  // fail early when the file is unusable
  return q;
}

Result<ReadQueries::Leased> ReadQueries::Lease() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !paused_; });
    ++leased_;
    if (!idle_.empty()) {
      auto db = std::move(idle_.back());
      idle_.pop_back();
      return Leased(db.release(), ReturnToPool{this});
    }
  }
  auto db = ConnectReadModel(path_, /*read_only=*/true);
  if (!db.ok()) {
    std::lock_guard lock(mu_);
    --leased_;
    cv_.notify_all();
    return db.status();
  }
  return Leased(db->release(), ReturnToPool{this});
}

void ReadQueries::Return(std::unique_ptr<ReadModelDb> db) {
  std::lock_guard lock(mu_);
  --leased_;
  if (!paused_ && idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(db));
  db.reset();  // closed under the lock, before a waiting swap goes on
  cv_.notify_all();
}

Status ReadQueries::WithoutConnections(const std::function<Status()>& f) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !paused_; });
  paused_ = true;
  cv_.wait(lock, [this] { return leased_ == 0; });
  idle_.clear();
  lock.unlock();
  Status s = f();
  lock.lock();
  paused_ = false;
  cv_.notify_all();
  return s;
}

Result<std::optional<std::string>> ReadQueries::OneText(const std::string& sql,
                                                        const std::string& arg) {
  ENGRAM_ASSIGN_OR_RETURN(Leased db, Lease());
  std::optional<std::string> out;
  Status status;
  {
    auto st = db->Cached(sql);
    if (!st.ok()) return st.status();
    (*st)->Bind(1, arg);
    auto row = (*st)->Step();
    if (!row.ok())
      status = row.status();
    else if (*row && !(*st)->IsNull(0))
      out = (*st)->Text(0);
    (*st)->Reset();
  }
  if (!status.ok()) return status;
  return out;
}

Result<std::optional<std::string>> ReadQueries::UserForCaller(const std::string& caller_id) {
  return OneText("SELECT user_id FROM user_identities WHERE caller_id = ?", caller_id);
}

Result<std::optional<std::string>> ReadQueries::UserForCall(const std::string& call_sid) {
  return OneText("SELECT user_id FROM call_bindings WHERE call_sid = ?", call_sid);
}

Result<std::optional<std::string>> ReadQueries::UserForConversation(
    const std::string& conversation_id) {
  return OneText("SELECT user_id FROM conversations WHERE id = ?", conversation_id);
}

Result<int64_t> ReadQueries::CountWebhookEvents(const std::string& status) {
  ENGRAM_ASSIGN_OR_RETURN(auto n,
                          OneText("SELECT count(*) FROM webhook_events WHERE status = ?", status));
  return n ? std::stoll(*n) : 0;
}

Result<std::optional<UserProfile>> ReadQueries::Profile(const std::string& user_id,
                                                        size_t max_topics) {
  ENGRAM_ASSIGN_OR_RETURN(Leased db, Lease());
  std::optional<UserProfile> profile;
  Status status;
  auto run = [&]() -> Status {
    ENGRAM_ASSIGN_OR_RETURN(
        Statement * st,
        db->Cached("SELECT coalesce(name, ''), coalesce(summary, '') FROM users WHERE id = ?"));
    st->Bind(1, user_id);
    auto row = st->Step();
    if (row.ok() && *row) {
      profile = UserProfile{user_id, st->Text(0), st->Text(1), {}, 0, false};
    }
    st->Reset();
    if (!row.ok()) return row.status();
    if (!profile) return Status::Ok();
    ENGRAM_ASSIGN_OR_RETURN(
        Statement * topics,
        db->Cached("SELECT coalesce(a.call_summary_title, ''), coalesce(c.started_at, 0) FROM "
                   "conversations c LEFT JOIN conversation_analysis a ON a.conversation_id = "
                   "c.id WHERE c.user_id = ? AND c.transcript_seq IS NOT NULL ORDER BY "
                   "c.started_at DESC, c.id LIMIT ?"));
    // Only the newest few: the init webhook's cost must not grow with the
    // caller's history (conversations_by_user serves the order).
    topics->BindAll(user_id, static_cast<int64_t>(max_topics * 3 + 1));
    for (;;) {
      auto r = topics->Step();
      if (!r.ok()) {
        topics->Reset();
        return r.status();
      }
      if (!*r) break;
      if (!profile->has_conversations) profile->last_call_at = topics->Int(1);
      profile->has_conversations = true;
      // A topic the agent can read out: a question title (the caller's own
      // words) is left out, and so is a repeat of a newer call's topic.
      std::string title = memory::SpeakableTopic(topics->Text(0));
      auto& list = profile->recent_topics;
      const bool repeat = std::any_of(list.begin(), list.end(), [&](const std::string& t) {
        return memory::ToLower(t) == memory::ToLower(title);
      });
      if (!title.empty() && !repeat && list.size() < max_topics) list.push_back(std::move(title));
    }
    topics->Reset();
    return Status::Ok();
  };
  status = run();
  if (!status.ok()) return status;
  return profile;
}

}  // namespace engram::projections
