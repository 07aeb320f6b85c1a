// IdentityKey: the installation's identity secret, and what it derives.
//
// Two things must not be computable by someone who only knows a phone
// number or a user id:
//   - the user id of a new caller: "u_" + 20 hex digits of
//     HMAC-SHA256(key, "engram user id v1\n" + E.164 number). The old,
//     unkeyed "u_" + SHA-256(number) stays for events before the cutover
//     recorded in the log (identity_scheme.h), so existing callers keep
//     their ids and a replay gives the same rows;
//   - a call token, which the init webhook hands the agent as the
//     {{call_token}} dynamic variable and the memory tool echoes back:
//     proof that Engram bound this call to this user (--strict-isolation),
//     verifiable without state. Format: "ct1.<expiry unix secs>.<nonce, 16
//     hex>.<32 hex of HMAC-SHA256(key, user id, expiry, nonce)>".
//
// The secret comes from ENGRAM_IDENTITY_KEY, else DATA_DIR/identity.key
// (made at the first `engram serve`: 32 random bytes as hex, mode 0600).
// It never enters the log; the log records only its key id (a MAC of a
// constant), so a replay with another key fails loudly instead of giving
// other ids. Immutable after Load: thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace engram::identity {

// A call token is accepted until this long after the init that minted it:
// longer than any call (ElevenLabs caps a conversation's duration at hours,
// not days), short enough that a token copied from one call is soon useless.
inline constexpr int64_t kCallTokenTtlSecs = 6 * 3600;
// ENGRAM_IDENTITY_KEY must carry at least 128 bits written as hex.
inline constexpr size_t kMinIdentityKeyChars = 32;
inline constexpr char kIdentityKeyFile[] = "identity.key";
inline constexpr char kIdentityKeyEnv[] = "ENGRAM_IDENTITY_KEY";

class IdentityKey {
 public:
  // ENGRAM_IDENTITY_KEY when set; else DATA_DIR/identity.key. When the file
  // is missing: made when `create`, NotFound otherwise. InvalidArgument for
  // a key shorter than kMinIdentityKeyChars; IOError when the file cannot be
  // read or written.
  static Result<std::shared_ptr<const IdentityKey>> Load(const std::string& data_dir, bool create);
  // For tests.
  static std::shared_ptr<const IdentityKey> FromSecret(std::string secret);

  // 16 hex digits naming the key; safe to record and show.
  const std::string& key_id() const { return key_id_; }
  // Where the key came from ("ENGRAM_IDENTITY_KEY" or the file's path).
  const std::string& source() const { return source_; }

  // The keyed user id for a caller id (its E.164 form when it has one).
  std::string UserIdFor(std::string_view caller_id) const;
  // A token binding `user_id` to a call, valid until now + kCallTokenTtlSecs.
  std::string MintCallToken(std::string_view user_id, int64_t now_secs) const;
  // Ok when `token` was minted by this key for `user_id` and has not
  // expired; Forbidden (saying which) otherwise.
  Status VerifyCallToken(std::string_view token, std::string_view user_id, int64_t now_secs) const;

 private:
  IdentityKey(std::string secret, std::string source);
  std::string Mac(std::string_view purpose, std::string_view message) const;

  std::string secret_;
  std::string source_;
  std::string key_id_;
};

// The unkeyed derivation used before the cutover: "u_" + the first 20 hex
// digits of SHA-256(number as received).
std::string LegacyUserId(std::string_view caller_id);

}  // namespace engram::identity
