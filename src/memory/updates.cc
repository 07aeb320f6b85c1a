#include "memory/updates.h"

#include <algorithm>
#include <cctype>

#include "memory/text.h"

namespace engram::memory {
namespace {

std::vector<std::string> SortedTerms(std::string_view text) {
  std::vector<std::string> t = LexicalTerms(text);
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

bool IsLeadingFiller(std::string_view w) {
  static constexpr std::string_view kFillers[] = {"with", "at",   "on", "using", "use", "the",
                                                  "a",    "an",   "my", "our",   "in",  "to",
                                                  "for",  "from", "by", "going", "be",  "being"};
  return std::find(std::begin(kFillers), std::end(kFillers), w) != std::end(kFillers);
}

// Up to four words of `words` from `begin`, stopping at `stop` words,
// without leading fillers; "" unless it names something: a word that was
// capitalised or holds a digit (`named`), so "instead of my door" replaces
// nothing while "instead of Tuesday" does.
std::string ValueAt(const std::vector<std::string>& words, const std::vector<bool>& named,
                    size_t begin, std::initializer_list<std::string_view> stop) {
  while (begin < words.size() && IsLeadingFiller(words[begin])) ++begin;
  std::string out;
  bool specific = false;
  for (size_t i = begin; i < words.size() && i < begin + 4; ++i) {
    if (std::find(stop.begin(), stop.end(), words[i]) != stop.end()) break;
    if (!out.empty()) out += ' ';
    out += words[i];
    specific |= !IsStopWord(words[i]) && named[i];
  }
  return specific ? out : "";
}

}  // namespace

std::set<std::string> KeyTerms(std::string_view content, const std::set<std::string>& ignore) {
  std::set<std::string> out;
  bool first = true;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    const bool cap = std::isupper(static_cast<unsigned char>(word[0]));
    const bool digit = std::any_of(word.begin(), word.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c));
    });
    std::string lower = ToLower(word);
    if ((digit || (cap && !first)) && !ignore.count(lower)) out.insert(lower);
    first = false;
    word.clear();
  };
  for (char c : content) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word += c;
    } else {
      flush();
    }
  }
  flush();
  return out;
}

bool Restates(std::string_view older, std::string_view newer, const std::set<std::string>& ignore) {
  if (KeyTerms(older, ignore) != KeyTerms(newer, ignore)) return false;
  std::vector<std::string> x = SortedTerms(older);
  std::vector<std::string> y = SortedTerms(newer);
  if (x.size() > y.size()) std::swap(x, y);
  return std::includes(y.begin(), y.end(), x.begin(), x.end());
}

std::vector<std::string> ReplacedValues(std::string_view utterance) {
  // Words in lower case, sentence punctuation as a word boundary marker ",".
  std::vector<std::string> words;
  std::vector<bool> named;  // by word: capitalised or holding a digit
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    named.push_back(std::isupper(static_cast<unsigned char>(word[0])) ||
                    std::any_of(word.begin(), word.end(), [](char c) {
                      return std::isdigit(static_cast<unsigned char>(c));
                    }));
    words.push_back(ToLower(word));
    word.clear();
  };
  for (char c : utterance) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '\'' || c == '-' ||
        static_cast<unsigned char>(c) >= 0x80) {
      word += c;
    } else {
      flush();
      if (c == ',' || c == '.' || c == ';' || c == '!' || c == '?' || c == ':') {
        words.push_back(",");
        named.push_back(false);
      }
    }
  }
  flush();
  std::vector<std::string> out;
  auto add = [&](std::string v) {
    if (!v.empty() && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  };
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    const std::string next = i + 1 < words.size() ? words[i + 1] : "";
    if (w == "not" || w == "isn't" || w == "aren't" || w == "wasn't") {
      // "not Y anymore" / "not Y any more" / "not Y but X"
      for (size_t j = i + 1; j < words.size() && j <= i + 6; ++j) {
        if (words[j] == ",") break;
        if (words[j] == "anymore" ||
            (words[j] == "any" && j + 1 < words.size() && words[j + 1] == "more") ||
            words[j] == "but") {
          add(ValueAt(words, named, i + 1, {"anymore", "any", "but", ","}));
          break;
        }
      }
    } else if (w == "no" && next == "longer") {
      add(ValueAt(words, named, i + 2, {",", "and", "but", "so"}));
    } else if (w == "instead" && next == "of") {
      add(ValueAt(words, named, i + 2, {",", "and", "but", "so"}));
    } else if ((w == "switched" || w == "changed" || w == "moved" || w == "went" ||
                w == "switching" || w == "changing" || w == "moving" || w == "switch" ||
                w == "change" || w == "move") &&
               next == "from") {
      add(ValueAt(words, named, i + 2, {"to", "over", ",", "and"}));
    }
  }
  return out;
}

bool IsReplacedBy(std::string_view older, std::string_view newer,
                  const std::vector<std::string>& replaced, const std::set<std::string>& ignore) {
  const std::string lower = ToLower(older);
  std::vector<std::string> value_terms;
  bool holds = false;
  for (const std::string& value : replaced) {
    if (ContainsWord(lower, value)) holds = true;
    for (std::string& t : LexicalTerms(value)) value_terms.push_back(std::move(t));
  }
  if (!holds) return false;
  std::vector<std::string> ignored(value_terms);
  for (const std::string& name : ignore) {
    for (std::string& t : LexicalTerms(name)) ignored.push_back(std::move(t));
  }
  const std::vector<std::string> a = SortedTerms(older);
  for (const std::string& t : SortedTerms(newer)) {
    if (std::find(ignored.begin(), ignored.end(), t) != ignored.end()) continue;
    if (std::binary_search(a.begin(), a.end(), t)) return true;
  }
  return false;
}

}  // namespace engram::memory
