// Evidence memories: what the caller said, kept as said.
//
// Why: an extractor decides which words matter, and every rule set misses
// statements of a trade it was not written for ("please make sure the notes
// still say I'm allergic to penicillin"). Keeping every caller utterance as a
// memory of its own means nothing said is lost to recall; extracted facts
// are additional, cleaner keys that point at the same turns (LongMemEval,
// arXiv 2410.10813: round-level storage with fact-augmented keys beats
// either alone). Small talk stays too and simply ranks low.
//
// Pure functions of the transcript: no clock, no environment, so a live
// extraction and a replay return the same memories.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "memory/memory_types.h"

namespace engram::memory {

// Names the rules below; part of the extraction cache key, so outputs cached
// before a change of these rules are not reused.
inline constexpr char kEvidenceRulesVersion[] = "evidence-v1";

// Slot subject prefix of an evidence memory:
// "utt:<conversation id>#<turn index>.<piece>". Unique per call and turn, so
// one call's words never restate or replace another call's; a redelivered
// transcript with other words replaces them.
inline constexpr char kEvidenceSubject[] = "utt:";

// Salience of evidence: below extracted facts (0.5 and up), so that a clean
// fact and the words behind it rank fact first when both match as well.
inline constexpr double kEvidenceSalience = 0.3;

// Longest piece of one utterance kept as one memory, in words. A monologue
// is cut at sentence ends into pieces of at most this many words (a longer
// sentence is a piece of its own), so that a recalled memory is about one
// thing and an answer stays short.
inline constexpr size_t kEvidenceMaxWords = 40;

// One memory per caller ("user") turn with words, in turn order; a turn
// longer than kEvidenceMaxWords in pieces. Content:
//   - when the turn before is the agent's and asks something, the first piece
//     is kept with the agent's last question (an answer such as "Yes, Delta
//     Dental PPO." says nothing alone):
//     Asked "<question>", <speaker> said "<piece>"
//     with source turns {agent turn, caller turn};
//   - otherwise the piece as said, source turn {caller turn}.
// <speaker> is `caller_name` or "the caller". Pieces of nothing but stop words
// and backchannel ("Okay.", "Yeah, thanks!", "Hi there.") are skipped unless
// they answer a question.
// Episodic, salience kEvidenceSalience, subject kEvidenceSubject +
// conversation, turn and piece, value a digest of the content.
std::vector<ExtractedMemory> EvidenceMemories(const std::vector<TranscriptTurn>& turns,
                                              const std::string& conversation_id,
                                              const std::string& caller_name);

// Whether a memory subject (as the extractor gives it) is evidence.
bool IsEvidenceSubject(std::string_view subject);

}  // namespace engram::memory
