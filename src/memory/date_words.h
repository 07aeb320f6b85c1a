// The words of a sentence as relative_dates.cc reads them: split once, lower-
// cased, each classified (weekday, month, number, ordinal, tense word) so that
// the date patterns compare small integers instead of strings. Internal to
// relative_dates.cc; exposed in a header only to keep each file small.
#pragma once

#include <cstddef>
#include <cstdint>
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
};

// Splits `sentence` into words: runs of ASCII letters and digits and bytes >=
// 0x80, joined by an apostrophe or hyphen between two such characters, and by
// '/', '.' or ':' between two digits (so "2026-12-11", "12/11" and "10:30" stay
// one word and are never read as a number). Everything else separates words.
// `lower` receives the lower-cased sentence that the words' text points into;
// it must outlive them.
std::vector<Word> SplitWords(std::string_view sentence, std::string& lower);

// Does `w` end with `suffix` after an apostrophe (ASCII ' or U+2019)? "i'll"
// and "i’ll" both end with "ll".
bool EndsWithApostrophe(std::string_view w, std::string_view suffix);

}  // namespace engram::memory::date_words
