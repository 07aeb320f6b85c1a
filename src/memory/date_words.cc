#include "memory/date_words.h"

#include <algorithm>
#include <initializer_list>
#include <unordered_map>

namespace engram::memory::date_words {
namespace {

// What a known word is, before context. One hash lookup per word keeps the
// split linear with a small constant: it runs on every sentence of every call.
struct Lexeme {
  int8_t weekday = -1;
  int8_t month = 0;
  bool month_abbrev = false;
  int8_t ordinal = 0;
  int8_t tens = 0;
  int32_t cardinal = -1;
  Tense tense = Tense::kNone;
  bool starts = false;  // begins a date phrase without being a date word ("the", "in")
};

using Lexicon = std::unordered_map<std::string_view, Lexeme>;

Lexicon BuildLexicon() {
  Lexicon lex;
  const char* weekdays[] = {"monday", "tuesday",  "wednesday", "thursday",
                            "friday", "saturday", "sunday"};
  for (int i = 0; i < 7; ++i) lex[weekdays[i]].weekday = static_cast<int8_t>(i);
  const char* months[] = {"january", "february", "march",     "april",   "may",      "june",
                          "july",    "august",   "september", "october", "november", "december"};
  for (int i = 0; i < 12; ++i) lex[months[i]].month = static_cast<int8_t>(i + 1);
  // Written abbreviations ("Dec 11"); "may" has none. "mar", "jun" and "sept"
  // count only before a day, so "I sat in the sun" and "Jan said" stay words.
  const std::pair<const char*, int> abbrevs[] = {
      {"jan", 1}, {"feb", 2}, {"mar", 3},  {"apr", 4},  {"jun", 6},  {"jul", 7},
      {"aug", 8}, {"sep", 9}, {"sept", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}};
  for (const auto& [word, month] : abbrevs) {
    lex[word].month = static_cast<int8_t>(month);
    lex[word].month_abbrev = true;
  }
  const char* units[] = {"zero",    "one",     "two",       "three",    "four",
                         "five",    "six",     "seven",     "eight",    "nine",
                         "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                         "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
  for (int i = 0; i < 20; ++i) lex[units[i]].cardinal = i;
  const char* tens[] = {"twenty", "thirty",  "forty",  "fifty",
                        "sixty",  "seventy", "eighty", "ninety"};
  for (int i = 0; i < 8; ++i) {
    lex[tens[i]].tens = static_cast<int8_t>(20 + 10 * i);
    lex[tens[i]].cardinal = 20 + 10 * i;
  }
  const char* ordinals[] = {"",          "first",     "second",      "third",      "fourth",
                            "fifth",     "sixth",     "seventh",     "eighth",     "ninth",
                            "tenth",     "eleventh",  "twelfth",     "thirteenth", "fourteenth",
                            "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth"};
  for (int i = 1; i < 20; ++i) lex[ordinals[i]].ordinal = static_cast<int8_t>(i);
  const char* tens_ordinals[] = {"twentieth", "thirtieth",  "fortieth",  "fiftieth",
                                 "sixtieth",  "seventieth", "eightieth", "ninetieth"};
  for (int i = 0; i < 8; ++i) lex[tens_ordinals[i]].ordinal = static_cast<int8_t>(20 + 10 * i);

  // Tense words (relative_dates.h, "Tense"). A word may be a tense word and
  // something else ("last" is also a modifier); emplace keeps both.
  for (std::string_view w :
       {"was",    "wasn't", "wasnt",   "were",  "weren't",   "werent",  "did",   "didn't",
        "didnt",  "had",    "hadn't",  "ago",   "yesterday", "last",    "went",  "came",
        "said",   "told",   "got",     "saw",   "spoke",     "paid",    "sent",  "bought",
        "left",   "took",   "gave",    "made",  "heard",     "thought", "felt",  "found",
        "lost",   "broke",  "fell",    "met",   "brought",   "kept",    "began", "ran",
        "wrote",  "drove",  "flew",    "ate",   "forgot",    "sat",     "stood", "understood",
        "became", "sold",   "built",   "spent", "taught",    "caught",  "won",   "wore",
        "woke",   "rang",   "threw",   "grew",  "knew",      "slept",   "meant", "dealt",
        "led",    "fed",    "fled",    "chose", "hung",      "shook",   "stole", "froze",
        "hid",    "drank",  "forgave", "swore", "struck",    "sang",    "bit",   "overslept"}) {
    lex[w].tense = Tense::kPast;
  }
  for (std::string_view w :
       {"am",    "is",      "isn't",  "isnt",   "are",      "aren't",  "arent",    "be",
        "will",  "won't",   "wont",   "gonna",  "shall",    "would",   "wouldn't", "should",
        "can",   "can't",   "cant",   "cannot", "need",     "needs",   "want",     "wants",
        "wanna", "hope",    "hoping", "plan",   "planning", "going",   "have",     "has",
        "do",    "does",    "don't",  "dont",   "doesn't",  "next",    "tomorrow", "upcoming",
        "let's", "it's",    "that's", "he's",   "she's",    "there's", "what's",   "here's",
        "who's", "where's", "when's", "it’s",   "that’s",   "he’s",    "she’s",    "there’s",
        "let’s"}) {
    lex[w].tense = Tense::kNotPast;
  }
  // The first words of relative_dates.cc's patterns that are no date or number.
  for (std::string_view w :
       {"the", "day", "today", "tonight", "tomorrow", "yesterday", "last", "this", "next", "coming",
        "past", "end", "beginning", "start", "in", "a", "an", "couple"}) {
    lex[w].starts = true;
  }
  return lex;
}

const Lexicon& TheLexicon() {
  static const Lexicon lexicon = BuildLexicon();  // immutable after a thread-safe init
  return lexicon;
}

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsWordByte(unsigned char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}
bool IsSpace(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

bool AllAsciiLetters(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

int ParseSmallNumber(std::string_view digits) {  // REQUIRES: 1..6 digits
  int value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return value;
}

// "3rd", "13th", "21st": digits (one or two) and an ordinal suffix.
int DigitOrdinal(std::string_view w) {
  if (w.size() < 3 || w.size() > 4) return 0;
  std::string_view digits = w.substr(0, w.size() - 2);
  std::string_view suffix = w.substr(w.size() - 2);
  if (!AllDigits(digits)) return 0;
  if (suffix != "st" && suffix != "nd" && suffix != "rd" && suffix != "th") return 0;
  return ParseSmallNumber(digits);
}

// Words ending in -ed that are no past tense ("need", "hundred"), or are
// usually said of what is to come ("I'm scheduled", "supposed to").
bool IsNotPastEd(std::string_view w) {
  for (std::string_view x :
       {"need",   "speed",  "seed",    "feed",    "weed",    "deed",   "heed",     "reed",
        "bleed",  "breed",  "greed",   "proceed", "succeed", "exceed", "indeed",   "hundred",
        "bed",    "red",    "shed",    "wed",     "ted",     "ned",    "fred",     "naked",
        "wicked", "sacred", "kindred", "rugged",  "beloved", "embed",  "supposed", "scheduled"}) {
    if (w == x) return true;
  }
  return false;
}

// Words after which an -ed word is an adjective or a passive of the present
// ("I'm booked", "it's scheduled", "to get married").
bool IsBeForm(std::string_view w) {
  for (std::string_view x : {"am", "is", "are", "be", "been", "being", "get", "gets", "getting",
                             "to", "isn't", "aren't"}) {
    if (w == x) return true;
  }
  if (EndsWithApostrophe(w, "m") || EndsWithApostrophe(w, "re")) return true;
  // "it's", "that's", but not a possessive ("marcus's").
  auto it = TheLexicon().find(w);
  return it != TheLexicon().end() && it->second.tense == Tense::kNotPast &&
         EndsWithApostrophe(w, "s");
}

// If a label that AnnotateRelativeDates writes starts at `i` ("(2026-12-11)",
// "(2027-01)", "(2025)", "(2026-11-23 to 2026-11-29)"), the index after it; else 0.
size_t LabelEnd(std::string_view s, size_t i) {
  auto digits = [&](size_t at, size_t count) {
    if (at + count > s.size()) return false;
    for (size_t k = at; k < at + count; ++k) {
      if (!IsDigit(static_cast<unsigned char>(s[k]))) return false;
    }
    return true;
  };
  // YYYY[-MM[-DD]] at `at`: the index after it, or 0.
  auto date = [&](size_t at) -> size_t {
    if (!digits(at, 4)) return 0;
    at += 4;
    for (int part = 0; part < 2 && at < s.size() && s[at] == '-' && digits(at + 1, 2); ++part) {
      at += 3;
    }
    return at;
  };
  if (i >= s.size() || s[i] != '(') return 0;
  size_t k = date(i + 1);
  if (k == 0) return 0;
  if (s.substr(k, 4) == " to ") {
    if (size_t e = date(k + 4); e != 0) k = e;
  }
  return k < s.size() && s[k] == ')' ? k + 1 : 0;
}

// A cheap test before the suffix checks: most words have no apostrophe.
bool HasApostrophe(std::string_view w) {
  for (unsigned char c : w) {
    if (c == '\'' || c == 0xE2) return true;  // ASCII ', or the first byte of U+2019
  }
  return false;
}

void Classify(Word& word, std::string_view full) {
  const Lexicon& lex = TheLexicon();
  auto found = lex.find(full);
  if (found != lex.end()) word.tense = found->second.tense;
  if (word.tense == Tense::kNone && HasApostrophe(full) &&
      (EndsWithApostrophe(full, "ll") || EndsWithApostrophe(full, "d") ||
       EndsWithApostrophe(full, "m") || EndsWithApostrophe(full, "re"))) {
    word.tense = Tense::kNotPast;  // "i'll", "we'd", "i'm", "they're"
  }
  std::string_view w = word.text;
  if (w.size() != full.size()) found = lex.find(w);  // a possessive was stripped
  if (found != lex.end()) {
    const Lexeme& x = found->second;
    word.may_start = x.starts;
    word.weekday = x.weekday;
    word.month = x.month;
    word.month_abbrev = x.month_abbrev;
    word.ordinal = x.ordinal;
    word.tens = x.tens;
    word.cardinal = x.cardinal;
    return;
  }
  if (AllDigits(w)) {
    if (w.size() <= 6) word.cardinal = ParseSmallNumber(w);
    return;
  }
  if (int ordinal = DigitOrdinal(w); ordinal > 0) {
    word.ordinal = static_cast<int8_t>(ordinal);
    return;
  }
  // "twenty-first", "twenty-six".
  if (size_t dash = w.find('-'); dash != std::string_view::npos) {
    auto left = lex.find(w.substr(0, dash));
    auto right = lex.find(w.substr(dash + 1));
    if (left == lex.end() || right == lex.end() || left->second.tens == 0) return;
    const Lexeme& unit = right->second;
    if (unit.ordinal >= 1 && unit.ordinal <= 9) {
      word.ordinal = static_cast<int8_t>(left->second.tens + unit.ordinal);
    } else if (unit.cardinal >= 1 && unit.cardinal <= 9) {
      word.cardinal = left->second.tens + unit.cardinal;
    }
  }
}

bool In(std::string_view w, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), w) != set.end();
}

}  // namespace

bool EndsWithApostrophe(std::string_view w, std::string_view suffix) {
  if (w.size() < suffix.size() + 2 || w.substr(w.size() - suffix.size()) != suffix) return false;
  std::string_view head = w.substr(0, w.size() - suffix.size());
  return head.back() == '\'' ||
         (head.size() >= 4 && head.substr(head.size() - 3) == "\xE2\x80\x99");
}

std::vector<Word> SplitWords(std::string_view sentence, std::string& lower) {
  lower.assign(sentence);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::vector<Word> words;
  std::vector<std::string_view> full_texts;  // before the possessive is stripped
  words.reserve(sentence.size() / 5 + 1);    // about one word per five bytes of speech
  full_texts.reserve(sentence.size() / 5 + 1);
  const size_t n = lower.size();
  auto byte = [&](size_t i) { return static_cast<unsigned char>(lower[i]); };
  size_t i = 0;
  while (i < n) {
    if (!IsWordByte(byte(i))) {
      const size_t label_end = LabelEnd(lower, i);
      i = label_end != 0 ? label_end : i + 1;
      continue;
    }
    const size_t begin = i;
    while (i < n) {
      unsigned char c = byte(i);
      if (IsWordByte(c)) {
        ++i;
        continue;
      }
      const bool inner = i > begin && i + 1 < n;
      if (inner && (c == '\'' || c == '-') && IsWordByte(byte(i - 1)) && IsWordByte(byte(i + 1))) {
        ++i;
      } else if (inner && (c == '/' || c == '.' || c == ':') && IsDigit(byte(i - 1)) &&
                 IsDigit(byte(i + 1))) {
        ++i;
      } else {
        break;
      }
    }
    Word word;
    word.begin = begin;
    word.end = i;
    std::string_view full(lower.data() + begin, i - begin);
    word.text = full;
    if (HasApostrophe(full) && EndsWithApostrophe(full, "s")) {
      word.text = full.substr(0, full.size() - (full[full.size() - 2] == '\'' ? 2 : 4));
    }
    // What separates this word from the next: spaces, commas, or anything else.
    size_t j = i;
    bool comma = false, other = false;
    while (j < n && !IsWordByte(byte(j))) {
      // Our own labels are invisible, so an annotated sentence reads as the
      // words did before: annotating twice adds nothing.
      if (const size_t label_end = LabelEnd(lower, j); label_end != 0) {
        j = label_end;
        continue;
      }
      if (byte(j) == ',') {
        comma = true;
      } else if (!IsSpace(byte(j))) {
        other = true;
      }
      ++j;
    }
    word.gap_after = (other || j == n) ? Gap::kOther : comma ? Gap::kComma : Gap::kSpace;
    words.push_back(word);
    full_texts.push_back(full);
    i = j;
  }
  for (size_t k = 0; k < words.size(); ++k) {
    Classify(words[k], full_texts[k]);
    Word& x = words[k];
    x.may_start = x.may_start || x.weekday >= 0 || x.month > 0 || x.ordinal > 0 || x.tens > 0 ||
                  x.cardinal >= 0;
    std::string_view full = full_texts[k];
    if (words[k].tense == Tense::kNone && full.size() >= 4 &&
        full.substr(full.size() - 2) == "ed" && AllAsciiLetters(full) && !IsNotPastEd(full) &&
        (k == 0 || !IsBeForm(full_texts[k - 1]))) {
      words[k].tense = Tense::kPast;  // "called", "moved", "cancelled"
    }
    if (full == "got" && k > 0 &&
        (EndsWithApostrophe(full_texts[k - 1], "ve") || In(full_texts[k - 1], {"have", "has"}))) {
      words[k].tense = Tense::kNotPast;  // "I've got the ninth": I have
    }
  }
  return words;
}

bool WordReader::Is(size_t i, std::string_view s) const {
  return i < words_.size() && words_[i].text == s;
}
bool WordReader::IsAny(size_t i, std::initializer_list<std::string_view> set) const {
  return i < words_.size() && In(words_[i].text, set);
}
bool WordReader::Joined(size_t i) const {
  return i + 1 < words_.size() && words_[i].gap_after == Gap::kSpace;
}
bool WordReader::JoinedOrComma(size_t i) const {
  return i + 1 < words_.size() && words_[i].gap_after != Gap::kOther;
}
bool WordReader::EndsAt(size_t i) const {
  return i >= words_.size() || words_[i - 1].gap_after != Gap::kSpace;
}

std::optional<std::pair<int, size_t>> WordReader::Count(size_t k) const {
  if (k >= words_.size()) return std::nullopt;
  if (IsAny(k, {"a", "an"}) && Joined(k)) {
    if (Is(k + 1, "couple") && Joined(k + 1)) return Couple(k + 1);
    return std::pair{1, k + 1};
  }
  if (Is(k, "couple") && Joined(k)) return Couple(k);
  const Word& x = words_[k];
  if (x.tens > 0 && Joined(k) && words_[k + 1].cardinal >= 1 && words_[k + 1].cardinal <= 9 &&
      words_[k + 1].tens == 0) {
    return std::pair{x.tens + words_[k + 1].cardinal, k + 2};
  }
  if (x.cardinal >= 0 && Joined(k)) return std::pair{x.cardinal, k + 1};
  return std::nullopt;
}
std::pair<int, size_t> WordReader::Couple(size_t k) const {  // k at "couple"
  return {2, Is(k + 1, "of") && Joined(k + 1) ? k + 2 : k + 1};
}

std::optional<WordReader::Ordinal> WordReader::OrdinalAt(size_t k) const {
  if (k >= words_.size()) return std::nullopt;
  const Word& x = words_[k];
  if (x.tens > 0 && Joined(k) && words_[k + 1].ordinal >= 1 && words_[k + 1].ordinal <= 9) {
    return Ordinal{x.tens + words_[k + 1].ordinal, k + 2, false};
  }
  if (x.ordinal <= 0) return std::nullopt;
  const bool digits = x.text[0] >= '0' && x.text[0] <= '9';
  return Ordinal{x.ordinal, k + 1, !digits && x.ordinal <= 5};
}

std::optional<std::pair<int, size_t>> WordReader::YearAt(size_t k) const {
  if (k >= words_.size()) return std::nullopt;
  const Word& x = words_[k];
  if (x.text.size() == 4 && x.cardinal >= 1900 && x.cardinal <= 2199) {
    return std::pair{x.cardinal, k + 1};
  }
  const bool word = x.text[0] < '0' || x.text[0] > '9';  // spoken, not "20 26"
  if (word && (x.cardinal == 19 || x.cardinal == 20) && Joined(k)) {
    const Word& y = words_[k + 1];
    if (y.cardinal >= 10 && y.cardinal <= 19 && y.tens == 0) {
      return std::pair{x.cardinal * 100 + y.cardinal, k + 2};
    }
    if (y.tens > 0) {
      if (Joined(k + 1) && words_[k + 2].cardinal >= 1 && words_[k + 2].cardinal <= 9 &&
          words_[k + 2].tens == 0) {
        return std::pair{x.cardinal * 100 + y.tens + words_[k + 2].cardinal, k + 3};
      }
      return std::pair{x.cardinal * 100 + y.tens, k + 2};
    }
    if (y.cardinal >= 21 && y.cardinal <= 99)
      return std::pair{x.cardinal * 100 + y.cardinal, k + 2};
  }
  if (word && x.cardinal == 2 && Joined(k) && Is(k + 1, "thousand")) {
    size_t m = k + 2;
    if (Is(m, "and") && Joined(m - 1)) ++m;
    if (m < words_.size() && Joined(m - 1)) {
      if (auto n = Count(m); n && n->first >= 1 && n->first <= 99 && !IsAny(m, {"a", "an"})) {
        return std::pair{2000 + n->first, n->second};
      }
      if (words_[m].cardinal >= 1 && words_[m].cardinal <= 99)
        return std::pair{2000 + words_[m].cardinal, m + 1};
    }
    return std::pair{2000, k + 2};
  }
  return std::nullopt;
}

bool WordReader::CanFollowDate(size_t m) const {
  return EndsAt(m) ||
         IsAny(m, {"at",      "in",      "on",        "and",     "or",      "then",   "is",
                   "was",     "works",   "would",     "will",    "could",   "should", "if",
                   "when",    "because", "so",        "please",  "instead", "maybe",  "around",
                   "by",      "for",     "to",        "from",    "through", "until",  "till",
                   "between", "that",    "which",     "but",     "as",      "i",      "we",
                   "you",     "he",      "she",       "they",    "it",      "i'm",    "i'll",
                   "we'll",   "morning", "afternoon", "evening", "night",   "okay",   "ok",
                   "right",   "yeah",    "yes",       "um",      "uh",      "too",    "does",
                   "sounds",  "good",    "fine",      "perfect", "great",   "anyway", "actually",
                   "already", "before",  "after",     "next",    "my",      "our"});
}

}  // namespace engram::memory::date_words
