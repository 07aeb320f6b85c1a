// CallerIdNormalizer: the form of a caller id that identity uses.
//
// ElevenLabs passes the caller's number as Twilio or the SIP trunk wrote it,
// so one person may arrive as "+15125550147" and "+1 512-555-0147". Identity
// (user_identities, derived user ids, lookups by phone) uses E.164; the raw
// form stays where the read model keeps a number for display.
//
// The one implementation wraps libphonenumber (libphonenumber_caller_ids.cc,
// the only file that includes its headers).
#pragma once

#include <string>
#include <string_view>

namespace engram::identity {

class CallerIdNormalizer {
 public:
  virtual ~CallerIdNormalizer() = default;
  // `raw` in E.164 when it is written like a phone number (digits, spaces,
  // "+-().") and is a valid number; a number without a leading '+' is read
  // as dialled in `default_region` (ISO 3166 alpha-2, e.g. "US"). Anything
  // else (empty, "anonymous", SIP URIs, web caller ids, invalid or short
  // numbers) comes back unchanged. Deterministic for a given library version.
  virtual std::string Normalize(std::string_view raw, std::string_view default_region) const = 0;
  // True when `region` is a region code the library knows ("US", "GB", ...).
  virtual bool IsKnownRegion(std::string_view region) const = 0;
};

// The libphonenumber normalizer. Thread-safe; lives for the whole process.
const CallerIdNormalizer& PhoneNumbers();

}  // namespace engram::identity
