// POST /webhook/post-call: verify, append durably, acknowledge.
#include <simdjson.h>

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/json_guard.h"
#include "http/post_call_checks.h"
#include "http/router.h"
#include "log/event_types.h"

namespace engram::http {
namespace {

using nlohmann::json;

// The request headers kept in the log for audit. Everything else (cookies,
// proxies' own headers) is dropped.
constexpr const char* kAuditHeaders[] = {"ElevenLabs-Signature", "User-Agent", "Content-Type",
                                         "X-Forwarded-For", "X-Request-Id"};

// Replaces data.full_audio with its decoded size and SHA-256. Returns false
// (leaving `event` untouched) when the audio is absent or not valid base64,
// so that nothing is lost.
bool DropAudio(json& body, log::NewEvent& event, const std::string& raw) {
  json& data = body["data"];
  auto it = data.find("full_audio");
  if (it == data.end() || !it->is_string()) return false;
  std::string mp3;
  if (!crypto::Base64Decode(it->get_ref<const std::string&>(), &mp3)) return false;
  data.erase(it);
  data["full_audio_bytes"] = mp3.size();
  data["full_audio_sha256"] = crypto::Sha256Hex(mp3);
  event.flags |= log::kFlagAudioDropped;
  event.original_body_size = raw.size();
  event.original_body_sha256 = crypto::Sha256Hex(raw);
  event.body = body.dump();
  return true;
}

// A checked post-call, ready to append.
struct PreparedPostCall {
  log::NewEvent event;
  std::string idempotency_key;
  std::string type;
  std::string conversation_id;
};

// Verifies the signature and the body and builds the event: everything
// before the append, on the calling thread (no blocking).
Result<PreparedPostCall> PreparePostCall(const HttpRequest& request, Services& services) {
  const PostCallConfig& config = services.post_call;
  log::NewEvent event;
  if (config.insecure_no_signature) {
    event.verification = log::Verification::kSignatureSkipped;
  } else {
    const int64_t now_secs = services.clock->NowMicros() / 1'000'000;
    Status s = VerifySignature(request.Header("ElevenLabs-Signature"), request.body,
                               config.webhook_secret, now_secs, config.signature_policy);
    if (!s.ok()) {
      services.post_call_counters.rejected++;
      return s;
    }
    event.verification = log::Verification::kSignatureValid;
  }

  // Validate the whole body and pick out the two fields the log needs with
  // simdjson: a full nlohmann parse of a 20 KB transcript costs ~10x more
  // and was most of this route's CPU. One parser per handler thread.
  auto reject = [&](std::string why) {
    services.post_call_counters.rejected++;
    return Status::InvalidArgument(std::move(why));
  };
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(request.body).get(root) != simdjson::SUCCESS) {
    return reject("malformed JSON body");
  }
  // Two equal keys would let the log's dedupe key (read here) and the
  // projectors (nlohmann) read different values: refuse them.
  if (Status s = CheckJsonTree(root, {.max_depth = kDeepJsonMaxDepth}); !s.ok()) {
    return reject(s.message());
  }
  if (!root.is_object()) return reject("body must be a JSON object");
  std::string_view type_sv;
  if (root["type"].get_string().get(type_sv) != simdjson::SUCCESS || type_sv.empty()) {
    return reject("body has no string 'type'");
  }
  simdjson::dom::object data;
  if (root["data"].get_object().get(data) != simdjson::SUCCESS) {
    return reject("body has no object 'data'");
  }
  std::string_view conversation_sv;
  if (data["conversation_id"].get_string().get(conversation_sv) != simdjson::SUCCESS ||
      conversation_sv.empty()) {
    return reject("data.conversation_id must be a non-empty string");
  }
  const std::string conversation_id(conversation_sv);
  // The type becomes the event's type and heads its idempotency key: keep it
  // to what ElevenLabs sends, out of the log's own names; and refuse times
  // no call can have (issue 10, items 2 and 11).
  if (Status s = CheckPostCallType(type_sv); !s.ok()) return reject(s.message());
  if (Status s = CheckPostCallTimes(root); !s.ok()) return reject(s.message());

  event.type = std::string(type_sv);
  event.route = log::event_route::kPostCall;
  // ElevenLabs' documented dedupe key: (type, conversation_id).
  event.idempotency_key = event.type + ":" + conversation_id;
  for (const char* name : kAuditHeaders) {
    std::string v = request.Header(name);
    if (!v.empty()) event.headers.emplace_back(name, std::move(v));
  }
  if (!request.remote_address.empty()) {
    event.headers.emplace_back("Remote-Address", request.remote_address);
  }
  bool dropped = false;
  if (event.type == log::event_type::kPostCallAudio && !config.keep_audio) {
    json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    dropped = !body.is_discarded() && DropAudio(body, event, request.body);
  }
  if (!dropped) event.body = request.body;

  PreparedPostCall prepared;
  prepared.idempotency_key = event.idempotency_key;
  prepared.type = event.type;
  prepared.conversation_id = conversation_id;
  prepared.event = std::move(event);
  return prepared;
}

// The answer to an appended post-call (after a duplicate's body check).
HttpResponse Acknowledge(const log::AppendResult& appended, Services& services) {
  HttpResponse response = HttpResponse::Json(
      200, {{"status", appended.duplicate ? "duplicate" : "accepted"}, {"seq", appended.seq}});
  response.log_seq = appended.seq;
  (appended.duplicate ? services.post_call_counters.duplicates
                      : services.post_call_counters.accepted)++;
  return response;
}

}  // namespace

Result<HttpResponse> HandlePostCall(const HttpRequest& request, Services& services) {
  ENGRAM_ASSIGN_OR_RETURN(PreparedPostCall prepared, PreparePostCall(request, services));
  ENGRAM_ASSIGN_OR_RETURN(log::AppendResult appended,
                          services.log->Append(std::move(prepared.event)));
  if (appended.duplicate) {
    RecordRedeliveryMismatch(request, services, prepared.idempotency_key, prepared.type,
                             prepared.conversation_id, appended.seq);
  }
  return Acknowledge(appended, services);
}

namespace {

// Bodies above this are checked on the blocking pool, not the io thread: an
// audio post-call carries the whole call as base64 MP3 (tens of MB), and
// hashing, parsing and rewriting it takes long enough to stall every
// connection the io thread serves. Transcripts are tens of KB.
constexpr size_t kInlineBodyBytes = 1u << 20;

void CheckAndAppend(const std::shared_ptr<const HttpRequest>& request, Services& services,
                    const AsyncResponder& responder) {
  Result<PreparedPostCall> prepared = PreparePostCall(*request, services);
  if (!prepared.ok()) return responder.respond(ErrorResponse(prepared.status()));
  // Backpressure: each waiting append holds its body. A slot is taken here
  // and given back when the answer is made, on the connection's executor.
  RouteCounters& counters = services.post_call_counters;
  if (counters.pending_appends.fetch_add(1) >= services.post_call.max_pending_appends) {
    counters.pending_appends--;
    counters.refused_busy++;
    HttpResponse busy =
        HttpResponse::Json(503, {{"error", "too many appends waiting; retry later"}});
    busy.headers.emplace_back("Retry-After", "1");
    return responder.respond(std::move(busy));
  }
  auto checked = std::make_shared<PreparedPostCall>(std::move(prepared).value());
  log::NewEvent event = std::move(checked->event);
  // Runs on the log's writer: only hands the result back to the connection.
  services.log->AppendAsync(
      std::move(event), [request = request, &services, responder = responder,
                         checked](Result<log::AppendResult> appended) mutable {
        responder.resume(
            [request, &services, responder, checked, appended = std::move(appended)]() mutable {
              services.post_call_counters.pending_appends--;
              if (!appended.ok()) return responder.respond(ErrorResponse(appended.status()));
              if (!appended->duplicate) return responder.respond(Acknowledge(*appended, services));
              // A redelivery: comparing its body reads the log and may append,
              // which blocks.
              responder.run_blocking([request, &services, responder, checked, appended]() {
                RecordRedeliveryMismatch(*request, services, checked->idempotency_key,
                                         checked->type, checked->conversation_id, appended->seq);
                responder.respond(Acknowledge(*appended, services));
              });
            });
        // Nothing of the request stays with the writer's copy of this
        // completion (EventLog::AppendAsync).
        request.reset();
        checked.reset();
        responder = AsyncResponder{};
      });
}

}  // namespace

void HandlePostCallAsync(const std::shared_ptr<const HttpRequest>& request, Services& services,
                         const AsyncResponder& responder) {
  if (request->body.size() > kInlineBodyBytes) {
    return responder.run_blocking(
        [request, &services, responder] { CheckAndAppend(request, services, responder); });
  }
  CheckAndAppend(request, services, responder);
}

}  // namespace engram::http
