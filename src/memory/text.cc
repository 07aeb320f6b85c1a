#include "memory/text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <iterator>
#include <utility>

namespace engram::memory {
namespace {

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsUpper(char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; }
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Abbreviations whose final dot does not end a sentence.
constexpr std::array<std::string_view, 12> kAbbreviations = {
    "a.m", "p.m", "e.g", "i.e", "mr", "mrs", "ms", "dr", "st", "vs", "etc", "approx"};

bool EndsWithAbbreviation(std::string_view before_dot) {
  size_t start = before_dot.find_last_of(" (\"");
  std::string word =
      ToLower(start == std::string_view::npos ? before_dot : before_dot.substr(start + 1));
  return std::find(kAbbreviations.begin(), kAbbreviations.end(), word) != kAbbreviations.end();
}

}  // namespace

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool NamesSomeoneElse(std::string_view sentence) {
  static constexpr std::string_view kPronouns[] = {"it",  "that", "what",  "there",   "here",
                                                   "he",  "she",  "who",   "let",     "where",
                                                   "how", "one",  "today", "everyone"};
  for (const std::string& w : SplitSpaces(sentence)) {
    std::string lower = ToLower(w);
    while (!lower.empty() && !IsAlnum(lower.back())) lower.pop_back();
    if (lower == "his" || lower == "her" || lower == "their") return true;
    for (std::string_view mark : {"'s", "\xE2\x80\x99s"}) {
      if (lower.size() > mark.size() && lower.ends_with(mark)) {
        const std::string base = lower.substr(0, lower.size() - mark.size());
        if (std::find(std::begin(kPronouns), std::end(kPronouns), base) == std::end(kPronouns)) {
          return true;
        }
      }
    }
  }
  return false;
}

bool ContainsWord(std::string_view hay, std::string_view word) {
  for (size_t pos = hay.find(word); pos != std::string_view::npos; pos = hay.find(word, pos + 1)) {
    bool left = pos == 0 || !IsAlnum(hay[pos - 1]);
    size_t end = pos + word.size();
    bool right = end >= hay.size() || !IsAlnum(hay[end]);
    if (left && right) return true;
  }
  return false;
}

std::vector<std::string> SplitSentences(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '.' && c != '!' && c != '?') continue;
    size_t j = i + 1;
    while (j < text.size() && (text[j] == '"' || text[j] == '\'' || text[j] == ')')) ++j;
    bool at_end = j >= text.size();
    if (!at_end) {
      if (!std::isspace(static_cast<unsigned char>(text[j]))) continue;  // e-mail, decimal
      size_t k = j;
      while (k < text.size() && std::isspace(static_cast<unsigned char>(text[k]))) ++k;
      if (k < text.size() && !(IsUpper(text[k]) || IsDigit(text[k]) || text[k] == '"')) continue;
    }
    if (c == '.' && EndsWithAbbreviation(text.substr(start, i - start)) && !at_end) continue;
    std::string s = Trim(text.substr(start, j - start));
    if (!s.empty()) out.push_back(std::move(s));
    start = j;
  }
  std::string rest = Trim(text.substr(start));
  if (!rest.empty()) out.push_back(std::move(rest));
  return out;
}

std::vector<std::string> Tokenize(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool apostrophe =
        (c == '\'' || c == '\x92') && !cur.empty() && i + 1 < text.size() && IsAlnum(text[i + 1]);
    if (IsAlnum(c) || apostrophe) {
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c == '\x92' ? '\'' : c)));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

namespace {

// Irregular verb forms and plurals that suffix stripping cannot join with
// their base ("ran" / "run", "children" / "child"), sorted for lookup.
constexpr std::pair<std::string_view, std::string_view> kIrregularForms[] = {
    {"ate", "eat"},
    {"became", "become"},
    {"began", "begin"},
    {"begun", "begin"},
    {"bought", "buy"},
    {"broke", "break"},
    {"broken", "break"},
    {"brought", "bring"},
    {"built", "build"},
    {"came", "come"},
    {"caught", "catch"},
    {"children", "child"},
    {"chose", "choose"},
    {"chosen", "choose"},
    {"dealt", "deal"},
    {"drawn", "draw"},
    {"drew", "draw"},
    {"driven", "drive"},
    {"drove", "drive"},
    {"eaten", "eat"},
    {"fallen", "fall"},
    {"fed", "feed"},
    {"feet", "foot"},
    {"fell", "fall"},
    {"felt", "feel"},
    {"flew", "fly"},
    {"flown", "fly"},
    {"forgot", "forget"},
    {"forgotten", "forget"},
    {"fought", "fight"},
    {"found", "find"},
    {"gave", "give"},
    {"given", "give"},
    {"gone", "go"},
    {"got", "get"},
    {"gotten", "get"},
    {"grew", "grow"},
    {"grown", "grow"},
    {"heard", "hear"},
    {"held", "hold"},
    {"hid", "hide"},
    {"hidden", "hide"},
    {"kept", "keep"},
    {"knew", "know"},
    {"known", "know"},
    {"led", "lead"},
    {"left", "leave"},
    {"lost", "lose"},
    {"made", "make"},
    {"meant", "mean"},
    {"men", "man"},
    {"met", "meet"},
    {"mice", "mouse"},
    {"paid", "pay"},
    {"ran", "run"},
    {"ridden", "ride"},
    {"rode", "ride"},
    {"sang", "sing"},
    {"sank", "sink"},
    {"sat", "sit"},
    {"saw", "see"},
    {"seen", "see"},
    {"sent", "send"},
    {"shook", "shake"},
    {"shot", "shoot"},
    {"slept", "sleep"},
    {"sold", "sell"},
    {"sought", "seek"},
    {"spent", "spend"},
    {"spoke", "speak"},
    {"spoken", "speak"},
    {"stood", "stand"},
    {"struck", "strike"},
    {"stuck", "stick"},
    {"sung", "sing"},
    {"sunk", "sink"},
    {"swam", "swim"},
    {"swum", "swim"},
    {"taken", "take"},
    {"taught", "teach"},
    {"teeth", "tooth"},
    {"thought", "think"},
    {"threw", "throw"},
    {"thrown", "throw"},
    {"told", "tell"},
    {"took", "take"},
    {"tore", "tear"},
    {"torn", "tear"},
    {"understood", "understand"},
    {"went", "go"},
    {"wept", "weep"},
    {"woke", "wake"},
    {"women", "woman"},
    {"won", "win"},
    {"wore", "wear"},
    {"worn", "wear"},
    {"written", "write"},
    {"wrote", "write"}};
static_assert(std::is_sorted(std::begin(kIrregularForms), std::end(kIrregularForms)),
              "kIrregularForms is searched with lower_bound");

}  // namespace

std::string Stem(std::string_view t) {
  std::string w(t);
  if (w.size() > 2 && w.ends_with("'s")) w.resize(w.size() - 2);
  {
    auto it = std::lower_bound(std::begin(kIrregularForms), std::end(kIrregularForms), w,
                               [](const auto& e, const std::string& key) { return e.first < key; });
    if (it != std::end(kIrregularForms) && it->first == w) w = std::string(it->second);
  }
  auto strip = [&](std::string_view suffix, size_t min_left, std::string_view repl = "") {
    if (w.size() >= suffix.size() + min_left && w.ends_with(suffix)) {
      w.resize(w.size() - suffix.size());
      w += repl;
      return true;
    }
    return false;
  };
  if (strip("ies", 2, "y") || strip("sses", 2, "ss")) return w;
  if (strip("ing", 3) || strip("edly", 3) || strip("ed", 3) || strip("ly", 4)) {
    // "merging" -> "merg", "merged" -> "merg", "merges" -> "merg": collapse a
    // final e the same way below. "running" -> "run", "planned" -> "plan":
    // undo a doubled final consonant (not d, l, s, z: "adding", "falling",
    // "passed" keep theirs).
    const size_t n = w.size();
    if (n > 3 && w[n - 1] == w[n - 2] && std::strchr("bgmnprt", w[n - 1]) != nullptr) {
      w.pop_back();
    }
  } else if (w.size() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") &&
             !w.ends_with("is")) {
    w.pop_back();
    if (w.size() > 3 && w.ends_with("e") &&
        (w.ends_with("che") || w.ends_with("she") || w.ends_with("xe") || w.ends_with("se"))) {
      w.pop_back();
    }
  }
  if (w.size() > 3 && w.ends_with('e')) w.pop_back();
  return w;
}

bool IsStopWord(std::string_view t) {
  static constexpr std::array<std::string_view, 80> kStop = {
      "a",     "an",    "the",  "and",   "or",    "but",   "if",    "of",    "to",     "in",
      "on",    "at",    "by",   "for",   "with",  "from",  "as",    "is",    "are",    "was",
      "were",  "be",    "been", "being", "it",    "its",   "this",  "that",  "these",  "those",
      "i",     "me",    "my",   "we",    "our",   "us",    "you",   "your",  "he",     "she",
      "him",   "her",   "his",  "they",  "them",  "their", "what",  "which", "who",    "whom",
      "do",    "does",  "did",  "so",    "than",  "too",   "very",  "can",   "will",   "just",
      "about", "there", "here", "then",  "have",  "has",   "had",   "not",   "no",     "yes",
      "i'm",   "it's",  "how",  "when",  "where", "why",   "would", "could", "should", "am"};
  return std::find(kStop.begin(), kStop.end(), t) != kStop.end();
}

std::vector<std::string> LexicalTerms(std::string_view text) {
  std::vector<std::string> out;
  for (const std::string& t : Tokenize(text)) {
    if (IsStopWord(t)) continue;
    out.push_back(Stem(t));
  }
  return out;
}

namespace {

int DigitWord(std::string_view w) {
  static constexpr std::array<std::string_view, 10> kDigits = {
      "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
  for (int i = 0; i < 10; ++i) {
    if (w == kDigits[i]) return i;
  }
  if (w == "oh") return 0;
  return -1;
}

// Splits trailing punctuation off a word: "example." -> ("example", ".").
std::pair<std::string, std::string> SplitPunct(const std::string& w) {
  size_t e = w.size();
  while (e > 0 && !IsAlnum(w[e - 1])) --e;
  return {w.substr(0, e), w.substr(e)};
}

}  // namespace

std::pair<std::string, std::string> SplitTrailing(const std::string& w) {
  size_t e = w.size();
  while (e > 0 && !std::isalnum(static_cast<unsigned char>(w[e - 1])) && w[e - 1] != '\'') --e;
  return {w.substr(0, e), w.substr(e)};
}

std::vector<std::string> SplitSpaces(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string NormalizeSpoken(std::string_view text) {
  std::vector<std::string> words = SplitSpaces(text);
  std::vector<std::string> out;
  for (size_t i = 0; i < words.size();) {
    // Spelled ids: two or more single capital letters, then three or more digit words.
    size_t j = i;
    std::string letters;
    while (j < words.size() && words[j].size() == 1 && IsUpper(words[j][0])) letters += words[j++];
    if (letters.size() >= 2) {
      std::string digits, trail;
      size_t k = j;
      while (k < words.size()) {
        auto [w, p] = SplitPunct(words[k]);
        int d = DigitWord(ToLower(w));
        if (d < 0) break;
        digits += static_cast<char>('0' + d);
        ++k;
        trail = p;
        if (!p.empty()) break;
      }
      if (digits.size() >= 3) {
        out.push_back(letters + "-" + digits + trail);
        i = k;
        continue;
      }
    }
    // Spoken e-mail: w (dot w)* at w (dot w)+
    {
      size_t k = i;
      std::string local;
      auto word_ok = [&](size_t x) {
        return x < words.size() && !words[x].empty() &&
               std::all_of(words[x].begin(), words[x].end(),
                           [](char c) { return IsAlnum(c) || c == '_' || c == '-'; });
      };
      if (word_ok(k)) {
        local = words[k++];
        while (k + 1 < words.size() && ToLower(words[k]) == "dot" && word_ok(k + 1)) {
          local += "." + words[k + 1];
          k += 2;
        }
        if (k + 1 < words.size() && ToLower(words[k]) == "at" && word_ok(k + 1)) {
          std::string domain = words[k + 1];
          size_t m = k + 2;
          int dots = 0;
          std::string trail;
          while (m + 1 < words.size() && ToLower(words[m]) == "dot") {
            auto [w, p] = SplitPunct(words[m + 1]);
            if (w.empty()) break;
            domain += "." + w;
            ++dots;
            m += 2;
            if (!p.empty()) {
              trail = p;
              break;
            }
          }
          if (dots > 0) {
            out.push_back(ToLower(local) + "@" + ToLower(domain) + trail);
            i = m;
            continue;
          }
        }
      }
    }
    out.push_back(words[i++]);
  }
  std::string joined;
  for (size_t i = 0; i < out.size(); ++i) {
    if (i) joined += ' ';
    joined += out[i];
  }
  return joined;
}

}  // namespace engram::memory
