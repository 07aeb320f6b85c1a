#include "elevenlabs/data_collection.h"

#include <cctype>
#include <set>

#include "common/json_guard.h"
#include "elevenlabs/agent_setup.h"
#include "memory/analysis_memories.h"

namespace engram::elevenlabs {
namespace {

// The types ElevenLabs accepts for a data-collection item (AnalysisPropertyType).
const std::set<std::string>& AllowedTypes() {
  static const std::set<std::string> kTypes = {"boolean", "string", "integer", "number"};
  return kTypes;
}

// A file item nests 3 levels at most (root, item, enum); 8 leaves room for
// nothing deeper than a mistake.
constexpr size_t kMaxFileDepth = 8;

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > kMaxDataCollectionIdChars) return false;
  if (!std::isalpha(static_cast<unsigned char>(id[0]))) return false;
  for (unsigned char c : id) {
    if (!std::isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool Blank(const std::string& s) {
  for (unsigned char c : s) {
    if (!std::isspace(c)) return false;
  }
  return true;
}

// Control characters would reach the agent's configuration and every post-call
// prompt; newline and tab are how people format a paragraph.
bool HasControlCharacter(const std::string& s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

// The label Engram gives an answered item: the description's first sentence
// without its closing punctuation, as src/memory/analysis_memories.cc cuts it
// (empty when there is none).
std::string FirstSentence(const std::string& description) {
  size_t begin = 0;
  size_t end = description.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(description[begin]))) ++begin;
  if (size_t stop = description.find(". ", begin); stop != std::string::npos) end = stop;
  while (end > begin && (description[end - 1] == '.' || description[end - 1] == ':' ||
                         std::isspace(static_cast<unsigned char>(description[end - 1])))) {
    --end;
  }
  return description.substr(begin, end - begin);
}

// An id or a field name as messages show it: quoted, escaped and cut,
// since it may be anything the file held (a terminal escape sequence, say).
std::string Quoted(const std::string& id) {
  constexpr size_t kShown = kMaxDataCollectionIdChars + 8;
  std::string shown = id.size() > kShown ? id.substr(0, kShown) + "..." : id;
  return Json(shown).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Checks one item of the file; `name` is how messages name it. On success
// `out` is the item as it goes to ElevenLabs: type, description, enum.
Status CheckItem(const std::string& name, const Json& item, bool list_form, Json* out) {
  const std::string where = "item " + name + ": ";
  if (!item.is_object()) {
    return Status::InvalidArgument(where + "must be an object with a type and a description");
  }
  for (const auto& [key, value] : item.items()) {
    if (key == "type" || key == "description" || key == "enum" || (list_form && key == "id")) {
      continue;
    }
    return Status::InvalidArgument(where + "unknown field " + Quoted(key) +
                                   " (allowed: type, description, enum" +
                                   (list_form ? ", id" : "") + ")");
  }
  std::string type = "string";
  if (item.contains("type")) {
    if (!item["type"].is_string() || !AllowedTypes().count(item["type"].get<std::string>())) {
      return Status::InvalidArgument(where +
                                     "type must be one of boolean, string, integer, number");
    }
    type = item["type"].get<std::string>();
  }
  if (!item.contains("description") || !item["description"].is_string() ||
      Blank(item["description"].get<std::string>())) {
    return Status::InvalidArgument(where +
                                   "needs a description (what the platform's LLM should extract)");
  }
  const std::string description = item["description"].get<std::string>();
  if (description.size() > kMaxDataCollectionDescriptionChars) {
    return Status::InvalidArgument(where + "description is longer than " +
                                   std::to_string(kMaxDataCollectionDescriptionChars) + " bytes");
  }
  if (HasControlCharacter(description)) {
    return Status::InvalidArgument(where + "description holds a control character");
  }
  *out = {{"type", type}, {"description", description}};
  if (!item.contains("enum")) return Status::Ok();
  const Json& values = item["enum"];
  if (type != "string") return Status::InvalidArgument(where + "enum is only for string items");
  if (!values.is_array() || values.empty() || values.size() > kMaxDataCollectionEnumValues) {
    return Status::InvalidArgument(where + "enum must be a list of 1 to " +
                                   std::to_string(kMaxDataCollectionEnumValues) + " strings");
  }
  std::set<std::string> seen;
  for (const Json& v : values) {
    if (!v.is_string() || Blank(v.get<std::string>()) ||
        v.get<std::string>().size() > kMaxDataCollectionEnumValueChars ||
        HasControlCharacter(v.get<std::string>())) {
      return Status::InvalidArgument(where + "enum values must be non-blank strings of at most " +
                                     std::to_string(kMaxDataCollectionEnumValueChars) + " bytes");
    }
    if (!seen.insert(v.get<std::string>()).second) {
      return Status::InvalidArgument(where + "enum repeats '" + v.get<std::string>() + "'");
    }
  }
  (*out)["enum"] = values;
  return Status::Ok();
}

// The item without the fields it holds as null: ElevenLabs answers with every
// optional field, unset ones as null, and null means "unset" when sent back.
Json WithoutNulls(const Json& item) {
  if (!item.is_object()) return item;
  Json out = Json::object();
  for (const auto& [key, value] : item.items()) {
    if (!value.is_null()) out[key] = value;
  }
  return out;
}

}  // namespace

Json DefaultDataCollection() {
  // Each description starts with a short label (Engram's memory label) and
  // then tells the platform's LLM what to extract and when to leave it empty,
  // as ElevenLabs' guide asks. No trade's words: these hold for a clinic, a
  // bank or a moving company alike. caller_name is read as the caller's name
  // (memory::AsksForCallerName: "caller" and "name", no business word).
  return {
      {"caller_name",
       {{"type", "string"},
        {"description",
         "Caller's full name. The name the caller gives for themselves, as they say it, first and "
         "last name when both are given. Leave it empty if they never say their own name; never "
         "use the agent's name or the name of someone else they mention."}}},
      {"call_reason",
       {{"type", "string"},
        {"description",
         "Reason for the call. What the caller wanted from this call, in one short sentence in "
         "their own terms. Leave it empty if the call had no request (a wrong number, silence)."}}},
      {"caller_preferences",
       {{"type", "string"},
        {"description",
         "Caller's stated preferences. How, when and in which language the caller wants to be "
         "contacted or served, and any other preference they state about how things are done "
         "for them, in short phrases. Leave it empty if they state none."}}},
      {"agent_commitments",
       {{"type", "string"},
        {"description",
         "Commitments made to the caller. What the agent promised will happen after the call (a "
         "callback, an email, a visit, a follow-up), with any date or time agreed, written as an "
         "absolute date when the call makes it clear. Leave it empty if nothing was promised."}}},
      {"reference_number",
       {{"type", "string"},
        {"description",
         "Caller's account or reference number. Any account, customer, order, case, booking or "
         "policy number the caller gives or is given, exactly as said. Leave it empty if there "
         "is none."}}},
  };
}

Result<Json> ParseDataCollectionFile(std::string_view text, const std::string& what) {
  if (text.size() > kMaxDataCollectionFileBytes) {
    return Status::InvalidArgument(what + " is larger than " +
                                   std::to_string(kMaxDataCollectionFileBytes / 1024) + " KiB");
  }
  JsonLimits limits;
  limits.max_depth = kMaxFileDepth;
  limits.what = what;
  auto parsed = ParseJsonGuarded(text, limits);
  if (!parsed.ok()) return Status::InvalidArgument(parsed.status().message());
  const nlohmann::json& root = *parsed;
  if (!root.is_object() && !root.is_array()) {
    return Status::InvalidArgument(
        what + ": expected a map {\"id\": {\"type\", \"description\"}} or a list of items");
  }
  if (root.size() > kMaxDataCollectionItems) {
    return Status::InvalidArgument(what + ": " + std::to_string(root.size()) +
                                   " items, more than " + std::to_string(kMaxDataCollectionItems));
  }
  // nlohmann::json sorts object keys; the file's order is kept by reading
  // it again as ordered_json (the text passed the guard above).
  const Json ordered = Json::parse(text);
  Json items = Json::object();
  size_t index = 0;
  auto add = [&](std::string id, const Json& item, bool list_form) -> Status {
    ++index;
    // (Built by appending: GCC 12 warns falsely on "literal" + std::string.)
    std::string name = "#";
    if (list_form && id.empty()) {
      name.append(std::to_string(index));
    } else {
      name = Quoted(id);
    }
    if (list_form && id.empty()) {
      return Status::InvalidArgument(what + ": item " + name + ": needs an \"id\" (a string)");
    }
    if (!ValidId(id)) {
      return Status::InvalidArgument(what + ": item " + name +
                                     ": the id must be 1 to 64 letters, digits, '_' or '-', "
                                     "starting with a letter");
    }
    if (items.contains(id)) {
      return Status::InvalidArgument(what + ": item " + name + " appears twice");
    }
    Json checked;
    if (Status s = CheckItem(name, item, list_form, &checked); !s.ok()) {
      return Status::InvalidArgument(what + ": " + s.message());
    }
    items[id] = std::move(checked);
    return Status::Ok();
  };
  if (ordered.is_object()) {
    for (const auto& [id, item] : ordered.items()) {
      ENGRAM_RETURN_IF_ERROR(add(id, item, /*list_form=*/false));
    }
  } else {
    for (const Json& item : ordered) {
      std::string id;
      if (item.is_object() && item.contains("id") && item["id"].is_string()) {
        id = item["id"].get<std::string>();
      }
      ENGRAM_RETURN_IF_ERROR(add(id, item, /*list_form=*/true));
    }
  }
  return items;
}

Result<Json> CombineDataCollection(const Json& defaults, const Json& extra) {
  Json out = defaults.is_object() ? defaults : Json::object();
  if (extra.is_object()) {
    // ordered_json keeps an existing key's place when it is assigned again.
    for (const auto& [id, item] : extra.items()) out[id] = item;
  }
  if (out.size() > kMaxDataCollectionItems) {
    return Status::InvalidArgument("the defaults and the file make " + std::to_string(out.size()) +
                                   " data-collection items, more than " +
                                   std::to_string(kMaxDataCollectionItems));
  }
  return out;
}

Json DataCollectionSection(const Json& items) {
  return {
      {"where",
       "The agent's Analysis tab, Data collection (platform_settings.data_collection; `engram "
       "elevenlabs push` adds the items the agent lacks and leaves the agent's own as they are)."},
      {"why",
       "After each call the platform's LLM answers every item; the post-call webhook carries the "
       "answers (analysis.data_collection_results) and Engram keeps each as a fact labelled by "
       "the first sentence of its description, a newer answer replacing the older one. An item "
       "asking for the caller's name gives {{user_name}} on the next call. Add or override "
       "items with --data-collection FILE."},
      {"items", items},
  };
}

std::vector<std::string> DataCollectionNotes(const Json& items) {
  std::vector<std::string> notes;
  if (!items.is_object() || items.empty()) return notes;
  bool asks_for_name = false;
  for (const auto& [id, item] : items.items()) {
    const std::string description = item.value("description", "");
    asks_for_name = asks_for_name || memory::AsksForCallerName(id, description);
    const std::string label = FirstSentence(description);
    if (label.empty() || label.size() > kMaxDataCollectionLabelChars) {
      notes.push_back("Data-collection item '" + id +
                      "': its description does not start with a short label (a first sentence "
                      "of at most 80 characters), so Engram labels its memories by the id.");
    }
  }
  if (!asks_for_name) {
    notes.push_back(
        "No data-collection item asks for the caller's name (an id or description with 'name' "
        "and 'caller', 'customer', 'client', 'full' or similar): Engram will learn names from "
        "the transcript only.");
  }
  return notes;
}

Result<DataCollectionMerge> MergeDataCollection(const Json& existing, const Json& proposed) {
  if (!existing.is_null() && !existing.is_object()) {
    return Status::Corruption(
        "the agent's platform_settings.data_collection is not an object; not touching it");
  }
  DataCollectionMerge merge;
  if (existing.is_object()) {
    for (const auto& [id, item] : existing.items()) merge.items[id] = WithoutNulls(item);
  }
  if (!proposed.is_object()) return merge;
  for (const auto& [id, item] : proposed.items()) {
    auto it = merge.items.find(id);
    if (it == merge.items.end()) {
      merge.items[id] = item;
      merge.added.push_back(id);
    } else if (!Covers(*it, item)) {
      merge.kept.push_back(id);
    }
  }
  return merge;
}

}  // namespace engram::elevenlabs
