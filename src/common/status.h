// Status and Result<T>: errors as values across folder boundaries.
//
// A Status is OK or carries one of a few codes plus a human-readable message.
// Adapters translate their library's errors (rocksdb::Status, SQLite codes,
// JSON parse errors) into these codes; src/http maps codes to HTTP statuses.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace engram {

enum class StatusCode {
  kOk = 0,
  kNotFound,
  kInvalidArgument,
  kUnauthorized,
  kForbidden,
  kConflict,
  kTooLarge,
  kCorruption,
  kIOError,
  kUnavailable,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status Unauthorized(std::string m) { return {StatusCode::kUnauthorized, std::move(m)}; }
  static Status Forbidden(std::string m) { return {StatusCode::kForbidden, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: message", or "OK".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;  // OK iff value_ is set
};

}  // namespace engram

// Returns early from the enclosing function when `expr` is not OK.
#define ENGRAM_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::engram::Status engram_status_ = (expr);        \
    if (!engram_status_.ok()) return engram_status_; \
  } while (0)

#define ENGRAM_CONCAT_INNER(a, b) a##b
#define ENGRAM_CONCAT(a, b) ENGRAM_CONCAT_INNER(a, b)
// ENGRAM_ASSIGN_OR_RETURN(auto x, MakeX()); returns the error when MakeX fails.
#define ENGRAM_ASSIGN_OR_RETURN(lhs, expr)                   \
  auto ENGRAM_CONCAT(engram_result_, __LINE__) = (expr);     \
  if (!ENGRAM_CONCAT(engram_result_, __LINE__).ok())         \
    return ENGRAM_CONCAT(engram_result_, __LINE__).status(); \
  lhs = std::move(ENGRAM_CONCAT(engram_result_, __LINE__)).value()
