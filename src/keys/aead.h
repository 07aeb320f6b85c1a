// AES-256-GCM through OpenSSL's EVP interface: the one cipher the key store
// and the sealed log bodies use. Only aead.cc includes OpenSSL.
//
// A sealed message is nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes).
// A fresh random 96-bit nonce per message: under one key the chance of a
// repeat stays below 2^-32 for 2^32 messages (NIST SP 800-38D, 8.3), far
// more than one caller's events.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace engram::keys {

inline constexpr size_t kKeyBytes = 32;    // AES-256
inline constexpr size_t kNonceBytes = 12;  // GCM's 96-bit IV
inline constexpr size_t kTagBytes = 16;    // full-length tag
inline constexpr size_t kSealOverhead = kNonceBytes + kTagBytes;

// Key bytes that are wiped when they go out of scope.
struct SecretKey {
  std::array<uint8_t, kKeyBytes> bytes{};
  SecretKey() = default;
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  ~SecretKey();
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

// Cryptographically strong random bytes (OpenSSL's RAND_bytes). IOError
// when the generator cannot be seeded.
Status RandomBytes(uint8_t* out, size_t size);
Result<SecretKey> NewSecretKey();

// nonce ‖ AES-256-GCM(key, nonce, aad, plaintext) ‖ tag.
Result<std::string> GcmSeal(const SecretKey& key, std::string_view aad, std::string_view plaintext);
// The plaintext of a GcmSeal output. Corruption when the tag does not
// verify (wrong key, wrong aad, or changed bytes) or `sealed` is too short.
Result<std::string> GcmOpen(const SecretKey& key, std::string_view aad, std::string_view sealed);

}  // namespace engram::keys
