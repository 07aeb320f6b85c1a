// LabelValues: bounds a metric label whose value comes from a request (the
// memory tool's agent_id). Every distinct label value is a new time series
// that /metrics renders forever, so 100 calls with distinct 1 MB agent ids
// once grew /metrics to 106 MB. Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace engram::metrics {

class LabelValues {
 public:
  // A well-formed id: 1 to 64 characters of [A-Za-z0-9_-] (ElevenLabs agent
  // ids are "agent_" and 26 alphanumerics).
  static constexpr size_t kMaxValueBytes = 64;
  static constexpr char kInvalid[] = "invalid";
  static constexpr char kOther[] = "other";

  // At most `max_values` distinct values; later ones read as "other".
  explicit LabelValues(size_t max_values) : max_values_(max_values) {}

  // The label value to record for `value`: itself when well formed and
  // either seen before or within the cap; "invalid" when malformed; "other"
  // when the cap is reached.
  std::string Admit(std::string_view value) {
    if (!WellFormed(value)) return kInvalid;
    std::lock_guard lock(mu_);
    if (seen_.count(value) > 0) return std::string(value);
    if (seen_.size() >= max_values_) return kOther;
    return *seen_.emplace(value).first;
  }

  static bool WellFormed(std::string_view value) {
    if (value.empty() || value.size() > kMaxValueBytes) return false;
    for (char c : value) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
      if (!ok) return false;
    }
    return true;
  }

 private:
  const size_t max_values_;
  std::mutex mu_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace engram::metrics
