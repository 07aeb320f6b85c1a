#include "http/post_call_checks.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "common/crypto.h"
#include "http/telemetry.h"
#include "log/event_types.h"
#include "log/internal_events.h"

namespace engram::http {
namespace {

// The value of a numeric field as a double, or nullopt when absent or not a
// number.
std::optional<double> NumberField(simdjson::dom::element parent, std::string_view key) {
  simdjson::dom::element value;
  if (parent[key].get(value) != simdjson::SUCCESS) return std::nullopt;
  int64_t i;
  if (value.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  uint64_t u;
  if (value.get_uint64().get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  double d;
  if (value.get_double().get(d) == simdjson::SUCCESS) return d;
  return std::nullopt;
}

Status CheckRange(std::optional<double> value, double lo, double hi, const std::string& field,
                  const std::string& range) {
  if (value && !(*value >= lo && *value < hi)) {
    return Status::InvalidArgument(field + " is out of range (want " + range + ")");
  }
  return Status::Ok();
}

}  // namespace

Status CheckPostCallType(std::string_view type) {
  bool ok = !type.empty() && type.size() <= 64 && type[0] >= 'a' && type[0] <= 'z';
  for (char c : type) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (!ok) {
    // The value is not echoed: it may hold anything, NUL bytes included.
    return Status::InvalidArgument(std::string("type must match ") + kPostCallTypePattern);
  }
  if (log::IsInternalEventType(type)) {
    return Status::InvalidArgument("type '" + std::string(type) +
                                   "' is reserved for Engram's internal events");
  }
  return Status::Ok();
}

Status CheckPostCallTimes(simdjson::dom::element root) {
  const std::string secs_range = "seconds in [946684800, 4102444800), 2000 to 2100";
  ENGRAM_RETURN_IF_ERROR(CheckRange(NumberField(root, "event_timestamp"), kEarliestSecs,
                                    kLatestSecs, "event_timestamp", secs_range));
  simdjson::dom::element metadata;
  if (root["data"]["metadata"].get(metadata) != simdjson::SUCCESS || !metadata.is_object()) {
    return Status::Ok();
  }
  ENGRAM_RETURN_IF_ERROR(CheckRange(NumberField(metadata, "start_time_unix_secs"), kEarliestSecs,
                                    kLatestSecs, "data.metadata.start_time_unix_secs", secs_range));
  return CheckRange(NumberField(metadata, "call_duration_secs"), 0, kMaxCallDurationSecs,
                    "data.metadata.call_duration_secs",
                    "seconds in [0, " + std::to_string(kMaxCallDurationSecs) + ")");
}

void RecordRedeliveryMismatch(const HttpRequest& request, Services& services,
                              const std::string& idempotency_key, const std::string& type,
                              const std::string& conversation_id, log::Seq original) {
  auto stored = services.log->ReadAfter(original - 1, 1);
  if (!stored.ok() || stored->empty() || stored->front().seq != original) {
    spdlog::warn("post-call redelivery of seq {}: cannot read the original: {}", original,
                 stored.ok() ? "not found" : stored.status().ToString());
    return;
  }
  const log::Event& e = stored->front();
  // Compare what was received each time: with the audio dropped, the stored
  // body is a rewrite and original_body_sha256 names the bytes received.
  // A sealed body (src/keys) reads back decrypted; its body_sha256 names
  // the ciphertext.
  const std::string stored_sha256 = e.flags & log::kFlagAudioDropped ? e.original_body_sha256
                                    : e.flags & log::kFlagSealed     ? crypto::Sha256Hex(e.body)
                                                                     : e.body_sha256;
  const std::string received_sha256 = crypto::Sha256Hex(request.body);
  if (stored_sha256 == received_sha256) return;
  if (services.telemetry) {
    services.telemetry->registry()
        .GetCounter("engram_post_call_redelivery_mismatch_total",
                    "Duplicate post-calls whose body differed from the stored one")
        .Inc();
  }
  log::NewEvent event;
  event.type = log::event_type::kPostCallRedeliveryMismatch;
  event.route = log::event_route::kPostCallChecks;
  // One event per distinct wrong body: a sender retrying it does not flood
  // the log.
  event.idempotency_key =
      log::InternalIdempotencyKey("redelivery-mismatch:" + idempotency_key + ":" + received_sha256);
  event.body = nlohmann::json({{"idempotency_key", idempotency_key},
                               {"type", type},
                               {"conversation_id", conversation_id},
                               {"original_seq", original},
                               {"stored_sha256", stored_sha256},
                               {"received_sha256", received_sha256}})
                   .dump();
  auto appended = services.log->Append(std::move(event));
  if (!appended.ok()) {
    spdlog::warn("post-call redelivery of seq {} with a different body not recorded: {}", original,
                 appended.status().ToString());
  } else if (!appended->duplicate) {
    spdlog::warn("post-call redelivery of seq {} with a different body, recorded at seq {}",
                 original, appended->seq);
  }
}

}  // namespace engram::http
