// The one way Engram parses JSON it did not write: request bodies, files an
// operator passes to the CLI, answers of remote services.
//
// nlohmann::json parses recursively, so a body nesting 80,000 arrays
// overflows the stack and kills the process; and its objects keep the last
// of two equal keys while simdjson (the post-call route) finds the first, so
// two parsers could read one body two ways. CheckJsonText therefore
// validates the text first without recursion: simdjson's DOM parser (its
// stage 2 is iterative, bounded by a maximum depth, and checks UTF-8), then
// a walk of the DOM with an explicit stack that measures the depth and
// refuses an object with two equal keys (compared byte for byte after
// unescaping, as both parsers see them). Only text that passes reaches
// nlohmann. Thread-safe (one simdjson parser per thread).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace simdjson::dom {
class element;
}

namespace engram {

struct JsonLimits {
  // Containers nested deeper than this are refused. The root array or object
  // is level 1; scalars add none. 64 is far beyond any body Engram accepts
  // (ElevenLabs' tool and init bodies nest 2 or 3 levels) and keeps
  // nlohmann's recursion to a few kilobytes of stack.
  size_t max_depth = 64;
  // Refuse an object that names a key twice (RFC 8259 leaves the meaning
  // open, so two parsers may disagree on it).
  bool reject_duplicate_keys = true;
  // Only for messages: "body", "response", or a file's path.
  std::string what = "body";
};

// Depth for JSON written by services Engram trusts to be sane but does not
// control (ElevenLabs' post-call webhooks, an LLM's answer, Engram's own
// server answering the CLI): simdjson's default, which the post-call route
// has always enforced.
inline constexpr size_t kDeepJsonMaxDepth = 1024;

// OK when `text` is one valid UTF-8 JSON value within `limits`.
// InvalidArgument otherwise, with the reason: "body is not valid UTF-8 JSON",
// "body: JSON nests deeper than 64 levels", "body: duplicate key 'id' in JSON
// object", "malformed JSON body (...)".
Status CheckJsonText(std::string_view text, const JsonLimits& limits = {});

// CheckJsonText, then nlohmann's parse of the same text.
Result<nlohmann::json> ParseJsonGuarded(std::string_view text, const JsonLimits& limits = {});

// Limits for answers of services (Engram's server answering the CLI, an
// LLM, ElevenLabs' API): deep documents up to kDeepJsonMaxDepth, and
// duplicate keys tolerated since nothing else reads the same bytes.
inline JsonLimits AnswerLimits() {
  return {.max_depth = kDeepJsonMaxDepth, .reject_duplicate_keys = false, .what = "response"};
}

// ParseJsonGuarded as a drop-in for json::parse(text, nullptr, false): the
// value, or a discarded one when refused.
nlohmann::json ParseOrDiscarded(std::string_view text, const JsonLimits& limits);

// The DOM walk of CheckJsonText over a document the caller already parsed
// with simdjson (the post-call route): depth and duplicate keys.
Status CheckJsonTree(const simdjson::dom::element& root, const JsonLimits& limits);

// True when `text` is valid UTF-8 (overlong forms and surrogates refused).
bool IsValidUtf8(std::string_view text);

}  // namespace engram
