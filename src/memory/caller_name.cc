#include "memory/caller_name.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace engram::memory {
namespace {

using Words = std::vector<std::string>;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool In(std::string_view word, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), word) != set.end();
}

// Capitalised words that are no person's name wherever they stand: days,
// months, pronouns, greetings and fillers, question words, titles.
bool IsStopword(const std::string& lower) {
  return In(lower,
            {"monday",    "tuesday",   "wednesday", "thursday", "friday",    "saturday", "sunday",
             "january",   "february",  "march",     "april",    "may",       "june",     "july",
             "august",    "september", "october",   "november", "december",  "today",    "tomorrow",
             "yesterday", "tonight",   "christmas", "easter",   "i",         "i'm",      "i've",
             "i'll",      "i'd",       "me",        "my",       "mine",      "we",       "we're",
             "us",        "our",       "you",       "you're",   "your",      "he",       "she",
             "they",      "it",        "it's",      "its",      "this",      "that",     "there",
             "here",      "hi",        "hello",     "hey",      "thanks",    "thank",    "yes",
             "yeah",      "yep",       "no",        "nope",     "ok",        "okay",     "sure",
             "sorry",     "please",    "well",      "so",       "just",      "oh",       "um",
             "uh",        "hmm",       "right",     "great",    "perfect",   "fine",     "good",
             "morning",   "afternoon", "evening",   "the",      "a",         "an",       "and",
             "but",       "or",        "not",       "also",     "actually",  "calling",  "about",
             "regarding", "again",     "what",      "who",      "why",       "how",      "when",
             "where",     "which",     "nobody",    "everyone", "everybody", "someone",  "somebody",
             "anyone",    "mr",        "mrs",       "ms",       "miss",      "dr",       "sir",
             "madam",     "ma'am",     "customer",  "caller",   "urgent",    "important"});
}

// Words that end a company's name: "This is Acme Plumbing LLC" names no one.
bool IsCompanySuffix(const std::string& lower) {
  return In(lower, {"inc",         "llc",      "ltd",      "limited",  "co",      "corp",
                    "corporation", "company",  "group",    "services", "service", "solutions",
                    "associates",  "partners", "holdings", "team",     "support", "department",
                    "dept",        "office",   "plc",      "gmbh"});
}

bool IsLetter(unsigned char c) { return std::isalpha(c) || c >= 0x80; }

// One name token: a capital, then letters with inner hyphens or apostrophes
// ("Vasquez-Brandt", "O'Neill"), two letters at least, not a stopword.
bool IsNameToken(const std::string& w) {
  if (w.size() < 2) return false;
  unsigned char first = static_cast<unsigned char>(w[0]);
  if (!std::isupper(first) && first < 0xC0) return false;
  if (!IsLetter(static_cast<unsigned char>(w.back()))) return false;
  for (char c : w) {
    if (!IsLetter(static_cast<unsigned char>(c)) && c != '-' && c != '\'') return false;
  }
  std::string lower = Lower(w);
  return !IsStopword(lower) && !IsCompanySuffix(lower);
}

// "F-E-R-R-E-I-R-A": a name spelled out letter by letter, not a name token.
bool IsSpelled(const std::string& w) {
  if (w.find('-') == std::string::npos) return false;
  size_t run = 0;
  for (char c : w) {
    if (c == '-') {
      if (run > 1) return false;
      run = 0;
    } else {
      ++run;
    }
  }
  return run <= 1;
}

// A courtesy title before a surname ("Mr. Mensah", "Dr Okafor").
bool IsTitle(const std::string& lower) {
  return In(lower, {"mr", "mrs", "ms", "miss", "mister", "dr", "doctor"});
}

bool IsPossessive(const std::string& w) {
  return w.size() > 2 && w.compare(w.size() - 2, 2, "'s") == 0;
}

// The name in words[from...]: one to three name tokens. Empty when there is
// none, or when the words read as something else: a possessive ("Marcus's
// order"), a company ("Acme Plumbing LLC"), or a run of four capitals (a title).
Words NameAt(const Words& words, size_t from) {
  Words name;
  size_t i = from;
  for (; i < words.size() && name.size() < 4; ++i) {
    if (!IsNameToken(words[i]) || IsSpelled(words[i])) break;
    if (IsPossessive(words[i])) return {};
    name.push_back(words[i]);
  }
  if (name.size() > 3) return {};
  if (i < words.size() && IsCompanySuffix(Lower(words[i]))) return {};
  return name;
}

// "Mr. Mensah": the surname after a title, which is all the name it gives.
Words TitledSurnameAt(const Words& lower, const Words& words, size_t from) {
  if (from >= lower.size() || !IsTitle(lower[from])) return {};
  Words name = NameAt(words, from + 1);
  if (name.size() != 1) return {};
  return name;
}

// A clause: the words between punctuation marks of one turn.
struct Clause {
  Words words;  // as said
  Words lower;  // lower case
};

std::vector<Clause> Clauses(const std::string& message) {
  std::string text;
  // Curly apostrophes as straight ones, so "it’s" is "it's".
  for (size_t i = 0; i < message.size(); ++i) {
    if (message.compare(i, 3, "\xE2\x80\x99") == 0) {
      text += '\'';
      i += 2;
    } else {
      text += message[i];
    }
  }
  std::vector<Clause> clauses(1);
  std::string word;
  auto end_clause = [&] {
    if (!clauses.back().words.empty()) clauses.emplace_back();
  };
  auto flush_word = [&] {
    if (!word.empty()) {
      clauses.back().words.push_back(word);
      clauses.back().lower.push_back(Lower(word));
    }
    word.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    // "Mr. Mensah" is one clause: the dot after a title ends no sentence.
    if (c == '.' && IsTitle(Lower(word))) continue;
    // An em or en dash, or "--", sets off what follows ("it's Tom — Thomas").
    if (text.compare(i, 3, "\xE2\x80\x94") == 0 || text.compare(i, 3, "\xE2\x80\x93") == 0 ||
        text.compare(i, 2, "--") == 0) {
      flush_word();
      end_clause();
      i += c == '-' ? 1 : 2;
    } else if (In(std::string_view(&c, 1), {",", ".", "!", "?", ";", ":", "(", ")", "\""})) {
      flush_word();
      end_clause();
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      flush_word();
    } else {
      word += c;
    }
  }
  flush_word();
  if (clauses.back().words.empty()) clauses.pop_back();
  return clauses;
}

bool IsFiller(const std::string& lower) {
  return In(lower,
            {"hi",        "hello",   "hey",   "yes",       "yeah", "yep",    "sure", "ok",
             "okay",      "um",      "uh",    "oh",        "well", "so",     "good", "morning",
             "afternoon", "evening", "there", "certainly", "of",   "course", "and"});
}

// Whether the fillers before `at` only say yes ("Yep, Tom Brennan"): no
// greeting that could address the agent by its name.
bool AffirmsOnly(const Clause& c, size_t at) {
  for (size_t i = 0; i < at; ++i) {
    if (!In(c.lower[i], {"yes", "yeah", "yep", "sure", "ok", "okay", "um", "uh", "of", "course",
                         "certainly"})) {
      return false;
    }
  }
  return true;
}

// Index of the first word after leading greetings and fillers.
size_t SkipFillers(const Clause& c) {
  size_t i = 0;
  while (i < c.lower.size() && IsFiller(c.lower[i])) ++i;
  return i;
}

bool StartsWith(const Words& lower, size_t at, std::initializer_list<std::string_view> phrase) {
  if (at + phrase.size() > lower.size()) return false;
  size_t i = at;
  for (std::string_view p : phrase) {
    if (lower[i++] != p) return false;
  }
  return true;
}

// Words after a self-introduction at `at` ("it's", "this is", "my name is",
// "my name's", "name's"), or npos.
size_t AfterIntroduction(const Words& lower, size_t at) {
  for (auto phrase : {std::initializer_list<std::string_view>{"my", "name", "is", "now"},
                      {"it's", "under"},
                      {"it", "is", "under"},
                      {"that's", "under"},
                      {"my", "name", "is"},
                      {"my", "name's"},
                      {"the", "name's"},
                      {"name's"},
                      {"this", "is"},
                      {"it", "is"},
                      {"it's"}}) {
    if (StartsWith(lower, at, phrase)) return at + phrase.size();
  }
  return std::string::npos;
}

bool AsksForName(const std::string& agent_message) {
  std::string lower = Lower(agent_message);
  for (std::string_view ask :
       {"your name", "who am i speaking", "who i'm speaking", "who am i talking", "who i'm talking",
        "who's calling", "who is calling", "who's this", "who is this", "name please", "what name",
        "which name", "name on the", "name is the", "name under", "am i speaking with",
        "am i talking to", "am i talking with"}) {
    if (lower.find(ask) != std::string::npos) return true;
  }
  return false;
}

// The agent's own name from its introduction ("Hi, this is Sage from ...",
// "I'm Robin"), so that "Hi Robin" from the caller names no caller.
std::string AgentFirstName(const std::vector<TranscriptTurn>& turns) {
  for (const TranscriptTurn& t : turns) {
    if (t.role != "agent") continue;
    for (const Clause& c : Clauses(t.message)) {
      for (size_t i = 0; i < c.lower.size(); ++i) {
        size_t after = AfterIntroduction(c.lower, i);
        if (after == std::string::npos &&
            (c.lower[i] == "i'm" || StartsWith(c.lower, i, {"i", "am"})))
          after = i + (c.lower[i] == "i'm" ? 1 : 2);
        if (after == std::string::npos) continue;
        Words name = NameAt(c.words, after);
        if (!name.empty()) return name.front();
      }
    }
    return "";  // only the agent's first turn introduces it
  }
  return "";
}

// Words after what only a caller says of themself at the start of a clause
// ("I'm Thomas Okafor", "you're speaking with Kwame Asante", "first name
// Thomas"), or npos.
size_t AfterCallerIntroduction(const Words& lower, size_t at) {
  for (auto phrase : {std::initializer_list<std::string_view>{"i'm"},
                      {"i", "am"},
                      {"you're", "speaking", "with"},
                      {"you", "are", "speaking", "with"},
                      {"you're", "talking", "to"},
                      {"you've", "got"},
                      {"my", "first", "name", "is"},
                      {"first", "name", "is"},
                      {"first", "name"}}) {
    if (StartsWith(lower, at, phrase)) return at + phrase.size();
  }
  return std::string::npos;
}

bool IsHesitation(const std::string& lower) {
  return In(lower, {"uh", "um", "er", "erm", "hmm", "like"});
}

// Past hesitations after an introduction: "it's uh Thomas".
size_t SkipHesitation(const Clause& c, size_t at) {
  while (at < c.lower.size() && IsHesitation(c.lower[at])) ++at;
  return at;
}

// "last name Okafor", "my last name is Okafor", "surname Okafor": the
// surname a caller gives after their first name.
Words LastNameAt(const Clause& c, size_t at) {
  for (auto phrase : {std::initializer_list<std::string_view>{"my", "last", "name", "is"},
                      {"last", "name", "is"},
                      {"last", "name"},
                      {"and", "last", "name"},
                      {"and", "my", "last", "name", "is"},
                      {"my", "surname", "is"},
                      {"surname"}}) {
    if (StartsWith(c.lower, at, phrase)) return NameAt(c.words, at + phrase.size());
  }
  return {};
}

// What the caller says of their own name in one turn. `agent` is the agent's
// first name, which never completes the caller's.
Words CallerStatement(const std::string& message, bool asked, const std::string& agent) {
  Words found;
  auto take = [&](Words name) {
    if (name.size() > found.size()) found = std::move(name);
  };
  Words last_name;            // "last name Mensah", said before or after the first name
  bool after_single = false;  // the clause before named one word, or hesitated after it
  bool first = true;          // the first clause with more than greetings in it
  for (const Clause& c : Clauses(message)) {
    size_t at = SkipFillers(c);
    if (at == c.words.size()) continue;
    const bool greeted = at > 0;
    // "my name is Lucia, um, Ferreira": a lone word after a hesitation
    // completes the one-word name said just before.
    if (std::all_of(c.lower.begin() + static_cast<long>(at), c.lower.end(), IsHesitation)) {
      continue;  // keeps after_single
    }
    if (Words lone = NameAt(c.words, SkipHesitation(c, at));
        after_single && found.size() == 1 && lone.size() == 1 &&
        SkipHesitation(c, at) + 1 == c.words.size() && lone.front() != found.front() &&
        lone.front() != agent) {
      found.push_back(lone.front());
      after_single = false;
      first = false;
      continue;
    }
    after_single = false;
    // "I'm Thomas Okafor", "you're speaking with Kwame Asante", "first name
    // Thomas": opening the turn or answering the agent's "your name?" only
    // ("Honestly, I'm Canadian" later in a turn is no introduction).
    if (size_t after = AfterCallerIntroduction(c.lower, at);
        after != std::string::npos && (first || asked || !last_name.empty())) {
      take(NameAt(c.words, SkipHesitation(c, after)));
    }
    // "..., last name Okafor" completes the first name said before it; said
    // first ("Last name Mensah, first name Abena"), it waits for the first.
    if (Words last = LastNameAt(c, at); last.size() == 1) {
      if (found.size() == 1) {
        found.push_back(last.front());
      } else {
        last_name = last;
      }
      first = false;
      continue;
    }
    // "it's Kwame, Kwame Asante", "it's uh Thomas, um, Thomas Okafor", "it's
    // Mensah, Abena Mensah", "Mr. Mensah. Kofi Mensah": a clause of just a
    // fuller form of the name already said, first name or surname, or a
    // short form corrected to the formal one with the same initial ("it's
    // Tom — Thomas Brennan"; not "it's Dana, Copperleaf Roofing").
    if (!found.empty()) {
      Words again = NameAt(c.words, at);
      const bool same_name = again.size() > found.size() &&
                             (again.front() == found.front() || again.back() == found.back());
      const bool formal_form =
          found.size() == 1 && again.size() >= 2 && again.front()[0] == found.front()[0];
      if (at + again.size() == c.words.size() && (same_name || formal_form)) {
        found = std::move(again);
      }
    }
    // "it's Marcus", "my name is Dana Whitfield", anywhere in the clause for
    // "my name is", at its start for the others ("Hi Robin it's Marcus" too).
    for (size_t i = at; i < c.lower.size(); ++i) {
      size_t after = AfterIntroduction(c.lower, i);
      if (after == std::string::npos) continue;
      bool my_name = c.lower[i] == "my" || c.lower[i] == "the" || c.lower[i] == "name's";
      bool addressed_first = greeted && i > at && i - at <= 3 &&
                             NameAt(c.words, at).size() == i - at;  // "Hi Robin it's ..."
      if (!my_name && i != at && !addressed_first) continue;
      size_t name_at = SkipHesitation(c, after);
      Words name = NameAt(c.words, name_at);
      // "It's Mr. Mensah": the surname is the name until a fuller one comes.
      take(name.empty() ? TitledSurnameAt(c.lower, c.words, name_at) : name);
    }
    // "Nate again", "Dana here", "Marcus calling", and "Nate from Copperleaf"
    // when it opens the turn.
    Words name = NameAt(c.words, at);
    size_t next = at + name.size();
    if (!name.empty() && next < c.lower.size() &&
        (In(c.lower[next], {"again", "here", "calling", "speaking"}) ||
         (first && c.lower[next] == "from"))) {
      take(name);
    }
    // A bare name answering "May I have your name?": "Dana Whitfield.", "Yes,
    // Dana Whitfield." (a greeting before it may address the agent instead).
    if (asked && first && (!greeted || AffirmsOnly(c, at)) && !name.empty() &&
        next == c.words.size()) {
      take(name);
    }
    after_single = found.size() == 1 && found.front() == c.words.back();
    first = false;
  }
  if (found.size() == 1 && last_name.size() == 1 && last_name.front() != found.front()) {
    found.push_back(last_name.front());
  } else if (found.empty()) {
    found = last_name;  // a surname alone is still the caller's name
  }
  return found;
}

// The agent addressing the caller: "Thanks, Marcus", "Hi Dana, good to hear
// from you", "Welcome back Dana Whitfield".
Words AgentAddress(const std::string& message) {
  Words found;
  size_t index = 0;
  for (const Clause& c : Clauses(message)) {
    size_t at = 0;
    while (at < c.lower.size() &&
           In(c.lower[at], {"hi", "hello", "hey", "thanks", "thank", "you", "welcome", "back",
                            "good", "morning", "afternoon", "evening", "great", "perfect", "lovely",
                            "okay", "ok", "sure", "alright"})) {
      ++at;
    }
    // "Thank you, Mr. Mensah": the surname after a title addresses the caller.
    if (at < c.lower.size() && In(c.lower[at], {"mr", "mrs", "ms", "miss", "mister"})) ++at;
    // A vocative: a clause of just a name after another clause, or after a
    // greeting in its own clause.
    Words name = NameAt(c.words, at);
    if (!name.empty() && at + name.size() == c.words.size() && (at > 0 || index > 0) &&
        name.size() > found.size()) {
      found = name;
    }
    ++index;
  }
  return found;
}

// Which part of the caller's name the agent asks for on its own: "Can I get
// your last name?", "And the first name?". Not a part of someone else's
// name ("your landlord's last name").
enum class NamePart { kNone, kFirst, kLast };

NamePart AsksForNamePart(const std::string& agent_message) {
  for (const Clause& c : Clauses(agent_message)) {
    for (size_t i = 0; i + 1 < c.lower.size(); ++i) {
      NamePart part = NamePart::kNone;
      size_t end = i + 2;
      if (StartsWith(c.lower, i, {"last", "name"}) || StartsWith(c.lower, i, {"family", "name"})) {
        part = NamePart::kLast;
      } else if (StartsWith(c.lower, i, {"first", "name"}) ||
                 StartsWith(c.lower, i, {"given", "name"})) {
        part = NamePart::kFirst;
      } else if (c.lower[i] == "surname") {
        part = NamePart::kLast;
        end = i + 1;
      }
      if (part == NamePart::kNone) continue;
      // "first and last name" asks for the whole name.
      if (end < c.lower.size() && c.lower[end] == "and") return NamePart::kNone;
      if (i > 0 && c.lower[i - 1] == "and" && i > 1 && In(c.lower[i - 2], {"first", "last"})) {
        return NamePart::kNone;
      }
      const std::string before = i > 0 ? c.lower[i - 1] : "";
      if (In(before, {"his", "her", "their", "its"})) return NamePart::kNone;
      if (IsPossessive(before) && !In(before, {"what's", "that's", "it's", "who's"})) {
        return NamePart::kNone;
      }
      return part;
    }
  }
  return NamePart::kNone;
}

// The caller's answer to a part of their name: its first name token, said
// bare or after "it's" ("Mensah.", "It's Lucia, L-U-C-I-A.").
std::string NamePartAnswer(const std::string& caller_message) {
  std::vector<Clause> clauses = Clauses(caller_message);
  for (const Clause& c : clauses) {
    size_t at = SkipFillers(c);
    if (at == c.words.size()) continue;
    for (auto phrase : {std::initializer_list<std::string_view>{"it's"},
                        {"it", "is"},
                        {"that's"},
                        {"that", "is"}}) {
      if (StartsWith(c.lower, at, phrase)) {
        at += phrase.size();
        break;
      }
    }
    Words name = NameAt(c.words, SkipHesitation(c, at));
    return name.size() == 1 ? name.front() : "";
  }
  return "";
}

// "Am I speaking with Mr. Mensah?", "Thank you, Mrs. Brandt": the surname
// the agent addresses the caller by.
std::string AgentTitledSurname(const std::string& agent_message) {
  for (const Clause& c : Clauses(agent_message)) {
    for (size_t i = 0; i < c.lower.size(); ++i) {
      if (!In(c.lower[i], {"mr", "mrs", "ms", "miss", "mister"})) continue;
      const bool addressed =
          i == 0 || In(c.lower[i - 1], {"with", "to", "this", "thanks", "you", "hi", "hello",
                                        "morning", "afternoon", "evening", "back"});
      Words name = TitledSurnameAt(c.lower, c.words, i);
      if (addressed && !name.empty()) return name.front();
    }
  }
  return "";
}

bool Contradicts(const std::string& caller_message) {
  std::string lower = Lower(caller_message);
  std::string first = lower.substr(0, lower.find_first_of(" ,.!?"));
  if (In(first, {"no", "nope", "not", "actually", "wrong", "nah"})) return true;
  for (std::string_view no : {"it's not", "that's not", "that isn't", "it isn't"}) {
    if (lower.rfind(no, 0) == 0) return true;
  }
  return false;
}

std::string Join(const Words& w) {
  std::string out;
  for (const std::string& s : w) out += (out.empty() ? "" : " ") + s;
  return out;
}

}  // namespace

std::optional<std::string> CallerNameFromTranscript(const std::vector<TranscriptTurn>& turns) {
  const std::string agent = AgentFirstName(turns);
  auto not_agent = [&](const Words& w) { return !w.empty() && w.front() != agent; };
  Words caller;  // the fullest, then the latest, of the caller's statements
  std::vector<Words> addressed;
  std::string first_part, last_part;  // answers to "your first name?", "your last name?"
  std::string titled_surname;         // "Am I speaking with Mr. Mensah?"
  bool asked = false;
  NamePart part = NamePart::kNone;
  for (size_t i = 0; i < turns.size(); ++i) {
    const TranscriptTurn& t = turns[i];
    if (t.message.empty()) continue;
    if (t.role == "agent") {
      asked = AsksForName(t.message);
      part = AsksForNamePart(t.message);
      // Not taken when the caller's next words deny it ("No, it's Diana").
      auto reply = std::find_if(turns.begin() + static_cast<long>(i) + 1, turns.end(),
                                [](const TranscriptTurn& r) { return r.role == "user"; });
      const bool denied = reply != turns.end() && Contradicts(reply->message);
      if (std::string surname = AgentTitledSurname(t.message); !surname.empty() && !denied) {
        titled_surname = surname;
      }
      Words name = AgentAddress(t.message);
      if (not_agent(name) && !denied) addressed.push_back(name);
    } else if (t.role == "user") {
      Words name = CallerStatement(t.message, asked, agent);
      if (std::string answer = NamePartAnswer(t.message); !answer.empty() && answer != agent) {
        if (part == NamePart::kFirst) first_part = answer;
        if (part == NamePart::kLast) last_part = answer;
      }
      asked = false;
      part = NamePart::kNone;
      if (not_agent(name) && name.size() >= caller.size()) caller = name;
    }
  }
  // A name given in parts, or a first name the agent's "Mr. Mensah" completes.
  if (caller.size() <= 1) {
    std::string first = !first_part.empty() ? first_part : (caller.empty() ? "" : caller.front());
    std::string last = !last_part.empty() ? last_part : titled_surname;
    if (!first.empty() && !last.empty() && first != last) {
      caller = {first, last};
    } else if (caller.empty() && !last_part.empty()) {
      caller = {last_part};
    }
  }
  Words best = caller;
  if (best.empty()) {
    for (const Words& a : addressed) {
      if (a.size() >= best.size()) best = a;
    }
  } else if (best.size() == 1) {
    // "It's Marcus" ... "Thanks, Marcus Oyelaran": the fuller form of the same name.
    for (const Words& a : addressed) {
      if (a.size() > best.size() && a.front() == best.front()) best = a;
    }
  }
  if (best.empty()) return std::nullopt;
  return Join(best);
}

}  // namespace engram::memory
