// Calendar arithmetic against a call's day, for relative_dates.cc: weeks,
// months and years around it, and the day a spoken date names. Pure
// functions of the call's day (std::chrono calendar types, no clock, no time
// zone database); the conventions are relative_dates.h's.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "memory/relative_dates.h"

namespace engram::memory::date_calendar {

namespace chr = std::chrono;
using Day = chr::sys_days;

struct Range {
  Day first, last;
  DateGranularity granularity = DateGranularity::kDay;
};

// A day of the month as said: "the 13th" (month 0: any), "March third"
// (month 3), "the 5th of next month" (month_offset 1), "June 5 2027" (year).
struct DaySpec {
  int day = 0;
  int month = 0;
  int year = 0;
  std::optional<int> month_offset;
};

Range OneDay(Day d);
Range WholeMonth(chr::year_month ym);
Range WholeYear(chr::year y);
// 0 = Monday .. 6 = Sunday.
int WeekdayIndex(Day d);
chr::year_month MonthOf(Day d);
// Calendar months later (or earlier, n < 0), the day clamped to the month's
// end: January 31st plus one month is February 28th or 29th.
Day AddMonths(Day d, int n);

// The call's day and the dates said relative to it. Immutable; thread-safe.
class CallDay {
 public:
  explicit CallDay(Day today) : today_(today) {}

  // Monday of today's ISO week.
  Day WeekStart() const;
  // A weekday (0..6) said with `modifier`: "next", "last", "coming", "past",
  // or "" / "this" (the coming one, or the previous one when `past`).
  Day WeekdayDay(std::string_view modifier, int weekday, bool past) const;
  // A month (1..12) without a year: this year's when it is the current month,
  // else the next one, or the latest one when `past`.
  chr::year_month MonthFromTense(int month, bool past) const;
  // The `skip`-th day matching `s` on or after today (on or before when
  // `past`); only one candidate when its year or month was said. nullopt when
  // the day does not exist (February 30th) or none is near enough.
  std::optional<Day> Candidate(const DaySpec& s, bool past, int skip) const;
  // The first candidate for `s`, or the second when only the second falls on
  // `weekday` (0..6; -1 for none): "Friday the 11th".
  std::optional<Range> ResolveDay(const DaySpec& s, bool past, int weekday) const;

 private:
  Day today_;
};

}  // namespace engram::memory::date_calendar
