// Memories from what the agent platform already extracted about a call:
// ElevenLabs' `data.analysis` of a post_call_transcription.
//
// Why: an agent's data-collection items are questions its owner chose for
// this trade ("Caller's dental insurance provider", "Pet's name"), answered
// by the platform's LLM over the whole call. No extractor tuned for another
// trade finds them as reliably, so each answered item becomes a slot fact,
// and the call summary becomes one episodic memory of the call.
//
// Pure functions of the JSON they are given: no clock, no environment, so
// what they return is the same in a live extraction and in a replay.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memory/memory_types.h"

namespace engram::memory {

// Names the rules below; part of the extraction cache key, so outputs cached
// before a change of these rules are not reused.
inline constexpr char kAnalysisRulesVersion[] = "analysis-v1";

// Slot subject prefix of a data-collection item's memory: "dc:<item id>".
inline constexpr char kDataCollectionSubject[] = "dc:";
// Slot subject prefix of a call's summary memory: "call:<conversation id>".
inline constexpr char kCallSummarySubject[] = "call:";

// The memories `analysis` (data.analysis) states, in this order:
//   - one semantic slot fact per data_collection_results item (in id order)
//     whose value is present: not null, not an empty or blank string, not an
//     array or object. subject "dc:<id>", value the string as is (trimmed),
//     a number as JSON writes it, a boolean as "yes"/"no". Content
//     "<label>: <value>." where the label is the first sentence of
//     json_schema.description, or the id with '_' as spaces when there is no
//     description or it is longer than a label (an instruction to the LLM).
//     Source turns: the turns whose message contains a string value.
//   - one episodic memory of transcript_summary, when not blank:
//     "Call on YYYY-MM-DD: <summary>" (UTC date of `call_time_ms`), subject
//     "call:<conversation_id>" so that it never updates another call's
//     summary, value a digest of the summary (a redelivered transcript with
//     another summary updates it).
// Malformed parts are skipped: the conversation projector reports them.
std::vector<ExtractedMemory> AnalysisMemories(const nlohmann::json& analysis,
                                              const std::string& conversation_id,
                                              int64_t call_time_ms,
                                              const std::vector<TranscriptTurn>& turns);

// Whether a data-collection item with this id and description asks for the
// caller's own name. Generic rule on the words of both (split at anything
// but letters and digits, lower case): they contain "name"; they contain
// none of "company", "business", "organisation", "organization" (a
// business's name); and they say whose name it is: one of "caller",
// "customer", "client", "patient", "user", "full", "your", or the id is
// just "name". "Name of the pet" asks for no person's name and is refused.
bool AsksForCallerName(std::string_view id, std::string_view description);

// The first data_collection_results item (in id order) that asks for the
// caller's name and holds a non-blank string value; nullopt when none.
std::optional<std::string> CallerNameFromDataCollection(const nlohmann::json& results);

}  // namespace engram::memory
