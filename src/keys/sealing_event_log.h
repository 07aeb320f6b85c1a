// SealingEventLog: an EventLog decorator that encrypts every body carrying a
// caller's personal data with that caller's data key (crypto-shredding),
// and decrypts on read, so projectors, replay and audit trails see
// plaintext and src/log keeps its contracts.
//
// Which key (SealSubject): the user the body names (data.user_id, the init
// data's user_id, or the user_id Engram resolved for a tool query, an init
// or an extraction outcome) -> "user:<id>"; else the conversation it belongs
// to -> "conversation:<id>". A post-call without a user id gets its
// conversation's key because the user the projectors resolve from the
// caller's number depends on rows (user_identities: ids from before the
// identity scheme, users bound by an init) the append path does not read;
// the forget plan lists every conversation of the user, so destroying the
// keys of "user:<id>" and of each "conversation:<c>" reaches every body.
// Bodies with neither (and Engram's own bookkeeping events, including
// user_forgotten) stay plain. Format of a sealed body: FORMAT.md.
//
// The log seals inside its append (NewEvent::seal), because the seal's
// associated data is the entry's seq and type and the seq is only known
// there. body_sha256 and the chain cover the ciphertext: `engram audit
// verify` reads the log without this decorator and needs no keys.
//
// Forget (a user_forgotten append, route engram/admin) runs in three durable
// steps: (1) the key store records the intent (idempotency key, subjects,
// erased seqs); (2) the event is appended; (3) the subjects' keys are
// destroyed and the intent marked done with the event's seq. Recover(),
// called at every open, finishes a forget whose event is in the log (steps
// 3 and the in-place erase of legacy plaintext entries) and drops one whose
// event is not (never acknowledged). It also re-applies every recorded
// erasure, so a log or key store restored from an older backup does not
// bring a forgotten caller back. With a key store shared by several nodes
// an intent belongs to the node that began it: Recover leaves alone those
// whose owner is alive (KeyStore::ClaimErasure) and takes over only those
// of a node that died in mid-forget.
//
// Test-only: ENGRAM_TEST_CRASH_AT=forget-intent|forget-appended|
// forget-keys-destroyed|forget-before-erase SIGKILLs the process at that
// point of a forget (tests/integration/keys_crash_test.cc).
//
// Thread-safe when the inner log and the store are. Does not own them.
#pragma once

#include <string>
#include <string_view>

#include "keys/key_store.h"
#include "log/append_threads.h"
#include "log/event_log.h"

namespace engram::keys {

// Marks a sealed body: "egs1" ‖ key id (16) ‖ nonce (12) ‖ ciphertext ‖ tag.
inline constexpr std::string_view kSealMagic = "egs1";
inline constexpr char kCrashEnv[] = "ENGRAM_TEST_CRASH_AT";

// "user:<id>", "conversation:<id>", or "" (stays plain). Pure: a function of
// the event alone.
std::string SealSubject(std::string_view type, std::string_view route, std::string_view body);

// The associated data a sealed body is authenticated with.
std::string SealAad(log::Seq seq, std::string_view type);

struct RecoveryReport {
  size_t completed = 0;        // forgets finished (their event was in the log)
  size_t dropped = 0;          // intents whose event was never appended
  size_t keys_destroyed = 0;   // keys an erasure covers found again (restore)
  size_t entries_erased = 0;   // legacy entries erased again
  size_t owned_elsewhere = 0;  // pending intents of a live process (another node) left alone
};

class SealingEventLog final : public log::EventLog {
 public:
  SealingEventLog(log::EventLog& inner, KeyStore& store);

  Result<log::AppendResult> Append(log::NewEvent e) override;
  // Without blocking when the subject's key is cached (every event of a
  // known caller): sealed on the inner log's writer as Append does. A new
  // key (made and synced first) and a forget run on this log's own
  // threads.
  void AppendAsync(log::NewEvent e, log::AppendDone done) override;
  // Sealed entries come back decrypted. One whose key was destroyed comes
  // back with an empty body and Event::erased set. Corruption when a sealed
  // body does not authenticate (changed bytes: GCM's tag).
  Result<std::vector<log::Event>> ReadAfter(log::Seq after, size_t limit) const override;
  log::Seq Head() const override { return inner_.Head(); }
  bool WaitForHead(log::Seq after, std::chrono::milliseconds timeout) const override {
    return inner_.WaitForHead(after, timeout);
  }
  Result<std::optional<log::Seq>> FindByKey(const std::string& key) const override {
    return inner_.FindByKey(key);
  }
  Status WriteHealth() const override { return inner_.WriteHealth(); }
  Status Erase(const std::vector<log::Seq>& seqs, log::Seq by) override;

  // See above. Call once after opening, before serving (read-write only).
  Result<RecoveryReport> Recover();

 private:
  Result<log::AppendResult> AppendForget(log::NewEvent e);
  Status Unseal(log::Event& e) const;
  void CrashPoint(std::string_view name) const;

  log::EventLog& inner_;
  KeyStore& store_;
  std::string crash_at_;
  // Last: destroyed first, finishing the appends still waiting for a key.
  // Several, so new callers arriving together share one key commit.
  log::AppendThreads blocking_{8};
};

}  // namespace engram::keys
