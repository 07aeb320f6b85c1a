// engram-loadgen --mode calls. Why: in production the three routes share one
// process and two cores with the projector that learns from every call, so
// each route's latency, and whether learning keeps up, can only be judged
// under the mix a call produces. How:
//  - A call is: POST /webhook/conversation-init (X-Engram-Secret, the body
//    ElevenLabs sends: caller_id, agent_id, called_number, call_sid), then
//    --tool-calls memory-tool requests (POST /tools/memory-query with the
//    user_id init answered, the call's call_sid, conversation_id and
//    caller_id, as the agent's tool config binds them), then the signed
//    post_call_transcription webhook with that user_id. Steps are spread
//    evenly over --call-secs (the call's length, time-compressed): init at 0,
//    tool call j at j/(K+1), post-call at the end.
//  - Callers come from a pool of --callers phone numbers, so callers return
//    and their memories accumulate (across runs too: the numbers and each
//    caller's persona depend only on the caller's index). Transcripts carry
//    facts the rule extractor keeps: a name, a CRM (now and then a switch,
//    which supersedes), a contact preference, and (at the default --turns
//    20) about eight statements about problems, plans with dates, routines
//    and feelings drawn from phrase banks with --seed.
//  - Arrivals (call starts) are open loop and can be combined:
//    --calls-per-sec R for --duration-secs (evenly spaced, or --poisson);
//    --burst-calls N spread over --burst-secs from --burst-at; --day-calls N
//    drawn from a support line's day (hourly profile, 30% of calls clustered
//    within 10 minutes of another) played --day-compression times faster.
//  - Latency is counted from when a request was due, not when it was sent.
//    Init is due at the call's start; a later step is due at its planned time
//    or when the call's previous answer arrived, whichever is later (an agent
//    cannot ask the tool about a call that init has not answered for). Steps
//    are sent by --connections workers, each with its own keep-alive
//    connection; an idle one sleeps until the next step is due. When all are
//    busy, due requests wait and the wait is counted.
//  - The queue: a watcher scrapes GET /metrics every --scrape-ms for
//    engram_projection_lag_events, engram_webhook_events{status="pending"}
//    and engram_extraction_queue_depth (reported as absent when the server
//    does not export it). After the last call it scrapes every 100 ms until
//    all are 0 or --drain-secs pass; the queue kept up when that took at most
//    --keepup-secs.
//  - It stops by itself: no step starts after the last call's planned end
//    plus 30 s, and requests time out after --timeout-ms.
//
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen.h"

namespace engram::tools {

inline constexpr char kInitPath[] = "/webhook/conversation-init";
inline constexpr char kToolPath[] = "/tools/memory-query";
inline constexpr char kCallsAgentId[] = "agent_5301k6yq2h8vfx0r7nwa3c9tjm4e";
inline constexpr char kAgentNumber[] = "+17375550100";
// What the agent's tool config sends as "limit".
constexpr int kToolLimit = 5;
// After the last call's planned end, steps still waiting are abandoned this
// much later: the run must stop by itself even if the server stalls.
constexpr auto kStragglerGrace = std::chrono::seconds(30);
// How often the queue is read while it drains after the load.
constexpr auto kDrainPoll = std::chrono::milliseconds(100);
// A real call lasts about three minutes; with --day-calls the call is
// compressed with the day.
constexpr double kRealCallSecs = 180;
constexpr double kDefaultCallSecs = 2;

enum RouteId { kInitRoute = 0, kToolRoute = 1, kPostCallRoute = 2, kRouteCount = 3 };
inline constexpr const char* kRouteNames[kRouteCount] = {"init", "tool", "post_call"};
inline constexpr const char* kRoutePaths[kRouteCount] = {kInitPath, kToolPath, kPostCallPath};

// Who a caller is: fixed by the caller's index alone, so a caller is the same
// person in every run and every call.
struct Persona {
  std::string phone;
  std::string first_name;
  std::string name;
  std::string company;
  std::string city;
  std::string crm;
  bool prefers_email = true;
};

Persona PersonaFor(int caller);

// The state of one simulated call. Steps of a call run one after another
// (step k+1 is scheduled only when step k has finished), and the hand-over
// goes through the run's mutex, so no further locking is needed.
struct CallState {
  Clock::time_point start;  // planned
  int caller = 0;
  uint64_t seed = 0;
  std::string call_sid;
  std::string conversation_id;
  std::string user_id;  // what init answered; empty when it failed
  std::string post_call_body;
  int64_t start_unix = 0;
};

// The post_call_transcription body of `call`, made after init answered.
std::string BuildCallBody(const CallState& call, const Persona& who, int turns, int64_t now_secs);

// Call start times in seconds from the run's start, sorted, with the caller
// of each call. Deterministic for a given --seed.
struct PlannedCall {
  double start_secs = 0;
  int caller = 0;
};

std::vector<PlannedCall> PlanCalls(const Flags& flags);

// A question an agent asks the memory tool.
std::string_view RandomQuestion(std::mt19937_64& rng);

}  // namespace engram::tools
