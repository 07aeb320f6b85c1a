// SentenceTokenizer: the sentencepiece-style tokenizer of the Universal
// Sentence Encoder lite, a port of the reference implementation's (npm
// @energetic-ai/embeddings 0.2.0, lib/tokenizer.ts and lib/trie.ts, itself a
// port of tfjs-models' universal-sentence-encoder tokenizer; both Apache-2.0).
// Ids must equal the reference's token for token, or the vectors differ: the
// port keeps its quirks (ties go to the later candidate, unknown characters
// become id 0 with runs of them merged, and the backward walk steps by each
// piece's UTF-16 length as JavaScript's String.length does).
//
// Thread-safe after construction (read-only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace engram::memory {

class SentenceTokenizer {
 public:
  struct Piece {
    std::string text;  // UTF-8
    double score = 0;  // unigram log-probability
  };
  // `pieces` in id order; the first `reserved` (unknown, <s>, </s>, ...) are
  // never produced by matching, as in the reference.
  explicit SentenceTokenizer(std::vector<Piece> pieces, int reserved = 6);

  // The token ids of `text`: NFKC-normalised, spaces as U+2581 with one
  // before the first word, then the highest-scoring segmentation. Empty
  // for empty text.
  std::vector<int> Encode(std::string_view text) const;
  size_t VocabularySize() const { return pieces_.size(); }
  const Piece& PieceOf(int id) const { return pieces_[static_cast<size_t>(id)]; }

 private:
  struct Node {
    bool end = false;
    double score = 0;
    int id = 0;
    int code_points = 0;  // depth: the piece's length in code points
  };
  int Child(int node, char32_t c) const;

  std::vector<Piece> pieces_;
  std::vector<int> utf16_lengths_;
  std::vector<Node> nodes_;                     // nodes_[0] is the root
  std::unordered_map<uint64_t, int> children_;  // (node << 32 | code point) -> node
};

// NFKC normalisation (ICU). Invalid UTF-8 becomes U+FFFD.
std::u32string NormalizeNfkc(std::string_view utf8);

}  // namespace engram::memory
