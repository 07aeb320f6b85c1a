// The flags that choose the embedder, shared by `engram serve` and `engram
// replay`: a replay must embed as the server does (stored vectors carry their
// model's id).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "projections/memory_engine.h"

namespace engram::cli {

struct EmbedderFlags {
  std::string embedder;   // empty: ENGRAM_EMBEDDER, else the default (glove)
  std::string use_model;  // empty: ENGRAM_USE_MODEL, else models/use-lite.bin
};

// --embedder glove|use|openai (ENGRAM_EMBEDDER) and --use-model FILE.
void AddEmbedderFlags(CLI::App& cmd, EmbedderFlags& flags);
// Overrides `options` with what the flags set.
void ApplyEmbedderFlags(const EmbedderFlags& flags, projections::MemoryEngineOptions& options);

}  // namespace engram::cli
