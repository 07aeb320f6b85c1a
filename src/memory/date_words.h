// The words of a sentence as relative_dates.cc reads them: split once, lower-
// cased, each classified (weekday, month, number, ordinal, tense word) so that
// the date patterns compare small integers instead of strings. Internal to
// relative_dates.cc; exposed in a header only to keep each file small.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace engram::memory::date_words {

// What stands between a word and the next one.
enum class Gap : uint8_t { kSpace, kComma, kOther };  // kOther also after the last word

// Whether a word marks the past tense, the present or future, or neither.
enum class Tense : int8_t { kPast = -1, kNone = 0, kNotPast = 1 };

struct Word {
  size_t begin = 0;  // bytes in the sentence; `end` includes a possessive 's
  size_t end = 0;
  std::string_view text;  // lower-case, possessive 's stripped ("friday's" -> "friday")
  Gap gap_after = Gap::kOther;
  int8_t weekday = -1;         // 0 = Monday .. 6 = Sunday; singular full names only
  int8_t month = 0;            // 1..12; full names, or abbreviations when month_abbrev
  bool month_abbrev = false;   // "dec", "sept": a month only right before a day
  int8_t ordinal = 0;          // "3rd", "third", "twenty-first": 1..99
  int8_t tens = 0;             // "twenty".."ninety": 20..90 (may start a compound)
  int32_t cardinal = -1;       // "12", "twelve", "twenty-six": 0..999999
  Tense tense = Tense::kNone;  // see relative_dates.h, "Tense"
  // The word can begin a date expression (a date word, a number, or one of
  // "the", "in", "next", "end"...). The scan skips the others, most words.
  bool may_start = false;
};

// Splits `sentence` into words: runs of ASCII letters and digits and bytes >=
// 0x80, joined by an apostrophe or hyphen between two such characters, and by
// '/', '.' or ':' between two digits (so "2026-12-11", "12/11" and "10:30" stay
// one word and are never read as a number). Everything else separates words,
// except the labels AnnotateRelativeDates inserts ("(2026-12-11)"), which are
// skipped as if they were not there.
// `lower` receives the lower-cased sentence that the words' text points into;
// it must outlive them.
std::vector<Word> SplitWords(std::string_view sentence, std::string& lower);

// Does `w` end with `suffix` after an apostrophe (ASCII ' or U+2019)? "i'll"
// and "i’ll" both end with "ll".
bool EndsWithApostrophe(std::string_view w, std::string_view suffix);

// Reads phrases from a sentence's words. Every index may be at or past the
// end: a word that is not there matches nothing. Holds a reference to the
// words, which must outlive it.
class WordReader {
 public:
  explicit WordReader(const std::vector<Word>& words) : words_(words) {}

  bool Is(size_t i, std::string_view s) const;
  bool IsAny(size_t i, std::initializer_list<std::string_view> set) const;
  // Word i is followed by word i + 1 with only spaces between.
  bool Joined(size_t i) const;
  // ... with spaces or commas between ("Friday, December 11th").
  bool JoinedOrComma(size_t i) const;
  // A phrase that ends before word i ends there: nothing, or punctuation,
  // follows word i - 1. REQUIRES: i > 0.
  bool EndsAt(size_t i) const;

  // Word m can follow a date: the end, punctuation, or a word that goes on
  // after one ("the fifth at noon", "the 13th works") rather than a noun the
  // ordinal ranks ("the second option", "the fifteenth floor").
  bool CanFollowDate(size_t m) const;

  // A count at word k: "2", "two", "twenty one", "twenty-one", "a", "an", "a
  // couple (of)": {value, the word after it}. Only when a word follows.
  std::optional<std::pair<int, size_t>> Count(size_t k) const;

  // A day's ordinal at word k: "13th", "thirteenth", "twenty first". Weak: the
  // words "first" to "fifth", which more often rank things than name days.
  struct Ordinal {
    int value;
    size_t next;
    bool weak;
  };
  std::optional<Ordinal> OrdinalAt(size_t k) const;

  // A year at word k: "2027" (1900..2199), "twenty twenty seven", "twenty
  // twenty-six", "nineteen ninety nine", "two thousand and five".
  std::optional<std::pair<int, size_t>> YearAt(size_t k) const;

 private:
  std::pair<int, size_t> Couple(size_t k) const;

  const std::vector<Word>& words_;
};

}  // namespace engram::memory::date_words
