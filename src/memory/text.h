// Small text utilities for the English rules: sentence splitting,
// tokenising, light stemming, and normalising spoken forms.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace engram::memory {

// Splits text into sentences at . ! ? followed by a space and an upper-case
// letter, digit or quote, or at the end. Keeps "a.m.", "e.g.", decimals and
// e-mail addresses whole.
std::vector<std::string> SplitSentences(std::string_view text);

// Lower-case alphanumeric tokens ("don't" -> "don't", "back-to-back" -> "back", "to", "back").
std::vector<std::string> Tokenize(std::string_view text);

// Light suffix stripping (plurals, -ing, -ed, -ly), enough for lexical
// matching of "exports"/"exported"/"exporting".
std::string Stem(std::string_view token);

// Tokenize + Stem, dropping stop words. What the lexical index stores.
std::vector<std::string> LexicalTerms(std::string_view text);
bool IsStopWord(std::string_view token);

// "priya dot raman at hollisvane dot example" -> "priya.raman@hollisvane.example";
// "T D two zero nine three one" -> "TD-20931".
std::string NormalizeSpoken(std::string_view text);

// Words separated by spaces, punctuation attached ("Hi, Sage." -> "Hi,", "Sage.").
std::vector<std::string> SplitSpaces(std::string_view s);

// A word and the punctuation after it ("Sage." -> {"Sage", "."}); an
// apostrophe stays with the word.
std::pair<std::string, std::string> SplitTrailing(const std::string& w);

// Whether a sentence attributes something to a person other than the
// speaker: a possessive of another word than a pronoun ("Felix's copy", "my
// son's email"), or "his"/"her"/"their".
bool NamesSomeoneElse(std::string_view sentence);

std::string ToLower(std::string_view s);
std::string Trim(std::string_view s);
bool ContainsWord(std::string_view haystack_lower, std::string_view word);

}  // namespace engram::memory
