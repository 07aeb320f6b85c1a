// Console sign-in sessions: in memory, bounded, expiring. A session is a
// random 256-bit cookie value the browser holds and a CSRF token the page
// holds; the store keeps only the SHA-256 of the cookie value, so a lookup
// takes no time that depends on how much of a guess matched, and the map
// holds nothing a memory dump could replay. A restart signs everyone out.
// Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/status.h"

namespace engram::console {

struct Session {
  std::string csrf;       // base64url of 256 random bits
  int64_t expires_at_us;  // Unix microseconds
};

struct NewSession {
  std::string cookie;  // base64url of 256 random bits: the cookie's value
  Session session;
};

class SessionStore {
 public:
  // `ttl_us`: how long a session lives after sign-in. `max_sessions`: beyond
  // it the oldest session is dropped (a flood of sign-ins, each with the
  // right token, cannot grow memory).
  SessionStore(int64_t ttl_us, size_t max_sessions);

  // A new session from now. IOError when the random generator failed.
  Result<NewSession> Create(int64_t now_us);
  // The live session of `cookie`, or nullopt (unknown, expired: the expired
  // one is dropped).
  std::optional<Session> Find(const std::string& cookie, int64_t now_us);
  // Drops the session of `cookie`, if any.
  void Remove(const std::string& cookie);
  size_t size() const;
  int64_t ttl_us() const { return ttl_us_; }

 private:
  struct Entry {
    Session session;
    std::list<std::string>::iterator order;
  };
  void DropExpired(int64_t now_us);  // REQUIRES: mu_ held

  const int64_t ttl_us_;
  const size_t max_sessions_;
  mutable std::mutex mu_;
  std::list<std::string> order_;  // hashed cookies, oldest first (sessions never extend)
  std::unordered_map<std::string, Entry> sessions_;  // by SHA-256 of the cookie
};

}  // namespace engram::console
