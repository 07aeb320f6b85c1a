// MemoryEngine: the extractor, embedder and extraction cache a memory
// projector uses, assembled from configuration. `engram serve` and
// `engram replay` build the same engine from the same options, which is what
// makes a replay with the same configuration exact.
#pragma once

#include <memory>
#include <string>

#include "memory/embedder.h"
#include "memory/extractor.h"
#include "projections/extraction_cache.h"
#include "projections/memory_projector.h"

namespace engram::projections {

struct MemoryEngineOptions {
  std::string embeddings_path;  // the GloVe file; DefaultEmbeddingsPath() when empty
  std::string cache_path;       // the extraction cache (DATA_DIR/cache.db)
};

struct MemoryEngine {
  std::unique_ptr<memory::Extractor> extractor;
  std::unique_ptr<memory::Embedder> embedder;
  std::unique_ptr<ExtractionCache> cache;

  MemoryEngineParts Parts(memory::MemoryIndex* index) const {
    return {extractor.get(), embedder.get(), cache.get(), index};
  }
};

// ENGRAM_EMBEDDINGS when set, else models/glove-100d.bin beside the running
// executable (where tools/build.sh writes it).
std::string DefaultEmbeddingsPath();

Result<std::unique_ptr<MemoryEngine>> OpenMemoryEngine(const MemoryEngineOptions& options);

}  // namespace engram::projections
