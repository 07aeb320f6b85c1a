// Rewriting first-person speech into statements about the speaker: "I
// export my reports" -> "Maya exports her reports". Used by the rule
// extractor for callers, agents and named dialogue speakers.
#pragma once

#include <string>
#include <string_view>

namespace engram::memory {

// How a sentence is rewritten. Support calls: the caller is "user", the
// support agent "agent". Dialogues with named speakers ("Name: " prefixes):
// whoever speaks is `name`, "you" is `listener` (when known), and "we" stays
// "we", since a friend's "we" is a family or a couple, not a team.
struct SentenceRewrite {
  std::string name;
  bool speaker_is_agent = false;
  bool dialogue = false;
  std::string listener;  // dialogue only; "" leaves "you" alone
};

std::string RewriteSentence(std::string_view sentence, const SentenceRewrite& how);

// Rewrites a caller's first-person sentence into a statement about `name`
// ("the caller" when empty); exposed for tests.
std::string ToThirdPerson(std::string_view sentence, std::string_view name, bool speaker_is_agent);

}  // namespace engram::memory
