// Port of @energetic-ai/embeddings 0.2.0 lib/tokenizer.ts + lib/trie.ts
// (Apache-2.0, Jonathan Wilde; after tfjs-models' universal-sentence-encoder
// tokenizer, Apache-2.0, Google LLC). Kept step for step so that the ids
// match; see sentence_tokenizer.h for the quirks that had to be kept.
#include "memory/sentence_tokenizer.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

namespace engram::memory {

namespace {

constexpr char32_t kSeparator = 0x2581;  // "▁", sentencepiece's word boundary

std::u32string DecodeUtf8(std::string_view s) {
  const icu::UnicodeString u =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  std::u32string out;
  out.reserve(static_cast<size_t>(u.length()));
  for (int32_t i = 0; i < u.length();) {
    const UChar32 c = u.char32At(i);
    out.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return out;
}

}  // namespace

std::u32string NormalizeNfkc(std::string_view utf8) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(status);
  const icu::UnicodeString src = icu::UnicodeString::fromUTF8(
      icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  icu::UnicodeString normalized;
  if (U_SUCCESS(status)) normalized = nfkc->normalize(src, status);
  // Without ICU's data the text is used as it is: the ids then differ only
  // for characters NFKC would have changed.
  if (U_FAILURE(status)) normalized = src;
  std::u32string out;
  out.reserve(static_cast<size_t>(normalized.length()));
  for (int32_t i = 0; i < normalized.length();) {
    const UChar32 c = normalized.char32At(i);
    out.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return out;
}

SentenceTokenizer::SentenceTokenizer(std::vector<Piece> pieces, int reserved)
    : pieces_(std::move(pieces)) {
  nodes_.emplace_back();
  utf16_lengths_.reserve(pieces_.size());
  for (size_t id = 0; id < pieces_.size(); ++id) {
    const std::u32string symbols = DecodeUtf8(pieces_[id].text);
    int utf16 = 0;
    for (char32_t c : symbols) utf16 += c > 0xFFFF ? 2 : 1;
    utf16_lengths_.push_back(utf16);
    if (static_cast<int>(id) < reserved) continue;
    int node = 0;
    for (size_t i = 0; i < symbols.size(); ++i) {
      const uint64_t key = (uint64_t(node) << 32) | symbols[i];
      auto it = children_.find(key);
      if (it == children_.end()) {
        nodes_.push_back({false, 0, 0, static_cast<int>(i) + 1});
        it = children_.emplace(key, static_cast<int>(nodes_.size()) - 1).first;
      }
      node = it->second;
    }
    // A piece listed twice keeps its last score and id, as the reference's
    // insert overwrites them.
    if (node != 0) {
      nodes_[static_cast<size_t>(node)].end = true;
      nodes_[static_cast<size_t>(node)].score = pieces_[id].score;
      nodes_[static_cast<size_t>(node)].id = static_cast<int>(id);
    }
  }
}

int SentenceTokenizer::Child(int node, char32_t c) const {
  auto it = children_.find((uint64_t(node) << 32) | c);
  return it == children_.end() ? -1 : it->second;
}

std::vector<int> SentenceTokenizer::Encode(std::string_view text) const {
  std::u32string symbols = NormalizeNfkc(text);
  if (symbols.empty()) return {};
  for (char32_t& c : symbols) {
    if (c == U' ') c = kSeparator;
  }
  symbols.insert(symbols.begin(), kSeparator);
  const size_t n = symbols.size();

  // The lattice: every vocabulary piece that starts at each position, or the
  // single unknown character (id 0, score 0) when none does. Entries of an
  // end position stay in order of their start, as the reference's object
  // keys iterate.
  struct Edge {
    size_t length;
    double score;
    int id;
  };
  std::vector<std::vector<Edge>> ending(n + 1);
  for (size_t i = 0; i < n; ++i) {
    bool matched = false;
    int node = Child(0, symbols[i]);
    for (size_t j = i; j < n && node >= 0; ++j) {
      const Node& nd = nodes_[static_cast<size_t>(node)];
      if (nd.end) {
        ending[i + static_cast<size_t>(nd.code_points)].push_back(
            {static_cast<size_t>(nd.code_points), nd.score, nd.id});
        matched = true;
      }
      if (j + 1 < n) {
        node = Child(node, symbols[j + 1]);
      } else {
        node = -1;
      }
    }
    if (!matched) ending[i + 1].push_back({1, 0.0, 0});
  }

  // Viterbi. best == 0 means "not reached yet" in the reference, so a path
  // of score exactly 0 is overwritten too; ties go to the later edge.
  std::vector<double> best(n + 1, 0.0);
  std::vector<int> words(n + 1, 0);
  for (size_t end = 0; end <= n; ++end) {
    for (const Edge& e : ending[end]) {
      const double score = e.score + best[end - e.length];
      if (best[end] == 0 || score >= best[end]) {
        best[end] = score;
        words[end] = e.id;
      }
    }
  }

  // Walk back by each chosen piece's UTF-16 length (JavaScript's
  // String.length), merging runs of unknown characters into one id 0.
  std::vector<int> reversed;
  for (long iter = static_cast<long>(n); iter > 0;) {
    const int id = words[static_cast<size_t>(iter)];
    reversed.push_back(id);
    iter -= utf16_lengths_[static_cast<size_t>(id)];
  }
  std::vector<int> ids;
  ids.reserve(reversed.size());
  bool previous_unknown = false;
  for (int id : reversed) {
    if (!(previous_unknown && id == 0)) ids.push_back(id);
    previous_unknown = id == 0;
  }
  return {ids.rbegin(), ids.rend()};
}

}  // namespace engram::memory
