#include "memory/speakable.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <vector>

#include "memory/text.h"

namespace engram::memory {
namespace {

using Words = std::vector<std::string>;

template <size_t N>
bool OneOf(const std::array<std::string_view, N>& list, std::string_view w) {
  return std::find(list.begin(), list.end(), w) != list.end();
}

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// "exports," -> {"exports", ","}: a word and the punctuation after it.
std::pair<std::string, std::string> SplitTrail(const std::string& w) {
  size_t e = w.size();
  while (e > 0 && !IsAlnum(w[e - 1]) && w[e - 1] != '\'') --e;
  return {w.substr(0, e), w.substr(e)};
}

std::string Lower(const std::string& w) { return ToLower(SplitTrail(w).first); }

std::string Join(const Words& words, size_t from = 0) {
  std::string out;
  for (size_t i = from; i < words.size(); ++i) {
    if (!out.empty()) out += ' ';
    out += words[i];
  }
  return out;
}

std::string UpperFirst(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// "Marcus" -> "Marcus's": a person's name, said with its own syllable.
std::string Possessive(const std::string& name) { return name + "'s"; }

// Titles that make the first word of a name no first name ("Dr Okafor").
constexpr std::array<std::string_view, 8> kTitles = {"mr", "mrs",  "ms",  "miss",
                                                     "dr", "prof", "sir", "madam"};

// Adverbs that may stand between a subject and its verb ("They usually
// export"): agreement applies to the word after them.
bool IsAdverb(std::string_view w) {
  static constexpr std::array<std::string_view, 16> kAdverbs = {
      "never",     "always", "usually",  "really",  "just",     "also",      "still",  "often",
      "sometimes", "only",   "actually", "already", "normally", "typically", "rarely", "now"};
  return OneOf(kAdverbs, w) || (w.size() > 4 && w.ends_with("ly") && w != "apply" && w != "reply" &&
                                w != "supply" && w != "rely");
}

// Present-tense forms that follow a plural subject, as the singular form
// ("they are" -> "is"). Past and modal forms are the same for both.
std::string SingularAuxiliary(std::string_view w) {
  static const std::map<std::string, std::string, std::less<>> kForms = {
      {"am", "is"},        {"are", "is"},         {"were", "was"},
      {"have", "has"},     {"do", "does"},        {"don't", "doesn't"},
      {"aren't", "isn't"}, {"weren't", "wasn't"}, {"haven't", "hasn't"}};
  auto it = kForms.find(w);
  return it == kForms.end() ? "" : it->second;
}

// The third person singular of a verb that followed "they" or "I"
// ("export" -> "exports"); past forms, modals and words that cannot be a
// present-tense verb are returned unchanged.
std::string ThirdPerson(const std::string& verb) {
  const std::string lower = ToLower(verb);
  if (std::string aux = SingularAuxiliary(lower); !aux.empty()) return aux;
  static constexpr std::array<std::string_view, 46> kUnchanged = {
      "can",   "could",   "will",  "would",  "should",  "must",  "may",  "might", "can't",
      "won't", "was",     "did",   "had",    "said",    "got",   "went", "made",  "didn't",
      "told",  "thought", "used",  "ran",    "saw",     "took",  "came", "gave",  "found",
      "felt",  "left",    "met",   "bought", "brought", "kept",  "lost", "spent", "sent",
      "paid",  "sold",    "heard", "held",   "knew",    "spoke", "and",  "or"};
  if (OneOf(kUnchanged, lower) || lower.empty()) return verb;
  if (!std::all_of(lower.begin(), lower.end(),
                   [](char c) { return std::islower(static_cast<unsigned char>(c)) != 0; })) {
    return verb;  // a number, a name, a contraction: not a bare verb
  }
  if (lower.ends_with("ed") && !lower.ends_with("eed")) return verb;
  if (lower.ends_with("ss") || lower.ends_with("sh") || lower.ends_with("ch") ||
      lower.ends_with("x") || lower.ends_with("z") || lower.ends_with("o")) {
    return verb + "es";
  }
  // Another final "s" is no base form after "they" ("is", "has"): as it is.
  if (lower.ends_with("s")) return verb;
  if (lower.size() > 1 && lower.back() == 'y' &&
      std::string_view("aeiou").find(lower[lower.size() - 2]) == std::string_view::npos) {
    return verb.substr(0, verb.size() - 1) + "ies";
  }
  return verb + "s";
}

// Makes the verb at or after `at` (adverbs skipped) agree with a singular
// subject. `bare` also conjugates a base-form verb (after "they" or "I");
// otherwise only the plural auxiliaries change ("Priya are" -> "Priya is").
void AgreeVerb(Words& words, size_t at, bool bare) {
  while (at < words.size() && IsAdverb(Lower(words[at]))) ++at;
  if (at >= words.size()) return;
  auto [core, trail] = SplitTrail(words[at]);
  const std::string lower = ToLower(core);
  std::string singular = SingularAuxiliary(lower);
  if (singular.empty() && bare) singular = ThirdPerson(core);
  if (!singular.empty()) words[at] = singular + trail;
}

// Nouns naming the caller in a label or a summary sentence.
constexpr std::array<std::string_view, 4> kCallerNouns = {"caller", "customer", "client", "user"};

bool IsCallerNoun(std::string_view w) { return OneOf(kCallerNouns, w); }

// Words that follow a demonstrative opening a sentence when it means a
// time ("This morning ...") rather than a thing said elsewhere.
bool IsTimeWord(std::string_view w) {
  static constexpr std::array<std::string_view, 18> kTimes = {
      "morning", "afternoon", "evening",   "night",    "week",    "weekend",
      "month",   "year",      "time",      "day",      "quarter", "season",
      "monday",  "tuesday",   "wednesday", "thursday", "friday",  "weekday"};
  return OneOf(kTimes, w);
}

// Replaces `from` (matched case-insensitively at word boundaries) by `to`.
std::string ReplaceWords(const std::string& text, const std::string& from, const std::string& to) {
  if (from.empty() || from == to) return text;
  const std::string lower = ToLower(text), lower_from = ToLower(from);
  std::string out;
  size_t last = 0;
  for (size_t pos = lower.find(lower_from); pos != std::string::npos;
       pos = lower.find(lower_from, pos + lower_from.size())) {
    const size_t end = pos + lower_from.size();
    const bool left = pos == 0 || !IsAlnum(text[pos - 1]);
    const bool right = end >= text.size() || !IsAlnum(text[end]);
    if (!left || !right || pos < last) continue;
    out.append(text, last, pos - last);
    out += (pos == 0 && !to.empty()) ? UpperFirst(to) : to;
    last = end;
  }
  out.append(text, last, std::string::npos);
  return out;
}

std::string EndSentence(std::string s) {
  while (!s.empty() && (s.back() == ',' || s.back() == ';' || s.back() == ':' || s.back() == ' '))
    s.pop_back();
  if (!s.empty() && s.back() != '.' && s.back() != '!' && s.back() != '"' && s.back() != ')') {
    s += '.';
  }
  return s;
}

// What a sentence-opening pronoun becomes: the caller's name, followed by
// the verb the contraction held. `bare` when the verb after it followed a
// plural or first-person subject.
struct Opening {
  std::string replacement;
  bool possessive = false;
  bool agree = false;
  bool bare = false;
};

std::optional<Opening> PronounOpening(std::string_view w, std::string_view next) {
  if (w == "they" || w == "i") return Opening{"", false, true, true};
  if (w == "he" || w == "she") return Opening{"", false, false, false};
  if (w == "them" || w == "him" || w == "me") return Opening{"", false, false, false};
  if (w == "their" || w == "his" || w == "my") return Opening{"", true, false, false};
  // "Her" opening a sentence is the possessive ("Her insurer is ...").
  if (w == "her") return Opening{"", true, false, false};
  if (w == "they're" || w == "i'm") return Opening{" is", false, false, false};
  if (w == "he's" || w == "she's") {
    return Opening{next == "been" || next == "got" ? " has" : " is", false, false, false};
  }
  if (w == "they've" || w == "i've") return Opening{" has", false, false, false};
  if (w == "they'll" || w == "he'll" || w == "she'll" || w == "i'll") {
    return Opening{" will", false, false, false};
  }
  if (w == "they'd" || w == "he'd" || w == "she'd" || w == "i'd") {
    return Opening{" would", false, false, false};
  }
  return std::nullopt;
}

// Fewest words of a sentence worth saying ("Email, please." is not).
constexpr size_t kMinSentenceWords = 3;

// "Priya (Hollis & Vane) confirmed it was fixed (TD-20931)." -> "Priya
// confirmed it was fixed.": an aside in parentheses is a detail or an id
// written for the eye, which takes long to say and that the agent is told
// not to read out; the memory tool still finds it.
std::string WithoutAsides(const std::string& s) {
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '(') {
      if (depth++ == 0) {
        while (!out.empty() && out.back() == ' ') out.pop_back();
      }
      continue;
    }
    if (s[i] == ')' && depth > 0) {
      --depth;
      continue;
    }
    if (depth == 0) out += s[i];
  }
  // Unbalanced: the text as it was rather than half of it.
  return depth == 0 && !Trim(out).empty() ? Trim(out) : s;
}

bool IsDiscourseMarker(std::string_view w) {
  static constexpr std::array<std::string_view, 16> kMarkers = {
      "so",   "well", "yes", "yeah", "and", "also",   "actually", "basically",
      "okay", "ok",   "oh",  "um",   "uh",  "anyway", "honestly", "but"};
  return OneOf(kMarkers, w);
}

// Words that open a noun phrase: what an "it" or "them" later in the same
// sentence can point at.
bool IsDeterminer(std::string_view w) {
  static constexpr std::array<std::string_view, 18> kDeterminers = {
      "the",   "a",     "an",   "their", "his", "her", "its",  "this", "these",
      "those", "every", "each", "some",  "our", "my",  "your", "any",  "both"};
  return OneOf(kDeterminers, w);
}

// Whether an "it" or "them" in `words` has nothing before it in the same
// sentence to point at: no noun phrase (a determiner and a noun, a number,
// a capitalised word that is not the caller's name). "Priya has been
// merging them by hand" leans on a sentence the summary does not hold;
// "Priya exports the report and reconciles it" does not. A person opening
// the sentence ("The agent will email them") is its subject, not the thing
// pointed at.
bool HasObjectWithoutReferent(const Words& words, const CallerReference& caller) {
  const std::string name_lower = ToLower(caller.full + " " + caller.short_form);
  static constexpr std::array<std::string_view, 5> kPeople = {"agent", "caller", "customer", "user",
                                                              "support"};
  bool referent = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string w = Lower(words[i]);
    if ((w == "it" || w == "them") && !referent) return true;
    if (IsDeterminer(w) && i + 1 < words.size() && !(i == 0 && OneOf(kPeople, Lower(words[1])))) {
      referent = true;
    }
    const std::string core = SplitTrail(words[i]).first;
    if (!core.empty() && std::isdigit(static_cast<unsigned char>(core[0]))) referent = true;
    if (i > 0 && !core.empty() && std::isupper(static_cast<unsigned char>(core[0])) &&
        !ContainsWord(name_lower, ToLower(core)) && core != "I") {
      referent = true;
    }
  }
  return false;
}

// After "Priya exports the report", a verb joined by "and" has the same
// subject: "... and reconcile it" -> "... and reconciles it". Only a word
// followed by an object ("it", "the ...") is taken for a verb, so "and
// invoicing" or "and the team" are left alone.
std::string AgreeCoordinatedVerbs(const std::string& sentence, const std::string& name) {
  Words words = SplitSpaces(sentence);
  const Words name_words = SplitSpaces(name);
  size_t at = words.size();
  for (size_t i = 0; i + name_words.size() < words.size(); ++i) {
    bool match = true;
    for (size_t k = 0; k < name_words.size() && match; ++k) {
      match = SplitTrail(words[i + k]).first == name_words[k] &&
              (k + 1 == name_words.size() || SplitTrail(words[i + k]).second.empty());
    }
    if (match && SplitTrail(words[i + name_words.size() - 1]).second.empty()) {
      at = i + name_words.size();
      break;
    }
  }
  while (at < words.size() && IsAdverb(Lower(words[at]))) ++at;
  if (at >= words.size()) return sentence;
  const std::string verb = Lower(words[at]);
  if (!verb.ends_with('s') || verb.ends_with("'s")) return sentence;  // not a singular verb
  // After an auxiliary the joined verb shares it: "has moved off X and shut
  // it down".
  if (verb == "is" || verb == "has" || verb == "was" || verb == "does") return sentence;
  static constexpr std::array<std::string_view, 22> kNotVerbs = {
      "the",  "a",  "an",   "their", "his", "her", "its", "this", "that", "these", "those",
      "then", "it", "them", "they",  "she", "he",  "to",  "of",   "not",  "no",    "so"};
  for (size_t i = at + 1; i + 2 < words.size(); ++i) {
    if (Lower(words[i]) != "and" || !SplitTrail(words[i]).second.empty()) continue;
    size_t v = i + 1;
    while (v + 1 < words.size() && IsAdverb(Lower(words[v]))) ++v;
    auto [core, trail] = SplitTrail(words[v]);
    const std::string lower = ToLower(core);
    const std::string object = Lower(words[v + 1]);
    // Objects only: "every", "some" also follow a noun ("payroll every week").
    static constexpr std::array<std::string_view, 12> kObjects = {
        "it", "them", "the", "a", "an", "their", "his", "her", "its", "this", "these", "those"};
    if (!trail.empty() || OneOf(kNotVerbs, lower) || lower.ends_with('s') ||
        !OneOf(kObjects, object)) {
      continue;
    }
    words[v] = ThirdPerson(core);
  }
  return Join(words);
}

}  // namespace

CallerReference CallerReference::FromName(std::string_view name) {
  CallerReference ref;
  ref.full = Trim(name);
  if (ref.full.empty()) {
    ref.short_form = "the caller";
    return ref;
  }
  Words words = SplitSpaces(ref.full);
  const std::string first = ToLower(SplitTrail(words[0]).first);
  const bool titled = OneOf(kTitles, first);
  ref.short_form = words.size() >= 2 && !titled && first.size() > 1 ? words[0] : ref.full;
  return ref;
}

std::string CallerReference::Capitalised() const { return UpperFirst(short_form); }

bool IsQuestion(std::string_view sentence) {
  std::string s = Trim(sentence);
  while (!s.empty() && (s.back() == '"' || s.back() == '\'' || s.back() == ')')) s.pop_back();
  return !s.empty() && s.back() == '?';
}

size_t CountWords(std::string_view text) {
  size_t n = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

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
  std::string out = std::to_string(day) + " " + std::string(kMonths[month - 1]);
  if (with_year) out += " " + std::string(iso.substr(0, 4));
  return out;
}

std::string SpeakableSentence(std::string_view sentence, const CallerReference& caller,
                              bool alone) {
  std::string s = Trim(sentence);
  if (s.empty() || IsQuestion(s)) return "";
  s = WithoutAsides(s);
  Words words = SplitSpaces(s);
  // A discourse marker opening spoken words ("Honestly, ...") says nothing
  // in a summary.
  while (words.size() > kMinSentenceWords && IsDiscourseMarker(Lower(words[0]))) {
    words.erase(words.begin());
    words[0] = UpperFirst(words[0]);
  }
  if (words.size() < kMinSentenceWords) return "";
  const std::string first = Lower(words[0]);
  const std::string second = Lower(words[1]);
  static constexpr std::array<std::string_view, 9> kDemonstratives = {
      "it", "it's", "this", "that", "these", "those", "that's", "this's", "its"};
  if (alone && OneOf(kDemonstratives, first)) {
    // The thing it points at was said in another sentence, which the
    // summary may leave out: not said at all rather than said wrong.
    if (first == "it" || first == "it's" || first == "its" || !IsTimeWord(second)) return "";
  }
  if (alone && HasObjectWithoutReferent(words, caller)) return "";
  const std::string name = caller.Capitalised();
  if (auto opening = PronounOpening(first, second)) {
    const std::string trail = SplitTrail(words[0]).second;
    words[0] = (opening->possessive ? Possessive(name) : name) + opening->replacement + trail;
    if (opening->agree && trail.empty()) AgreeVerb(words, 1, opening->bare);
  } else if (!caller.full.empty() && first == "the" && IsCallerNoun(second)) {
    // "The customer called about ..." in a platform summary: the caller.
    words[1] = name + SplitTrail(words[1]).second;
    words.erase(words.begin());
  } else if (!caller.full.empty() && first == "the" &&
             (second == "caller's" || second == "customer's" || second == "user's")) {
    words[1] = Possessive(name) + SplitTrail(words[1]).second;
    words.erase(words.begin());
  }
  std::string out = Join(words);
  if (!caller.full.empty()) {
    out = ReplaceWords(out, "the caller", caller.short_form);
    out = ReplaceWords(out, caller.full, caller.short_form);
  }
  // A plural verb right after the caller's name ("Priya are"): singular.
  Words again = SplitSpaces(out);
  const size_t name_words = SplitSpaces(name).size();
  if (again.size() > name_words &&
      ToLower(Join(Words(again.begin(), again.begin() + name_words))) == ToLower(name) &&
      SplitTrail(again[name_words - 1]).second.empty()) {
    AgreeVerb(again, name_words, false);
    out = Join(again);
  }
  return EndSentence(AgreeCoordinatedVerbs(out, name));
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

std::string SpeakableTopic(std::string_view title) {
  std::string t = Trim(title);
  if (IsQuestion(t)) return "";
  while (!t.empty() && (t.back() == '.' || t.back() == '!' || t.back() == ';' || t.back() == ','))
    t.pop_back();
  return Trim(t);
}

}  // namespace engram::memory
