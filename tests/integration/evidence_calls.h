// Calls of two callers in trades the shared fixtures never show (a dental
// practice and a business internet provider), shared by the tests of the
// evidence memories through replay, audit, erasure and upgrade
// (evidence_trail_test.cc, evidence_upgrade_test.cc).
//
// Marcus (dental) says his insurance changed in words only ("now Cigna
// Dental, not Delta anymore": no data-collection item holds the insurer) and
// changes his appointment day through data collection. Helena (internet)
// changes her contact preference through data collection.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "http/http_connection.h"
#include "http/signature.h"
#include "support/test_support.h"

namespace engram::testing {

inline constexpr char kMarcus[] = "patient-marcus";
inline constexpr char kHelena[] = "isp-helena";

struct Turn {
  const char* role;
  const char* message;
};

// A post_call_transcription of `user_id` with these turns and, when
// `item_id` is set, one data-collection answer.
inline nlohmann::json EvidenceCall(const std::string& conversation_id, const std::string& user_id,
                                   const std::string& caller, int64_t start_secs,
                                   const std::vector<Turn>& turns, const std::string& summary,
                                   const std::string& item_id = "",
                                   const std::string& item_description = "",
                                   const std::string& item_value = "") {
  nlohmann::json body = MakeTranscription(conversation_id, caller, {}, start_secs);
  nlohmann::json& data = body["data"];
  data["user_id"] = user_id;
  data["transcript"] = nlohmann::json::array();
  double t = 0;
  for (const Turn& turn : turns) {
    data["transcript"].push_back(
        {{"role", turn.role}, {"message", turn.message}, {"time_in_call_secs", t}});
    t += 6;
  }
  data["metadata"]["call_duration_secs"] = static_cast<int>(t);
  data["analysis"]["transcript_summary"] = summary;
  data["analysis"]["call_summary_title"] = "Call of " + user_id;
  if (!item_id.empty()) {
    data["analysis"]["data_collection_results"] = {
        {item_id,
         {{"data_collection_id", item_id},
          {"value", item_value},
          {"json_schema", {{"type", "string"}, {"description", item_description}}}}}};
  }
  return body;
}

// The four calls, in the order they happened (Marcus, Helena, Marcus, Helena).
inline std::vector<nlohmann::json> EvidenceCalls() {
  const int64_t day = 86400;
  const int64_t start = 1780000000;
  return {
      EvidenceCall("conv_dental_1", kMarcus, "+15550100001", start,
                   {{"agent",
                     "Thanks for calling Bright Smile Dental, this is Robin. How can I "
                     "help you today?"},
                    {"user", "Hi Robin, it's Marcus Oyelaran. I'd like to book a cleaning."},
                    {"agent", "Of course. Is your insurance still the same?"},
                    {"user", "Yes, Delta Dental PPO through my school district."},
                    {"agent", "Great. Anything we should know before the visit?"},
                    {"user", "Please make sure the notes still say I'm allergic to penicillin."},
                    {"agent", "Noted. We'll see you on Tuesday."}},
                   "Marcus booked a cleaning for Tuesday and confirmed his insurance.",
                   "appointment_day", "Day of the caller's next appointment", "Tuesday"),
      EvidenceCall("conv_isp_1", kHelena, "+15550100002", start + day,
                   {{"agent", "Copperline Business Internet, this is Sam. How can I help?"},
                    {"user",
                     "This is Helena Vasquez-Brandt, I own the bakery on Fifth Street. Our "
                     "internet drops every afternoon around three."},
                    {"agent", "Sorry to hear that. Which plan are you on?"},
                    {"user", "The Fiber 500 business plan."},
                    {"agent", "I've opened ticket 4471 and a technician will come by."},
                    {"user", "Please phone me before the technician comes."}},
                   "Helena reported daily outages; ticket 4471 was opened.", "contact_preference",
                   "How the caller wants to be contacted", "phone"),
      EvidenceCall("conv_dental_2", kMarcus, "+15550100001", start + 7 * day,
                   {{"agent", "Bright Smile Dental, this is Robin. How can I help you today?"},
                    {"user", "Hi, it's Marcus Oyelaran again."},
                    {"agent", "Hi Marcus. What can I do for you?"},
                    {"user", "My dental insurance is now Cigna Dental, not Delta anymore."},
                    {"agent", "Thanks, I've updated your file. Shall we move the cleaning?"},
                    {"user", "Yes, Thursday works better for me now."}},
                   "Marcus reported a new dental insurer and moved his cleaning to Thursday.",
                   "appointment_day", "Day of the caller's next appointment", "Thursday"),
      EvidenceCall("conv_isp_2", kHelena, "+15550100002", start + 8 * day,
                   {{"agent", "Copperline Business Internet, this is Sam. How can I help?"},
                    {"user",
                     "Hi, it's Helena Vasquez-Brandt. The technician replaced the router and "
                     "the drops stopped."},
                    {"agent", "Glad to hear it. How should we reach you from now on?"},
                    {"user", "Text messages, please, I'm at the ovens all morning."}},
                   "Helena confirmed the router replacement fixed the outages.",
                   "contact_preference", "How the caller wants to be contacted", "text message"),
  };
}

// Posts `body` to the post-call webhook, signed now; the HTTP status.
inline int PostSigned(http::HttpConnection& client, const nlohmann::json& body) {
  const std::string raw = body.dump();
  const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  auto r =
      client.Send("POST", "/webhook/post-call", raw,
                  {{"ElevenLabs-Signature", http::SignatureHeaderValue(kTestSecret, now, raw)}});
  return r.ok() ? r->status : -1;
}

}  // namespace engram::testing
