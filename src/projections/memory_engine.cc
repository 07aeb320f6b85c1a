#include "projections/memory_engine.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/json_guard.h"
#include "memory/glove_embedder.h"
#include "memory/llm_extractor.h"
#include "memory/openai_embedder.h"
#include "memory/rule_extractor.h"
#include "memory/use_embedder.h"

namespace engram::prompts {
std::string_view extract_v1();
std::string_view summary_v1();
std::string_view recall_v1();
}  // namespace engram::prompts

namespace engram::projections {

namespace {
using Lookup = std::function<std::string(const char*)>;

// A number from `get`; `fallback` when unset or not a number.
int64_t IntOf(const Lookup& get, const char* name, int64_t fallback) {
  std::string v = get(name);
  if (v.empty()) return fallback;
  try {
    return std::stoll(v);
  } catch (const std::exception&) {
    return fallback;
  }
}

MemoryEngineOptions OptionsFrom(const Lookup& get) {
  auto str = [&](const char* name, const std::string& fallback = "") {
    std::string v = get(name);
    return v.empty() ? fallback : v;
  };
  MemoryEngineOptions o;
  o.llm.base_url = str("ENGRAM_LLM_BASE_URL");
  o.llm.api_key = str("ENGRAM_LLM_API_KEY");
  o.llm.model = str("ENGRAM_LLM_MODEL", "gpt-4o-mini");
  o.llm.timeout = std::chrono::milliseconds(IntOf(get, "ENGRAM_LLM_TIMEOUT_MS", 30000));
  o.extractor = str("ENGRAM_EXTRACTOR", o.llm.base_url.empty() ? "rules" : "llm");
  o.prompt_path = str("ENGRAM_PROMPT_FILE");
  o.embedding.base_url = str("ENGRAM_EMBEDDING_BASE_URL");
  o.embedding.api_key = str("ENGRAM_EMBEDDING_API_KEY", o.llm.api_key);
  o.embedding.model = str("ENGRAM_EMBEDDING_MODEL", "text-embedding-3-small");
  o.embedding_dims = static_cast<int>(IntOf(get, "ENGRAM_EMBEDDING_DIMS", 1536));
  o.embedder = str("ENGRAM_EMBEDDER", o.embedding.base_url.empty() ? "glove" : "openai");
  o.embeddings_path = str("ENGRAM_EMBEDDINGS");
  o.use_model_path = str("ENGRAM_USE_MODEL");
  o.summarizer = str("ENGRAM_SUMMARIZER", o.llm.base_url.empty() ? "rules" : "llm");
  o.answer_timeout = std::chrono::milliseconds(IntOf(get, "ENGRAM_LLM_ANSWER_TIMEOUT_MS", 350));
  return o;
}

std::string FromEnv(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

MemoryEngineOptions MemoryEngineOptionsFromEnv() { return OptionsFrom(FromEnv); }

Result<MemoryEngineOptions> MemoryEngineOptionsFromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  ENGRAM_ASSIGN_OR_RETURN(nlohmann::json j, ParseJsonGuarded(text.str(), {.what = path}));
  if (!j.is_object()) {
    return Status::InvalidArgument(path + " must hold a JSON object of ENGRAM_* settings");
  }
  std::map<std::string, std::string> values;
  for (const auto& [k, v] : j.items()) {
    if (!k.starts_with("ENGRAM_")) {
      return Status::InvalidArgument(path + ": unknown setting " + k +
                                     " (settings are named as their environment variables)");
    }
    if (v.is_string()) {
      values[k] = v.get<std::string>();
    } else if (v.is_number_integer()) {
      values[k] = std::to_string(v.get<int64_t>());
    } else {
      return Status::InvalidArgument(path + ": " + k + " must be a string or an integer");
    }
  }
  // A relative prompt file is relative to the configuration file.
  if (auto it = values.find("ENGRAM_PROMPT_FILE");
      it != values.end() && !it->second.empty() && it->second[0] != '/') {
    it->second = (std::filesystem::path(path).parent_path() / it->second).string();
  }
  return OptionsFrom([&values](const char* name) {
    auto it = values.find(name);
    return it != values.end() ? it->second : FromEnv(name);
  });
}

std::string DefaultEmbeddingsPath() {
  if (const char* env = std::getenv("ENGRAM_EMBEDDINGS"); env && *env) return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "models/glove-100d.bin";
  return (exe.parent_path() / "models" / "glove-100d.bin").string();
}

std::string DefaultUseModelPath() {
  if (const char* env = std::getenv("ENGRAM_USE_MODEL"); env && *env) return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "models/use-lite.bin";
  return (exe.parent_path() / "models" / "use-lite.bin").string();
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
  } else if (options.embedder == "use") {
    // Sentences from the encoder; GloVe stays for query expansion's words.
    const std::string glove =
        options.embeddings_path.empty() ? DefaultEmbeddingsPath() : options.embeddings_path;
    const std::string use =
        options.use_model_path.empty() ? DefaultUseModelPath() : options.use_model_path;
    ENGRAM_ASSIGN_OR_RETURN(auto words, memory::GloveEmbedder::Open(glove));
    ENGRAM_ASSIGN_OR_RETURN(auto encoder, memory::SentenceEncoder::Open(use));
    engine->embedder = std::make_unique<memory::UseEmbedder>(std::move(encoder), std::move(words));
  } else if (options.embedder == "openai") {
    if (options.embedding.base_url.empty() || options.embedding_dims <= 0) {
      return Status::InvalidArgument(
          "the openai embedder needs ENGRAM_EMBEDDING_BASE_URL and ENGRAM_EMBEDDING_DIMS");
    }
    engine->embedder = std::make_unique<memory::OpenAiEmbedder>(*engine->http, options.embedding,
                                                                options.embedding_dims);
  } else {
    return Status::InvalidArgument("unknown embedder '" + options.embedder +
                                   "' (glove, use or openai)");
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
