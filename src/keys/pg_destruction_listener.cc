#include "keys/pg_destruction_listener.h"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

#include "keys/pg_connect.h"

namespace engram::keys {
namespace {

// How long poll() waits before looking at stop_: the latency of a
// shutdown, not of a notification (those wake poll at once).
constexpr int kPollMs = 200;
constexpr size_t kIdHex = 32;  // a 16-byte key id in hex

// The destroyed ids a payload names; nullopt when empty or malformed.
std::optional<std::vector<std::string>> ParseIds(std::string_view payload) {
  if (payload.empty() || payload.size() % kIdHex != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::vector<std::string> ids;
  for (size_t i = 0; i < payload.size(); i += kIdHex) {
    std::string id;
    for (size_t j = i; j < i + kIdHex; j += 2) {
      int hi = nibble(payload[j]), lo = nibble(payload[j + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      id.push_back(static_cast<char>(hi * 16 + lo));
    }
    ids.push_back(std::move(id));
  }
  return ids;
}

}  // namespace

Result<std::unique_ptr<DestructionListener>> DestructionListener::Start(const std::string& url) {
  std::unique_ptr<DestructionListener> listener(new DestructionListener(url));
  if (!listener->ConnectAndListen()) {
    return Status::Unavailable("key store: cannot LISTEN for destructions: " +
                               PgErrorText(listener->conn_));
  }
  listener->coherent_ = true;
  listener->thread_ = std::thread([l = listener.get()] { l->Run(); });
  return listener;
}

DestructionListener::~DestructionListener() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (conn_) PQfinish(conn_);
}

void DestructionListener::SetHandler(Handler fn) {
  std::lock_guard lock(mu_);
  handler_ = std::move(fn);
}

void DestructionListener::Deliver(const std::vector<std::string>& ids) {
  std::lock_guard lock(mu_);
  if (handler_) handler_(ids);
}

bool DestructionListener::ConnectAndListen() {
  if (conn_) PQfinish(conn_);
  conn_ = ConnectPg(url_);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) return false;
  PGresult* r = PQexec(conn_, (std::string("LISTEN ") + kDestroyedChannel).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  return ok;
}

void DestructionListener::Run() {
  int backoff_ms = 100;
  while (!stop_) {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      if (coherent_.exchange(false)) {
        spdlog::warn(
            "key store: the destruction listener lost its connection; keys are read "
            "from PostgreSQL until it is back");
      }
      if (!ConnectAndListen()) {
        for (int waited = 0; waited < backoff_ms && !stop_; waited += 50) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        backoff_ms = std::min(backoff_ms * 2, 2000);
        continue;
      }
      backoff_ms = 100;
      Deliver({});
      coherent_ = true;
      spdlog::info("key store: the destruction listener is back; caches dropped");
    }
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    if (::poll(&pfd, 1, kPollMs) < 0) continue;
    if (!PQconsumeInput(conn_)) {
      PQfinish(conn_);
      conn_ = nullptr;
      continue;
    }
    while (PGnotify* n = PQnotifies(conn_)) {
      auto ids = ParseIds(n->extra ? n->extra : "");
      PQfreemem(n);
      Deliver(ids ? *ids : std::vector<std::string>());
    }
  }
}

}  // namespace engram::keys
