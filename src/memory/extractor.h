// Extractor: turns a transcript into candidate memories.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "memory/memory_types.h"

namespace engram::memory {

class Extractor {
 public:
  virtual ~Extractor() = default;
  // What determines the output besides the input: kind, rules or prompt
  // version, model. Part of the extraction cache key.
  virtual std::string CacheIdentity() const = 0;
  // Proposes memories for one conversation. Unavailable when a remote
  // extractor could not be reached (the event is retried later).
  virtual Result<std::vector<ExtractedMemory>> Extract(const ExtractionInput& input) = 0;
};

}  // namespace engram::memory
