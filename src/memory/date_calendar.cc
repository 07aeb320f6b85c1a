#include "memory/date_calendar.h"

#include <algorithm>

namespace engram::memory::date_calendar {
namespace {

// How far a date without a year or month may be looked for: February 29th
// recurs within 8 years (2096 -> 2104), any day 1..31 within 14 months.
constexpr int kYearsToSearch = 9, kMonthsToSearch = 14;

}  // namespace

Range OneDay(Day d) { return {d, d, DateGranularity::kDay}; }

Range WholeMonth(chr::year_month ym) {
  return {Day{ym / 1}, Day{ym / chr::last}, DateGranularity::kMonth};
}

Range WholeYear(chr::year y) {
  return {Day{y / chr::January / 1}, Day{y / chr::December / 31}, DateGranularity::kYear};
}

int WeekdayIndex(Day d) { return static_cast<int>(chr::weekday{d}.iso_encoding()) - 1; }

chr::year_month MonthOf(Day d) {
  chr::year_month_day ymd{d};
  return {ymd.year(), ymd.month()};
}

Day AddMonths(Day d, int n) {
  chr::year_month_day ymd{d};
  chr::year_month ym = chr::year_month{ymd.year(), ymd.month()} + chr::months{n};
  chr::day last = (ym / chr::last).day();
  return Day{ym / std::min(ymd.day(), last)};
}

Day CallDay::WeekStart() const { return today_ - chr::days{WeekdayIndex(today_)}; }

Day CallDay::WeekdayDay(std::string_view modifier, int x, bool past) const {
  const int wd = WeekdayIndex(today_);
  if (modifier == "next") return WeekStart() + chr::days{7 + x};
  if (modifier == "last") return WeekStart() - chr::days{7 - x};
  if (modifier == "coming") past = false;
  if (modifier == "past") past = true;
  if (past) return today_ - chr::days{(wd - x + 6) % 7 + 1};
  return today_ + chr::days{(x - wd + 6) % 7 + 1};
}

chr::year_month CallDay::MonthFromTense(int month, bool past) const {
  const chr::year_month_day now{today_};
  const int cur = static_cast<int>(static_cast<unsigned>(now.month()));
  chr::year_month ym{now.year(), chr::month(static_cast<unsigned>(month))};
  if (!past && month < cur) ym += chr::years{1};
  if (past && month > cur) ym -= chr::years{1};
  return ym;
}

std::optional<Day> CallDay::Candidate(const DaySpec& s, bool past, int skip) const {
  if (s.year > 0 || s.month_offset) {
    if (skip > 0) return std::nullopt;
    chr::year_month_day ymd = s.year > 0
                                  ? chr::year{s.year} / chr::month(static_cast<unsigned>(s.month)) /
                                        chr::day(static_cast<unsigned>(s.day))
                                  : (MonthOf(today_) + chr::months{*s.month_offset}) /
                                        chr::day(static_cast<unsigned>(s.day));
    if (!ymd.ok()) return std::nullopt;
    return Day{ymd};
  }
  const chr::year_month_day now{today_};
  const int step = past ? -1 : 1;
  const int tries = s.month > 0 ? kYearsToSearch : kMonthsToSearch;
  for (int k = 0; k < tries; ++k) {
    chr::year_month_day ymd =
        s.month > 0
            ? (now.year() + chr::years{k * step}) / chr::month(static_cast<unsigned>(s.month)) /
                  chr::day(static_cast<unsigned>(s.day))
            : (MonthOf(today_) + chr::months{k * step}) / chr::day(static_cast<unsigned>(s.day));
    if (!ymd.ok()) continue;
    Day d{ymd};
    if (past ? d > today_ : d < today_) continue;
    if (skip-- == 0) return d;
  }
  return std::nullopt;
}

std::optional<Range> CallDay::ResolveDay(const DaySpec& s, bool past, int weekday) const {
  std::optional<Day> d = Candidate(s, past, 0);
  if (!d) return std::nullopt;
  if (weekday >= 0 && WeekdayIndex(*d) != weekday) {
    std::optional<Day> next = Candidate(s, past, 1);
    if (next && WeekdayIndex(*next) == weekday) d = next;
  }
  return OneDay(*d);
}

}  // namespace engram::memory::date_calendar
