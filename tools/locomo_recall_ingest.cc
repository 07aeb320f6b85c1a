// engram-locomo: each session as a post_call_transcription, once per speaker.
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include "locomo_recall.h"

namespace engram::tools::locomo {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string ConversationId(const Flags& flags, const Sample& sample, const Session& session,
                           const std::string& speaker) {
  return flags.id_prefix + "-" + sample.id + "-s" + std::to_string(session.number) + "-" +
         Lower(speaker);
}

// The message a turn becomes: the speaker's name first, so the extractor
// knows who speaks, and the shared image's caption, which often holds the
// answer ("What did Melanie paint?").
std::string Message(const Turn& t) {
  std::string m = t.speaker + ": " + t.text;
  if (!t.caption.empty()) m += " [shares " + t.caption + "]";
  return m;
}

// One session as a post_call_transcription for the user `speaker`.
std::string PostCallBody(const Flags& flags, const Sample& sample, const Session& session,
                         const std::string& speaker) {
  const int duration = static_cast<int>(session.turns.size()) * kSecondsPerTurn;
  ordered_json doc;
  doc["type"] = "post_call_transcription";
  doc["event_timestamp"] = session.start_secs + duration;
  ordered_json& data = doc["data"];
  data["agent_id"] = "agent_locomo_replay";
  data["agent_name"] = "LoCoMo replay";
  data["conversation_id"] = ConversationId(flags, sample, session, speaker);
  data["status"] = "done";
  data["user_id"] = UserId(flags, sample, speaker);
  ordered_json transcript = ordered_json::array();
  int time_in_call = 0;
  for (const Turn& t : session.turns) {
    ordered_json turn;
    turn["role"] = t.speaker == speaker ? "user" : "agent";
    turn["message"] = Message(t);
    turn["tool_calls"] = ordered_json::array();
    turn["tool_results"] = ordered_json::array();
    turn["time_in_call_secs"] = time_in_call;
    turn["interrupted"] = false;
    turn["source_medium"] = "text";
    transcript.push_back(std::move(turn));
    time_in_call += kSecondsPerTurn;
  }
  data["transcript"] = std::move(transcript);
  data["metadata"] = {{"start_time_unix_secs", session.start_secs},
                      {"call_duration_secs", duration},
                      {"termination_reason", "session ended"},
                      {"main_language", "en"},
                      {"text_only", true}};
  return doc.dump();
}

}  // namespace

std::string UserId(const Flags& flags, const Sample& sample, const std::string& speaker) {
  return flags.id_prefix + "-" + sample.id + "-" + Lower(speaker);
}

Status Ingest(Server& server, const Flags& flags, const std::vector<Sample>& samples,
              TurnMap* turn_map, IngestStats* stats) {
  const auto start = Clock::now();
  for (const Sample& sample : samples) {
    for (const Session& session : sample.sessions) {
      for (const std::string& speaker : {sample.speaker_a, sample.speaker_b}) {
        std::vector<std::string>& dia =
            (*turn_map)[ConversationId(flags, sample, session, speaker)];
        dia.clear();
        for (const Turn& t : session.turns) dia.push_back(t.dia_id);
        bool duplicate = false;
        ENGRAM_RETURN_IF_ERROR(
            server.PostCall(PostCallBody(flags, sample, session, speaker), &duplicate));
        ++stats->conversations;
        stats->duplicates += duplicate;
        stats->turns += session.turns.size();
      }
    }
  }
  const auto sent = Clock::now();
  stats->seconds = std::chrono::duration<double>(sent - start).count();
  ENGRAM_RETURN_IF_ERROR(server.WaitForProjection());
  stats->projection_seconds = std::chrono::duration<double>(Clock::now() - sent).count();
  return Status::Ok();
}

}  // namespace engram::tools::locomo
