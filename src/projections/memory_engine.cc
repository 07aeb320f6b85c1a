#include "projections/memory_engine.h"

#include <unistd.h>

#include <filesystem>

#include "memory/glove_embedder.h"
#include "memory/rule_extractor.h"

namespace engram::projections {

std::string DefaultEmbeddingsPath() {
  if (const char* env = std::getenv("ENGRAM_EMBEDDINGS"); env && *env) return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "models/glove-100d.bin";
  return (exe.parent_path() / "models" / "glove-100d.bin").string();
}

Result<std::unique_ptr<MemoryEngine>> OpenMemoryEngine(const MemoryEngineOptions& options) {
  auto engine = std::make_unique<MemoryEngine>();
  engine->extractor = std::make_unique<memory::RuleExtractor>();
  const std::string path =
      options.embeddings_path.empty() ? DefaultEmbeddingsPath() : options.embeddings_path;
  ENGRAM_ASSIGN_OR_RETURN(engine->embedder, memory::GloveEmbedder::Open(path));
  ENGRAM_ASSIGN_OR_RETURN(
      engine->cache,
      ExtractionCache::Open(options.cache_path.empty() ? ":memory:" : options.cache_path));
  return engine;
}

}  // namespace engram::projections
