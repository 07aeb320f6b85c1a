// Rewriting a speaker's sentence as a statement about them (see third_person.h).
#include "memory/third_person.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <map>

#include "memory/text.h"

namespace engram::memory {

namespace {

bool IsVerbSkipWord(std::string_view w) {
  static constexpr std::array<std::string_view, 24> kAdverbs = {
      "never",     "always",     "usually",   "really",   "just",     "also",
      "still",     "often",      "sometimes", "only",     "actually", "already",
      "even",      "definitely", "honestly",  "probably", "mostly",   "normally",
      "typically", "rarely",     "kinda",     "sorta",    "once",     "recently"};
  if (std::find(kAdverbs.begin(), kAdverbs.end(), w) != kAdverbs.end()) return true;
  // Other adverbs in -ly ("finally", "totally"), but not verbs that end so.
  static constexpr std::array<std::string_view, 5> kLyVerbs = {"apply", "reply", "supply", "rely",
                                                               "fly"};
  return w.size() > 4 && w.ends_with("ly") &&
         std::find(kLyVerbs.begin(), kLyVerbs.end(), w) == kLyVerbs.end();
}

// After "I" became "they": "they am" -> "they are", "they was" -> "they were".
std::string PluralAgreement(const std::string& lower) {
  if (lower == "am" || lower == "are") return "are";
  if (lower == "was") return "were";
  if (lower == "wasn't") return "weren't";
  return "";
}

// Third person singular of `verb` (lower case as given): "export" ->
// "exports", "have" -> "has". Leaves modals and past forms alone.
std::string ThirdPersonVerb(const std::string& verb) {
  static const std::map<std::string, std::string, std::less<>> kIrregular = {
      {"am", "is"},         {"are", "is"},        {"have", "has"}, {"do", "does"},
      {"don't", "doesn't"}, {"go", "goes"},       {"were", "was"}, {"haven't", "hasn't"},
      {"aren't", "isn't"},  {"weren't", "wasn't"}};
  static constexpr std::array<std::string_view, 28> kUnchanged = {
      "can",    "could", "will",    "would",    "should",   "must",      "may",
      "might",  "can't", "won't",   "wouldn't", "couldn't", "shouldn't", "was",
      "did",    "had",   "said",    "got",      "went",     "made",      "didn't",
      "wasn't", "told",  "thought", "gonna",    "gotta",    "wanna",     "used"};
  // Irregular past forms, which "-ed" does not reveal ("I ran" is not "I run").
  static constexpr std::array<std::string_view, 48> kIrregularPast = {
      "ran",   "saw",    "took",    "came",  "gave",   "found",  "felt",       "left",
      "met",   "bought", "brought", "began", "wrote",  "won",    "sang",       "drew",
      "knew",  "kept",   "lost",    "spent", "sent",   "built",  "taught",     "caught",
      "heard", "held",   "paid",    "sold",  "stood",  "slept",  "swam",       "threw",
      "wore",  "chose",  "broke",   "spoke", "forgot", "became", "fell",       "grew",
      "drove", "rode",   "flew",    "ate",   "sat",    "led",    "understood", "tried"};
  std::string lower = ToLower(verb);
  if (auto it = kIrregular.find(lower); it != kIrregular.end()) return it->second;
  if (std::find(kUnchanged.begin(), kUnchanged.end(), lower) != kUnchanged.end()) return verb;
  if (std::find(kIrregularPast.begin(), kIrregularPast.end(), lower) != kIrregularPast.end()) {
    return verb;
  }
  // Past forms keep their shape; "need", "proceed" are present tense.
  const bool past = lower.ends_with("ed") && !lower.ends_with("eed");
  if (past || lower.empty() || !std::isalpha(static_cast<unsigned char>(lower.back()))) {
    return verb;
  }
  if (lower.ends_with("s") || lower.ends_with("sh") || lower.ends_with("ch") ||
      lower.ends_with("x") || lower.ends_with("z") || lower.ends_with("o")) {
    return verb + "es";
  }
  if (lower.size() > 1 && lower.back() == 'y' && !std::strchr("aeiou", lower[lower.size() - 2])) {
    return verb.substr(0, verb.size() - 1) + "ies";
  }
  return verb + "s";
}

// Words after which "you" is the subject of what follows ("I hope you have
// ...", "..., you are ..."): its verb then takes the third person.
bool IntroducesSubject(std::string_view previous_lower) {
  static constexpr std::array<std::string_view, 23> kIntroducers = {
      "and",  "but",   "so",    "if",    "when", "because", "cause", "that",
      "hope", "think", "bet",   "guess", "know", "sure",    "glad",  "wish",
      "as",   "while", "since", "where", "how",  "until",   "once"};
  return std::find(kIntroducers.begin(), kIntroducers.end(), previous_lower) != kIntroducers.end();
}

// Words that follow a subject "you" but are not its verb ("you guys", "you
// all"): conjugating them would garble the sentence.
bool IsNotAVerb(std::string_view lower) {
  static constexpr std::array<std::string_view, 8> kWords = {"guys", "all", "both", "two",
                                                             "too",  "and", "or",   "know"};
  return std::find(kWords.begin(), kWords.end(), lower) != kWords.end();
}

// Verbs that after "you" can only be its own: "you are", "you have".
bool IsAuxiliary(std::string_view lower) {
  static constexpr std::array<std::string_view, 8> kWords = {
      "are", "were", "have", "do", "don't", "aren't", "haven't", "weren't"};
  return std::find(kWords.begin(), kWords.end(), lower) != kWords.end();
}

}  // namespace

std::string RewriteSentence(std::string_view sentence, const SentenceRewrite& how) {
  const bool speaker_is_agent = how.speaker_is_agent;
  const std::string name = how.name.empty() ? "the caller" : how.name;
  std::vector<std::string> words = SplitSpaces(sentence);
  std::vector<std::string> out;
  bool named = false;      // the caller's name has been used once
  bool conjugate = false;  // the next verb follows a new singular subject
  bool plural = false;     // the next verb follows "they" (a repeated "I")
  auto subject = [&](const std::string& first, const std::string& later) {
    std::string s = named ? later : first;
    named = true;
    return s;
  };
  // The speaker's "I" forms, the same for a caller and a dialogue speaker:
  // the name the first time, "they" after. True when `lw` was one of them.
  auto FirstPerson = [&](const std::string& lw, std::string* rep, bool* set_conjugate,
                         bool* set_plural) {
    if (lw == "i") {
      *rep = subject(name, "they");
      *set_conjugate = *rep != "they";
      *set_plural = *rep == "they";
    } else if (lw == "i'm") {
      *rep = named ? "they are" : name + " is";
      named = true;
    } else if (lw == "i've") {
      *rep = named ? "they have" : name + " has";
      named = true;
    } else if (lw == "i'd") {
      *rep = subject(name, "they") + " would";
    } else if (lw == "i'll") {
      *rep = subject(name, "they") + " will";
    } else {
      return false;
    }
    return true;
  };
  for (size_t i = 0; i < words.size(); ++i) {
    auto [w, trail] = SplitTrailing(words[i]);
    std::string lw = ToLower(w);
    std::string rep;
    bool set_conjugate = false;
    bool set_plural = false;
    if (plural && !lw.empty()) {
      if (IsVerbSkipWord(lw)) {
        out.push_back(words[i]);
        continue;
      }
      plural = false;
      if (std::string agreed = PluralAgreement(lw); !agreed.empty()) {
        out.push_back(agreed + trail);
        continue;
      }
    }
    if (conjugate && !lw.empty() && IsNotAVerb(lw)) conjugate = false;
    if (conjugate && !lw.empty()) {
      if (IsVerbSkipWord(lw)) {
        out.push_back(words[i]);
        continue;
      }
      rep = ThirdPersonVerb(w);
      if (std::isupper(static_cast<unsigned char>(w[0])))
        rep[0] = static_cast<char>(std::toupper(rep[0]));
      conjugate = false;
      out.push_back(rep + trail);
      continue;
    }
    if (how.dialogue) {
      // The speaker's first person, as for a caller; "you" is the listener.
      const std::string prev = out.empty() ? "" : ToLower(SplitTrailing(out.back()).first);
      const bool after_pause = out.empty() || !SplitTrailing(out.back()).second.empty();
      if (FirstPerson(lw, &rep, &set_conjugate, &set_plural)) {
      } else if (lw == "me") {
        rep = named ? "them" : name;
        named = true;
      } else if (lw == "myself") {
        rep = named ? "themselves" : name;
        named = true;
      } else if (lw == "my") {
        rep = named ? "their" : name + "'s";
        named = true;
      } else if (lw == "mine") {
        rep = named ? "theirs" : name + "'s";
        named = true;
      } else if (!how.listener.empty()) {
        const std::string& l = how.listener;
        if (lw == "you") {
          rep = l;
          // "you are" is always a subject and its verb; elsewhere "you" is
          // a subject after a pause or a conjunction ("I hope you have").
          const std::string next =
              i + 1 < words.size() ? ToLower(SplitTrailing(words[i + 1]).first) : "";
          set_conjugate = after_pause || IntroducesSubject(prev) || IsAuxiliary(next);
        } else if (lw == "you're") {
          rep = l + " is";
        } else if (lw == "you've") {
          rep = l + " has";
        } else if (lw == "you'll") {
          rep = l + " will";
        } else if (lw == "you'd") {
          rep = l + " would";
        } else if (lw == "your" || lw == "yours") {
          rep = l + "'s";
        } else if (lw == "yourself") {
          rep = l;
        }
      }
    } else if (speaker_is_agent) {
      if (lw == "i")
        rep = "the agent";
      else if (lw == "i've")
        rep = "the agent has";
      else if (lw == "i'll")
        rep = "the agent will";
      else if (lw == "i'm")
        rep = "the agent is";
      else if (lw == "we" || lw == "us")
        rep = "the support team";
      else if (lw == "we'll")
        rep = "the support team will";
      else if (lw == "we've")
        rep = "the support team has";
      else if (lw == "our")
        rep = "the support team's";
      else if (lw == "you")
        rep = name;
      else if (lw == "you're")
        rep = name + " is";
      else if (lw == "your")
        rep = name + "'s";
      else if (lw == "i'd")
        rep = "the agent would";
      set_conjugate = lw == "i";
    } else {
      if (FirstPerson(lw, &rep, &set_conjugate, &set_plural)) {
      } else if (lw == "me" || lw == "myself") {
        rep = named ? "them" : name;
        named = true;
      } else if (lw == "my") {
        rep = named ? "their" : name + "'s";
        named = true;
      } else if (lw == "we") {
        rep = named ? "they" : name + "'s team";
        set_conjugate = !named;
        named = true;
      } else if (lw == "we're") {
        rep = named ? "they are" : name + "'s team is";
        named = true;
      } else if (lw == "we've") {
        rep = named ? "they have" : name + "'s team has";
        named = true;
      } else if (lw == "we'll") {
        rep = named ? "they will" : name + "'s team will";
        named = true;
      } else if (lw == "our") {
        rep = named ? "their" : name + "'s";
        named = true;
      } else if (lw == "us") {
        rep = "them";
      } else if (lw == "you") {
        rep = "the support team";
      } else if (lw == "your") {
        rep = "the support team's";
      }
    }
    if (rep.empty()) {
      out.push_back(words[i]);
      continue;
    }
    if (i == 0 || (!out.empty() && (out.back().ends_with('.') || out.back().ends_with(':')))) {
      rep[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(rep[0])));
    }
    out.push_back(rep + trail);
    conjugate = set_conjugate;
    plural = set_plural;
  }
  std::string joined;
  for (size_t i = 0; i < out.size(); ++i) {
    if (i) joined += ' ';
    joined += out[i];
  }
  // Drop a leading discourse marker ("So, ", "And ", "Yes. ") that means nothing alone.
  for (std::string_view lead : {"So, ", "So ", "And ", "Yes, ", "Well, ", "Honestly, ", "Also, "}) {
    if (joined.starts_with(lead) && joined.size() > lead.size() + 3) {
      joined = joined.substr(lead.size());
      joined[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(joined[0])));
      break;
    }
  }
  return joined;
}

std::string ToThirdPerson(std::string_view sentence, std::string_view name, bool speaker_is_agent) {
  return RewriteSentence(sentence, {std::string(name), speaker_is_agent, false, ""});
}

}  // namespace engram::memory
