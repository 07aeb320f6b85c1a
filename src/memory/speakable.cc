#include "memory/speakable.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <vector>

#include "memory/speakable_words.h"
#include "memory/text.h"

namespace engram::memory {
namespace {

using namespace speakable_words;  // NOLINT: this file's own helpers

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
  static constexpr std::array<std::string_view, 21> kMarkers = {
      "so",   "well", "yes",   "yeah",    "and",   "also",       "actually",
      "okay", "ok",   "oh",    "um",      "uh",    "anyway",     "honestly",
      "but",  "sure", "right", "alright", "great", "absolutely", "basically"};
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
    // "upset about this.": a demonstrative with no noun after it points
    // outside the sentence (as a determiner, "that email", it does not).
    const bool last = i + 1 == words.size() || !SplitTrail(words[i]).second.empty();
    if (i > 0 && last && (w == "this" || w == "that" || w == "these" || w == "those")) return true;
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
    // "The user, Priya Raman, called ...": the name that follows is enough.
    size_t apposition_end = 0;
    if (SplitTrail(words[1]).second == ",") {
      for (size_t j = 2; j < words.size() && j < 6 && !apposition_end; ++j) {
        if (SplitTrail(words[j]).second == ",") apposition_end = j;
      }
    }
    const std::string apposition =
        apposition_end ? ToLower(Join(Words(words.begin() + 2, words.begin() + apposition_end + 1)))
                       : "";
    if (apposition_end && ContainsWord(apposition, ToLower(caller.short_form))) {
      words[apposition_end] = SplitTrail(words[apposition_end]).first;
      words.erase(words.begin(), words.begin() + 2);
    } else {
      words[1] = name + SplitTrail(words[1]).second;
      words.erase(words.begin());
    }
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

std::string SpeakableTopic(std::string_view title) {
  std::string t = Trim(title);
  if (IsQuestion(t)) return "";
  while (!t.empty() && (t.back() == '.' || t.back() == '!' || t.back() == ';' || t.back() == ','))
    t.pop_back();
  return Trim(t);
}

}  // namespace engram::memory
