#include "projections/memory_engine.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "memory/glove_embedder.h"
#include "memory/llm_extractor.h"
#include "memory/openai_embedder.h"
#include "memory/rule_extractor.h"

namespace engram::prompts {
std::string_view extract_v1();
std::string_view summary_v1();
std::string_view recall_v1();
}  // namespace engram::prompts

namespace engram::projections {

namespace {
std::string Env(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
// A number from the environment; `fallback` when unset or not a number.
int64_t EnvInt(const char* name, int64_t fallback) {
  std::string v = Env(name);
  if (v.empty()) return fallback;
  try {
    return std::stoll(v);
  } catch (const std::exception&) {
    return fallback;
  }
}
}  // namespace

MemoryEngineOptions MemoryEngineOptionsFromEnv() {
  MemoryEngineOptions o;
  o.llm.base_url = Env("ENGRAM_LLM_BASE_URL");
  o.llm.api_key = Env("ENGRAM_LLM_API_KEY");
  o.llm.model = Env("ENGRAM_LLM_MODEL", "gpt-4o-mini");
  o.llm.timeout = std::chrono::milliseconds(EnvInt("ENGRAM_LLM_TIMEOUT_MS", 30000));
  o.extractor = Env("ENGRAM_EXTRACTOR", o.llm.base_url.empty() ? "rules" : "llm");
  o.prompt_path = Env("ENGRAM_PROMPT_FILE");
  o.embedding.base_url = Env("ENGRAM_EMBEDDING_BASE_URL");
  o.embedding.api_key = Env("ENGRAM_EMBEDDING_API_KEY", o.llm.api_key);
  o.embedding.model = Env("ENGRAM_EMBEDDING_MODEL", "text-embedding-3-small");
  o.embedding_dims = static_cast<int>(EnvInt("ENGRAM_EMBEDDING_DIMS", 1536));
  o.embedder = o.embedding.base_url.empty() ? "glove" : "openai";
  o.embeddings_path = Env("ENGRAM_EMBEDDINGS");
  o.summarizer = Env("ENGRAM_SUMMARIZER", o.llm.base_url.empty() ? "rules" : "llm");
  o.answer_timeout = std::chrono::milliseconds(EnvInt("ENGRAM_LLM_ANSWER_TIMEOUT_MS", 350));
  return o;
}

std::string DefaultEmbeddingsPath() {
  if (const char* env = std::getenv("ENGRAM_EMBEDDINGS"); env && *env) return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "models/glove-100d.bin";
  return (exe.parent_path() / "models" / "glove-100d.bin").string();
}

Result<std::unique_ptr<MemoryEngine>> OpenMemoryEngine(const MemoryEngineOptions& options) {
  auto engine = std::make_unique<MemoryEngine>();
  if (options.extractor == "llm" || options.embedder == "openai" || options.summarizer == "llm") {
    engine->http = http::MakeCurlHttpClient();
  }
  if (options.extractor == "rules") {
    engine->extractor = std::make_unique<memory::RuleExtractor>();
  } else if (options.extractor == "llm") {
    if (options.llm.base_url.empty()) {
      return Status::InvalidArgument("the llm extractor needs ENGRAM_LLM_BASE_URL");
    }
    std::string prompt(prompts::extract_v1());
    if (!options.prompt_path.empty()) {
      std::ifstream in(options.prompt_path);
      if (!in) return Status::NotFound("cannot read prompt file " + options.prompt_path);
      std::stringstream ss;
      ss << in.rdbuf();
      prompt = ss.str();
    }
    engine->extractor =
        std::make_unique<memory::LlmExtractor>(*engine->http, options.llm, std::move(prompt));
  } else {
    return Status::InvalidArgument("unknown extractor '" + options.extractor + "' (rules or llm)");
  }
  if (options.embedder == "glove") {
    const std::string path =
        options.embeddings_path.empty() ? DefaultEmbeddingsPath() : options.embeddings_path;
    ENGRAM_ASSIGN_OR_RETURN(engine->embedder, memory::GloveEmbedder::Open(path));
  } else if (options.embedder == "openai") {
    if (options.embedding.base_url.empty() || options.embedding_dims <= 0) {
      return Status::InvalidArgument(
          "the openai embedder needs ENGRAM_EMBEDDING_BASE_URL and ENGRAM_EMBEDDING_DIMS");
    }
    engine->embedder = std::make_unique<memory::OpenAiEmbedder>(*engine->http, options.embedding,
                                                                options.embedding_dims);
  } else {
    return Status::InvalidArgument("unknown embedder '" + options.embedder + "' (glove or openai)");
  }
  if (options.summarizer == "rules") {
    engine->summarizer = std::make_unique<memory::RuleSummarizer>();
    engine->answer_summarizer = std::make_unique<memory::RuleSummarizer>();
  } else if (options.summarizer == "llm") {
    if (options.llm.base_url.empty()) {
      return Status::InvalidArgument("the llm summarizer needs ENGRAM_LLM_BASE_URL");
    }
    engine->summarizer = std::make_unique<memory::LlmSummarizer>(*engine->http, options.llm,
                                                                 std::string(prompts::summary_v1()),
                                                                 std::string(prompts::recall_v1()));
    memory::OpenAiEndpoint quick = options.llm;
    quick.timeout = options.answer_timeout;
    engine->answer_summarizer = std::make_unique<memory::LlmSummarizer>(
        *engine->http, quick, std::string(prompts::summary_v1()),
        std::string(prompts::recall_v1()));
  } else {
    return Status::InvalidArgument("unknown summarizer '" + options.summarizer +
                                   "' (rules or llm)");
  }
  ENGRAM_ASSIGN_OR_RETURN(
      engine->cache,
      ExtractionCache::Open(options.cache_path.empty() ? ":memory:" : options.cache_path));
  return engine;
}

}  // namespace engram::projections
