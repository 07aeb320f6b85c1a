// The Universal Sentence Encoder lite in C++ (memory/sentence_encoder.h)
// against the reference implementation's output (TF.js, written by
// tools/use_reference.mjs), the model file's checks, the embedder built on
// it, and a call learnt, recalled and replayed with it through the real routes
// and commands.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "http/http_connection.h"
#include "http/signature.h"
#include "memory/use_embedder.h"
#include "projections/memory_engine.h"
#include "support/test_support.h"

namespace engram::memory {
namespace {

using nlohmann::json;

std::unique_ptr<SentenceEncoder> OpenEncoder(SentenceEncoder::Kernels kernels) {
  auto r = SentenceEncoder::Open(ENGRAM_USE_MODEL_FILE, kernels);
  if (!r.ok()) throw std::runtime_error(r.status().ToString());
  return std::move(r).value();
}

// AVX2+FMA products where the CPU has them.
const SentenceEncoder& Encoder() {
  static std::unique_ptr<SentenceEncoder> e = OpenEncoder(SentenceEncoder::Kernels::kBest);
  return *e;
}

json Reference() {
  std::ifstream in(ENGRAM_SENTENCE_REFERENCE);
  return json::parse(in);
}

double CosineOf(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

void ExpectMatchesReference(const SentenceEncoder& encoder) {
  const json ref = Reference();
  std::vector<std::string> texts;
  for (const json& s : ref["sentences"]) texts.push_back(s["text"]);
  ASSERT_GE(texts.size(), 50u);
  // The reference embedded them as one padded batch; so does this.
  const std::vector<std::vector<float>> vectors = encoder.Encode(texts);
  ASSERT_EQ(vectors.size(), texts.size());
  double worst_cosine = 1, worst_diff = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const json& s = ref["sentences"][i];
    EXPECT_EQ(encoder.tokenizer().Encode(texts[i]), s["ids"].get<std::vector<int>>())
        << "text: " << texts[i];
    const auto want = s["vector"].get<std::vector<float>>();
    ASSERT_EQ(vectors[i].size(), want.size());
    const double cos = CosineOf(vectors[i], want);
    double diff = 0;
    for (size_t d = 0; d < want.size(); ++d)
      diff = std::max(diff, double(std::abs(vectors[i][d] - want[d])));
    EXPECT_GE(cos, 0.9999) << "text: " << texts[i];
    EXPECT_LT(diff, 2e-3) << "text: " << texts[i];
    worst_cosine = std::min(worst_cosine, cos);
    worst_diff = std::max(worst_diff, diff);
  }
  std::cout << "worst cosine " << worst_cosine << ", worst |diff| " << worst_diff << "\n";
}

TEST(SentenceEncoder, MatchesTheReferenceImplementation) { ExpectMatchesReference(Encoder()); }

// The portable products (Eigen, SSE2 in the default build) match too, so a
// CPU without AVX2 gets the same vectors.
TEST(SentenceEncoder, MatchesTheReferenceWithEigenProducts) {
  auto eigen = OpenEncoder(SentenceEncoder::Kernels::kEigen);
  EXPECT_FALSE(eigen->UsesAvx2());
  EXPECT_EQ(Encoder().UsesAvx2(), HasAvx2Fma());
  ExpectMatchesReference(*eigen);
}

TEST(SentenceEncoder, ASentenceAloneEqualsItsVectorInABatch) {
  const std::vector<std::string> texts = {"Short one.", "",
                                          "A much longer sentence about the dentist on Friday."};
  const auto batch = Encoder().Encode(texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_GE(CosineOf(Encoder().Encode(texts[i]), batch[i]), 0.999999) << texts[i];
  }
}

TEST(SentenceEncoder, ParaphrasesAreCloserThanUnrelatedSentences) {
  const auto v = Encoder().Encode(
      std::vector<std::string>{"Please make sure the notes still say I'm allergic to penicillin.",
                               "Is the patient allergic to any medication?",
                               "My flight leaves from gate 12 tomorrow morning."});
  EXPECT_GT(CosineOf(v[0], v[1]), CosineOf(v[2], v[1]) + 0.1);
}

TEST(SentenceEncoder, OpenReportsMissingAndDamagedFiles) {
  testing::TempDir dir;
  EXPECT_EQ(SentenceEncoder::Open(dir.path() + "/missing.bin").status().code(),
            StatusCode::kNotFound);
  std::ifstream in(ENGRAM_USE_MODEL_FILE, std::ios::binary);
  std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir.path() + "/" + name, std::ios::binary) << bytes;
    return SentenceEncoder::Open(dir.path() + "/" + name).status();
  };
  EXPECT_EQ(write("magic.bin", "NOTAUSEFILE" + good.substr(11)).code(), StatusCode::kCorruption);
  EXPECT_EQ(write("short.bin", good.substr(0, good.size() / 2)).code(), StatusCode::kCorruption);
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x40;  // one weight changed: the checksum fails
  const Status s = write("flipped.bin", flipped);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.ToString().find("checksum"), std::string::npos) << s.ToString();
  std::string version = good;
  version[8] = 9;
  EXPECT_NE(write("version.bin", version).ToString().find("version"), std::string::npos);
}

TEST(UseEmbedder, Is512DimensionalDeterministicAndKeepsGloveForWords) {
  projections::MemoryEngineOptions o;
  o.embedder = "use";
  o.use_model_path = ENGRAM_USE_MODEL_FILE;
  o.embeddings_path = ENGRAM_EMBEDDINGS_FILE;
  auto engine = projections::OpenMemoryEngine(o);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  Embedder& e = *(*engine)->embedder;
  EXPECT_EQ(e.ModelId(), "use-lite-v1");
  EXPECT_EQ(e.Dimensions(), 512);
  EXPECT_TRUE(e.IsDeterministic());
  // Query expansion's word vectors stay GloVe's 100-d.
  EXPECT_EQ(e.WordDimensions(), 100);
  EXPECT_NE(e.WordVector("insurance"), nullptr);
  EXPECT_GE(e.WordRank("insurance"), 0);
  const std::vector<std::string> texts = {"I moved to Denver.", "", "Call me on Tuesdays."};
  auto batch = e.EmbedBatch(texts);
  ASSERT_TRUE(batch.ok());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto one = e.Embed(texts[i]);
    ASSERT_TRUE(one.ok());
    // Equal up to float rounding (matrix products of other sizes sum in
    // another order); a replay embeds the same batches, so it is exact.
    ASSERT_EQ(one->size(), (*batch)[i].size());
    for (size_t d = 0; d < one->size(); ++d) EXPECT_NEAR((*one)[d], (*batch)[i][d], 1e-6);
  }
  // No tokens, no direction: zeros, as GloVe gives for no known words.
  EXPECT_EQ((*batch)[1], std::vector<float>(512, 0.0f));

  o.use_model_path = "/nonexistent/use-lite.bin";
  EXPECT_EQ(projections::OpenMemoryEngine(o).status().code(), StatusCode::kNotFound);
}

TEST(UseEmbedder, ACallIsLearntRecalledAndReplayedWithTheSentenceEncoder) {
  testing::TempDir dir;
  testing::EngramInstance::Options options;
  options.make_engine = [](const std::string& data_dir) {
    projections::MemoryEngineOptions o;
    o.embedder = "use";
    o.use_model_path = ENGRAM_USE_MODEL_FILE;
    o.embeddings_path = ENGRAM_EMBEDDINGS_FILE;
    o.cache_path = data_dir + "/cache.db";
    return std::move(projections::OpenMemoryEngine(o)).value();
  };
  testing::EngramInstance engram(dir.path(), options);
  http::HttpConnection client("127.0.0.1", engram.port);
  const json call = testing::MakeTranscription(
      "conv_use_1", "+15125550123",
      {"Hi, I need to move my cleaning to next week.",
       "Also please make sure the notes still say I'm allergic to penicillin.",
       "My daughter will drive me, she has the car on Thursdays."});
  const std::string raw = call.dump();
  const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  auto posted = client.Send(
      "POST", "/webhook/post-call", raw,
      {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, raw)}});
  ASSERT_TRUE(posted.ok());
  ASSERT_EQ(posted->status, 200) << posted->body;
  engram.WaitForProjection();
  auto db = testing::OpenDb(engram.db_path());
  EXPECT_GT(testing::QueryInt(*db,
                              "SELECT count(*) FROM memory_embeddings WHERE "
                              "model = 'use-lite-v1' AND dim = 512"),
            0);
  const std::string user = testing::QueryColumn(*db, "SELECT user_id FROM memories LIMIT 1")[0];
  auto r = client.Send("POST", "/tools/memory-query",
                       json({{"query", "Is the patient allergic to any medication?"},
                             {"user_id", user},
                             {"limit", 3}})
                           .dump(),
                       {{"X-Engram-Secret", testing::kToolSecret}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  bool found = false;
  const json answer = json::parse(r->body);
  for (const json& m : answer["memories"]) {
    found = found || m["content"].get<std::string>().find("penicillin") != std::string::npos;
  }
  EXPECT_TRUE(found) << r->body;

  // A replay with the same embedder rebuilds the same rows (vectors
  // included); with another one it does not.
  auto [same, same_out] =
      testing::RunEngram("replay --data-dir " + dir.path() + " --verify --embedder use");
  EXPECT_EQ(same, 0) << same_out;
  auto [other, other_out] = testing::RunEngram("replay --data-dir " + dir.path() + " --verify");
  EXPECT_EQ(other, 3) << other_out;
}

TEST(ServeEmbedderFlag, UseStartsTheServerWithTheSentenceEncoder) {
  testing::TempDir dir;
  testing::ServerProcess server(dir.path(), {"--embedder", "use"});
  ASSERT_TRUE(server.Start()) << server.LogText();
  EXPECT_NE(server.LogText().find("use-lite-v1"), std::string::npos) << server.LogText();
  EXPECT_EQ(server.Terminate(), 0);

  // A missing model file stops the server with a clear message, whether the
  // embedder comes from the flag or from ENGRAM_EMBEDDER.
  testing::TempDir other;
  const std::string args =
      "serve --data-dir " + other.path() + " --listen 127.0.0.1:0 --use-model /nonexistent.bin";
  const std::string secrets = std::string("ENGRAM_WEBHOOK_SECRET=") + testing::kTestSecret +
                              " ENGRAM_TOOL_SECRET=" + testing::kToolSecret + " ";
  auto [code, out] = testing::RunEngram(args + " --embedder use", secrets);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("/nonexistent.bin is missing"), std::string::npos) << out;
  auto [env_code, env_out] = testing::RunEngram(args, secrets + "ENGRAM_EMBEDDER=use ");
  EXPECT_NE(env_code, 0);
  EXPECT_NE(env_out.find("/nonexistent.bin is missing"), std::string::npos) << env_out;
  auto [bad_code, bad_out] = testing::RunEngram(args + " --embedder word2vec", secrets);
  EXPECT_NE(bad_code, 0);
}

}  // namespace
}  // namespace engram::memory
