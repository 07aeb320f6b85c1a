// FindRelativeDates on what is no date ("the second option", "may I", "Sunday
// school") and on hostile input: huge sentences, control characters, bytes
// that are no UTF-8, call times at the ends of the calendar.
#include <gtest/gtest.h>

#include <climits>
#include <random>

#include "memory/relative_dates.h"
#include "relative_dates_test_support.h"

namespace engram::memory {
namespace {

using testing_dates::DatesIn;
using testing_dates::Utc;

const int64_t kWed = Utc(2026, 12, 2);

TEST(RelativeDatesLimits, WordsThatAreNoDates) {
  for (const char* s : {"I'll take the second option",
                        "we use a third party for that",
                        "that's the third one",
                        "it's my first time calling",
                        "that was the first thing I checked",
                        "wait a second",
                        "give me a second",
                        "he came in second",
                        "first of all, thanks",
                        "the 21st century",
                        "the 45th caller",
                        "on the 45th",
                        "the thirty-second floor",
                        "it's the fifteenth floor",
                        "May I ask who's calling?",
                        "you may first want to restart it",
                        "this may take a while",
                        "we march on",
                        "March is a busy month",
                        "my kids go to Sunday school",
                        "we're open on Fridays",
                        "every Friday",
                        "every other Monday",
                        "a Friday would be best",
                        "Good Friday",
                        "the Friday before",
                        "next time, call me",
                        "the next day",
                        "the last week of June",
                        "in the last year",
                        "the next month or so",
                        "in the past week",
                        "at the end of the day it's fine",
                        "in three hours",
                        "I'll do it in a minute",
                        "once a week from now on",
                        "I live at 13 Main Street",
                        "in 2027 we expand",
                        "I was born in 1990",
                        "I got a call from June about the bill",
                        "12/11/2026",
                        "the visit is on 2026-12-11"}) {
    EXPECT_EQ(DatesIn(s, kWed), "") << s;
  }
}

TEST(RelativeDatesLimits, CountsBeyondACenturyAreNotDates) {
  EXPECT_EQ(DatesIn("in 36600 days", kWed), "in 36600 days=2127-02-16");
  EXPECT_EQ(DatesIn("in 36601 days", kWed), "");
  EXPECT_EQ(DatesIn("in 999999 months", kWed), "");
  EXPECT_EQ(DatesIn("999999 years ago", kWed), "");
  EXPECT_EQ(DatesIn("in 1234567 days", kWed), "");  // more digits than a count has
}

TEST(RelativeDatesLimits, CallTimesAtTheCalendarsEnds) {
  const int64_t last_day = Utc(9999, 12, 31, 12);
  EXPECT_EQ(DatesIn("today or tomorrow", last_day), "today=9999-12-31");
  const int64_t first_day = Utc(1, 1, 1, 12);
  EXPECT_EQ(DatesIn("yesterday or today", first_day), "today=0001-01-01");
  EXPECT_EQ(DatesIn("today", Utc(1969, 12, 31, 23)), "today=1969-12-31");  // before 1970
  for (int64_t t : {INT64_MIN, INT64_MAX, int64_t{-62135596801}, int64_t{253402300800}}) {
    EXPECT_TRUE(FindRelativeDates("today", t).empty()) << t;
    EXPECT_EQ(AnnotateRelativeDates("today", t), "today") << t;
  }
  for (int offset : {INT_MIN, INT_MAX}) {
    EXPECT_EQ(FindRelativeDates("today", kWed, offset).size(), 1u) << offset;
  }
}

TEST(RelativeDatesLimits, ControlCharactersAndForeignBytesSeparateWords) {
  const std::string nul_between("tomorrow\0the 13th", 17);
  EXPECT_EQ(DatesIn(nul_between, kWed), "tomorrow=2026-12-03; the 13th=2026-12-13");
  EXPECT_EQ(DatesIn("\x01\x02next\tFriday\x7f", kWed), "next\tFriday=2026-12-11");
  EXPECT_EQ(DatesIn("\xff\xfe next Friday \xc3", kWed), "next Friday=2026-12-11");
  EXPECT_EQ(DatesIn("next\xff"
                    "Friday",
                    kWed),
            "");  // one word: not a date
  EXPECT_EQ(DatesIn("next\nFriday", kWed), "next\nFriday=2026-12-11");
  EXPECT_EQ(DatesIn("caf\xc3\xa9 tomorrow", kWed), "tomorrow=2026-12-03");
}

// Spans lie inside the sentence, in order, without overlap; dates are real
// days with first <= last; annotating twice equals annotating once.
void ExpectWellFormed(const std::string& s, int64_t call) {
  const auto found = FindRelativeDates(s, call);
  size_t previous_end = 0;
  for (const DateExpression& e : found) {
    ASSERT_LT(e.begin, e.end);
    ASSERT_LE(e.end, s.size());
    ASSERT_GE(e.begin, previous_end);
    previous_end = e.end;
    ASSERT_TRUE(e.first.ok() && e.last.ok());
    ASSERT_LE(std::chrono::sys_days{e.first}, std::chrono::sys_days{e.last});
    if (e.granularity == DateGranularity::kDay) {
      ASSERT_EQ(e.first, e.last);
    }
  }
  const std::string once = AnnotateRelativeDates(s, call);
  ASSERT_EQ(AnnotateRelativeDates(once, call), once);
}

TEST(RelativeDatesLimits, RandomBytesAndRandomDateWordsStayWellFormed) {
  std::mt19937 rng(20261202);  // fixed: the test is the same on every run
  // clang-format off
  const char* vocabulary[] = {
      "next", "last", "this", "coming", "past", "the", "on", "of", "in", "a", "an", "couple",
      "ago", "from", "now", "day", "days", "week", "weekend", "month", "months", "year", "years",
      "fortnight", "friday", "Monday", "sunday", "march", "may", "june", "dec", "first", "second",
      "thirteenth", "twenty", "twenty-first", "thirty", "nineteen", "ninety", "one", "nine",
      "13th", "45th", "3", "31", "2027", "99999999", "two", "thousand", "and", "or", "to",
      "through", "end", "start", "beginning", "tomorrow", "yesterday", "tonight", "today",
      "night", "morning", "after", "before", "about", "another", "time", "was", "will",
      "called", "I'll", "I've", "got", "for", "since", "every", "school", "(2026-12-11)",
      "(2025)", "\xe2\x80\x99s", "'s", "\xff", "-"};
  const char* separators[] = {" ", " ", " ", " ", ", ", ". ", "-", "/", "\t", "\x01", "'",
                              "\xe2\x80\x99", "\xff", ""};
  // clang-format on
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    const int words = static_cast<int>(rng() % 24);
    for (int i = 0; i < words; ++i) {
      s += vocabulary[rng() % std::size(vocabulary)];
      s += separators[rng() % std::size(separators)];
    }
    const int64_t call = Utc(1999 + static_cast<int>(rng() % 40), 1 + rng() % 12, 1 + rng() % 28);
    ExpectWellFormed(s, call);
  }
  for (int round = 0; round < 100; ++round) {
    std::string s(rng() % 2000, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    ExpectWellFormed(s, kWed);
  }
}

// Not timed: a sentence of a few megabytes built to defeat a scan that looks
// back or ahead without bound. A quadratic scan would not finish within the
// test's timeout; this one takes a fraction of a second.
TEST(RelativeDatesLimits, HugeSentencesAreReadInOnePass) {
  std::string many_dates;
  for (int i = 0; i < 100000; ++i) many_dates += "next Friday and the 13th, ";
  EXPECT_EQ(FindRelativeDates(many_dates, kWed).size(), 200000u);

  std::string no_dates;
  for (int i = 0; i < 200000; ++i) no_dates += "the the on the of in a couple ";
  EXPECT_TRUE(FindRelativeDates(no_dates, kWed).empty());

  // Tense words only at the far end: every Friday must still see it.
  std::string far_tense;
  for (int i = 0; i < 100000; ++i) far_tense += "Friday ";
  far_tense += "was";
  const auto found = FindRelativeDates(far_tense, kWed);
  ASSERT_EQ(found.size(), 100000u);
  EXPECT_EQ(DateLabel(found.front()), "2026-11-27");

  const std::string one_word(4 << 20, 'x');
  EXPECT_TRUE(FindRelativeDates(one_word, kWed).empty());
}

}  // namespace
}  // namespace engram::memory
