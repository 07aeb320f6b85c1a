// The GloVe embedder the memory unit tests share: loaded once per test
// binary (an inline function's static is one object across its files).
#pragma once

#include <memory>
#include <stdexcept>

#include "memory/glove_embedder.h"

namespace engram::memory {

inline GloveEmbedder& Glove() {
  static std::unique_ptr<GloveEmbedder> e = [] {
    auto r = GloveEmbedder::Open(ENGRAM_EMBEDDINGS_FILE);
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    return std::move(r).value();
  }();
  return *e;
}

}  // namespace engram::memory
