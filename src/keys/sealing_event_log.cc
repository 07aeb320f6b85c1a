#include "keys/sealing_event_log.h"

#include <signal.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "log/event_bodies.h"
#include "log/event_types.h"
#include "log/internal_events.h"

namespace engram::keys {
namespace {

constexpr char kAadPrefix[] = "engram sealed body v1\n";

// A field of an object as a string; "" when absent, not a string or empty.
std::string_view StringField(simdjson::dom::element parent, std::string_view key) {
  std::string_view out;
  if (parent[key].get_string().get(out) != simdjson::SUCCESS) return {};
  return out;
}

// Seals with one caller's data key; runs on the log's writer thread.
class GcmBodySeal final : public log::BodySeal {
 public:
  explicit GcmBodySeal(std::shared_ptr<const DataKey> key) : key_(std::move(key)) {}
  std::string Seal(uint64_t seq, std::string_view type, std::string_view body) const override {
    auto sealed = GcmSeal(key_->key, SealAad(seq, type), body);
    // Encryption with a valid key fails only when OpenSSL cannot get random
    // bytes or memory: nothing sensible can be appended then.
    if (!sealed.ok()) {
      spdlog::critical("sealing a log body failed: {}", sealed.status().ToString());
      std::abort();
    }
    std::string out(kSealMagic);
    out.append(key_->key_id).append(*sealed);
    return out;
  }

 private:
  std::shared_ptr<const DataKey> key_;
};

}  // namespace

std::string SealAad(log::Seq seq, std::string_view type) {
  std::string aad(kAadPrefix);
  for (int i = 0; i < 8; ++i) aad.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
  aad.append(type);
  return aad;
}

std::string SealSubject(std::string_view type, std::string_view route, std::string_view body) {
  const bool internal_route = log::IsInternalRoute(route);
  // Engram's own bookkeeping carries no caller data (or, for
  // user_forgotten, must stay readable for replay never to resurrect).
  const bool outcome =
      type == log::event_type::kMemoriesExtracted || type == log::event_type::kExtractionDead;
  if (internal_route && !outcome) return "";
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return "";
  }
  std::string_view user, conversation;
  if (outcome || type == log::event_type::kConversationInitiated ||
      type == log::event_type::kMemoryQueried) {
    user = StringField(root, "user_id");
    conversation = StringField(root, "conversation_id");
    simdjson::dom::element request;
    if (conversation.empty() && root["request"].get(request) == simdjson::SUCCESS &&
        request.is_object()) {
      conversation = StringField(request, "conversation_id");
    }
  } else {  // webhooks: post_call_*, call_initiation_failure, any other type
    simdjson::dom::element data;
    if (root["data"].get(data) == simdjson::SUCCESS && data.is_object()) {
      user = StringField(data, "user_id");
      if (user.empty()) {
        simdjson::dom::element init;
        if (data["conversation_initiation_client_data"].get(init) == simdjson::SUCCESS &&
            init.is_object()) {
          user = StringField(init, "user_id");
        }
      }
      conversation = StringField(data, "conversation_id");
    }
  }
  if (!user.empty()) return "user:" + std::string(user);
  if (!conversation.empty()) return "conversation:" + std::string(conversation);
  return "";
}

SealingEventLog::SealingEventLog(log::EventLog& inner, KeyStore& store)
    : inner_(inner), store_(store) {
  if (const char* crash = std::getenv(kCrashEnv)) crash_at_ = crash;
}

void SealingEventLog::CrashPoint(std::string_view name) const {
  if (!crash_at_.empty() && crash_at_ == name) ::kill(::getpid(), SIGKILL);
}

Result<log::AppendResult> SealingEventLog::Append(log::NewEvent e) {
  if (e.type == log::event_type::kUserForgotten && e.route == log::event_route::kAdmin) {
    return AppendForget(std::move(e));
  }
  const std::string subject = SealSubject(e.type, e.route, e.body);
  if (!subject.empty()) {
    // Made and synced before the event is appended: no acknowledged entry
    // is ever sealed with a key that is not on disk.
    ENGRAM_ASSIGN_OR_RETURN(auto key, store_.KeyFor(subject));
    e.seal = std::make_shared<GcmBodySeal>(std::move(key));
  }
  return inner_.Append(std::move(e));
}

void SealingEventLog::AppendAsync(log::NewEvent e, log::AppendDone done) {
  const bool forget =
      e.type == log::event_type::kUserForgotten && e.route == log::event_route::kAdmin;
  std::string subject;
  if (!forget) {
    subject = SealSubject(e.type, e.route, e.body);
    if (subject.empty()) return inner_.AppendAsync(std::move(e), std::move(done));
    if (auto key = store_.CachedKey(subject)) {
      e.seal = std::make_shared<GcmBodySeal>(std::move(key));
      return inner_.AppendAsync(std::move(e), std::move(done));
    }
  }
  // A key to make (a synced commit) or a forget's three steps: both block.
  blocking_.Run([this, forget, subject = std::move(subject), e = std::move(e),
                 done = std::move(done)]() mutable {
    if (forget) return done(AppendForget(std::move(e)));
    auto key = store_.KeyFor(subject);
    if (!key.ok()) return done(key.status());
    e.seal = std::make_shared<GcmBodySeal>(std::move(key).value());
    inner_.AppendAsync(std::move(e), std::move(done));
  });
}

Result<log::AppendResult> SealingEventLog::AppendForget(log::NewEvent e) {
  ENGRAM_ASSIGN_OR_RETURN(log::UserForgottenBody body, log::UserForgottenBody::Parse(e.body));
  std::vector<std::string> subjects = {"user:" + body.user_id};
  for (const std::string& c : body.conversations) subjects.push_back("conversation:" + c);
  const std::vector<uint64_t>& erased = body.erased_seqs;
  const std::string key = e.idempotency_key;
  if (key.empty()) return Status::InvalidArgument("user_forgotten without an idempotency key");
  // The keys the erased entries were sealed with go too: an init whose
  // user id differs from the one the projectors settled on (a number first
  // seen before the identity scheme) was sealed under that other id.
  std::vector<std::string> key_ids;
  const log::Seq head = inner_.Head();
  for (uint64_t seq : erased) {
    if (seq == 0 || seq > head) continue;
    ENGRAM_ASSIGN_OR_RETURN(auto one, inner_.ReadAfter(seq - 1, 1));
    if (one.empty() || !(one[0].flags & log::kFlagSealed)) continue;
    const std::string& body = one[0].body;
    if (body.size() >= kSealMagic.size() + kKeyIdBytes && body.starts_with(kSealMagic)) {
      key_ids.push_back(body.substr(kSealMagic.size(), kKeyIdBytes));
    }
  }
  ENGRAM_RETURN_IF_ERROR(store_.BeginErasure(key, subjects, erased, key_ids));
  CrashPoint("forget-intent");
  auto appended = inner_.Append(std::move(e));
  if (!appended.ok()) {
    // Nothing was appended: the intent goes (Recover would drop it too).
    (void)store_.DropErasure(key);
    return appended.status();
  }
  CrashPoint("forget-appended");
  // An error here leaves the intent pending; the next open completes it.
  ENGRAM_RETURN_IF_ERROR(store_.CompleteErasure(key, appended->seq));
  CrashPoint("forget-keys-destroyed");
  return appended;
}

Status SealingEventLog::Erase(const std::vector<log::Seq>& seqs, log::Seq by) {
  CrashPoint("forget-before-erase");
  return inner_.Erase(seqs, by);
}

Status SealingEventLog::Unseal(log::Event& e) const {
  const size_t header = kSealMagic.size() + kKeyIdBytes;
  std::string_view body = e.body;
  if (body.size() < header + kSealOverhead || !body.starts_with(kSealMagic)) {
    return Status::Corruption("log entry " + std::to_string(e.seq) +
                              " is marked sealed but its body is not a sealed body");
  }
  const std::string_view key_id = body.substr(kSealMagic.size(), kKeyIdBytes);
  ENGRAM_ASSIGN_OR_RETURN(auto key, store_.Find(key_id));
  if (!key) {  // destroyed by a forget: nothing left to read
    e.body.clear();
    e.erased = true;
    return Status::Ok();
  }
  auto plain = GcmOpen(key->key, SealAad(e.seq, e.type), body.substr(header));
  if (!plain.ok()) {
    return Status::Corruption("log entry " + std::to_string(e.seq) + " (" + e.type +
                              "): sealed body does not authenticate, it was changed or damaged: " +
                              plain.status().message());
  }
  e.body = std::move(*plain);
  return Status::Ok();
}

Result<std::vector<log::Event>> SealingEventLog::ReadAfter(log::Seq after, size_t limit) const {
  ENGRAM_ASSIGN_OR_RETURN(std::vector<log::Event> events, inner_.ReadAfter(after, limit));
  for (log::Event& e : events) {
    if ((e.flags & log::kFlagSealed) && !e.erased) ENGRAM_RETURN_IF_ERROR(Unseal(e));
  }
  return events;
}

Result<RecoveryReport> SealingEventLog::Recover() {
  RecoveryReport report;
  ENGRAM_ASSIGN_OR_RETURN(auto erasures, store_.ListErasures());
  const log::Seq head = inner_.Head();
  for (Erasure& er : erasures) {
    if (!er.pending_key.empty()) {
      // With a shared key store, another node may be between the steps of
      // this very forget: its intent is its own until its process dies.
      ENGRAM_ASSIGN_OR_RETURN(bool claimed, store_.ClaimErasure(er.pending_key));
      if (!claimed) {
        ++report.owned_elsewhere;
        continue;
      }
      ENGRAM_ASSIGN_OR_RETURN(auto found, inner_.FindByKey(er.pending_key));
      if (!found) {
        ENGRAM_RETURN_IF_ERROR(store_.DropErasure(er.pending_key));
        ++report.dropped;
        continue;
      }
      Status completed = store_.CompleteErasure(er.pending_key, *found);
      // NotFound: its owner finished it between our list and our claim.
      if (!completed.ok() && completed.code() != StatusCode::kNotFound) return completed;
      er.forget_seq = *found;
      if (completed.ok()) ++report.completed;
    }
    // Legacy (plain) entries the forget erases in place: again, where a
    // crash came before the erase or a restore brought them back.
    std::vector<log::Seq> again;
    for (log::Seq seq : er.erased_seqs) {
      if (seq == 0 || seq > head) continue;
      ENGRAM_ASSIGN_OR_RETURN(auto one, inner_.ReadAfter(seq - 1, 1));
      if (!one.empty() && !one[0].erased && !one[0].body.empty()) again.push_back(seq);
    }
    if (!again.empty()) {
      ENGRAM_RETURN_IF_ERROR(inner_.Erase(again, er.forget_seq));
      report.entries_erased += again.size();
    }
  }
  ENGRAM_ASSIGN_OR_RETURN(report.keys_destroyed, store_.ReapplyErasures());
  return report;
}

}  // namespace engram::keys
