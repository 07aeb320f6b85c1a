// Typed access to optional fields of ElevenLabs payloads.
//
// ElevenLabs keeps adding fields, so unknown keys are ignored and missing or
// null ones read as absent. A present field of the wrong type is an error
// (FieldTypeError), which projectors turn into a 'failed' event.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

namespace engram {

struct FieldTypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// j[key] when j is an object holding a non-null `key`; nullptr otherwise.
inline const nlohmann::json* Field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

inline std::optional<std::string> OptString(const nlohmann::json& j, const char* key) {
  const nlohmann::json* f = Field(j, key);
  if (!f) return std::nullopt;
  if (!f->is_string()) {
    throw FieldTypeError(std::string("field '") + key + "' must be a string, got " +
                         f->type_name());
  }
  return f->get<std::string>();
}

// A non-empty string, or nullopt.
inline std::optional<std::string> OptNonEmpty(const nlohmann::json& j, const char* key) {
  auto s = OptString(j, key);
  if (s && s->empty()) return std::nullopt;
  return s;
}

inline std::optional<double> OptNumber(const nlohmann::json& j, const char* key) {
  const nlohmann::json* f = Field(j, key);
  if (!f) return std::nullopt;
  if (!f->is_number()) {
    throw FieldTypeError(std::string("field '") + key + "' must be a number, got " +
                         f->type_name());
  }
  return f->get<double>();
}

inline std::optional<int64_t> OptInt(const nlohmann::json& j, const char* key) {
  auto d = OptNumber(j, key);
  if (!d) return std::nullopt;
  return static_cast<int64_t>(*d);
}

inline std::optional<bool> OptBool(const nlohmann::json& j, const char* key) {
  const nlohmann::json* f = Field(j, key);
  if (!f) return std::nullopt;
  if (!f->is_boolean()) {
    throw FieldTypeError(std::string("field '") + key + "' must be a boolean, got " +
                         f->type_name());
  }
  return f->get<bool>();
}

// The object at j[key]; an empty object when absent. Throws when not an object.
inline const nlohmann::json& ObjectField(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json* f = Field(j, key);
  if (!f) return kEmpty;
  if (!f->is_object()) {
    throw FieldTypeError(std::string("field '") + key + "' must be an object, got " +
                         f->type_name());
  }
  return *f;
}

// The array at j[key]; an empty array when absent. Throws when not an array.
inline const nlohmann::json& ArrayField(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const nlohmann::json* f = Field(j, key);
  if (!f) return kEmpty;
  if (!f->is_array()) {
    throw FieldTypeError(std::string("field '") + key + "' must be an array, got " +
                         f->type_name());
  }
  return *f;
}

}  // namespace engram
