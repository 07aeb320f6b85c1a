// Dates said in a call ("next Friday", "last week", "the thirteenth", "in two
// weeks", "March third") resolved to absolute dates against the call's start,
// so that a memory learnt on one call still says which day it meant when it is
// recalled on a later one.
//
// Why: "I'm flying out next Friday" is true for one Friday only. Stored as
// "I'm flying out next Friday (2026-12-11)" the words stay as the caller said
// them and the date stays right after the call is over.
//
// Pure functions of the sentence and the call's start time: no clock, no
// environment, no locale, so a projector that uses them replays exactly.
// Thread-safe (no shared state). Linear in the sentence's length: one pass
// splits words, each pattern looks at most a few words ahead, and the tense
// of every position is precomputed in two passes.
//
// Conventions (docs/MEMORY.md, "Relative dates"). Weeks run Monday to Sunday
// (ISO 8601); "today" is the call's start in UTC plus the offset given.
//   - today, tonight, this morning/afternoon/evening: the call's day;
//     tomorrow / yesterday / last night / the day after tomorrow / the day
//     before yesterday: ±1 or ±2 days.
//   - "next <weekday>": that weekday in next week (said on Wed 2026-12-02,
//     "next Friday" is 2026-12-11, "next Monday" 2026-12-07); "last
//     <weekday>": that weekday in the previous week.
//   - "<weekday>", "on <weekday>", "this <weekday>": the coming one (1 to 7
//     days ahead, never today: a speaker would say "today"), or, when the
//     sentence is in the past tense, the previous one (1 to 7 days back).
//     "coming" / "this coming" are always ahead; "past" / "this past" always
//     back. "Tuesday next week", "Friday of last week": that weekday of that
//     week. "Monday to Friday": the second is the first one after the first.
//     Plurals ("on Fridays"), "every Friday", "a Friday" and holidays
//     ("Good Friday", "Sunday school") are not dates.
//   - this / next / last week (Monday..Sunday), weekend (Saturday..Sunday),
//     month, year: ranges; "the week after next" too. "the weekend" is this
//     week's, or when past tense the latest one that has begun.
//   - in [about] N days / weeks / fortnights / months / years, N ... from
//     now / today / tomorrow / <weekday>, N ... ago: one day (months add
//     calendar months, clamped to the month's end). N is digits, number words
//     up to ninety-nine, "a", "an", "a couple (of)".
//   - "the 13th", "the thirteenth", "on the 3rd": the next day with that day
//     of the month on or after today, or the latest on or before today when
//     past tense; "of this / next / last month" picks the month, "the first
//     of the year" is January 1st. "first" to "fifth" count only after a
//     date preposition ("on the second", not "the second option"), and any
//     ordinal only before punctuation, the end, or a word that can follow a
//     date ("the fifth at noon", not "the fifteenth floor"). Days past 31
//     ("the 45th") are never dates.
//   - "<month> <day>", "<month> the <day>", "the <day> of <month>",
//     "<day> <month>" with an optional year (digits, spoken "twenty twenty
//     seven", or "of last / next / this year"): the year kept when said,
//     else the next such day on or after today (latest on or before when
//     past tense). Impossible days (February 30th) are skipped. A weekday
//     before a date ("Friday the 11th") joins it; the date decides, the
//     weekday only picks between its first two occurrences.
//   - "in / by / since / until ... <month>", "<month> <year>", and a month
//     right after a date ("in June and July"): that month (next occurrence,
//     or latest when past tense); "next / last <month>" the one after /
//     before the current month.
//   - end / beginning / start of the week (Friday / Monday), month, year,
//     next or this one: one day.
//   - ISO dates ("2026-12-11") and other written dates are left alone.
//
// Tense: a sentence position is past tense when the nearest tense word before
// it (else after it) is a past one: was, were, did, had, ago, last, yesterday,
// a common irregular past verb (went, said, told, ...) or a word ending in
// -ed that does not follow a form of "be" ("I'm scheduled" is not past).
// Present and future words (is, will, 'll, going, need, ...) make it not
// past; no tense word at all is not past. "for" right before the date means
// ahead, "since" means back, whatever the verbs say.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace engram::memory {

// Names the rules below; part of the extraction cache key, so outputs cached
// before a change of these rules are not reused.
inline constexpr char kRelativeDatesVersion[] = "dates-v1";

enum class DateGranularity { kDay, kWeek, kWeekend, kMonth, kYear };

// One date expression found in a sentence.
struct DateExpression {
  size_t begin = 0;  // byte offsets of the words in the sentence: [begin, end)
  size_t end = 0;
  std::chrono::year_month_day first;  // the day, or the range's first day
  std::chrono::year_month_day last;   // equal to `first` for kDay
  DateGranularity granularity = DateGranularity::kDay;
};

// "2026-12-11" for a day; "2026-11-23 to 2026-11-29" for a week or weekend;
// "2027-01" for a month; "2025" for a year.
std::string DateLabel(const DateExpression& date);

// The date expressions in `sentence`, in order, not overlapping, resolved
// against the call's start (`call_start_unix_secs`, UTC) shifted by
// `utc_offset_minutes` (the caller's local time when known). Offsets beyond
// ±18 hours are clamped to it. Empty when nothing is a date, and when the
// call's day or a resolved date falls outside the years 1..9999. Never fails:
// any bytes are accepted (bytes >= 0x80 count as letters, control characters
// as punctuation).
std::vector<DateExpression> FindRelativeDates(std::string_view sentence,
                                              int64_t call_start_unix_secs,
                                              int utc_offset_minutes = 0);

// `sentence` with " (<DateLabel>)" inserted after each expression ("I'm
// flying out next Friday (2026-12-11)"). FindRelativeDates reads such labels
// as if they were not there, and an expression already followed by a
// parenthesis opening with a digit gets no second one, so annotating twice
// changes nothing.
std::string AnnotateRelativeDates(std::string_view sentence, int64_t call_start_unix_secs,
                                  int utc_offset_minutes = 0);

}  // namespace engram::memory
