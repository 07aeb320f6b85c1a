// Hashes and MACs used across Engram (OpenSSL behind this header).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace engram::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view data);
// Lowercase hex of SHA-256(data).
std::string Sha256Hex(std::string_view data);
// HMAC-SHA256(key, message), raw digest.
Sha256Digest HmacSha256(std::string_view key, std::string_view message);
std::string HexEncode(const uint8_t* data, size_t size);
// The value of one hex digit (either case), -1 for any other character.
int HexDigitValue(char c);
inline std::string HexEncode(const Sha256Digest& d) { return HexEncode(d.data(), d.size()); }
// Compares in time that depends only on the sizes, not the contents.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace engram::crypto

namespace engram::crypto {
// Decodes standard base64 (with padding; whitespace not allowed).
// Returns false on malformed input.
bool Base64Decode(std::string_view in, std::string* out);
// base64url without padding (RFC 4648 section 5): safe in a cookie or URL.
std::string Base64UrlEncode(std::string_view in);
// Fills `out` with `size` cryptographically strong random bytes (OpenSSL's
// RAND_bytes). False when the generator failed; `out` must not be used then.
bool RandomBytes(uint8_t* out, size_t size);
}  // namespace engram::crypto
