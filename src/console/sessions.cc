#include "console/sessions.h"

#include <array>
#include <iterator>

#include "common/crypto.h"

namespace engram::console {
namespace {

Result<std::string> RandomToken() {
  std::array<uint8_t, 32> bytes{};
  if (!crypto::RandomBytes(bytes.data(), bytes.size())) {
    return Status::IOError("the random generator failed");
  }
  return crypto::Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string Key(const std::string& cookie) { return crypto::Sha256Hex(cookie); }

}  // namespace

SessionStore::SessionStore(int64_t ttl_us, size_t max_sessions)
    : ttl_us_(ttl_us), max_sessions_(max_sessions < 1 ? 1 : max_sessions) {}

Result<NewSession> SessionStore::Create(int64_t now_us) {
  NewSession out;
  ENGRAM_ASSIGN_OR_RETURN(out.cookie, RandomToken());
  ENGRAM_ASSIGN_OR_RETURN(out.session.csrf, RandomToken());
  out.session.expires_at_us = now_us + ttl_us_;
  std::lock_guard lock(mu_);
  DropExpired(now_us);
  // Sessions all live ttl_us_ from their creation, so the list's order is
  // also their expiry order: the front is the oldest and expires first.
  while (sessions_.size() >= max_sessions_ && !order_.empty()) {
    sessions_.erase(order_.front());
    order_.pop_front();
  }
  const std::string key = Key(out.cookie);
  order_.push_back(key);
  sessions_[key] = Entry{out.session, std::prev(order_.end())};
  return out;
}

std::optional<Session> SessionStore::Find(const std::string& cookie, int64_t now_us) {
  const std::string key = Key(cookie);
  std::lock_guard lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.session.expires_at_us <= now_us) {
    order_.erase(it->second.order);
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second.session;
}

void SessionStore::Remove(const std::string& cookie) {
  const std::string key = Key(cookie);
  std::lock_guard lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return;
  order_.erase(it->second.order);
  sessions_.erase(it);
}

size_t SessionStore::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

void SessionStore::DropExpired(int64_t now_us) {
  while (!order_.empty()) {
    auto it = sessions_.find(order_.front());
    if (it != sessions_.end() && it->second.session.expires_at_us > now_us) break;
    if (it != sessions_.end()) sessions_.erase(it);
    order_.pop_front();
  }
}

}  // namespace engram::console
