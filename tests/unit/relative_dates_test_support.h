// Helpers for the relative-dates tests: call times and a readable dump of
// what FindRelativeDates found.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "memory/relative_dates.h"

namespace engram::memory::testing_dates {

// Unix seconds of y-m-d at `hour`:00 UTC.
inline int64_t Utc(int y, unsigned m, unsigned d, int hour = 15) {
  namespace chr = std::chrono;
  const chr::sys_days day{chr::year{y} / chr::month{m} / chr::day{d}};
  return chr::duration_cast<chr::seconds>(day.time_since_epoch()).count() + int64_t{hour} * 3600;
}

// "words=label; words=label" for each date found in `s`, in order.
inline std::string DatesIn(std::string_view s, int64_t call, int offset_minutes = 0) {
  std::string out;
  for (const DateExpression& e : FindRelativeDates(s, call, offset_minutes)) {
    if (!out.empty()) out += "; ";
    out += std::string(s.substr(e.begin, e.end - e.begin)) + "=" + DateLabel(e);
  }
  return out;
}

}  // namespace engram::memory::testing_dates
