// ParsedBodies: an event's JSON body parsed once for all the projectors that
// read it. The conversation projector and the memory projector both read a
// post_call_transcription (about 10 KB, ~20 turns); parsing it twice with
// nlohmann was a tenth of the projector's time in a replay.
//
// Holds one parse: the runner applies an event to every projector before the
// next event, so the projectors of one event share it. A body that is asked
// for again is recognised by its seq and bytes (not by the Event object,
// which a retry re-reads from the log), so a hit is always the same text.
// Not thread-safe: the runner's thread only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "log/event.h"

namespace engram::projections {

class ParsedBodies {
 public:
  // `e.body` parsed without exceptions: a discarded value when it is not
  // JSON. The reference stays valid until the next call.
  const nlohmann::json& Get(const log::Event& e) {
    if (!held_ || e.seq != seq_ || e.body != text_) {
      body_ = nlohmann::json::parse(e.body, nullptr, /*allow_exceptions=*/false);
      seq_ = e.seq;
      text_ = e.body;
      held_ = true;
    }
    return body_;
  }

 private:
  bool held_ = false;
  log::Seq seq_ = 0;
  std::string text_;
  nlohmann::json body_;
};

}  // namespace engram::projections
