#include "log/event_bodies.h"

#include "log/event_types.h"

namespace engram::log {
namespace {

using nlohmann::json;

Result<json> ParseObject(std::string_view body, std::string_view type) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) {
    return Status::InvalidArgument(std::string(type) + " body is not a JSON object");
  }
  return j;
}

// j[key] as a list of strings; absent is empty.
Status Strings(const json& j, const char* key, std::string_view type,
               std::vector<std::string>* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (!it->is_array()) {
    return Status::InvalidArgument(std::string(type) + ": '" + key + "' is not a list");
  }
  for (const json& v : *it) {
    if (!v.is_string()) {
      return Status::InvalidArgument(std::string(type) + ": '" + key + "' holds a non-string");
    }
    out->push_back(v.get<std::string>());
  }
  return Status::Ok();
}

std::string OptionalString(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// j[key] when it is an object; an empty object when absent; an error otherwise.
Result<json> RequestObject(const json& j, std::string_view type) {
  auto it = j.find("request");
  if (it == j.end()) return json::object();
  if (!it->is_object()) {
    return Status::InvalidArgument(std::string(type) + ": 'request' is not an object");
  }
  return *it;
}

}  // namespace

std::string UserForgottenBody::Encode() const {
  return json({{"user_id", user_id},
               {"conversations", conversations},
               {"erased_seqs", erased_seqs},
               {"cache_keys", cache_keys},
               {"embedding_keys", embedding_keys},
               {"requested_by", requested_by}})
      .dump();
}

Result<UserForgottenBody> UserForgottenBody::Parse(std::string_view body) {
  constexpr std::string_view kType = event_type::kUserForgotten;
  ENGRAM_ASSIGN_OR_RETURN(json j, ParseObject(body, kType));
  UserForgottenBody out;
  auto user = j.find("user_id");
  if (user == j.end() || !user->is_string()) {
    return Status::InvalidArgument("user_forgotten without user_id");
  }
  out.user_id = user->get<std::string>();
  ENGRAM_RETURN_IF_ERROR(Strings(j, "conversations", kType, &out.conversations));
  ENGRAM_RETURN_IF_ERROR(Strings(j, "cache_keys", kType, &out.cache_keys));
  ENGRAM_RETURN_IF_ERROR(Strings(j, "embedding_keys", kType, &out.embedding_keys));
  if (auto seqs = j.find("erased_seqs"); seqs != j.end()) {
    if (!seqs->is_array())
      return Status::InvalidArgument("user_forgotten: 'erased_seqs' is not a list");
    for (const json& s : *seqs) {
      if (!s.is_number_unsigned()) {
        return Status::InvalidArgument("user_forgotten: 'erased_seqs' holds a non-seq");
      }
      out.erased_seqs.push_back(s.get<Seq>());
    }
  }
  out.requested_by = OptionalString(j, "requested_by");
  return out;
}

std::string ConversationInitiatedBody::Encode() const {
  return json({{"request", request}, {"user_id", user_id}, {"new_user", new_user}}).dump();
}

Result<ConversationInitiatedBody> ConversationInitiatedBody::Parse(std::string_view body) {
  constexpr std::string_view kType = event_type::kConversationInitiated;
  ENGRAM_ASSIGN_OR_RETURN(json j, ParseObject(body, kType));
  ConversationInitiatedBody out;
  ENGRAM_ASSIGN_OR_RETURN(out.request, RequestObject(j, kType));
  out.user_id = OptionalString(j, "user_id");
  auto fresh = j.find("new_user");
  out.new_user = fresh != j.end() && fresh->is_boolean() && fresh->get<bool>();
  return out;
}

std::string MemoryQueriedBody::Encode() const {
  json j = {{"request", request}, {"user_id", user_id}, {"returned", returned}};
  if (latency_ms) j["latency_ms"] = *latency_ms;
  if (status != 200) j["status"] = status;
  return j.dump();
}

Result<MemoryQueriedBody> MemoryQueriedBody::Parse(std::string_view body) {
  constexpr std::string_view kType = event_type::kMemoryQueried;
  ENGRAM_ASSIGN_OR_RETURN(json j, ParseObject(body, kType));
  MemoryQueriedBody out;
  ENGRAM_ASSIGN_OR_RETURN(out.request, RequestObject(j, kType));
  out.user_id = OptionalString(j, "user_id");
  if (auto returned = j.find("returned"); returned != j.end() && returned->is_array()) {
    for (const json& id : *returned) {
      if (id.is_string()) out.returned.push_back(id.get<std::string>());
    }
  }
  if (auto latency = j.find("latency_ms"); latency != j.end() && latency->is_number()) {
    out.latency_ms = latency->get<double>();
  }
  if (auto status = j.find("status"); status != j.end() && status->is_number_integer()) {
    out.status = status->get<int>();
  }
  return out;
}

std::string ProjectionRetryRequestedBody::Encode() const {
  return json({{"seqs", seqs}, {"requested_by", requested_by}}).dump();
}

ProjectionRetryRequestedBody ProjectionRetryRequestedBody::Parse(std::string_view body) {
  ProjectionRetryRequestedBody out;
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return out;
  if (auto seqs = j.find("seqs"); seqs != j.end() && seqs->is_array()) {
    for (const json& s : *seqs) {
      if (s.is_number_unsigned() && s.get<Seq>() > 0) out.seqs.push_back(s.get<Seq>());
    }
  }
  out.requested_by = OptionalString(j, "requested_by");
  return out;
}

std::string ExtractionRequeuedBody::Encode() const {
  return json({{"source_seq", source_seq}, {"requested_by", requested_by}}).dump();
}

Result<ExtractionRequeuedBody> ExtractionRequeuedBody::Parse(std::string_view body) {
  ENGRAM_ASSIGN_OR_RETURN(json j, ParseObject(body, event_type::kExtractionRequeued));
  auto seq = j.find("source_seq");
  if (seq == j.end() || !seq->is_number_unsigned() || seq->get<Seq>() == 0) {
    return Status::InvalidArgument("extraction_requeued without a source_seq");
  }
  ExtractionRequeuedBody out;
  out.source_seq = seq->get<Seq>();
  out.requested_by = OptionalString(j, "requested_by");
  return out;
}

}  // namespace engram::log
