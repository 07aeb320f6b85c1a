// MemoryEngine: the extractor, embedder and extraction cache a memory
// projector uses, assembled from configuration. `engram serve` and
// `engram replay` build the same engine from the same options, which is what
// makes a replay with the same configuration exact.
#pragma once

#include <memory>
#include <string>

#include "http_client/http_client.h"
#include "memory/embedder.h"
#include "memory/extractor.h"
#include "memory/openai_compat.h"
#include "memory/summarizer.h"
#include "projections/extraction_cache.h"
#include "projections/memory_projector.h"

namespace engram::projections {

struct MemoryEngineOptions {
  // "rules" (default) or "llm" (an OpenAI-compatible chat endpoint).
  std::string extractor = "rules";
  memory::OpenAiEndpoint llm;  // for "llm"
  std::string prompt_path;     // "" = the compiled-in prompts/extract_v1.txt
  // "glove" (default), "use" (the Universal Sentence Encoder lite, with
  // GloVe kept for query expansion) or "openai" (an OpenAI-compatible
  // /embeddings endpoint).
  std::string embedder = "glove";
  std::string embeddings_path;       // the GloVe file; DefaultEmbeddingsPath() when empty
  std::string use_model_path;        // use-lite.bin; DefaultUseModelPath() when empty
  memory::OpenAiEndpoint embedding;  // for "openai"
  int embedding_dims = 0;            // for "openai"
  std::string cache_path;            // the extraction cache (DATA_DIR/cache.db)
  // "rules" (default) or "llm" (the same endpoint as the LLM extractor).
  std::string summarizer = "rules";
  // The memory tool waits this long for an LLM answer summary, then serves
  // the extractive one: the tool's budget is 500 ms at p95, and a hung LLM
  // must not take the tool past it.
  std::chrono::milliseconds answer_timeout{350};
};

// Options from the environment, as documented in README:
//   ENGRAM_EXTRACTOR (rules|llm; llm by default when ENGRAM_LLM_BASE_URL is set),
//   ENGRAM_LLM_BASE_URL, ENGRAM_LLM_API_KEY, ENGRAM_LLM_MODEL, ENGRAM_LLM_TIMEOUT_MS,
//   ENGRAM_PROMPT_FILE, ENGRAM_SUMMARIZER (rules|llm; llm when ENGRAM_LLM_BASE_URL is set),
//   ENGRAM_LLM_ANSWER_TIMEOUT_MS (350),
//   ENGRAM_EMBEDDING_BASE_URL (selects the openai embedder), ENGRAM_EMBEDDING_MODEL,
//   ENGRAM_EMBEDDING_DIMS, ENGRAM_EMBEDDING_API_KEY (default: ENGRAM_LLM_API_KEY),
//   ENGRAM_EMBEDDINGS (the GloVe file), ENGRAM_EMBEDDER (glove, use or openai),
//   ENGRAM_USE_MODEL (the use-lite.bin file).
MemoryEngineOptions MemoryEngineOptionsFromEnv();
// The same settings from a JSON file {"ENGRAM_EXTRACTOR": "llm",
// "ENGRAM_PROMPT_FILE": "extract_v2.txt", ...}; what the file leaves out
// comes from the environment. A relative prompt file is relative to the
// file. For `engram replay --config`.
Result<MemoryEngineOptions> MemoryEngineOptionsFromFile(const std::string& path);

struct MemoryEngine {
  std::unique_ptr<http::HttpClient> http;  // for the remote parts, when any
  std::unique_ptr<memory::Extractor> extractor;
  std::unique_ptr<memory::Embedder> embedder;
  std::unique_ptr<ExtractionCache> cache;
  std::unique_ptr<memory::Summarizer> summarizer;         // for user summaries (projector)
  std::unique_ptr<memory::Summarizer> answer_summarizer;  // for the tool (short timeout)

  MemoryEngineParts Parts(memory::MemoryIndex* index, metrics::Registry* metrics = nullptr) const {
    MemoryEngineParts parts;
    parts.extractor = extractor.get();
    parts.embedder = embedder.get();
    parts.cache = cache.get();
    parts.index = index;
    parts.summarizer = summarizer.get();
    parts.metrics = metrics;
    return parts;
  }
};

// ENGRAM_EMBEDDINGS when set, else models/glove-100d.bin beside the running
// executable (where tools/build.sh writes it).
std::string DefaultEmbeddingsPath();

// ENGRAM_USE_MODEL when set, else models/use-lite.bin beside the running
// executable (tools/build.sh writes it).
std::string DefaultUseModelPath();

// InvalidArgument for an unknown kind or missing endpoint settings.
Result<std::unique_ptr<MemoryEngine>> OpenMemoryEngine(const MemoryEngineOptions& options);

}  // namespace engram::projections
