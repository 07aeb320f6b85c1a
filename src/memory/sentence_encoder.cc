#include "memory/sentence_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "memory/use_model_file.h"

namespace engram::memory {

namespace {

// Reads little-endian values from the payload, failing softly past its end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T& v) {
    if (bytes_.size() - pos_ < sizeof v) return false;
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return true;
  }
  bool Take(size_t n, std::string_view& out) {
    if (bytes_.size() - pos_ < n) return false;
    out = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool AtEnd() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// The shape every role must have (rows, cols); 0 rows: any (embeddings).
struct Shape {
  uint32_t rows, cols;
};
constexpr Shape kShapes[kUseRoleCount] = {
    {0, 256},    {1, 128},   {1, 256}, {1, 256},   {256, 768},  {1, 768},    {256, 512},
    {1, 512},    {256, 512}, {1, 512}, {1, 512},   {1, 512},    {512, 1536}, {1, 1536},
    {1536, 512}, {1, 512},   {1, 1},   {1, 512},   {1, 512},    {512, 1536}, {1, 1536},
    {512, 512},  {1, 512},   {1, 512}, {1, 512},   {512, 1536}, {1, 1536},   {1536, 512},
    {1, 512},    {1, 1},     {1, 1},   {512, 512}, {1, 512}};

// A batch of at least this many tokens (learning a call, not a query) runs
// its products on two threads when the machine has a second core: a call's
// ~1,300 tokens otherwise keep one core busy for ~100 ms or more. The
// threads inherit the projector's lower priority, so the memory tool keeps
// its core.
constexpr Eigen::Index kSplitRows = 64;

bool SecondCore() {
  static const bool has = std::thread::hardware_concurrency() >= 2;
  return has;
}

}  // namespace

Result<std::unique_ptr<SentenceEncoder>> SentenceEncoder::Open(const std::string& path,
                                                               Kernels kernels) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("sentence encoder file " + path +
                            " is missing (tools/build.sh makes it from node_modules)");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string file = ss.str();
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption(path + " is not an Engram use-lite file: " + why);
  };
  if (file.size() < kUseHeaderBytes || std::memcmp(file.data(), kUseMagic, 8) != 0) {
    return corrupt("bad magic");
  }
  Reader header(std::string_view(file).substr(8, kUseHeaderBytes - 8));
  uint32_t version = 0, heads = 0, max_tokens = 0, reserved = 0;
  uint64_t checksum = 0, payload_size = 0;
  header.Get(version);
  header.Get(heads);
  header.Get(max_tokens);
  header.Get(reserved);
  header.Get(checksum);
  header.Get(payload_size);
  if (version != kUseFileVersion) {
    return corrupt("version " + std::to_string(version) + ", expected " +
                   std::to_string(kUseFileVersion) + " (rebuild it with engram-convert-use)");
  }
  const std::string_view payload = std::string_view(file).substr(kUseHeaderBytes);
  if (payload.size() != payload_size) return corrupt("truncated");
  if (Fnv1a64(payload) != checksum) return corrupt("checksum mismatch");
  if (heads == 0 || 256 % heads != 0 || max_tokens == 0) return corrupt("bad header");

  std::unique_ptr<SentenceEncoder> e(new SentenceEncoder());
  e->heads_ = static_cast<int>(heads);
  e->max_tokens_ = max_tokens;
  Reader r(payload);
  uint32_t count = 0;
  if (!r.Get(count) || count != kUseRoleCount) return corrupt("wrong tensor count");
  std::vector<Matrix> tensors(kUseRoleCount);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t role = 0, rows = 0, cols = 0;
    std::string_view data;
    if (!r.Get(role) || !r.Get(rows) || !r.Get(cols) || role != i) return corrupt("bad tensor");
    const Shape want = kShapes[role];
    if ((want.rows != 0 && rows != want.rows) || cols != want.cols || rows == 0 ||
        !r.Take(size_t(rows) * cols * 4, data)) {
      return corrupt("tensor " + std::to_string(role) + " has the wrong shape");
    }
    tensors[i].resize(rows, cols);
    std::memcpy(tensors[i].data(), data.data(), data.size());
  }
  uint32_t vocab_size = 0;
  if (!r.Get(vocab_size) || vocab_size == 0 || vocab_size > tensors[kEmbeddings].rows()) {
    return corrupt("bad vocabulary size");
  }
  std::vector<SentenceTokenizer::Piece> pieces(vocab_size);
  for (auto& p : pieces) {
    uint32_t len = 0;
    std::string_view text;
    if (!r.Get(p.score) || !r.Get(len) || !r.Take(len, text)) return corrupt("bad vocabulary");
    p.text = std::string(text);
  }
  if (!r.AtEnd()) return corrupt("trailing bytes");
  e->tokenizer_ = std::make_unique<SentenceTokenizer>(std::move(pieces));

  auto row = [&](UseRole role) -> Row { return tensors[role].row(0); };
  const bool avx2 = kernels == Kernels::kBest && HasAvx2Fma();
  auto weights = [&](UseRole role) {
    Weights w;
    if (avx2) {
      const Matrix& m = tensors[role];
      w.packed = PackedWeights(m.data(), static_cast<int>(m.rows()), static_cast<int>(m.cols()));
    } else {
      w.eigen = std::move(tensors[role]);
    }
    return w;
  };
  e->embeddings_ = std::move(tensors[kEmbeddings]);
  e->timing_scales_ = row(kTimingScales);
  e->epsilon_ = tensors[kNormEpsilon](0, 0);
  const UseRole roles[2][15] = {{kL0NormScale, kL0NormBias, kL0Qkv, kL0QkvBias, kL0Out, kL0OutBias,
                                 kL0Residual, kL0ResidualBias, kL0FfnNormScale, kL0FfnNormBias,
                                 kL0Ffn1, kL0Ffn1Bias, kL0Ffn2, kL0Ffn2Bias, kL0QueryScale},
                                {kL1NormScale, kL1NormBias, kL1Qkv, kL1QkvBias, kL1Out, kL1OutBias,
                                 kUseRoleCount, kUseRoleCount, kL1FfnNormScale, kL1FfnNormBias,
                                 kL1Ffn1, kL1Ffn1Bias, kL1Ffn2, kL1Ffn2Bias, kL1QueryScale}};
  for (int l = 0; l < 2; ++l) {
    const UseRole* r = roles[l];
    Layer& layer = e->layers_[l];
    layer.norm_scale = row(r[0]);
    layer.norm_bias = row(r[1]);
    layer.qkv = weights(r[2]);
    layer.qkv_bias = row(r[3]);
    layer.out = weights(r[4]);
    layer.out_bias = row(r[5]);
    if (r[6] != kUseRoleCount) {  // layer 0 widens 256 -> 512: its residual is projected
      layer.residual = weights(r[6]);
      layer.residual_bias = row(r[7]);
    }
    layer.ffn_norm_scale = row(r[8]);
    layer.ffn_norm_bias = row(r[9]);
    layer.ffn1 = weights(r[10]);
    layer.ffn1_bias = row(r[11]);
    layer.ffn2 = weights(r[12]);
    layer.ffn2_bias = row(r[13]);
    layer.query_scale = tensors[r[14]](0, 0);
  }
  Weights output = weights(kOutput);
  e->output_ = std::move(output.eigen);
  e->output_packed_ = std::move(output.packed);
  e->output_bias_ = row(kOutputBias);
  return e;
}

// The graph's layer_norm: scale * rsqrt(mean((x - mean)^2) + eps) * (x -
// mean) + bias, per token.
SentenceEncoder::Matrix SentenceEncoder::Normalise(const Matrix& x, const Row& scale,
                                                   const Row& bias) const {
  Matrix y(x.rows(), x.cols());
  const float n = static_cast<float>(x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const float mean = x.row(i).sum() / n;
    const Row centred = x.row(i).array() - mean;
    const float variance = centred.squaredNorm() / n;
    const float inv = 1.0f / std::sqrt(variance + epsilon_);
    y.row(i) = (scale.array() * inv * centred.array() + bias.array()).matrix();
  }
  return y;
}

SentenceEncoder::Matrix SentenceEncoder::Dense(const Matrix& x, const Weights& w, const Row& bias) {
  Matrix y(x.rows(), w.cols());
  if (!w.packed.empty()) {
    if (x.rows() > 0) {
      MultiplyAddAvx2(x.data(), static_cast<int>(x.rows()), w.packed, bias.data(), y.data(),
                      x.rows() >= kSplitRows && SecondCore());
    }
  } else {
    y.noalias() = x * w.eigen;
    y.rowwise() += bias;
  }
  return y;
}

void SentenceEncoder::RunLayer(const Layer& layer, const std::vector<size_t>& starts,
                               Matrix& x) const {
  // Attention block: pre-norm, one projection to queries|keys|values for
  // all tokens, then each sentence attends within itself (the graph masks
  // other positions with -1e9, which is exactly zero weight in float).
  const Matrix normed = Normalise(x, layer.norm_scale, layer.norm_bias);
  const Matrix qkv = Dense(normed, layer.qkv, layer.qkv_bias);
  const Eigen::Index width = layer.qkv.cols() / 3;
  const Eigen::Index depth = width / heads_;
  Matrix attended(x.rows(), width);
  for (size_t s = 0; s + 1 < starts.size(); ++s) {
    const auto begin = static_cast<Eigen::Index>(starts[s]);
    const auto n = static_cast<Eigen::Index>(starts[s + 1] - starts[s]);
    if (n == 0) continue;
    for (int h = 0; h < heads_; ++h) {
      const Matrix q = qkv.block(begin, h * depth, n, depth) * layer.query_scale;
      const auto k = qkv.block(begin, width + h * depth, n, depth);
      const auto v = qkv.block(begin, 2 * width + h * depth, n, depth);
      Matrix weights = q * k.transpose();
      for (Eigen::Index i = 0; i < n; ++i) {
        auto w = weights.row(i).array();
        w = (w - w.maxCoeff()).exp();
        w /= w.sum();
      }
      attended.block(begin, h * depth, n, depth).noalias() = weights * v;
    }
  }
  Matrix y = Dense(attended, layer.out, layer.out_bias);
  // The residual: layer 0 widens 256 -> 512, so its input is projected.
  if (!layer.residual.empty()) {
    y += Dense(x, layer.residual, layer.residual_bias);
  } else {
    y += x;
  }
  // Feed-forward block (the graph's 1x1 convolutions are matrix products).
  Matrix hidden =
      Dense(Normalise(y, layer.ffn_norm_scale, layer.ffn_norm_bias), layer.ffn1, layer.ffn1_bias);
  hidden = hidden.cwiseMax(0.0f);
  x = Dense(hidden, layer.ffn2, layer.ffn2_bias) + y;
}

std::vector<std::vector<float>> SentenceEncoder::EncodeTokens(
    const std::vector<std::vector<int>>& batch) const {
  std::vector<size_t> starts{0};
  for (const auto& ids : batch) starts.push_back(starts.back() + std::min(ids.size(), max_tokens_));
  const Eigen::Index total = static_cast<Eigen::Index>(starts.back());
  const Eigen::Index dims = embeddings_.cols();
  const Eigen::Index half = timing_scales_.cols();
  // Input: the graph adds the token embedding twice (once scattered, once
  // with the timing signal) - kept as it is, since the weights expect it.
  Matrix x(total, dims);
  for (size_t s = 0; s < batch.size(); ++s) {
    for (size_t p = 0; p < starts[s + 1] - starts[s]; ++p) {
      const auto r = static_cast<Eigen::Index>(starts[s] + p);
      const int id = std::clamp(batch[s][p], 0, static_cast<int>(embeddings_.rows()) - 1);
      const auto e = embeddings_.row(id);
      for (Eigen::Index k = 0; k < half; ++k) {
        const float angle = static_cast<float>(p) * timing_scales_(k);
        x(r, k) = e(k) + (e(k) + std::sin(angle));
        x(r, half + k) = e(half + k) + (e(half + k) + std::cos(angle));
      }
    }
  }
  for (const Layer& layer : layers_) RunLayer(layer, starts, x);

  // Mean over each sentence's tokens (at least 1 in the divisor), a tanh
  // layer, then L2 normalisation with the graph's 1e-12 floor.
  Matrix pooled = Matrix::Zero(static_cast<Eigen::Index>(batch.size()), x.cols());
  for (size_t s = 0; s < batch.size(); ++s) {
    const auto n = static_cast<Eigen::Index>(starts[s + 1] - starts[s]);
    if (n == 0) continue;
    pooled.row(static_cast<Eigen::Index>(s)) =
        x.block(static_cast<Eigen::Index>(starts[s]), 0, n, x.cols()).colwise().sum() /
        static_cast<float>(n);
  }
  Matrix out;
  if (!output_packed_.empty()) {
    out.resize(pooled.rows(), output_packed_.n());
    MultiplyAddAvx2(pooled.data(), static_cast<int>(pooled.rows()), output_packed_,
                    output_bias_.data(), out.data());
  } else {
    out = pooled * output_;
    out.rowwise() += output_bias_;
  }
  out = out.array().tanh().matrix();
  std::vector<std::vector<float>> vectors;
  vectors.reserve(batch.size());
  for (Eigen::Index s = 0; s < out.rows(); ++s) {
    const float inv = 1.0f / std::sqrt(std::max(out.row(s).squaredNorm(), 1e-12f));
    std::vector<float> v(static_cast<size_t>(out.cols()));
    for (Eigen::Index d = 0; d < out.cols(); ++d) v[static_cast<size_t>(d)] = out(s, d) * inv;
    vectors.push_back(std::move(v));
  }
  return vectors;
}

std::vector<std::vector<float>> SentenceEncoder::Encode(
    const std::vector<std::string>& texts) const {
  std::vector<std::vector<int>> batch;
  batch.reserve(texts.size());
  for (const std::string& t : texts) batch.push_back(tokenizer_->Encode(t));
  return EncodeTokens(batch);
}

std::vector<float> SentenceEncoder::Encode(std::string_view text) const {
  return EncodeTokens({tokenizer_->Encode(text)}).front();
}

}  // namespace engram::memory
