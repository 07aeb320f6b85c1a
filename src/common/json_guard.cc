#include "common/json_guard.h"

#include <simdjson.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

namespace engram {
namespace {

// A thread's parser keeps its buffers between calls (the memory routes run
// many small bodies); text larger than this gets a parser of its own so a
// rare big input does not pin its buffers for the thread's life.
constexpr size_t kReusableParserBytes = 1 << 20;
constexpr size_t kInitialCapacity = 4096;

// simdjson counts an open container at a time and refuses past its maximum;
// a margin over the caller's limit leaves the exact verdict (and message)
// to the walk below.
size_t SimdjsonDepthFor(const JsonLimits& limits) { return limits.max_depth + 2; }
// The thread's reusable parser is deep enough for every limit up to
// kDeepJsonMaxDepth; the walk enforces the caller's.
constexpr size_t kReusableDepth = kDeepJsonMaxDepth + 2;

// A key for an error message: at most 64 bytes, cut at a character boundary,
// control characters shown as '?'.
std::string Printable(std::string_view key) {
  constexpr size_t kMax = 64;
  std::string out;
  size_t n = std::min(key.size(), kMax);
  if (n < key.size()) {
    while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;  // continuation byte
  }
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    out.push_back(c < 0x20 || c == 0x7F ? '?' : static_cast<char>(c));
  }
  if (n < key.size()) out += "...";
  return out;
}

Status ParseError(simdjson::error_code error, const JsonLimits& limits) {
  switch (error) {
    case simdjson::UTF8_ERROR:
      return Status::InvalidArgument(limits.what + " is not valid UTF-8 JSON");
    case simdjson::DEPTH_ERROR:
      return Status::InvalidArgument(limits.what + ": JSON nests deeper than " +
                                     std::to_string(limits.max_depth) + " levels");
    default:
      return Status::InvalidArgument("malformed JSON " + limits.what + ": " +
                                     simdjson::error_message(error));
  }
}

}  // namespace

Status CheckJsonTree(const simdjson::dom::element& root, const JsonLimits& limits) {
  // Containers still to visit, with their level; only containers are pushed,
  // so the stack holds at most one entry per container in the document.
  std::vector<std::pair<simdjson::dom::element, size_t>> pending;
  std::vector<std::string_view> keys;
  if (root.is_array() || root.is_object()) pending.emplace_back(root, 1);
  while (!pending.empty()) {
    auto [element, depth] = pending.back();
    pending.pop_back();
    if (depth > limits.max_depth) {
      return Status::InvalidArgument(limits.what + ": JSON nests deeper than " +
                                     std::to_string(limits.max_depth) + " levels");
    }
    simdjson::dom::array array;
    if (element.get_array().get(array) == simdjson::SUCCESS) {
      for (simdjson::dom::element child : array) {
        if (child.is_array() || child.is_object()) pending.emplace_back(child, depth + 1);
      }
      continue;
    }
    keys.clear();
    simdjson::dom::object object;
    if (element.get_object().get(object) != simdjson::SUCCESS) continue;  // only containers here
    for (simdjson::dom::key_value_pair field : object) {
      keys.push_back(field.key);
      if (field.value.is_array() || field.value.is_object()) {
        pending.emplace_back(field.value, depth + 1);
      }
    }
    if (limits.reject_duplicate_keys && keys.size() > 1) {
      std::sort(keys.begin(), keys.end());
      auto twice = std::adjacent_find(keys.begin(), keys.end());
      if (twice != keys.end()) {
        return Status::InvalidArgument(limits.what + ": duplicate key '" + Printable(*twice) +
                                       "' in JSON object");
      }
    }
  }
  return Status::Ok();
}

Status CheckJsonText(std::string_view text, const JsonLimits& limits) {
  const size_t depth = SimdjsonDepthFor(limits);
  thread_local std::unique_ptr<simdjson::dom::parser> reusable;
  std::unique_ptr<simdjson::dom::parser> own;
  simdjson::dom::parser* parser = nullptr;
  if (text.size() <= kReusableParserBytes && depth <= kReusableDepth) {
    if (!reusable) {
      reusable = std::make_unique<simdjson::dom::parser>();
      if (reusable->allocate(kInitialCapacity, kReusableDepth) != simdjson::SUCCESS) {
        reusable.reset();
        return Status::Internal("cannot allocate a JSON parser");
      }
    }
    parser = reusable.get();
  } else {
    own = std::make_unique<simdjson::dom::parser>();
    if (own->allocate(std::max(text.size(), kInitialCapacity), depth) != simdjson::SUCCESS) {
      return Status::TooLarge(limits.what + " is too large to parse");
    }
    parser = own.get();
  }
  simdjson::dom::element root;
  if (auto error = parser->parse(text.data(), text.size()).get(root); error != simdjson::SUCCESS) {
    return ParseError(error, limits);
  }
  return CheckJsonTree(root, limits);
}

Result<nlohmann::json> ParseJsonGuarded(std::string_view text, const JsonLimits& limits) {
  ENGRAM_RETURN_IF_ERROR(CheckJsonText(text, limits));
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                           /*allow_exceptions=*/false);
  // simdjson accepted it, so this is a corner where the two parsers' grammars
  // differ (none known); refuse rather than guess.
  if (j.is_discarded()) return Status::InvalidArgument("malformed JSON " + limits.what);
  return j;
}

nlohmann::json ParseOrDiscarded(std::string_view text, const JsonLimits& limits) {
  Result<nlohmann::json> j = ParseJsonGuarded(text, limits);
  return j.ok() ? std::move(j).value() : nlohmann::json(nlohmann::json::value_t::discarded);
}

bool IsValidUtf8(std::string_view text) {
  return simdjson::validate_utf8(text.data(), text.size());
}

}  // namespace engram
