#include "memory/summary.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_map>

#include "memory/analysis_memories.h"
#include "memory/speakable.h"
#include "memory/text.h"

namespace engram::memory {
namespace {

// At most this many routines, other memories and sentences of the last
// call's summary: enough to recall the caller, short enough to leave room
// for each kind within kSummaryMaxWords.
constexpr size_t kMaxRoutines = 2;
constexpr size_t kMaxRecent = 3;
constexpr size_t kMaxCallSentences = 3;
// A value shorter than this ("2", "yes") is not looked for in what was
// already said: it would be found inside other words.
constexpr size_t kMinDedupValue = 4;
// Facts said before the last call and routines; more come after everything
// else, if there is room: an agent with many data-collection items must not
// crowd out the last call.
constexpr size_t kMaxEarlyFacts = 8;

// The parts of the summary, in the order they are written.
enum class Part { kWho, kFacts, kRoutines, kLastCall, kRecent };

struct Piece {
  Part part;
  int priority;  // chosen in this order while the budget lasts
  std::string text;
  int after = -1;  // index of the piece that must be chosen first (-1: none)
};

// Lower case, "&" as "and", only letters, digits and single spaces: for
// finding a value in what was already said ("Hollis & Vane" in "Hollis and
// Vane").
std::string Normalized(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '&') {
      out += " and ";
    } else if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += ' ';
    }
  }
  std::string collapsed;
  for (char c : out) {
    if (c == ' ' && (collapsed.empty() || collapsed.back() == ' ')) continue;
    collapsed += c;
  }
  if (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
  return collapsed;
}

// SpeakableSentence, remembered per thread. Learning builds the rule summary
// many times per call over mostly the same facts (SummaryFacts in
// projections/memory_learning.cc probes each newest statement), and
// rewriting the same sentences again was ~9 % of a replay. SpeakableSentence
// is a pure function of its arguments, so the remembered answer is the one
// it would give.
std::string RememberedSpeakableSentence(std::string_view sentence, const CallerReference& caller,
                                        bool alone) {
  // Bounded: dropped whole when full (a summary needs a few dozen).
  constexpr size_t kMaxRemembered = 4096;
  thread_local std::unordered_map<std::string, std::string> remembered;
  thread_local std::string key;
  key.clear();
  key += alone ? '1' : '0';
  key += caller.full;
  key += '\x1f';
  key += caller.short_form;
  key += '\x1f';
  key += sentence;
  auto it = remembered.find(key);
  if (it != remembered.end()) return it->second;
  if (remembered.size() >= kMaxRemembered) remembered.clear();
  return remembered.emplace(key, SpeakableSentence(sentence, caller, alone)).first->second;
}

// The speakable sentences of a memory's content, joined; "" when none is.
std::string Speakable(std::string_view content, const CallerReference& caller) {
  std::string out;
  for (const std::string& s : SplitSentences(content)) {
    std::string said = RememberedSpeakableSentence(s, caller, /*alone=*/true);
    if (said.empty()) continue;
    if (!out.empty()) out += ' ';
    out += said;
  }
  return out;
}

// "<label>: <value>." -> label, for the value the memory records.
std::string DataCollectionLabel(const SummaryFact& f) {
  const std::string suffix = ": " + f.value + ".";
  if (f.content.size() > suffix.size() && f.content.ends_with(suffix)) {
    return f.content.substr(0, f.content.size() - suffix.size());
  }
  const size_t colon = f.content.rfind(": ");
  return colon == std::string::npos ? "" : f.content.substr(0, colon);
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.starts_with(prefix); }

// Slots that describe the caller's profile, said as current facts: the
// platform's data-collection items and the rule extractor's slots.
bool IsProfileSlot(std::string_view subject) {
  static constexpr std::array<std::string_view, 6> kRuleSlots = {
      "name", "employer", "crm", "integration", "email", "contact_preference"};
  return subject.starts_with(kDataCollectionSubject) ||
         std::find(kRuleSlots.begin(), kRuleSlots.end(), subject) != kRuleSlots.end();
}

}  // namespace

// Evidence memories are the caller's raw words, kept for recall.
bool IsSummarised(std::string_view subject) { return !IsEvidenceSubject(subject); }

std::string BuildRuleSummary(const std::string& name_in, const std::vector<SummaryFact>& facts,
                             size_t max_chars) {
  std::map<std::string, const SummaryFact*> slots;  // newest per subject, in subject order
  std::vector<const SummaryFact*> others;
  const SummaryFact* last_call = nullptr;
  for (const SummaryFact& f : facts) {
    if (!IsSummarised(f.subject)) continue;
    if (f.subject.empty()) {
      others.push_back(&f);
    } else if (StartsWith(f.subject, kCallSummarySubject)) {
      if (!last_call || f.created_at > last_call->created_at ||
          (f.created_at == last_call->created_at && f.subject > last_call->subject)) {
        last_call = &f;
      }
    } else if (IsProfileSlot(f.subject)) {
      auto& slot = slots[f.subject];
      if (!slot || f.created_at > slot->created_at) slot = &f;
    } else {
      // Another kind of subject (a topic an update supersedes within) is a
      // statement like any other: a routine, a feeling, an event.
      others.push_back(&f);
    }
  }
  auto is_name_item = [](const std::string& subject, const SummaryFact& f) {
    return StartsWith(subject, kDataCollectionSubject) &&
           AsksForCallerName(std::string_view(subject).substr(std::strlen(kDataCollectionSubject)),
                             DataCollectionLabel(f));
  };
  // The name: the one on record, else what the memories say.
  std::string name = Trim(name_in);
  if (name.empty()) {
    if (auto it = slots.find("name"); it != slots.end()) name = it->second->value;
  }
  for (const auto& [subject, f] : slots) {
    if (name.empty() && is_name_item(subject, *f)) name = Trim(f->value);
  }
  const CallerReference caller = CallerReference::FromName(name);

  std::vector<Piece> pieces;
  std::string said;  // normalised text of the parts so far, to leave out repeats
  auto add = [&](Part part, int priority, std::string text, int after = -1) {
    if (text.empty()) return -1;
    said += ' ' + Normalized(text);
    pieces.push_back({part, priority, std::move(text), after});
    return static_cast<int>(pieces.size()) - 1;
  };
  auto already_said = [&](const std::string& value) {
    const std::string v = Normalized(value);
    return v.size() >= kMinDedupValue &&
           (' ' + said + ' ').find(' ' + v + ' ') != std::string::npos;
  };

  // 1. Who: the employer sentence when it opens with the caller, as it
  // names both the caller and where they work.
  std::string who;
  if (auto it = slots.find("employer"); it != slots.end()) {
    const std::string& content = it->second->content;
    if (!caller.full.empty() && StartsWith(content, caller.full + " ")) {
      who = Trim(content);
    } else if (caller.full.empty() && StartsWith(content, "The caller ")) {
      who = Trim(content);
    }
  }
  if (who.empty()) {
    who = caller.full.empty() ? "The caller's name is not on record."
                              : "The caller is " + caller.full + ".";
  }
  add(Part::kWho, 0, who);

  // 2. Current facts: the platform's data-collection answers, then the
  // other slots (the employer sentence when it was not the opening).
  size_t facts_said = 0;
  auto add_fact = [&](std::string text) {
    if (add(Part::kFacts, facts_said < kMaxEarlyFacts ? 1 : 6, std::move(text)) >= 0) {
      ++facts_said;
    }
  };
  for (const auto& [subject, f] : slots) {
    if (!StartsWith(subject, kDataCollectionSubject) || is_name_item(subject, *f)) continue;
    if (already_said(f->value)) continue;
    add_fact(DataCollectionSentence(DataCollectionLabel(*f), f->value, caller));
  }
  for (const auto& [subject, f] : slots) {
    if (StartsWith(subject, kDataCollectionSubject) || subject == "name") continue;
    if (subject == "employer" && f->content == who) continue;
    if (already_said(f->value)) continue;
    add_fact(Speakable(f->content, caller));
  }

  // Newest first, most salient first on ties, then by text: an order that
  // depends only on the facts.
  std::sort(others.begin(), others.end(), [](const SummaryFact* a, const SummaryFact* b) {
    if (a->created_at != b->created_at) return a->created_at > b->created_at;
    if (a->salience != b->salience) return a->salience > b->salience;
    return a->content < b->content;
  });
  // 3. Routines.
  size_t routines = 0;
  for (const SummaryFact* f : others) {
    if (f->sector != Sector::kProcedural || routines >= kMaxRoutines) continue;
    if (add(Part::kRoutines, 3, Speakable(f->content, caller)) >= 0) ++routines;
  }

  // 4. The last call, by its date: its first sentence early, the next ones
  // last, each only after the one before (a later sentence may say "she").
  if (last_call) {
    std::string text = last_call->content;
    std::string when;
    if (StartsWith(text, "Call on ") && text.size() > 20 && text.compare(18, 2, ": ") == 0) {
      when = SpokenDate(std::string_view(text).substr(8, 10), /*with_year=*/false);
      text = text.substr(20);
    }
    const std::string lead = when.empty() ? "Last call: " : "Last call, on " + when + ": ";
    int previous = -1;
    size_t n = 0;
    for (const std::string& s : SplitSentences(text)) {
      if (n >= kMaxCallSentences) break;
      // Said after the sentence before it, which may be what "it" means.
      std::string sentence = RememberedSpeakableSentence(s, caller, /*alone=*/n == 0);
      if (sentence.empty()) break;  // what follows may lean on it
      previous =
          add(Part::kLastCall, n == 0 ? 2 : 5, n == 0 ? lead + sentence : sentence, previous);
      ++n;
    }
  }

  // 5. Commitments, feelings and events, newest first.
  size_t recent = 0;
  for (const SummaryFact* f : others) {
    if (f->sector == Sector::kProcedural || recent >= kMaxRecent) continue;
    if (add(Part::kRecent, 4, Speakable(f->content, caller)) >= 0) ++recent;
  }

  // Choose within both budgets, never cutting a sentence; drop repeats.
  std::vector<int> order(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return pieces[a].priority < pieces[b].priority; });
  std::vector<bool> chosen(pieces.size(), false);
  std::vector<std::string> seen;
  size_t words = 0, chars = 0;
  for (int i : order) {
    const Piece& p = pieces[i];
    if (p.after >= 0 && !chosen[p.after]) continue;
    const std::string key = ToLower(p.text);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    const size_t w = CountWords(p.text);
    const size_t c = p.text.size() + (chars ? 1 : 0);
    if (words + w > kSummaryMaxWords || chars + c > max_chars) continue;
    chosen[i] = true;
    seen.push_back(key);
    words += w;
    chars += c;
  }
  std::string out;
  for (Part part : {Part::kWho, Part::kFacts, Part::kRoutines, Part::kLastCall, Part::kRecent}) {
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (!chosen[i] || pieces[i].part != part) continue;
      if (!out.empty()) out += ' ';
      out += pieces[i].text;
    }
  }
  return out;
}

}  // namespace engram::memory
