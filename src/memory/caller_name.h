// The caller's name from what was said in a call: the caller introducing
// themselves ("it's Marcus Oyelaran", "my name's Dana", "Nate again from
// Copperleaf", "Dana here"), answering the agent's "May I have your name?"
// with a bare name, or, failing those, the agent greeting the caller by name
// ("Thanks, Marcus") when the caller's next turn does not contradict it.
//
// Why: the init webhook answers `user_name` from users.name, which data
// collection fills only for agents that ask for the name. Most callers say it
// anyway, so the next call can greet them by it.
//
// Pure function of the turns (no clock, no environment), so the conversation
// projector gets the same name in a live run and in a replay. Generic: it
// knows greetings, days, months, pronouns and company suffixes, no trade's
// words.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "memory/memory_types.h"

namespace engram::memory {

// One to three capitalised tokens ("Helena Vasquez-Brandt", "Siobhan O'Neill"),
// or nullopt when nobody was named. Rules, in order of preference:
//   - the caller's own statements (self-introductions and bare answers to a
//     name question) beat the agent's greeting; among them the fullest name
//     wins, then the latest ("my name is now ...");
//   - a caller's first name is completed by the agent's fuller form of it;
//   - the agent's own name (from its first turn: "this is Sage") and words
//     that are no name in context (days, months, pronouns, greetings, company
//     suffixes, one letter, possessives like "Marcus's") never count.
std::optional<std::string> CallerNameFromTranscript(const std::vector<TranscriptTurn>& turns);

}  // namespace engram::memory
