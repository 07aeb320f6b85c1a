#include "memory/rule_extractor.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <map>

#include "memory/text.h"
#include "memory/third_person.h"

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
  const SentenceRewrite how{speaker, false, true, listener};
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
