// FindRelativeDates / AnnotateRelativeDates: dates said in a call resolved
// against the call's start, by the conventions in relative_dates.h. Most
// cases are said on Wednesday 2026-12-02 (ISO week 49: Mon 11-30 .. Sun 12-06).
#include "memory/relative_dates.h"

#include <gtest/gtest.h>

#include "relative_dates_test_support.h"

namespace engram::memory {
namespace {

using testing_dates::DatesIn;
using testing_dates::Utc;

const int64_t kWed = Utc(2026, 12, 2);  // Wednesday, 15:00 UTC

struct Case {
  const char* sentence;
  const char* dates;  // "words=label; ..." as DatesIn prints them
};

void ExpectAll(const std::vector<Case>& cases, int64_t call) {
  for (const Case& c : cases) EXPECT_EQ(DatesIn(c.sentence, call), c.dates) << c.sentence;
}

TEST(RelativeDates, DaysNamedRelativeToToday) {
  ExpectAll({{"I can do today", "today=2026-12-02"},
             {"we'll call you tonight", "tonight=2026-12-02"},
             {"tomorrow works for me", "tomorrow=2026-12-03"},
             {"Tomorrow's appointment is fine", "Tomorrow's=2026-12-03"},
             {"it stopped working yesterday", "yesterday=2026-12-01"},
             {"can you come the day after tomorrow", "the day after tomorrow=2026-12-04"},
             {"day after tomorrow then", "day after tomorrow=2026-12-04"},
             {"it broke the day before yesterday", "the day before yesterday=2026-11-30"},
             {"it leaked last night", "last night=2026-12-01"},
             {"I rang this morning", "this morning=2026-12-02"}},
            kWed);
}

TEST(RelativeDates, WeekdaysByTheirModifier) {
  ExpectAll(
      {// next: that weekday in next week (the common American reading)
       {"I'm flying out next Friday", "next Friday=2026-12-11"},
       {"next Monday", "next Monday=2026-12-07"},
       {"next Wednesday", "next Wednesday=2026-12-09"},
       {"next Sunday", "next Sunday=2026-12-13"},
       // last: that weekday in the previous week
       {"last Friday", "last Friday=2026-11-27"},
       {"last Monday", "last Monday=2026-11-23"},
       {"last Wednesday", "last Wednesday=2026-11-25"},
       {"last Sunday", "last Sunday=2026-11-29"},
       // bare, on, this, coming: the coming one, never today
       {"see you on Friday", "Friday=2026-12-04"},
       {"Friday is good", "Friday=2026-12-04"},
       {"this Friday works", "this Friday=2026-12-04"},
       {"the coming Friday", "coming Friday=2026-12-04"},
       {"this coming Monday", "this coming Monday=2026-12-07"},
       {"come by Wednesday", "Wednesday=2026-12-09"},
       {"Thursday then", "Thursday=2026-12-03"},
       // past, this past: the previous one
       {"this past Monday", "this past Monday=2026-11-30"},
       {"past Friday", "past Friday=2026-11-27"},
       // <weekday> [of] next / last / this week: that weekday in that week
       {"Tuesday next week", "Tuesday next week=2026-12-08"},
       {"on Friday of last week", "Friday of last week=2026-11-27"},
       {"Monday this week", "Monday this week=2026-11-30"}},
      kWed);
}

// Every weekday relation said on every day of a week: next is in the next ISO
// week, last in the previous one, bare 1..7 days ahead, past tense 1..7 back.
TEST(RelativeDates, EachWeekdayRelationOnEachDayOfTheWeek) {
  namespace chr = std::chrono;
  const char* names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                         "Friday", "Saturday", "Sunday"};
  const chr::sys_days monday = chr::sys_days{chr::year{2026} / 11 / 30};
  for (int today_index = 0; today_index < 7; ++today_index) {
    const chr::sys_days today = monday + chr::days{today_index};
    const chr::year_month_day ymd{today};
    const int64_t call = Utc(static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                             static_cast<unsigned>(ymd.day()));
    for (int x = 0; x < 7; ++x) {
      const std::string name = names[x];
      auto day_of = [&](const std::string& sentence) {
        auto found = FindRelativeDates(sentence, call);
        EXPECT_EQ(found.size(), 1u) << sentence << " on day " << today_index;
        return found.empty() ? chr::sys_days{} : chr::sys_days{found[0].first};
      };
      const std::string on = "on day " + std::to_string(today_index) + ": ";
      EXPECT_EQ(day_of("next " + name), monday + chr::days{7 + x}) << on << name;
      EXPECT_EQ(day_of("last " + name), monday - chr::days{7 - x}) << on << name;
      for (const std::string ahead : {"I'll come on ", "this ", "this coming ", "coming "}) {
        const auto delta = (day_of(ahead + name) - today).count();
        EXPECT_TRUE(delta >= 1 && delta <= 7) << on << ahead << name << " -> " << delta;
        EXPECT_EQ(chr::weekday{day_of(ahead + name)}.iso_encoding(), unsigned(x + 1));
      }
      for (const std::string back : {"I called on ", "this past ", "it was "}) {
        const auto delta = (today - day_of(back + name)).count();
        EXPECT_TRUE(delta >= 1 && delta <= 7) << on << back << name << " -> " << delta;
        EXPECT_EQ(chr::weekday{day_of(back + name)}.iso_encoding(), unsigned(x + 1));
      }
    }
  }
}

TEST(RelativeDates, WeeksWeekendsMonthsYearsAreRanges) {
  ExpectAll({{"next week", "next week=2026-12-07 to 2026-12-13"},
             {"I was away last week", "last week=2026-11-23 to 2026-11-29"},
             {"sometime this week", "this week=2026-11-30 to 2026-12-06"},
             {"the week after next", "the week after next=2026-12-14 to 2026-12-20"},
             {"this weekend", "this weekend=2026-12-05 to 2026-12-06"},
             {"next weekend", "next weekend=2026-12-12 to 2026-12-13"},
             {"last weekend", "last weekend=2026-11-28 to 2026-11-29"},
             {"over the weekend", "the weekend=2026-12-05 to 2026-12-06"},
             {"it happened over the weekend", "the weekend=2026-11-28 to 2026-11-29"},
             {"next month", "next month=2027-01"},
             {"last month", "last month=2026-11"},
             {"this month", "this month=2026-12"},
             {"next year", "next year=2027"},
             {"last year", "last year=2025"},
             {"this year", "this year=2026"}},
            kWed);
}

TEST(RelativeDates, RangesAcrossTheYearsEnd) {
  ExpectAll({{"next week", "next week=2027-01-04 to 2027-01-10"},
             {"this week", "this week=2026-12-28 to 2027-01-03"},
             {"next month", "next month=2027-01"},
             {"next Friday", "next Friday=2027-01-08"},
             {"Friday", "Friday=2027-01-01"}},
            Utc(2026, 12, 28));  // a Monday
  ExpectAll({{"last week", "last week=2026-12-21 to 2026-12-27"},
             {"last month", "last month=2026-12"},
             {"yesterday", "yesterday=2026-12-31"},
             {"last year", "last year=2026"},
             {"last Thursday", "last Thursday=2026-12-24"}},
            Utc(2027, 1, 1));  // a Friday in ISO week 53 of 2026
}

TEST(RelativeDates, CountedSpansInDigitsAndWords) {
  ExpectAll({{"in two weeks", "in two weeks=2026-12-16"},
             {"in a couple of days", "in a couple of days=2026-12-04"},
             {"in a couple days", "in a couple days=2026-12-04"},
             {"in 3 days", "in 3 days=2026-12-05"},
             {"in twenty one days", "in twenty one days=2026-12-23"},
             {"in twenty-one days", "in twenty-one days=2026-12-23"},
             {"in a week", "in a week=2026-12-09"},
             {"in a fortnight", "in a fortnight=2026-12-16"},
             {"in ten days' time", "in ten days=2026-12-12"},
             {"in two weeks time", "in two weeks time=2026-12-16"},
             {"in a month", "in a month=2027-01-02"},
             {"in two years", "in two years=2028-12-02"},
             {"two weeks ago", "two weeks ago=2026-11-18"},
             {"a couple of weeks ago", "a couple of weeks ago=2026-11-18"},
             {"3 months ago", "3 months ago=2026-09-02"},
             {"a year ago", "a year ago=2025-12-02"},
             {"three days from now", "three days from now=2026-12-05"},
             {"a week from today", "a week from today=2026-12-09"},
             {"two days from tomorrow", "two days from tomorrow=2026-12-05"},
             {"a week from Friday", "a week from Friday=2026-12-11"},
             {"in about six weeks", "in about six weeks=2027-01-13"},
             {"in another two days", "in another two days=2026-12-04"},
             {"we moved in two years ago", "two years ago=2024-12-02"}},
            kWed);
}

TEST(RelativeDates, MonthArithmeticClampsToTheMonthsEnd) {
  EXPECT_EQ(DatesIn("in a month", Utc(2027, 1, 31)), "in a month=2027-02-28");
  EXPECT_EQ(DatesIn("in a month", Utc(2028, 1, 31)), "in a month=2028-02-29");
  EXPECT_EQ(DatesIn("in a year", Utc(2028, 2, 29)), "in a year=2029-02-28");
  EXPECT_EQ(DatesIn("a month ago", Utc(2027, 3, 31)), "a month ago=2027-02-28");
}

TEST(RelativeDates, DayOfTheMonthAloneIsTheNextOrTheLastOne) {
  ExpectAll({{"the thirteenth", "the thirteenth=2026-12-13"},
             {"can we do the 13th?", "the 13th=2026-12-13"},
             {"on the 3rd at ten", "the 3rd=2026-12-03"},
             {"on the second", "the second=2026-12-02"},  // today is the 2nd
             {"by the first", "the first=2027-01-01"},
             {"the twenty-first works", "the twenty-first=2026-12-21"},
             {"until the twenty first", "the twenty first=2026-12-21"},
             {"I paid on the first", "the first=2026-12-01"},
             {"it was due on the 30th", "the 30th=2026-11-30"},
             {"it was the 31st", "the 31st=2026-10-31"},
             {"the fifth of next month", "the fifth of next month=2027-01-05"},
             {"the 5th of last month", "the 5th of last month=2026-11-05"},
             {"on the first of the month", "the first of the month=2027-01-01"},
             {"on the first or the second", "the first=2027-01-01; the second=2026-12-02"}},
            kWed);
  // Months without that day are skipped; the 29th of February counts in leap years only.
  EXPECT_EQ(DatesIn("the 31st", Utc(2026, 11, 15)), "the 31st=2026-12-31");
  EXPECT_EQ(DatesIn("the 29th", Utc(2027, 2, 10)), "the 29th=2027-03-29");
  EXPECT_EQ(DatesIn("the 29th", Utc(2028, 2, 10)), "the 29th=2028-02-29");
  EXPECT_EQ(DatesIn("the 1st", Utc(2026, 12, 31)), "the 1st=2027-01-01");
}

TEST(RelativeDates, MonthAndDaySpokenOrWrittenWithOrWithoutAYear) {
  ExpectAll({{"March third", "March third=2027-03-03"},
             {"the fifth of June", "the fifth of June=2027-06-05"},
             {"fifth of June", "fifth of June=2027-06-05"},
             {"June the fifth", "June the fifth=2027-06-05"},
             {"June 5th 2027", "June 5th 2027=2027-06-05"},
             {"on March 3, 2025", "March 3, 2025=2025-03-03"},
             {"march third twenty twenty seven", "march third twenty twenty seven=2027-03-03"},
             {"may twenty-first, two thousand and thirty",
              "may twenty-first, two thousand and thirty=2030-05-21"},
             {"3 March", "3 March=2027-03-03"},
             {"Dec 11", "Dec 11=2026-12-11"},
             {"December 2nd", "December 2nd=2026-12-02"},
             {"December 1st", "December 1st=2027-12-01"},
             {"I moved in on March third", "March third=2026-03-03"},
             {"it was December 1st", "December 1st=2026-12-01"},
             {"February 29th", "February 29th=2028-02-29"},
             {"the 4th of July", "the 4th of July=2027-07-04"}},
            kWed);
  EXPECT_EQ(DatesIn("January third", Utc(2026, 12, 31)), "January third=2027-01-03");
  EXPECT_EQ(DatesIn("February 30th", kWed), "");  // no such day
}

TEST(RelativeDates, WeekdayBeforeADateJoinsIt) {
  ExpectAll({{"Friday the 11th", "Friday the 11th=2026-12-11"},
             {"on Friday, December 11th", "Friday, December 11th=2026-12-11"},
             {"next Friday the 11th", "next Friday the 11th=2026-12-11"},
             // The 11th of January is a Monday: the weekday picks it over December's.
             {"Monday the 11th", "Monday the 11th=2027-01-11"}},
            kWed);
}

TEST(RelativeDates, AWeekdayRangeEndsAfterItsStart) {
  ExpectAll({{"we're closed Monday through Wednesday", "Monday=2026-12-07; Wednesday=2026-12-09"},
             {"from Thursday to Tuesday", "Thursday=2026-12-03; Tuesday=2026-12-08"},
             {"I was out Monday to Wednesday", "Monday=2026-11-30; Wednesday=2026-12-02"}},
            kWed);
}

TEST(RelativeDates, MonthsAloneAfterAPrepositionOrWithAYear) {
  ExpectAll({{"in March", "March=2027-03"},
             {"in December", "December=2026-12"},
             {"since June", "June=2026-06"},
             {"it was fixed in October", "October=2026-10"},
             {"next March", "next March=2027-03"},
             {"next December", "next December=2027-12"},
             {"last May", "last May=2026-05"},
             {"last December", "last December=2025-12"},
             {"March 2027", "March 2027=2027-03"},
             {"in May of last year", "May of last year=2025-05"},
             {"in June and July", "June=2027-06; July=2027-07"},
             {"from June to August", "June=2027-06; August=2027-08"},
             {"March 3rd of next year", "March 3rd of next year=2027-03-03"},
             {"as of the first of the year", "the first of the year=2027-01-01"},
             {"it changed on the first of this year", "the first of this year=2026-01-01"}},
            kWed);
}

TEST(RelativeDates, EndsAndBeginningsAreOneDay) {
  ExpectAll({{"by the end of the month", "end of the month=2026-12-31"},
             {"end of next month", "end of next month=2027-01-31"},
             {"end of the week", "end of the week=2026-12-04"},
             {"end of next week", "end of next week=2026-12-11"},
             {"start of next week", "start of next week=2026-12-07"},
             {"beginning of next month", "beginning of next month=2027-01-01"},
             {"end of the year", "end of the year=2026-12-31"},
             {"end of February", "end of February=2027-02-28"},
             {"at the end of last month", "end of last month=2026-11-30"},
             {"beginning of last year", "beginning of last year=2025-01-01"}},
            kWed);
  EXPECT_EQ(DatesIn("end of the month", Utc(2028, 2, 10)), "end of the month=2028-02-29");
}

TEST(RelativeDates, TenseChoosesTheDirectionOfBareDates) {
  ExpectAll({{"I called on Friday", "Friday=2026-11-27"},
             {"I'll call on Friday", "Friday=2026-12-04"},
             {"the appointment is on Thursday", "Thursday=2026-12-03"},
             {"the appointment was on Thursday", "Thursday=2026-11-26"},
             {"I was told the technician will come Friday", "Friday=2026-12-04"},
             {"I booked it for Friday", "Friday=2026-12-04"},  // "for": ahead
             {"it's been broken since Monday", "Monday=2026-11-30"},
             {"I'm scheduled on Monday", "Monday=2026-12-07"},
             {"Friday I called them", "Friday=2026-11-27"},  // the tense word after
             {"we did it on the 13th", "the 13th=2026-11-13"},
             {"they didn't show up Tuesday", "Tuesday=2026-12-01"},
             {"I've got the ninth", "the ninth=2026-12-09"}},
            kWed);
}

TEST(RelativeDates, SpokenTranscriptsWithFillersAndCapitals) {
  ExpectAll({{"um, so, uh, NEXT FRIDAY works, I think", "NEXT FRIDAY=2026-12-11"},
             {"Yeah the, uh, the thirteenth is good", "the thirteenth=2026-12-13"},
             {"in, like, two weeks", ""},  // a filler inside: not said as one phrase
             {"it’s Friday’s delivery", "Friday’s=2026-12-04"},
             {"I’ll come on the fifth", "the fifth=2026-12-05"}},
            kWed);
}

TEST(RelativeDates, LocalOffsetMovesTheCallsDay) {
  const int64_t late_evening_in_new_york = Utc(2026, 12, 3, 2);  // 21:00 on the 2nd, UTC-5
  EXPECT_EQ(DatesIn("tomorrow", late_evening_in_new_york), "tomorrow=2026-12-04");
  EXPECT_EQ(DatesIn("tomorrow", late_evening_in_new_york, -300), "tomorrow=2026-12-03");
  EXPECT_EQ(DatesIn("today", Utc(2026, 12, 2, 23), 120), "today=2026-12-03");
  // Offsets past ±18 hours are clamped to it, not wrapped or refused.
  EXPECT_EQ(DatesIn("today", Utc(2026, 12, 2, 0), -100000), "today=2026-12-01");
}

TEST(RelativeDates, AnnotationPutsTheDateBesideTheWords) {
  EXPECT_EQ(AnnotateRelativeDates("I'm flying out next Friday", kWed),
            "I'm flying out next Friday (2026-12-11)");
  EXPECT_EQ(AnnotateRelativeDates("I was away last week, back next month.", kWed),
            "I was away last week (2026-11-23 to 2026-11-29), back next month (2027-01).");
  EXPECT_EQ(AnnotateRelativeDates("Last year I paid on the 3rd.", kWed),
            "Last year (2025) I paid on the 3rd (2026-11-03).");
  EXPECT_EQ(AnnotateRelativeDates("no dates here", kWed), "no dates here");
  EXPECT_EQ(AnnotateRelativeDates("", kWed), "");
}

TEST(RelativeDates, AnnotatingTwiceChangesNothing) {
  for (const char* s : {"I'm flying out next Friday", "next week and the week after next",
                        "on the first or the second", "last year, in March, on Friday the 11th",
                        // An inserted label once changed the next word's context
                        // ("first Friday" is no date; "(2027-06-01) Friday" was).
                        "it was June first friday thirteenth"}) {
    const std::string once = AnnotateRelativeDates(s, kWed);
    EXPECT_NE(once, s);
    EXPECT_EQ(AnnotateRelativeDates(once, kWed), once) << s;
    EXPECT_EQ(FindRelativeDates(once, kWed).size(), FindRelativeDates(s, kWed).size()) << s;
  }
}

TEST(RelativeDates, WrittenDatesAreLeftAsTheyAre) {
  ExpectAll({{"the visit is on 2026-12-11", ""},
             {"booked for 12/11/2026 at 10:30", ""},
             {"ref 2026-12-11T10:00", ""}},
            kWed);
  EXPECT_EQ(AnnotateRelativeDates("on 2026-12-11, not tomorrow", kWed),
            "on 2026-12-11, not tomorrow (2026-12-03)");
}

}  // namespace
}  // namespace engram::memory
