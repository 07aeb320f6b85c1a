// Word helpers shared by the speakable-summary rules (speakable.cc,
// data_collection_sentence.cc). Internal to src/memory: not a public API.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memory/text.h"

namespace engram::memory::speakable_words {

using Words = std::vector<std::string>;

template <size_t N>
inline bool OneOf(const std::array<std::string_view, N>& list, std::string_view w) {
  return std::find(list.begin(), list.end(), w) != list.end();
}

inline bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// "exports," -> {"exports", ","}: a word and the punctuation after it.
inline std::pair<std::string, std::string> SplitTrail(const std::string& w) {
  size_t e = w.size();
  while (e > 0 && !IsAlnum(w[e - 1]) && w[e - 1] != '\'') --e;
  return {w.substr(0, e), w.substr(e)};
}

inline std::string Lower(const std::string& w) { return ToLower(SplitTrail(w).first); }

inline std::string Join(const Words& words, size_t from = 0) {
  std::string out;
  for (size_t i = from; i < words.size(); ++i) {
    if (!out.empty()) out += ' ';
    out += words[i];
  }
  return out;
}

inline std::string UpperFirst(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// "Marcus" -> "Marcus's": a person's name, said with its own syllable.
inline std::string Possessive(const std::string& name) { return name + "'s"; }

// Nouns naming the caller in a label or a summary sentence.
inline constexpr std::array<std::string_view, 4> kCallerNouns = {"caller", "customer", "client",
                                                                 "user"};

inline bool IsCallerNoun(std::string_view w) { return OneOf(kCallerNouns, w); }

// Ends `s` as a sentence: a dangling ',', ';' or ':' removed, '.' added
// unless it already ends with '.', '!', a quote or a parenthesis.
inline std::string EndSentence(std::string s) {
  while (!s.empty() && (s.back() == ',' || s.back() == ';' || s.back() == ':' || s.back() == ' '))
    s.pop_back();
  if (!s.empty() && s.back() != '.' && s.back() != '!' && s.back() != '"' && s.back() != ')') {
    s += '.';
  }
  return s;
}

}  // namespace engram::memory::speakable_words
