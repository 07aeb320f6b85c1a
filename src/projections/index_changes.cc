#include "projections/index_changes.h"

#include <nlohmann/json.hpp>

#include "common/json_guard.h"

namespace engram::projections {
namespace {

using nlohmann::json;

json Header(const std::string& origin) { return {{"v", 1}, {"o", origin}}; }

// Reads a list of non-empty strings at `key`, if present.
Status ReadIds(const json& j, const char* key, std::vector<std::string>& out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (!it->is_array()) return Status::InvalidArgument(std::string("'") + key + "' is no array");
  for (const json& id : *it) {
    if (!id.is_string() || id.get_ref<const std::string&>().empty()) {
      return Status::InvalidArgument(std::string("'") + key + "' holds a non-string or empty id");
    }
    out.push_back(id.get<std::string>());
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> EncodeIndexChanges(const IndexChanges& changes) {
  if (changes.reload_all) {
    json all = Header(changes.origin);
    all["all"] = true;
    return {all.dump()};
  }
  std::vector<std::string> payloads;
  json current = Header(changes.origin);
  const size_t empty_size = current.dump().size();
  size_t size = empty_size;
  auto add = [&](const char* key, const std::string& id) -> bool {
    // The id's JSON form, its comma and the list's brackets and key, at most.
    const size_t cost = json(id).dump().size() + 1 + std::string_view(key).size() + 6;
    if (empty_size + cost >= kMaxNotifyPayloadBytes) return false;
    if (size + cost >= kMaxNotifyPayloadBytes) {
      payloads.push_back(current.dump());
      current = Header(changes.origin);
      size = empty_size;
    }
    current[key].push_back(id);
    size += cost;
    return true;
  };
  for (const std::string& u : changes.users) {
    if (!add("u", u)) return EncodeIndexChanges({changes.origin, {}, {}, true});
  }
  for (const std::string& f : changes.forgotten) {
    if (!add("f", f)) return EncodeIndexChanges({changes.origin, {}, {}, true});
  }
  if (size > empty_size) payloads.push_back(current.dump());
  return payloads;
}

Result<IndexChanges> ParseIndexChanges(std::string_view payload) {
  if (payload.size() >= 8000) return Status::InvalidArgument("payload of 8000 bytes or more");
  ENGRAM_ASSIGN_OR_RETURN(json j, ParseJsonGuarded(std::string(payload), {8, true, "payload"}));
  auto version = j.is_object() ? j.find("v") : j.end();
  if (!j.is_object() || version == j.end() || !version->is_number_integer() || *version != 1) {
    return Status::InvalidArgument("not a version 1 index change");
  }
  IndexChanges out;
  auto origin = j.find("o");
  if (origin == j.end() || !origin->is_string()) {
    return Status::InvalidArgument("index change without an origin");
  }
  out.origin = origin->get<std::string>();
  if (auto all = j.find("all"); all != j.end()) {
    if (!all->is_boolean()) return Status::InvalidArgument("'all' is no boolean");
    out.reload_all = all->get<bool>();
  }
  ENGRAM_RETURN_IF_ERROR(ReadIds(j, "u", out.users));
  ENGRAM_RETURN_IF_ERROR(ReadIds(j, "f", out.forgotten));
  return out;
}

}  // namespace engram::projections
