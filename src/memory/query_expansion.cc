#include "memory/query_expansion.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "memory/embedder.h"
#include "memory/text.h"

namespace engram::memory {

TermVocabulary::TermVocabulary(const Embedder& words)
    : words_(words), dims_(words.WordDimensions()) {}

void TermVocabulary::Observe(std::string_view text) {
  std::vector<std::string> words = Tokenize(text);
  std::erase_if(words, [](const std::string& w) { return IsStopWord(w); });
  std::vector<std::string> stems;
  stems.reserve(words.size());
  for (const std::string& w : words) stems.push_back(Stem(w));
  ObserveWords(words, stems);
}

void TermVocabulary::ObserveWords(const std::vector<std::string>& words,
                                  const std::vector<std::string>& stems) {
  std::vector<std::pair<std::string, std::string>> fresh;  // (stem, word)
  {
    std::shared_lock lock(mu_);
    for (size_t i = 0; i < words.size() && i < stems.size(); ++i) {
      if (!row_of_.count(stems[i])) fresh.emplace_back(stems[i], words[i]);
    }
  }
  if (fresh.empty()) return;
  std::unique_lock lock(mu_);
  for (auto& [stem, word] : fresh) {
    if (row_of_.count(stem)) continue;
    const float* v = words_.WordVector(word);
    if (!v) continue;
    double norm = 0;
    for (int d = 0; d < dims_; ++d) norm += double(v[d]) * v[d];
    if (norm <= 0) continue;
    const int col = static_cast<int>(stems_.size());
    if (vectors_.cols() <= col) {
      vectors_.conservativeResize(dims_, std::max<Eigen::Index>(256, vectors_.cols() * 2));
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (int d = 0; d < dims_; ++d) vectors_(d, col) = v[d] * inv;
    row_of_.emplace(stem, col);
    stems_.push_back(std::move(stem));
    ranks_.push_back(words_.WordRank(word));
  }
}

size_t TermVocabulary::size() const {
  std::shared_lock lock(mu_);
  return stems_.size();
}

std::vector<WeightedTerm> LiteralTerms(std::string_view query) {
  std::vector<WeightedTerm> out;
  for (std::string& t : LexicalTerms(query)) {
    if (std::none_of(out.begin(), out.end(), [&](const WeightedTerm& w) { return w.term == t; })) {
      out.push_back({std::move(t), 1.0});
    }
  }
  return out;
}

std::vector<WeightedTerm> TermVocabulary::Expand(std::string_view query,
                                                 const ExpansionWeights& w) const {
  std::vector<WeightedTerm> out = LiteralTerms(query);
  if (w.weight <= 0 || w.per_word == 0) return out;
  const size_t literal = out.size();
  auto is_literal = [&](const std::string& stem) {
    for (size_t i = 0; i < literal; ++i) {
      if (out[i].term == stem) return true;
    }
    return false;
  };
  // The query words the vectors know, as one matrix: one product for all.
  std::vector<const float*> known;
  for (const std::string& word : Tokenize(query)) {
    if (IsStopWord(word) || words_.WordRank(word) < w.min_rank) continue;
    if (const float* v = words_.WordVector(word)) known.push_back(v);
  }
  if (known.empty()) return out;
  Eigen::MatrixXf q(dims_, static_cast<Eigen::Index>(known.size()));
  for (size_t j = 0; j < known.size(); ++j) {
    double norm = 0;
    for (int d = 0; d < dims_; ++d) norm += double(known[j][d]) * known[j][d];
    const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
    for (int d = 0; d < dims_; ++d) q(d, static_cast<Eigen::Index>(j)) = known[j][d] * inv;
  }
  std::shared_lock lock(mu_);
  const auto n = static_cast<Eigen::Index>(stems_.size());
  if (n == 0) return out;
  const Eigen::MatrixXf cos = vectors_.leftCols(n).transpose() * q;  // n x words
  for (Eigen::Index j = 0; j < cos.cols(); ++j) {
    std::vector<std::pair<float, int>> best;  // (cosine, column), at most per_word
    for (Eigen::Index i = 0; i < n; ++i) {
      if (ranks_[static_cast<size_t>(i)] < w.min_rank) continue;
      const float c = cos(i, j);
      if (c < w.min_cosine || c >= 0.9999f) continue;  // the word itself
      if (best.size() == w.per_word && c <= best.back().first) continue;
      if (is_literal(stems_[static_cast<size_t>(i)])) continue;
      best.emplace_back(c, static_cast<int>(i));
      std::sort(best.begin(), best.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      if (best.size() > w.per_word) best.pop_back();
    }
    for (const auto& [c, col] : best) {
      const std::string& stem = stems_[static_cast<size_t>(col)];
      const double weight = w.weight * c;
      auto it = std::find_if(out.begin() + static_cast<long>(literal), out.end(),
                             [&](const WeightedTerm& t) { return t.term == stem; });
      if (it == out.end()) {
        out.push_back({stem, weight});
      } else {
        it->weight = std::max(it->weight, weight);
      }
    }
  }
  return out;
}

}  // namespace engram::memory
