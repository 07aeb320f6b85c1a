// The data-collection items `engram elevenlabs config|push` proposes for an
// agent: questions ElevenLabs' own post-call LLM answers over every call
// (analysis.data_collection_results), which Engram turns into slot facts
// (src/memory/analysis_memories.h). They give LLM-made extraction without an
// API key of Engram's.
//
// Where they live in the agent (ElevenLabs API, PATCH and GET
// /v1/convai/agents/{agent_id}): platform_settings.data_collection, a map
// item id -> {type, description, ...}. The schema, as the official Python SDK
// generates it from ElevenLabs' API definition (elevenlabs/elevenlabs-python
// @54e58995: src/elevenlabs/conversational_ai/agents/raw_client.py sends
// {conversation_config, platform_settings, ...} as the PATCH body;
// src/elevenlabs/types/agent_platform_settings_request_model.py:
// `data_collection: Optional[Dict[str, AnalysisProperty]]`;
// analysis_property.py, analysis_property_type.py): `type` is one of
// "boolean", "string", "integer", "number"; `description` is what the LLM
// extracts ("When set, the LLM will provide the value based on this
// description"), mutually exclusive with dynamic_variable, constant_value,
// is_system_provided and is_omitted; `enum` lists allowed string values. The
// dashboard calls the three parts Identifier, Data type and Description
// (elevenlabs-docs, fern/conversational-ai/pages/customization/
// agent-analysis/data-collection.mdx).
//
// How Engram reads an answered item: the first sentence of its description
// (up to ". ", at most 80 characters) is the memory's label ("Reason for the
// call: ..."), and an item whose id and description ask for the caller's own
// name gives `user_name` (memory::AsksForCallerName). The defaults are written
// for both: a short label first, then the instruction to the LLM.
//
// Stateless functions over JSON; thread-safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace engram::elevenlabs {

using Json = nlohmann::ordered_json;

// Limits on a --data-collection file, which the operator may have copied
// from anywhere. Each item is one more question the platform's LLM answers
// after every call, so a few dozen is already generous.
inline constexpr size_t kMaxDataCollectionItems = 40;
// Ids become JSON keys in the agent, memory subjects ("dc:<id>") and words
// in messages: 64 plain characters are plenty.
inline constexpr size_t kMaxDataCollectionIdChars = 64;
// A description is an instruction to an LLM, a paragraph at most (bytes of
// UTF-8, as are the other lengths here).
inline constexpr size_t kMaxDataCollectionDescriptionChars = 2000;
inline constexpr size_t kMaxDataCollectionEnumValues = 50;
inline constexpr size_t kMaxDataCollectionEnumValueChars = 200;
// 40 items of 2,000 characters with their JSON fit well under this.
inline constexpr size_t kMaxDataCollectionFileBytes = 256 * 1024;
// Engram labels a memory by the description's first sentence only when it is
// at most this long (kMaxLabelChars in src/memory/analysis_memories.cc).
inline constexpr size_t kMaxDataCollectionLabelChars = 80;

// Engram's default items, id -> {type, description}, in this order:
// caller_name, call_reason, caller_preferences, agent_commitments,
// reference_number. Generic across trades; all strings.
Json DefaultDataCollection();

// Reads the text of a --data-collection file (`what` names it in messages):
// either a map {"id": {"type", "description", "enum"?}, ...} or a list
// [{"id", "type", "description", "enum"?}, ...]. `type` defaults to
// "string". Returns the items as a map in file order.
// InvalidArgument, naming the item ('item "pet_name": ...' or "item #3"),
// when: the file is larger than kMaxDataCollectionFileBytes, not valid UTF-8
// JSON, nested deeper than 8 levels or repeats a key (common/json_guard.h);
// the root is neither a map nor a list; there are more than
// kMaxDataCollectionItems items; an id is not 1..64 of [A-Za-z0-9_-]
// starting with a letter, or appears twice; an item is not an object or has
// a field other than those above; the type is not one of boolean, string,
// integer, number; the description is missing, blank, longer than
// kMaxDataCollectionDescriptionChars or holds control characters other than
// newline and tab; enum is set on a non-string item, is empty, has more than
// kMaxDataCollectionEnumValues values, or a value that is blank, repeated or
// longer than kMaxDataCollectionEnumValueChars.
Result<Json> ParseDataCollectionFile(std::string_view text, const std::string& what);

// `defaults` with `extra` applied: an id in both takes extra's item in the
// defaults' place; new ids follow in extra's order. InvalidArgument when the
// result holds more than kMaxDataCollectionItems items.
Result<Json> CombineDataCollection(const Json& defaults, const Json& extra);

// The "data_collection" part of what config prints: where the items go in
// the agent, what Engram does with their answers, and the items.
Json DataCollectionSection(const Json& items);

// What config says about `items` beyond the items themselves: items whose
// first sentence is too long (or empty) to serve as a label, so Engram labels
// their memories by the id; and no item asking for the caller's name, so the
// name is learnt from the transcript only.
std::vector<std::string> DataCollectionNotes(const Json& items);

// What push does with the agent's own items.
struct DataCollectionMerge {
  // The agent's items (fields it holds as null dropped) with the proposed
  // ones it lacks added after them: what to send, whole, because an object
  // sent under platform_settings may replace the stored one.
  Json items = Json::object();
  // Proposed ids the agent did not have, in proposal order.
  std::vector<std::string> added;
  // Proposed ids the agent already holds with other settings than Engram's:
  // left exactly as the owner wrote them.
  std::vector<std::string> kept;
  bool changed() const { return !added.empty(); }
};

// Merges `proposed` into what the agent holds (`existing`: its
// platform_settings.data_collection, null or absent meaning none). Never
// drops or rewrites an item the agent has. Corruption when `existing` is
// neither null nor an object (push then writes nothing rather than guess).
Result<DataCollectionMerge> MergeDataCollection(const Json& existing, const Json& proposed);

}  // namespace engram::elevenlabs
