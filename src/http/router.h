// Routing: a plain function from request to response.
#pragma once

#include <memory>

#include "http/request.h"
#include "http/server.h"
#include "http/services.h"

namespace engram::http {

// Dispatches to the route's handler. Unknown paths get 404, known paths with
// the wrong method 405; handler errors become JSON error bodies.
HttpResponse HandleRequest(const HttpRequest& request, Services& services);
// The server's async handler (ServerOptions::async_handler): starts answering
// `request` without blocking the calling io thread when its route can
// (POST /webhook/post-call, whose append completes on the log's writer).
// True: responder.respond will be called once, with what HandleRequest
// would answer. False: the route may block; run HandleRequest elsewhere.
bool StartRequest(const std::shared_ptr<const HttpRequest>& request, Services& services,
                  const AsyncResponder& responder);
// The server's header hook (ServerOptions::on_header): decides from a
// request's head whether to read its body and how much (http/header_gate.h).
HeaderDecision DecideOnHeader(const HttpRequest& head, Services& services);

// Handlers, one per route. Each returns a response or an error Status.
Result<HttpResponse> HandlePostCall(const HttpRequest& request, Services& services);
// The same without blocking: checks on the calling thread, appends with
// EventLog::AppendAsync and answers through `responder` (resumed on its
// executor; a duplicate's body check, which reads and may append, on its
// blocking pool). At most PostCallConfig::max_pending_appends appends wait
// at once; beyond, 503 with Retry-After.
void HandlePostCallAsync(const std::shared_ptr<const HttpRequest>& request, Services& services,
                         const AsyncResponder& responder);
Result<HttpResponse> HandleHealthz(const HttpRequest& request, Services& services);
Result<HttpResponse> HandleMetrics(const HttpRequest& request, Services& services);
Result<HttpResponse> HandleMemoryQuery(const HttpRequest& request, Services& services);
Result<HttpResponse> HandleConversationInit(const HttpRequest& request, Services& services);
// GET /v1/admin/dead-letters and POST /v1/admin/dead-letters/retry
// ({"seq": N} or {"all": true}), behind ENGRAM_ADMIN_TOKEN.
Result<HttpResponse> HandleDeadLetters(const HttpRequest& request, Services& services);
Result<HttpResponse> HandleDeadLettersRetry(const HttpRequest& request, Services& services);
// GET /v1/admin/conversations/{id}: what the call taught Engram (memories
// created, reinforced, superseded) and its extraction's status.
Result<HttpResponse> HandleConversationLearning(const HttpRequest& request, Services& services);
// GET /v1/users/{id} (the user, its numbers, counts) and
// GET /v1/users/{id}/memories (every memory with validity and sources),
// behind ENGRAM_ADMIN_TOKEN.
Result<HttpResponse> HandleUserRead(const HttpRequest& request, Services& services);
// DELETE /v1/users/{id}: forget the user (replay/forget.h), behind
// ENGRAM_ADMIN_TOKEN.
Result<HttpResponse> HandleUserForget(const HttpRequest& request, Services& services);
// POST /v1/admin/read-model/swap {"path": "/abs/NEW.db"}: switch to a shadow
// read model (engram replay swap), behind ENGRAM_ADMIN_TOKEN.
Result<HttpResponse> HandleReadModelSwap(const HttpRequest& request, Services& services);

// What the routes above do, for the web console (src/console), so both
// answer alike from one implementation.
//
// The dynamic_variables POST /webhook/conversation-init answers now for the
// known user `user_id`, except call_token, which the init mints per call (a
// credential): "" here. Appends nothing and binds no call. NotFound for an
// unknown user.
Result<nlohmann::json> InitVariablesPreview(Services& services, const std::string& user_id);
// DELETE /v1/users/{id}: forgets the user or caller number `id`; the answer's
// body. `requested_by` goes into the user_forgotten event.
Result<nlohmann::json> ForgetUser(Services& services, const std::string& id,
                                  const std::string& requested_by);
// POST /v1/admin/dead-letters/retry with `body` ({"seq": N} or {"all": true}).
Result<nlohmann::json> RetryDeadLetters(Services& services, const nlohmann::json& body,
                                        const std::string& requested_by);

}  // namespace engram::http
