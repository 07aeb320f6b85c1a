// The libphonenumber adapter behind CallerIdNormalizer.
#include <phonenumbers/phonenumberutil.h>

#include "identity/caller_ids.h"

namespace engram::identity {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// E.164 allows 15 digits; the rest is room for spaces and punctuation. A
// longer string is not a number anyone dials.
constexpr size_t kMaxNumberChars = 40;

// Only strings written like a phone number are parsed: libphonenumber would
// otherwise pull a number out of free text ("sip:+15125550147@pbx"), and a
// SIP URI or a web id must stay what it is.
bool LooksLikePhoneNumber(std::string_view s) {
  if (s.empty() || s.size() > kMaxNumberChars) return false;
  size_t digits = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '+') {
      if (i != 0) return false;
    } else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '.') {
      return false;
    }
  }
  return digits > 0;
}

class LibphonenumberNormalizer final : public CallerIdNormalizer {
 public:
  std::string Normalize(std::string_view raw, std::string_view default_region) const override {
    const std::string input(raw);
    if (!LooksLikePhoneNumber(raw)) return input;
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    // With a leading '+' the region is ignored; "ZZ" (unknown) makes a
    // number without one fail instead of guessing.
    const std::string region = default_region.empty() ? "ZZ" : std::string(default_region);
    if (util.Parse(input, region, &number) != PhoneNumberUtil::NO_PARSING_ERROR) return input;
    if (!util.IsValidNumber(number)) return input;
    std::string e164;
    util.Format(number, PhoneNumberUtil::E164, &e164);
    return e164;
  }

  bool IsKnownRegion(std::string_view region) const override {
    std::set<std::string> regions;
    PhoneNumberUtil::GetInstance()->GetSupportedRegions(&regions);
    return regions.count(std::string(region)) > 0;
  }
};

}  // namespace

const CallerIdNormalizer& PhoneNumbers() {
  static const LibphonenumberNormalizer instance;
  return instance;
}

}  // namespace engram::identity
