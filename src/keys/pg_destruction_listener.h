// DestructionListener: one PostgreSQL connection that LISTENs on
// engram_keys_destroyed, on a thread of its own, and hands every
// destruction another process committed to a callback (pg_key_table.h says
// what the notifications carry).
//
// While the connection is down, coherent() is false: the caller must read
// keys from the table, not from a cache. When it LISTENs again the callback
// is called with no ids (drop everything: what was destroyed in between was
// never heard of), and only then is coherent() true again. A payload that
// is not a list of 16-byte ids in hex (anyone who may connect can NOTIFY)
// is read as "drop everything" too.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

struct pg_conn;

namespace engram::keys {

inline constexpr char kDestroyedChannel[] = "engram_keys_destroyed";

class DestructionListener {
 public:
  using Handler = std::function<void(const std::vector<std::string>& key_ids)>;
  // Connects and LISTENs before returning (nothing read after Start can be
  // destroyed unheard), then listens on its thread. Unavailable when the
  // server cannot be reached.
  static Result<std::unique_ptr<DestructionListener>> Start(const std::string& url);
  ~DestructionListener();  // stops the thread (within ~200 ms) and closes

  void SetHandler(Handler fn);
  bool coherent() const { return coherent_.load(std::memory_order_acquire); }

 private:
  explicit DestructionListener(std::string url) : url_(std::move(url)) {}
  bool ConnectAndListen();
  void Run();
  void Deliver(const std::vector<std::string>& ids);

  std::string url_;
  pg_conn* conn_ = nullptr;  // the thread's alone once started
  std::atomic<bool> stop_{false};
  std::atomic<bool> coherent_{false};
  std::mutex mu_;
  Handler handler_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace engram::keys
