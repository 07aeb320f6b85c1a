#include "cli/embedder_flags.h"

namespace engram::cli {

void AddEmbedderFlags(CLI::App& cmd, EmbedderFlags& flags) {
  cmd.add_option("--embedder", flags.embedder,
                 "Sentence vectors: glove (GloVe word vectors, the default), use (Universal "
                 "Sentence Encoder lite; GloVe still expands queries) or openai")
      ->envname("ENGRAM_EMBEDDER")
      ->check(CLI::IsMember({"glove", "use", "openai"}));
  cmd.add_option("--use-model", flags.use_model,
                 "use-lite.bin made by engram-convert-use (default: models/use-lite.bin beside "
                 "the binary, or ENGRAM_USE_MODEL)");
}

void ApplyEmbedderFlags(const EmbedderFlags& flags, projections::MemoryEngineOptions& options) {
  if (!flags.embedder.empty()) options.embedder = flags.embedder;
  if (!flags.use_model.empty()) options.use_model_path = flags.use_model;
}

}  // namespace engram::cli
