// libFuzzer target: the text rules that read every caller turn (issue 11):
// evidence pieces and their question pairing, updates said in words,
// restatement, the caller's name, relative dates. Input: lines, each one
// turn, "a" or "u" first for agent or user; the first 4 bytes pick the call
// time. Must never crash, and annotating dates twice must change nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "memory/caller_name.h"
#include "memory/evidence.h"
#include "memory/relative_dates.h"
#include "memory/updates.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace engram::memory;
  if (size < 4) return 0;
  uint32_t t = 0;
  std::memcpy(&t, data, 4);
  // Calls between 1970 and about 2106: whatever a webhook could say.
  const int64_t call_secs = t;
  std::string_view text(reinterpret_cast<const char*>(data + 4), size - 4);
  std::vector<TranscriptTurn> turns;
  size_t start = 0;
  while (start <= text.size() && turns.size() < 64) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty()) {
      turns.push_back({static_cast<int>(turns.size()), line[0] == 'a' ? "agent" : "user",
                       std::string(line.substr(1))});
    }
    start = end + 1;
  }
  const std::optional<std::string> name = CallerNameFromTranscript(turns);
  const std::vector<ExtractedMemory> evidence =
      EvidenceMemories(turns, "conv_fuzz", name.value_or(""));
  for (const ExtractedMemory& m : evidence) {
    const std::string once = AnnotateRelativeDates(m.content, call_secs);
    if (AnnotateRelativeDates(once, call_secs) != once) std::abort();  // idempotent
    for (const ExtractedMemory& other : evidence) {
      (void)Restates(m.content, other.content, {});
      if (!m.replaces.empty()) (void)IsReplacedBy(other.content, m.content, m.replaces, {});
    }
    for (const std::string& value : m.replaces) {
      if (value.empty()) std::abort();  // an empty value would retire everything
    }
  }
  return 0;
}
