#include "memory/relative_dates.h"

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <optional>

#include "memory/date_calendar.h"
#include "memory/date_words.h"

namespace engram::memory {
namespace {

namespace chr = std::chrono;
using date_calendar::AddMonths;
using date_calendar::Day;
using date_calendar::DaySpec;
using date_calendar::MonthOf;
using date_calendar::OneDay;
using date_calendar::Range;
using date_calendar::WeekdayIndex;
using date_calendar::WholeMonth;
using date_calendar::WholeYear;
using date_words::Gap;
using date_words::Tense;
using date_words::Word;

// The call days we resolve against: 0001-01-01 .. 9999-12-31, so that every
// year we print has four digits and no date arithmetic leaves chrono's range.
constexpr int64_t kFirstCallSecond = -62135596800;
constexpr int64_t kLastCallSecond = 253402300799;
constexpr int kMaxOffsetMinutes = 18 * 60;  // the widest offset ISO 8601 and TZDB allow

// Bounds on "in N ...": a century either way. Larger counts are not said of
// a date, and the bound keeps month arithmetic inside chrono's year range.
constexpr int kMaxDays = 36600, kMaxWeeks = 5300, kMaxMonths = 1200, kMaxYears = 100;

struct Found {
  size_t end_word;  // one past the expression's last word
  Range range;
};

bool In(std::string_view w, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), w) != set.end();
}

class Scanner : private date_words::WordReader, private date_calendar::CallDay {
 public:
  Scanner(const std::vector<Word>& words, Day today)
      : WordReader(words), CallDay(today), w_(words), today_(today) {
    const size_t n = w_.size();
    tense_before_.assign(n + 1, Tense::kNone);
    tense_from_.assign(n + 1, Tense::kNone);
    for (size_t i = 0; i < n; ++i) {
      tense_before_[i + 1] = w_[i].tense != Tense::kNone ? w_[i].tense : tense_before_[i];
    }
    for (size_t i = n; i-- > 0;) {
      tense_from_[i] = w_[i].tense != Tense::kNone ? w_[i].tense : tense_from_[i + 1];
    }
  }

  std::vector<std::pair<size_t, Found>> Scan() {
    std::vector<std::pair<size_t, Found>> found;
    size_t i = 0;
    while (i < w_.size()) {
      std::optional<Found> f = w_[i].may_start ? At(i) : std::nullopt;
      if (!f) {
        ++i;
        continue;
      }
      found.emplace_back(i, *f);
      last_end_ = f->end_word;
      last_first_ = f->range.first;
      i = f->end_word;
    }
    return found;
  }

 private:
  // Past tense at the expression [begin, end): see relative_dates.h, "Tense".
  bool Past(size_t begin, size_t end) const {
    if (begin > 0 && Is(begin - 1, "for")) return false;
    if (begin > 0 && Is(begin - 1, "since")) return true;
    Tense t = tense_before_[begin];
    if (t == Tense::kNone) t = tense_from_[end];
    return t == Tense::kPast;
  }

  // --- Patterns -------------------------------------------------------------
  std::optional<Found> At(size_t i) const {
    if (auto f = DayWords(i)) return f;
    if (auto f = Modified(i)) return f;
    if (auto f = Edge(i)) return f;
    if (auto f = Counted(i)) return f;
    if (auto d = DateAt(i, false)) {
      auto r = ResolveDay(d->second, Past(i, d->first), -1);
      return r ? std::optional<Found>(Found{d->first, *r}) : std::nullopt;
    }
    if (auto f = BareWeekday(i)) return f;
    if (auto f = MonthAlone(i)) return f;
    if (Is(i, "the") && Joined(i) && Is(i + 1, "weekend")) {
      const Day ws = WeekStart();
      const bool begun = WeekdayIndex(today_) >= 5;
      const Day sat = Past(i, i + 2) && !begun ? ws - chr::days{2} : ws + chr::days{5};
      return Found{i + 2, {sat, sat + chr::days{1}, DateGranularity::kWeekend}};
    }
    return std::nullopt;
  }

  // today, tonight, tomorrow, yesterday, last night, this morning, the day
  // after tomorrow, the day before yesterday, the week after next.
  std::optional<Found> DayWords(size_t i) const {
    size_t k = Is(i, "the") && Joined(i) ? i + 1 : i;
    if (Is(k, "day") && Joined(k) && Joined(k + 1)) {
      if (Is(k + 1, "after") && Is(k + 2, "tomorrow")) {
        return Found{k + 3, OneDay(today_ + chr::days{2})};
      }
      if (Is(k + 1, "before") && Is(k + 2, "yesterday")) {
        return Found{k + 3, OneDay(today_ - chr::days{2})};
      }
    }
    if (Is(i, "the") && Is(k, "week") && Joined(k) && Is(k + 1, "after") && Joined(k + 1) &&
        Is(k + 2, "next")) {
      const Day monday = WeekStart() + chr::days{14};
      return Found{k + 3, {monday, monday + chr::days{6}, DateGranularity::kWeek}};
    }
    if (IsAny(i, {"today", "tonight"})) return Found{i + 1, OneDay(today_)};
    if (Is(i, "tomorrow")) return Found{i + 1, OneDay(today_ + chr::days{1})};
    if (Is(i, "yesterday")) return Found{i + 1, OneDay(today_ - chr::days{1})};
    if (Is(i, "last") && Joined(i) && Is(i + 1, "night")) {
      return Found{i + 2, OneDay(today_ - chr::days{1})};
    }
    if (Is(i, "this") && Joined(i) && IsAny(i + 1, {"morning", "afternoon", "evening"})) {
      return Found{i + 2, OneDay(today_)};
    }
    return std::nullopt;
  }

  // The weekday at `k` (already resolved to `d` and begun at `begin`), joined
  // with a date right after it when there is one: the date decides.
  Found WithDateAfter(size_t begin, size_t k, Day d) const {
    if (JoinedOrComma(k)) {
      if (auto date = DateAt(k + 1, true)) {
        if (auto r = ResolveDay(date->second, Past(begin, date->first), w_[k].weekday)) {
          return Found{date->first, *r};
        }
      }
    }
    return Found{k + 1, OneDay(d)};
  }

  // next / last / this / coming / past / this coming / this past + weekday,
  // week, weekend, month, year, or a month's name.
  std::optional<Found> Modified(size_t i) const {
    if (!IsAny(i, {"next", "last", "this", "coming", "past"}) || !Joined(i)) return std::nullopt;
    // "the last week of June", "the next month or so": not counted from today.
    if (IsAny(i, {"next", "last"}) && i > 0 && IsAny(i - 1, {"the", "a"})) return std::nullopt;
    std::string_view modifier = w_[i].text;
    size_t k = i + 1;
    if (modifier == "this" && IsAny(k, {"coming", "past"}) && Joined(k)) modifier = w_[k++].text;
    const Word& x = w_[k];
    if (x.weekday >= 0) {
      return WithDateAfter(i, k, WeekdayDay(modifier, x.weekday, Past(i, k + 1)));
    }
    if (modifier == "coming" || modifier == "past") return std::nullopt;  // "the past week"
    const int offset = modifier == "next" ? 1 : modifier == "last" ? -1 : 0;
    const Day ws = WeekStart();
    if (x.text == "week") {
      const Day monday = ws + chr::days{7 * offset};
      return Found{k + 1, {monday, monday + chr::days{6}, DateGranularity::kWeek}};
    }
    if (x.text == "weekend") {
      const Day sat = ws + chr::days{7 * offset + 5};
      return Found{k + 1, {sat, sat + chr::days{1}, DateGranularity::kWeekend}};
    }
    if (x.text == "month") return Found{k + 1, WholeMonth(MonthOf(today_) + chr::months{offset})};
    if (x.text == "year") {
      return Found{k + 1, WholeYear(chr::year_month_day{today_}.year() + chr::years{offset})};
    }
    if (x.month > 0 && !x.month_abbrev) {
      // "this may take a while", "this march is ...": a month only at a phrase's end.
      if (modifier == "this" && In(x.text, {"may", "march"}) && !EndsAt(k + 1)) return std::nullopt;
      const int cur = static_cast<int>(static_cast<unsigned>(chr::year_month_day{today_}.month()));
      const chr::year y = chr::year_month_day{today_}.year();
      chr::year_month ym{y, chr::month(static_cast<unsigned>(x.month))};
      if (modifier == "next" && x.month <= cur) ym += chr::years{1};
      if (modifier == "last" && x.month >= cur) ym -= chr::years{1};
      if (modifier == "this") ym = MonthFromTense(x.month, Past(i, k + 1));
      return Found{k + 1, WholeMonth(ym)};
    }
    return std::nullopt;
  }

  // end / beginning / start of [the | this | next | last] week / month / year, or of
  // a month's name: one day.
  std::optional<Found> Edge(size_t i) const {
    if (!IsAny(i, {"end", "beginning", "start"}) || !Joined(i) || !Is(i + 1, "of") ||
        !Joined(i + 1)) {
      return std::nullopt;
    }
    const bool end = Is(i, "end");
    size_t k = i + 2;
    int offset = 0;
    if (IsAny(k, {"the", "this", "next", "last"}) && Joined(k)) {
      offset = Is(k, "next") ? 1 : Is(k, "last") ? -1 : 0;
      ++k;
    }
    if (k >= w_.size()) return std::nullopt;
    if (Is(k, "week")) {
      const Day monday = WeekStart() + chr::days{7 * offset};
      return Found{k + 1, OneDay(end ? monday + chr::days{4} : monday)};  // Friday: working week
    }
    if (Is(k, "month")) {
      const Range m = WholeMonth(MonthOf(today_) + chr::months{offset});
      return Found{k + 1, OneDay(end ? m.last : m.first)};
    }
    if (Is(k, "year")) {
      const Range y = WholeYear(chr::year_month_day{today_}.year() + chr::years{offset});
      return Found{k + 1, OneDay(end ? y.last : y.first)};
    }
    if (k == i + 2 && w_[k].month > 0 && !w_[k].month_abbrev) {
      const Range m = WholeMonth(MonthFromTense(w_[k].month, Past(i, k + 1)));
      return Found{k + 1, OneDay(end ? m.last : m.first)};
    }
    return std::nullopt;
  }

  // in N units [time], N units ago, N units from now / today.
  std::optional<Found> Counted(size_t i) const {
    const bool in = Is(i, "in") && Joined(i);
    size_t k = in ? i + 1 : i;
    // "in about six weeks", "in another two days": the count comes after.
    if (in && IsAny(k, {"about", "around", "roughly", "approximately", "maybe", "another"}) &&
        Joined(k)) {
      ++k;
    }
    auto n = Count(k);
    if (!n) return std::nullopt;
    const size_t u = n->second;
    if (u >= w_.size()) return std::nullopt;
    std::string_view unit = w_[u].text;
    if (unit.size() > 1 && unit.back() == 's') unit.remove_suffix(1);
    if (!In(unit, {"day", "week", "fortnight", "month", "year"})) return std::nullopt;
    int sign = 0;
    size_t end = u + 1;
    Day base = today_;
    if (in && Joined(u) && Is(u + 1, "ago")) {
      return std::nullopt;  // "we moved in two years ago": the count starts the date
    } else if (in) {
      sign = 1;
      if (Joined(u) && Is(u + 1, "time")) ++end;
    } else if (Joined(u) && Is(u + 1, "ago")) {
      sign = -1;
      ++end;
    } else if (Joined(u) && Is(u + 1, "from") && Joined(u + 1)) {
      // from now / today / tomorrow / <weekday> ("a week from Friday": the coming
      // Friday, plus a week), but not "once a week from now on".
      const size_t from = u + 2;
      if (IsAny(from, {"now", "today"}) && !(Joined(from) && Is(from + 1, "on"))) {
        sign = 1;
      } else if (Is(from, "tomorrow")) {
        sign = 1;
        base += chr::days{1};
      } else if (from < w_.size() && w_[from].weekday >= 0) {
        sign = 1;
        base = WeekdayDay("", w_[from].weekday, false);
      }
      end = from + 1;
    }
    if (sign == 0) return std::nullopt;
    const int count = n->first;
    Day d = base;
    if (unit == "day" && count <= kMaxDays) {
      d += chr::days{sign * count};
    } else if ((unit == "week" || unit == "fortnight") && count <= kMaxWeeks) {
      d += chr::days{sign * count * (unit == "week" ? 7 : 14)};
    } else if (unit == "month" && count <= kMaxMonths) {
      d = AddMonths(base, sign * count);
    } else if (unit == "year" && count <= kMaxYears) {
      d = AddMonths(base, sign * count * 12);
    } else {
      return std::nullopt;
    }
    return Found{end, OneDay(d)};
  }

  // A weekday said alone or after "on": the coming one, or the last one when
  // past tense. Not "on Fridays", "every Friday", "a Friday", "Good Friday",
  // "Sunday school", "the Friday before".
  std::optional<Found> BareWeekday(size_t i) const {
    if (w_[i].weekday < 0) return std::nullopt;
    if (i > 0 && w_[i - 1].gap_after == Gap::kSpace &&
        IsAny(i - 1, {"every", "each",   "a",      "an",    "most",      "some",  "other",
                      "the",   "good",   "black",  "cyber", "ash",       "palm",  "easter",
                      "holy",  "maundy", "giving", "bowl",  "mothering", "last",  "next",
                      "this",  "coming", "past",   "first", "second",    "third", "fourth"})) {
      return std::nullopt;
    }
    if (Joined(i) && IsAny(i + 1, {"school", "schools", "best", "blues", "league"})) {
      return std::nullopt;
    }
    // "Monday to Friday", "from Tuesday through Thursday": the end follows the start.
    if (i >= 2 && last_end_ == i - 1 && w_[i - 2].weekday >= 0 &&
        IsAny(i - 1, {"to", "through", "thru", "till", "until"})) {
      const int ahead = (w_[i].weekday - WeekdayIndex(last_first_) + 6) % 7 + 1;
      return WithDateAfter(i, i, last_first_ + chr::days{ahead});
    }
    // "Tuesday next week", "Friday of last week": that weekday in that week.
    size_t k = Joined(i) && Is(i + 1, "of") ? i + 2 : i + 1;
    if (k - 1 < w_.size() && Joined(k - 1) && IsAny(k, {"next", "last", "this"}) && Joined(k) &&
        Is(k + 1, "week")) {
      const int offset = Is(k, "next") ? 1 : Is(k, "last") ? -1 : 0;
      return Found{k + 2, OneDay(WeekStart() + chr::days{7 * offset + w_[i].weekday})};
    }
    return WithDateAfter(i, i, WeekdayDay("", w_[i].weekday, Past(i, i + 1)));
  }

  // "in March", "since June", "March 2027": a whole month.
  std::optional<Found> MonthAlone(size_t i) const {
    const Word& x = w_[i];
    if (x.month <= 0) return std::nullopt;
    if (auto [next, spec] = WithYear(i + 1, DaySpec{1, x.month, 0, {}}); spec.year > 0) {
      return Found{next, WholeMonth({chr::year{spec.year}, chr::month(unsigned(x.month))})};
    }
    if (x.month_abbrev || i == 0 || w_[i - 1].gap_after != Gap::kSpace) return std::nullopt;
    // "in June and July": a month right after a date, joined to it.
    const bool after_date =
        last_end_ == i - 1 && IsAny(i - 1, {"and", "or", "to", "through", "until", "till"});
    if (!after_date &&
        !IsAny(i - 1, {"in", "by", "since", "until", "till", "during", "before", "after", "from",
                       "through", "around", "early", "late", "mid"})) {
      return std::nullopt;
    }
    // "from June to August", but not "a call from June" (the name).
    if (Is(i - 1, "from") && !(Joined(i) && IsAny(i + 1, {"to", "until", "till", "through"}))) {
      return std::nullopt;
    }
    return Found{i + 1, WholeMonth(MonthFromTense(x.month, Past(i, i + 1)))};
  }

  // A day of the month, as said: {next word, spec}. `after_weekday`: right
  // after a weekday, which is context enough for "the second".
  std::optional<std::pair<size_t, DaySpec>> DateAt(size_t i, bool after_weekday) const {
    if (i >= w_.size()) return std::nullopt;
    const Word& x = w_[i];
    // <month> [the] <day> [year]
    if (x.month > 0 && Joined(i)) {
      size_t k = Is(i + 1, "the") && Joined(i + 1) ? i + 2 : i + 1;
      int day = 0;
      size_t next = k;
      if (auto o = OrdinalAt(k)) {
        day = o->value;
        next = o->next;
      } else if (k < w_.size() && k == i + 1 && w_[k].text[0] >= '0' && w_[k].text[0] <= '9') {
        day = w_[k].cardinal;
        next = k + 1;
      }
      if (day < 1 || day > 31) return std::nullopt;
      // "you may first want to": a modal, unless a date's end or follower is there.
      if (k == i + 1 && In(x.text, {"may", "march"}) && OrdinalAt(k) && OrdinalAt(k)->weak &&
          !CanFollowDate(next) && !YearAt(next)) {
        return std::nullopt;
      }
      return WithYear(next, DaySpec{day, x.month, 0, {}});
    }
    // <digits> <month> [year]: "3 March", but not "3 may be" or "2 march".
    if (x.cardinal >= 1 && x.cardinal <= 31 && x.text[0] >= '0' && x.text[0] <= '9' && Joined(i) &&
        w_[i + 1].month > 0) {
      if (In(w_[i + 1].text, {"may", "march"}) && !EndsAt(i + 2) && !YearAt(i + 2)) {
        return std::nullopt;
      }
      return WithYear(i + 2, DaySpec{x.cardinal, w_[i + 1].month, 0, {}});
    }
    const bool the = Is(i, "the") && Joined(i);
    auto o = OrdinalAt(the ? i + 1 : i);
    if (!o || o->value > 31) return std::nullopt;
    const size_t m = o->next;
    // [the] <ordinal> of <month> [year] / of the / this / next / last month
    if (Is(m, "of") && Joined(m - 1) && Joined(m)) {
      if (w_[m + 1].month > 0) return WithYear(m + 2, DaySpec{o->value, w_[m + 1].month, 0, {}});
      if (IsAny(m + 1, {"the", "this", "next", "last"}) && Joined(m + 1) && Is(m + 2, "month")) {
        DaySpec s{o->value, 0, 0, {}};
        if (!Is(m + 1, "the")) s.month_offset = Is(m + 1, "next") ? 1 : Is(m + 1, "last") ? -1 : 0;
        return std::pair{m + 3, s};
      }
      if (o->value == 1 && IsAny(m + 1, {"the", "this", "next", "last"}) && Joined(m + 1) &&
          Is(m + 2, "year")) {  // "as of the first of the year"
        return Is(m + 1, "the") ? std::pair{m + 3, DaySpec{1, 1, 0, {}}}
                                : WithYear(m, DaySpec{1, 1, 0, {}});
      }
      return std::nullopt;  // "the first of all", "the fifth of the series"
    }
    if (!the) return std::nullopt;
    // The <ordinal> alone: only where a date stands (relative_dates.h).
    if (o->weak && !after_weekday && !AfterDatePreposition(i)) return std::nullopt;
    if (!CanFollowDate(m)) {
      return std::nullopt;
    }
    return std::pair{m, DaySpec{o->value, 0, 0, {}}};
  }

  // "on the", "by the", "until the"..., or "and the" / "or the" right after a date.
  bool AfterDatePreposition(size_t the) const {
    if (the == 0 || w_[the - 1].gap_after != Gap::kSpace) return false;
    if (IsAny(the - 1, {"on", "by", "until", "till", "til", "before", "after", "since", "from",
                        "for", "starting", "through", "thru", "to", "between", "around"})) {
      return true;
    }
    return IsAny(the - 1, {"and", "or"}) && last_end_ == the - 1;
  }

  // The year said after a date, if any: "2027", "twenty twenty-six", "of last year".
  std::pair<size_t, DaySpec> WithYear(size_t k, DaySpec s) const {
    if (k > 0 && Joined(k - 1) && Is(k, "of") && Joined(k) &&
        IsAny(k + 1, {"last", "next", "this"}) && Joined(k + 1) && Is(k + 2, "year")) {
      const int offset = Is(k + 1, "next") ? 1 : Is(k + 1, "last") ? -1 : 0;
      s.year = static_cast<int>(chr::year_month_day{today_}.year()) + offset;
      return {k + 3, s};
    }
    if (k > 0 && JoinedOrComma(k - 1)) {
      if (auto y = YearAt(k)) {
        s.year = y->first;
        return {y->second, s};
      }
    }
    return {k, s};
  }

  const std::vector<Word>& w_;
  const Day today_;
  std::vector<Tense> tense_before_;            // nearest tense word before position i
  std::vector<Tense> tense_from_;              // nearest tense word at or after position i
  size_t last_end_ = static_cast<size_t>(-1);  // end word of the previous date found
  Day last_first_;                             // and its first day
};

bool InPrintableYears(Day d) {
  const int y = static_cast<int>(chr::year_month_day{d}.year());
  return y >= 1 && y <= 9999;
}

}  // namespace

std::string DateLabel(const DateExpression& date) {
  char buf[32];
  auto day = [&](const chr::year_month_day& d) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                  static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
    return std::string(buf);
  };
  switch (date.granularity) {
    case DateGranularity::kDay:
      return day(date.first);
    case DateGranularity::kWeek:
    case DateGranularity::kWeekend:
      return day(date.first) + " to " + day(date.last);
    case DateGranularity::kMonth:
      std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(date.first.year()),
                    static_cast<unsigned>(date.first.month()));
      return buf;
    case DateGranularity::kYear:
      std::snprintf(buf, sizeof buf, "%04d", static_cast<int>(date.first.year()));
      return buf;
  }
  return day(date.first);
}

std::vector<DateExpression> FindRelativeDates(std::string_view sentence,
                                              int64_t call_start_unix_secs,
                                              int utc_offset_minutes) {
  const int offset = std::clamp(utc_offset_minutes, -kMaxOffsetMinutes, kMaxOffsetMinutes);
  if (call_start_unix_secs < kFirstCallSecond || call_start_unix_secs > kLastCallSecond) {
    return {};
  }
  const Day today = chr::floor<chr::days>(
      chr::sys_seconds{chr::seconds{call_start_unix_secs + int64_t{offset} * 60}});
  if (!InPrintableYears(today)) return {};

  std::string lower;
  const std::vector<Word> words = date_words::SplitWords(sentence, lower);
  std::vector<DateExpression> out;
  for (const auto& [begin, f] : Scanner(words, today).Scan()) {
    if (!InPrintableYears(f.range.first) || !InPrintableYears(f.range.last)) continue;
    DateExpression e;
    e.begin = words[begin].begin;
    e.end = words[f.end_word - 1].end;
    e.first = chr::year_month_day{f.range.first};
    e.last = chr::year_month_day{f.range.last};
    e.granularity = f.range.granularity;
    out.push_back(e);
  }
  return out;
}

std::string AnnotateRelativeDates(std::string_view sentence, int64_t call_start_unix_secs,
                                  int utc_offset_minutes) {
  std::string out;
  out.reserve(sentence.size() + 32);
  size_t pos = 0;
  for (const DateExpression& e :
       FindRelativeDates(sentence, call_start_unix_secs, utc_offset_minutes)) {
    out.append(sentence.substr(pos, e.end - pos));
    pos = e.end;
    size_t k = e.end;
    while (k < sentence.size() && sentence[k] == ' ') ++k;
    const bool annotated = k + 1 < sentence.size() && sentence[k] == '(' &&
                           sentence[k + 1] >= '0' && sentence[k + 1] <= '9';
    if (!annotated) out += " (" + DateLabel(e) + ")";
  }
  out.append(sentence.substr(pos));
  return out;
}

}  // namespace engram::memory
