// Value types shared by the memory engine: sectors and extracted memories.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace engram::memory {

// After OpenMemory: what kind of thing a memory is. Each decays at its own rate.
enum class Sector { kSemantic = 0, kEpisodic, kProcedural, kEmotional, kReflective };
inline constexpr int kSectorCount = 5;
inline constexpr std::array<Sector, kSectorCount> kAllSectors = {
    Sector::kSemantic, Sector::kEpisodic, Sector::kProcedural, Sector::kEmotional,
    Sector::kReflective};

std::string_view SectorName(Sector s);
std::optional<Sector> ParseSector(std::string_view name);

// Salience lost per day without reinforcement, per sector (exponential decay).
// Facts and insights last; feelings and one-off events fade. Values after
// OpenMemory's defaults.
double SectorDecayPerDay(Sector s);

// One turn of a transcript as the extractor sees it.
struct TranscriptTurn {
  int index = 0;        // position in data.transcript
  std::string role;     // "user" | "agent"
  std::string message;  // empty on tool-only turns
};

// A memory as the extractor proposes it, before dedupe and supersede.
struct ExtractedMemory {
  std::string content;  // short self-contained sentence about the caller
  Sector primary = Sector::kSemantic;
  std::vector<Sector> sectors;  // primary first, then any others
  // Slot facts (crm, company, role, email, contact_preference, ...) carry a
  // subject and its value; a later memory with the same subject and another
  // value supersedes this one.
  std::string subject;
  std::string value;
  double salience = 0.5;  // initial salience in [0, 1]
  std::vector<int> source_turns;
  // Values the statement says are no longer so ("not Delta anymore"), lower
  // case (updates.h): earlier memories on the same topic that hold one are
  // replaced by this one.
  std::vector<std::string> replaces;
};

struct ExtractionInput {
  std::string caller_name;  // "" when unknown
  std::string company;      // "" when unknown
  std::vector<TranscriptTurn> turns;
  // What the platform's analysis of the call stated (analysis_memories.h).
  // Not for the extractor: the extraction returns these after the
  // extractor's own memories, whichever extractor is configured.
  std::vector<ExtractedMemory> analysis;
  // The call's id: names the evidence memories (evidence.h).
  std::string conversation_id;
  // The call's start (ms since the epoch, UTC): what relative dates ("next
  // Friday") are resolved against.
  int64_t call_time_ms = 0;
};

}  // namespace engram::memory
