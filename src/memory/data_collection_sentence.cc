// Data-collection answers said as sentences (speakable.h:
// DataCollectionSentence) and ISO dates said as a person says them.
#include <map>

#include "memory/speakable.h"
#include "memory/speakable_words.h"
#include "memory/text.h"

namespace engram::memory {

using namespace speakable_words;  // NOLINT: the helpers of these rules

std::string SpokenDate(std::string_view iso, bool with_year) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "January", "February", "March",     "April",   "May",      "June",
      "July",    "August",   "September", "October", "November", "December"};
  if (iso.size() != 10 || iso[4] != '-' || iso[7] != '-') return "";
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(iso[i]))) return "";
  }
  const int month = (iso[5] - '0') * 10 + (iso[6] - '0');
  const int day = (iso[8] - '0') * 10 + (iso[9] - '0');
  if (month < 1 || month > 12 || day < 1 || day > 31) return "";
  std::string out = std::to_string(day);
  out.append(" ").append(kMonths[month - 1]);
  if (with_year) out.append(" ").append(iso.substr(0, 4));
  return out;
}

std::string DataCollectionSentence(std::string_view label_in, std::string_view value_in,
                                   const CallerReference& caller) {
  // The label without parentheses ("(ISO 8601)") or closing punctuation.
  std::string label;
  int depth = 0;
  for (char c : label_in) {
    if (c == '(' || c == '[') ++depth;
    if (depth == 0) label += c;
    if ((c == ')' || c == ']') && depth > 0) --depth;
  }
  Words words = SplitSpaces(label);
  while (!words.empty()) {
    std::string& last = words.back();
    while (!last.empty() && (last.back() == '.' || last.back() == '?' || last.back() == ':' ||
                             last.back() == '!' || last.back() == ',')) {
      last.pop_back();
    }
    if (!last.empty()) break;
    words.pop_back();
  }
  // An instruction to the platform's LLM ("Extract the caller's insurer")
  // or a question ("What is the caller's insurer") names the same thing.
  static constexpr std::array<std::string_view, 11> kInstructions = {
      "extract", "identify", "capture", "record", "determine", "collect",
      "get",     "note",     "find",    "list",   "provide"};
  if (words.size() > 1 && OneOf(kInstructions, Lower(words[0]))) words.erase(words.begin());
  if (words.size() > 2 && Lower(words[0]) == "what" &&
      (Lower(words[1]) == "is" || Lower(words[1]) == "are")) {
    words.erase(words.begin(), words.begin() + 2);
  } else if (words.size() > 1 && Lower(words[0]) == "what's") {
    words.erase(words.begin());
  }
  std::string value = Trim(value_in);
  while (!value.empty() && value.back() == '.') value.pop_back();
  if (words.empty() || value.empty()) return "";
  if (std::string date = SpokenDate(value); !date.empty()) value = date;

  // The caller in the label: "the customer" -> the name, "the caller's" ->
  // "their". Words about someone else ("the patient") stay as they are.
  auto about_caller = [&](size_t from) {
    Words out;
    for (size_t i = from; i < words.size(); ++i) {
      const std::string w = Lower(words[i]);
      const std::string next = i + 1 < words.size() ? Lower(words[i + 1]) : "";
      if (w == "the" &&
          (next == "caller's" || next == "customer's" || next == "client's" || next == "user's")) {
        out.push_back(Possessive(caller.short_form) + SplitTrail(words[i + 1]).second);
        ++i;
      } else if (w == "the" && IsCallerNoun(next)) {
        out.push_back(caller.short_form + SplitTrail(words[i + 1]).second);
        ++i;
      } else if (w == "your") {
        out.push_back(Possessive(caller.short_form));
      } else if (w == "you") {
        out.push_back(caller.short_form);
      } else {
        out.push_back(words[i]);
      }
    }
    return Join(out);
  };

  const std::string first = Lower(words[0]);
  const std::string lower_value = ToLower(value);
  const bool boolean = lower_value == "yes" || lower_value == "no" || lower_value == "true" ||
                       lower_value == "false";
  if (boolean) {
    const bool yes = lower_value == "yes" || lower_value == "true";
    // "Does the caller have pets" + yes -> "Priya does have pets."
    static const std::map<std::string, std::string, std::less<>> kAux = {
        {"is", "is"},        {"are", "is"},  {"was", "was"},   {"were", "was"},
        {"does", "does"},    {"do", "does"}, {"did", "did"},   {"has", "has"},
        {"have", "has"},     {"can", "can"}, {"will", "will"}, {"would", "would"},
        {"should", "should"}};
    // "Is the invoice paid" + no -> "The invoice is not paid.": the subject
    // is the caller, or a determiner and its noun ("the caller's son").
    auto aux = kAux.find(first);
    size_t rest = 0;
    std::string subject;
    if (aux != kAux.end() && words.size() > 2) {
      static constexpr std::array<std::string_view, 9> kDeterminers = {
          "the", "a", "an", "this", "that", "their", "his", "her", "its"};
      const std::string w1 = Lower(words[1]);
      if (w1 == "you" || w1 == "they") {
        rest = 2;
      } else if (w1 == "the" && words.size() > 3 && IsCallerNoun(Lower(words[2]))) {
        rest = 3;
      } else if ((OneOf(kDeterminers, w1) || w1 == "your") && words.size() > 3) {
        rest = 3;
        while (rest < words.size() - 1 && Lower(words[rest - 1]).ends_with("'s")) ++rest;
        Words np(words.begin() + 1, words.begin() + static_cast<std::ptrdiff_t>(rest));
        std::swap(words, np);
        subject = UpperFirst(about_caller(0));
        std::swap(words, np);
      }
    }
    if (rest > 0 && rest < words.size()) {
      // The caller is one person; a noun phrase keeps the label's own verb.
      std::string verb = subject.empty() ? aux->second : first;
      if (subject.empty()) subject = caller.Capitalised();
      if (!yes) verb = verb == "can" ? "cannot" : verb + " not";
      return EndSentence(subject + " " + verb + " " + about_caller(rest));
    }
    // "Whether the pet is insured" + yes -> "The pet is insured."
    if (first == "whether" && yes && words.size() > 2) {
      return EndSentence(UpperFirst(about_caller(1)));
    }
    return EndSentence(UpperFirst(about_caller(0)) + ": " + lower_value);
  }

  static constexpr std::array<std::string_view, 10> kWh = {
      "how", "when", "where", "why", "who", "whom", "whose", "which", "what", "whether"};
  if (OneOf(kWh, first)) return EndSentence(UpperFirst(about_caller(0)) + ": " + value);

  // The head noun decides "is" or "are": the word before the first
  // preposition or relative clause ("Number of pets", "CRM the customer
  // uses"), else the last word.
  static constexpr std::array<std::string_view, 16> kBreaks = {
      "of", "for",   "with", "to",   "at",    "in",  "on",  "from",
      "by", "about", "the",  "that", "which", "who", "you", "they"};
  size_t head = words.size() - 1;
  for (size_t i = 1; i < words.size(); ++i) {
    if (OneOf(kBreaks, Lower(words[i]))) {
      head = i - 1;
      break;
    }
  }
  const std::string head_word = Lower(words[head]);
  const bool plural = head_word.size() > 3 && head_word.ends_with('s') &&
                      !head_word.ends_with("ss") && !head_word.ends_with("us") &&
                      !head_word.ends_with("is") && !head_word.ends_with("'s");
  const std::string verb = plural ? " are " : " is ";

  static constexpr std::array<std::string_view, 5> kCallerPossessives = {
      "caller's", "customer's", "client's", "user's", "your"};
  // The caller's name rather than "their": the sentence before it in the
  // summary may be about someone else ("The passenger ...").
  std::string subject;
  if (OneOf(kCallerPossessives, first) && words.size() > 1) {
    subject = Possessive(caller.Capitalised()) + " " + about_caller(1);
  } else {
    static constexpr std::array<std::string_view, 10> kDeterminers = {
        "the", "a", "an", "their", "his", "her", "its", "any", "each", "this"};
    std::string phrase = about_caller(0);
    if (OneOf(kDeterminers, first)) {
      subject = UpperFirst(phrase);
    } else {
      // "Next vaccination" -> "The next vaccination"; an acronym ("CRM")
      // keeps its capitals.
      const std::string& w0 = words[0];
      const bool acronym = w0.size() > 1 && std::isupper(static_cast<unsigned char>(w0[1]));
      if (!acronym)
        phrase[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(phrase[0])));
      subject = "The " + phrase;
    }
  }
  return EndSentence(subject + verb + value);
}

}  // namespace engram::memory
