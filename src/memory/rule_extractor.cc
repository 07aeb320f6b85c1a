#include "memory/rule_extractor.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <map>

#include "memory/text.h"

namespace engram::memory {

std::string_view SectorName(Sector s) {
  switch (s) {
    case Sector::kSemantic:
      return "semantic";
    case Sector::kEpisodic:
      return "episodic";
    case Sector::kProcedural:
      return "procedural";
    case Sector::kEmotional:
      return "emotional";
    case Sector::kReflective:
      return "reflective";
  }
  return "semantic";
}

std::optional<Sector> ParseSector(std::string_view name) {
  for (Sector s : kAllSectors) {
    if (SectorName(s) == name) return s;
  }
  return std::nullopt;
}

double SectorDecayPerDay(Sector s) {
  switch (s) {
    case Sector::kSemantic:
      return 0.005;
    case Sector::kEpisodic:
      return 0.015;
    case Sector::kProcedural:
      return 0.008;
    case Sector::kEmotional:
      return 0.02;
    case Sector::kReflective:
      return 0.001;
  }
  return 0.01;
}

namespace {

using Words = std::vector<std::string_view>;

// Products a caller may name as their CRM. Lower case, single tokens or
// two-word names joined by a space.
constexpr std::array<std::string_view, 18> kCrmProducts = {
    "hubspot", "salesforce", "zoho",     "pipedrive", "dynamics", "freshsales",
    "copper",  "insightly",  "sugarcrm", "keap",      "odoo",     "attio",
    "close",   "monday",     "nutshell", "capsule",   "zendesk",  "salesflare"};

// Display spelling of product names found in text (first occurrence wins).
std::string FindProduct(std::string_view sentence, const std::vector<std::string>& exclude = {}) {
  std::vector<std::string> tokens = Tokenize(sentence);
  for (const std::string& t : tokens) {
    if (std::find(kCrmProducts.begin(), kCrmProducts.end(), t) == kCrmProducts.end()) continue;
    if (t == "close" || t == "monday" || t == "copper") continue;  // too common as words
    if (std::find(exclude.begin(), exclude.end(), t) != exclude.end()) continue;
    // Recover the original spelling.
    std::string lower = ToLower(sentence);
    size_t pos = lower.find(t);
    while (pos != std::string::npos) {
      bool left = pos == 0 || !std::isalnum(static_cast<unsigned char>(lower[pos - 1]));
      bool right = pos + t.size() >= lower.size() ||
                   !std::isalnum(static_cast<unsigned char>(lower[pos + t.size()]));
      if (left && right) return std::string(sentence.substr(pos, t.size()));
      pos = lower.find(t, pos + 1);
    }
  }
  return "";
}

bool HasAny(const std::string& lower, std::initializer_list<std::string_view> words) {
  for (std::string_view w : words) {
    if (w.find(' ') != std::string_view::npos || w.find('\'') != std::string_view::npos) {
      if (lower.find(w) != std::string::npos) return true;
    } else if (ContainsWord(lower, w)) {
      return true;
    }
  }
  return false;
}

// Cue words per sector. A sentence scores one point per cue found.
int SectorScore(Sector s, const std::string& lower) {
  auto count = [&](std::initializer_list<std::string_view> cues) {
    int n = 0;
    for (std::string_view c : cues) {
      bool phrase = c.find(' ') != std::string_view::npos;
      if (phrase ? lower.find(c) != std::string::npos : ContainsWord(lower, c)) ++n;
    }
    return n;
  };
  switch (s) {
    case Sector::kEmotional:
      return 2 *
             count({"frustrated", "frustrating", "angry",   "upset",    "annoyed",      "relieved",
                    "happy",      "glad",        "worried", "stressed", "disappointed", "love",
                    "hate",       "rough",       "painful", "blamed",   "excited",      "thrilled",
                    "sad",        "anxious",     "nervous", "scared",   "furious",      "delighted",
                    "tired of",   "fed up"});
    case Sector::kProcedural:
      return 2 * count({"every monday", "every tuesday", "every wednesday", "every thursday",
                        "every friday", "every day",     "every night",     "every morning",
                        "every week",   "every month",   "each week",       "each morning",
                        "routine",      "usually",       "always",          "workflow",
                        "process",      "step",          "first i",         "by hand",
                        "export",       "reconcile",     "weekly",          "daily",
                        "monthly"});
    case Sector::kEpisodic:
      return count({"yesterday",    "last week",   "last month", "last year",  "started",
                    "stopped",      "moved",       "switched",   "opened",     "happened",
                    "ago",          "since",       "as of",      "after your", "went",
                    "visited",      "bought",      "called",     "met",        "finished",
                    "by thursday",  "by friday",   "by monday",  "on monday",  "on tuesday",
                    "on wednesday", "on thursday", "on friday",  "tomorrow",   "next week",
                    "next month",   "next monday", "january",    "february",   "march",
                    "april",        "may",         "june",       "july",       "august",
                    "september",    "october",     "november",   "december",   "ticket",
                    "update",       "fix",         "scheduled",  "requested"});
    case Sector::kReflective:
      return 2 * count({"i think", "i feel like", "i believe", "i guess", "i realized",
                        "i realised", "i learned", "lesson", "honestly", "trust", "trusting",
                        "i wonder", "it seems", "i tend to"});
    case Sector::kSemantic:
      return count({"is our", "our crm", "my name", "i'm the", "i am the", "works at", "work at",
                    "work for", "we use", "we're on", "prefer", "email", "address", "manager",
                    "team", "company", "based in", "live in", "crm"});
  }
  return 0;
}

// Sentences that carry nothing to remember.
bool IsSmallTalk(const std::string& lower, size_t content_words) {
  if (content_words < 3) return true;
  static constexpr std::array<std::string_view, 10> kOpeners = {
      "thank you",   "thanks",       "you too",   "bye",           "goodbye",
      "have a good", "have a great", "talk soon", "no, that's it", "that's it"};
  for (std::string_view o : kOpeners) {
    if (lower.starts_with(o) && content_words < 6) return true;
  }
  return false;
}

// Cues that make a sentence worth keeping at all.
bool IsDurable(const std::string& lower, bool agent) {
  if (agent) {
    return HasAny(lower, {"i've opened", "i opened", "i've created", "i've noted", "i've logged",
                          "i've requested", "i've scheduled", "i've escalated", "i'll have",
                          "we'll email", "we'll call", "ticket"});
  }
  for (Sector s : kAllSectors) {
    if (SectorScore(s, lower) > 0) return true;
  }
  return HasAny(lower,
                {"i need",       "i want",      "i'd like", "we need", "i use",    "we use",
                 "i have",       "we have",     "i never",  "i don't", "i always", "could someone",
                 "can someone",  "duplicate",   "problem",  "issue",   "error",    "broken",
                 "doesn't work", "not working", "syncing",  "sync"});
}

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

std::pair<std::string, std::string> SplitTrailing(const std::string& w) {
  size_t e = w.size();
  while (e > 0 && !std::isalnum(static_cast<unsigned char>(w[e - 1])) && w[e - 1] != '\'') --e;
  return {w.substr(0, e), w.substr(e)};
}

}  // namespace

std::vector<Sector> ClassifySectors(std::string_view sentence) {
  std::string lower = ToLower(sentence);
  std::vector<std::pair<int, Sector>> scored;
  for (Sector s : kAllSectors) {
    int score = SectorScore(s, lower);
    if (score > 0) scored.emplace_back(score, s);
  }
  // Highest score first; ties broken by the enum order, so the result is stable.
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Sector> out;
  for (const auto& [score, s] : scored) out.push_back(s);
  if (out.empty()) out.push_back(Sector::kSemantic);
  return out;
}

namespace {

// How a sentence is rewritten. Support calls: the caller is "user", the
// support agent "agent". Dialogues with named speakers ("Name: " prefixes):
// whoever speaks is `name`, "you" is `listener` (when known), and "we" stays
// "we", since a friend's "we" is a family or a couple, not a team.
struct Rewrite {
  std::string name;
  bool speaker_is_agent = false;
  bool dialogue = false;
  std::string listener;  // dialogue only; "" leaves "you" alone
};

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

std::string RewriteSentence(std::string_view sentence, const Rewrite& how) {
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

}  // namespace

std::string ToThirdPerson(std::string_view sentence, std::string_view name, bool speaker_is_agent) {
  return RewriteSentence(sentence, {std::string(name), speaker_is_agent, false, ""});
}

namespace {

struct Slot {
  std::string subject, value, content;
};

std::string Possessive(const std::string& name) { return name + "'s"; }

// Capitalised words after `marker` in `sentence`, e.g. "This is Priya Raman, ..." -> "Priya Raman".
std::string CapitalisedAfter(std::string_view sentence, std::string_view marker) {
  std::string lower = ToLower(sentence);
  size_t pos = lower.find(marker);
  if (pos == std::string::npos) return "";
  std::vector<std::string> words = SplitSpaces(sentence.substr(pos + marker.size()));
  std::string out;
  static constexpr std::array<std::string_view, 4> kJoiners = {"and", "&", "of", "de"};
  for (size_t i = 0; i < words.size(); ++i) {
    auto [w, trail] = SplitTrailing(words[i]);
    bool cap = !w.empty() && std::isupper(static_cast<unsigned char>(w[0]));
    bool joiner = !out.empty() &&
                  std::find(kJoiners.begin(), kJoiners.end(), w) != kJoiners.end() &&
                  i + 1 < words.size() && std::isupper(static_cast<unsigned char>(words[i + 1][0]));
    if (!cap && !joiner) break;
    if (!out.empty()) out += ' ';
    out += w;
    if (!trail.empty()) break;
  }
  return out;
}

// Lower-case words after `marker` up to " at " or punctuation: the role in
// "I'm the operations manager at ...".
std::string RoleAfter(std::string_view sentence, std::string_view marker) {
  std::string lower = ToLower(sentence);
  size_t pos = lower.find(marker);
  if (pos == std::string::npos) return "";
  std::string rest = lower.substr(pos + marker.size());
  size_t at = rest.find(" at ");
  if (at == std::string::npos) at = rest.find(" for ");
  if (at == std::string::npos || at > 40) return "";
  return Trim(rest.substr(0, at));
}

std::vector<Slot> FindSlots(std::string_view sentence, const std::string& name, bool agent) {
  std::vector<Slot> slots;
  const std::string lower = ToLower(sentence);
  const std::string who = name.empty() ? "The caller" : name;
  if (!agent) {
    // Name.
    for (std::string_view marker : {"this is ", "my name is ", "my name's "}) {
      std::string n = CapitalisedAfter(sentence, marker);
      if (n.find(' ') != std::string::npos || (marker != "this is " && !n.empty())) {
        slots.push_back({"name", n, "The caller's name is " + n + "."});
        break;
      }
    }
    // Role and employer.
    for (std::string_view marker : {"i'm the ", "i am the ", "i'm a ", "i am a ", "i'm an "}) {
      std::string role = RoleAfter(sentence, marker);
      if (role.empty()) continue;
      std::string company = CapitalisedAfter(sentence, std::string(marker) + role + " at ");
      if (company.empty())
        company = CapitalisedAfter(sentence, std::string(marker) + role + " for ");
      std::string subject_name = name.empty() ? "The caller" : name;
      if (!company.empty()) {
        slots.push_back(
            {"employer", company, subject_name + " is the " + role + " at " + company + "."});
      }
      break;
    }
    for (std::string_view marker : {"i work at ", "i work for "}) {
      std::string company = CapitalisedAfter(sentence, marker);
      if (!company.empty())
        slots.push_back({"employer", company, who + " works at " + company + "."});
    }
    // E-mail address: the caller's unless the sentence gives someone
    // else's ("Send Felix's copy to ...", "my son's email is ...").
    for (const std::string& w : SplitSpaces(sentence)) {
      if (NamesSomeoneElse(sentence)) break;
      auto [core, trail] = SplitTrailing(w);
      size_t at = core.find('@');
      if (at != std::string::npos && at > 0 && core.find('.', at) != std::string::npos) {
        slots.push_back(
            {"email", ToLower(core), Possessive(who) + " email address is " + ToLower(core) + "."});
      }
    }
    // Contact preference.
    if (lower.starts_with("email, please") || lower.starts_with("yes, email please") ||
        lower.starts_with("email please") ||
        HasAny(lower, {"prefer email", "email me", "email updates", "by email, please"})) {
      slots.push_back({"contact_preference", "email", who + " prefers to be contacted by email."});
    } else if (HasAny(lower, {"prefer a call", "prefer phone", "prefer text"}) ||
               // "Call me" / "text me" state a channel only beside a
               // preference ("Text me rather than calling", "just call me"):
               // "Please call me in Spanish" asks for a language.
               (HasAny(lower, {"call me", "text me"}) &&
                HasAny(lower, {"rather", "instead", "only", "just", "prefer", "best", "always"}))) {
      std::string v = HasAny(lower, {"text"}) ? "text message" : "phone";
      slots.push_back({"contact_preference", v, who + " prefers to be contacted by " + v + "."});
    }
  }
  // CRM: "X is our CRM", "our CRM is X", "we're on X", "we use X", "moved to X".
  std::string product = FindProduct(sentence);
  if (!product.empty()) {
    std::string p = ToLower(product);
    bool negated = HasAny(lower, {"moved off " + p, "off of " + p, "away from " + p,
                                  p + " has been shut off", p + " was shut off", "no longer use"});
    bool crm_word = ContainsWord(lower, "crm");
    bool on_product =
        HasAny(lower, {"we're on " + p, "we are on " + p, "we use " + p, "we're using " + p,
                       "moved to " + p, "switched to " + p, "migrated to " + p, "now on " + p,
                       "you're on " + p, "is our crm", "our crm is"});
    if (negated) {
      // The sentence may name the new product after the old one.
      std::string other = FindProduct(sentence, {p});
      if (!other.empty()) {
        product = other;
        p = ToLower(other);
        on_product = HasAny(lower, {"we're on " + p, "we are on " + p, "we use " + p,
                                    "moved to " + p, "switched to " + p, "now on " + p});
        negated = false;
      }
    }
    if (!negated && (on_product || (crm_word && HasAny(lower, {"is our", "our crm", "crm is"})))) {
      slots.push_back({"crm", product, Possessive(who) + " CRM is " + product + "."});
    }
    // Integration: "we connect Tandem to X", "I need Tandem syncing with X".
    if (!negated && !agent &&
        HasAny(lower, {"connect", "syncing with", "sync with", "integrate", "integration with"})) {
      slots.push_back(
          {"integration", product, Possessive(who) + " integration syncs with " + product + "."});
    }
  }
  return slots;
}

// Longest "Name: " prefix looked at: three words of a name and the colon.
constexpr size_t kMaxSpeakerPrefix = 40;
// Share of a transcript's turns that must carry a "Name: " prefix before the
// prefixes are read as speakers: a dialogue rendered from a chat has one on
// every turn, while a support agent's "Note: ..." is one turn among many.
constexpr int kSpeakerTurnsPercent = 80;
// Initial salience in a dialogue: what the user said about themselves, and
// what the other speaker said (kept, since questions about the user are
// often answered in the other's words, but ranked below the user's own).
constexpr double kOwnSalience = 0.6;
constexpr double kOwnEmotionalSalience = 0.5;
constexpr double kOtherSalience = 0.45;
constexpr double kSlotSalience = 0.8;

// "Melanie: Hi!" -> {"Melanie", "Hi!"}. A name is one to three words, each
// starting with an upper-case letter, made of letters, apostrophes, hyphens
// and dots. {"", message} when the message has no such prefix.
std::pair<std::string, std::string_view> SplitSpeaker(std::string_view message) {
  const size_t colon = message.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > kMaxSpeakerPrefix ||
      (colon + 1 < message.size() && message[colon + 1] != ' ')) {
    return {"", message};
  }
  const std::string_view name = message.substr(0, colon);
  int words = 0;
  bool word_start = true;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ' ') {
      if (word_start) return {"", message};  // two spaces, or a leading one
      word_start = true;
      continue;
    }
    if (word_start) {
      if (!std::isupper(u)) return {"", message};
      ++words;
      word_start = false;
    } else if (!std::isalpha(u) && c != '\'' && c != '-' && c != '.') {
      return {"", message};
    }
  }
  if (word_start || words > 3) return {"", message};
  std::string_view rest = message.substr(colon + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return {std::string(name), rest};
}

// A trailing bracketed annotation, "look! [shares a photo of a lake]" ->
// {"look!", "shares a photo of a lake"}: what a chat shows beside the text
// (an image's caption), kept as a sentence of its own.
std::pair<std::string_view, std::string_view> SplitAnnotation(std::string_view text) {
  if (!text.ends_with(']')) return {text, ""};
  const size_t open = text.rfind('[');
  if (open == std::string_view::npos || open + 2 >= text.size()) return {text, ""};
  std::string_view before = text.substr(0, open);
  while (!before.empty() && before.back() == ' ') before.remove_suffix(1);
  return {before, text.substr(open + 1, text.size() - open - 2)};
}

// Words of a chat that state nothing by themselves: greetings, reactions and
// fillers ("Wow, that's awesome, Mel!"). Lower case.
constexpr std::array<std::string_view, 60> kReactionWords = {
    "absolutely", "agree",      "ah",         "amazing", "awesome",   "aw",
    "aww",        "beautiful",  "bet",        "bye",     "congrats",  "congratulations",
    "cool",       "cute",       "definitely", "glad",    "good",      "gorgeous",
    "great",      "haha",       "hello",      "hey",     "hi",        "hmm",
    "hope",       "impressive", "incredible", "lol",     "looks",     "lovely",
    "luck",       "nice",       "oh",         "ok",      "okay",      "omg",
    "really",     "right",      "sound",      "sounds",  "such",      "super",
    "sure",       "sweet",      "thank",      "thanks",  "that's",    "thing",
    "totally",    "true",       "well",       "what's",  "wonderful", "wow",
    "yay",        "yeah",       "yep",        "yes",     "you're",    "fantastic"};

// A dialogue sentence with fewer than two words beyond reactions, stop words
// and the speakers' names: small talk.
bool IsDialogueSmallTalk(const std::string& lower, const std::vector<std::string>& names) {
  int informative = 0;
  for (const std::string& t : Tokenize(lower)) {
    if (IsStopWord(t)) continue;
    if (std::find(kReactionWords.begin(), kReactionWords.end(), t) != kReactionWords.end()) {
      continue;
    }
    if (std::find(names.begin(), names.end(), t) != names.end()) continue;
    if (++informative >= 2) return false;
  }
  return true;
}

std::string EndSentence(std::string s) {
  if (!s.empty() && !std::ispunct(static_cast<unsigned char>(s.back()))) s += '.';
  return s;
}

// Memories of one turn of a dialogue between named speakers. Casual talk
// carries its facts without the cue words of a support call ("We went
// camping in the mountains last week"), so every informative statement is
// kept, rewritten about its speaker; small talk and questions are not.
void ExtractDialogueTurn(const TranscriptTurn& turn, const std::string& speaker,
                         std::string_view text, const std::string& listener,
                         std::vector<ExtractedMemory>& out) {
  const bool own = turn.role == "user";
  const Rewrite how{speaker, false, true, listener};
  const std::string speaker_lower = ToLower(speaker);
  std::vector<std::string> names = Tokenize(speaker_lower);
  for (std::string& t : Tokenize(listener)) names.push_back(std::move(t));
  auto [body, annotation] = SplitAnnotation(text);
  auto add = [&](std::string content, const std::string& classify) {
    ExtractedMemory m;
    m.content = EndSentence(std::move(content));
    m.sectors = ClassifySectors(classify);
    m.primary = m.sectors.front();
    m.salience = !own                              ? kOtherSalience
                 : m.primary == Sector::kEmotional ? kOwnEmotionalSalience
                                                   : kOwnSalience;
    m.source_turns = {turn.index};
    out.push_back(std::move(m));
  };
  for (const std::string& raw : SplitSentences(body)) {
    const std::string sentence = NormalizeSpoken(raw);
    const std::string lower = ToLower(sentence);
    if (own) {
      // Only facts that cannot be a friend's chatter: where they work, their
      // address. Another speaker's slots would supersede the user's own.
      for (const Slot& slot : FindSlots(sentence, speaker, false)) {
        if (slot.subject != "employer" && slot.subject != "email") continue;
        ExtractedMemory m;
        m.content = slot.content;
        m.subject = slot.subject;
        m.value = slot.value;
        m.primary = Sector::kSemantic;
        m.sectors = {Sector::kSemantic};
        m.salience = kSlotSalience;
        m.source_turns = {turn.index};
        out.push_back(std::move(m));
      }
    }
    if (IsDialogueSmallTalk(lower, names)) continue;
    if (sentence.ends_with('?')) continue;
    std::string content = RewriteSentence(sentence, how);
    // Every memory names its speaker: both speakers' words are kept.
    if (!ContainsWord(ToLower(content), speaker_lower)) content = speaker + ": " + content;
    add(std::move(content), sentence);
  }
  if (!annotation.empty()) add(speaker + " " + std::string(annotation), std::string(annotation));
}

}  // namespace

Result<std::vector<ExtractedMemory>> RuleExtractor::Extract(const ExtractionInput& input) {
  std::vector<ExtractedMemory> out;
  // A dialogue between named speakers: nearly every turn says who speaks.
  std::vector<std::string> speakers;  // distinct, in order of appearance
  int nonempty = 0, prefixed = 0;
  for (const TranscriptTurn& turn : input.turns) {
    if (turn.message.empty()) continue;
    ++nonempty;
    std::string speaker = SplitSpeaker(turn.message).first;
    if (speaker.empty()) continue;
    ++prefixed;
    if (std::find(speakers.begin(), speakers.end(), speaker) == speakers.end()) {
      speakers.push_back(std::move(speaker));
    }
  }
  if (prefixed >= 2 && prefixed * 100 >= nonempty * kSpeakerTurnsPercent) {
    for (const TranscriptTurn& turn : input.turns) {
      auto [speaker, text] = SplitSpeaker(turn.message);
      if (speaker.empty() || text.empty()) continue;
      // "You" is the other speaker when there are two; in a group it could
      // be anyone, and stays "you".
      std::string listener;
      if (speakers.size() == 2) listener = speakers[0] == speaker ? speakers[1] : speakers[0];
      ExtractDialogueTurn(turn, speaker, text, listener, out);
    }
    return out;
  }

  std::string name = input.caller_name;
  // A name stated in this call wins for rewriting the rest of it.
  for (const TranscriptTurn& turn : input.turns) {
    if (turn.role != "user") continue;
    for (const std::string& s : SplitSentences(turn.message)) {
      for (const Slot& slot : FindSlots(s, "", false)) {
        if (slot.subject == "name") name = slot.value;
      }
    }
  }
  for (const TranscriptTurn& turn : input.turns) {
    if (turn.message.empty()) continue;
    const bool agent = turn.role != "user";
    for (const std::string& raw : SplitSentences(turn.message)) {
      const std::string sentence = NormalizeSpoken(raw);
      const std::string lower = ToLower(sentence);
      size_t content_words = 0;
      for (const std::string& t : Tokenize(lower)) content_words += !IsStopWord(t);
      std::vector<Slot> slots = FindSlots(sentence, name, agent);
      for (const Slot& slot : slots) {
        ExtractedMemory m;
        m.content = slot.content;
        m.subject = slot.subject;
        m.value = slot.value;
        m.primary = Sector::kSemantic;
        m.sectors = {Sector::kSemantic};
        m.salience = agent ? 0.6 : 0.8;
        m.source_turns = {turn.index};
        out.push_back(std::move(m));
      }
      if (IsSmallTalk(lower, content_words)) continue;
      if (!IsDurable(lower, agent)) continue;
      std::vector<Sector> sectors = ClassifySectors(sentence);
      // A sentence that only restates its slot adds nothing; one that also
      // tells of an event, a routine or a feeling is kept as well.
      if (!slots.empty() && sectors.front() == Sector::kSemantic) continue;
      if (slots.size() == 1 && slots[0].subject == "email") continue;
      ExtractedMemory m;
      m.content = ToThirdPerson(sentence, name, agent);
      if (!m.content.empty() && !std::ispunct(static_cast<unsigned char>(m.content.back()))) {
        m.content += '.';
      }
      m.primary = sectors.front();
      m.sectors = sectors;
      m.salience = agent ? 0.35 : (m.primary == Sector::kEmotional ? 0.5 : 0.6);
      m.source_turns = {turn.index};
      out.push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace engram::memory
