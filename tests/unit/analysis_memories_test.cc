// memory::AnalysisMemories and the caller-name rule, and how the extraction
// carries them: made-up analyses from a dental office, a plumber and a
// car-insurance line.
#include "memory/analysis_memories.h"

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "projections/extraction_workers.h"

namespace engram::memory {
namespace {

using nlohmann::json;

json Results(std::initializer_list<std::pair<std::string, json>> items) {
  json out = json::object();
  for (const auto& [id, item] : items) out[id] = item;
  return out;
}

TEST(AnalysisMemories, EachAnsweredItemIsASlotFactLabelledByItsDescription) {
  const json analysis = {
      {"data_collection_results",
       Results({{"insurance_provider",
                 {{"value", "Delta Dental PPO"},
                  {"json_schema", {{"description", "Caller's dental insurance provider"}}}}},
                {"last_cleaning", {{"value", " March 2025 "}}},
                {"needs_sedation",
                 {{"value", false},
                  {"json_schema", {{"description", "Whether the patient needs sedation."}}}}},
                {"teeth_count", {{"value", 2}, {"json_schema", {{"type", "integer"}}}}},
                {"referral", {{"value", nullptr}}},
                {"referring_dentist", {{"value", ""}}},
                {"preferred_day", {{"value", "  "}}},
                {"symptoms", {{"value", json::array({"pain"})}}},
                {"no_value", {{"rationale", "never asked"}}},
                {"not_an_item", "text"}})}};
  const std::vector<TranscriptTurn> turns = {{0, "agent", "Which insurance do you have?"},
                                             {1, "user", "It's delta dental ppo through my work."},
                                             {2, "user", "My last cleaning was in March 2025."}};
  auto memories = AnalysisMemories(analysis, "conv_d1", 1773068650000, turns);
  ASSERT_EQ(memories.size(), 4u);
  EXPECT_EQ(memories[0].content, "Caller's dental insurance provider: Delta Dental PPO.");
  EXPECT_EQ(memories[0].subject, "dc:insurance_provider");
  EXPECT_EQ(memories[0].value, "Delta Dental PPO");
  EXPECT_EQ(memories[0].source_turns, (std::vector<int>{1}));
  EXPECT_EQ(memories[0].primary, Sector::kSemantic);
  EXPECT_EQ(memories[1].content, "Last cleaning: March 2025.") << "the id when no description";
  EXPECT_EQ(memories[1].source_turns, (std::vector<int>{2}));
  EXPECT_EQ(memories[2].content, "Whether the patient needs sedation: no.");
  EXPECT_EQ(memories[2].value, "no");
  EXPECT_EQ(memories[3].content, "Teeth count: 2.");
  EXPECT_TRUE(memories[3].source_turns.empty());
}

TEST(AnalysisMemories, TheSummaryIsOneEpisodicMemoryDatedByTheCall) {
  const json analysis = {
      {"transcript_summary", "The caller booked a plumber for a leaking boiler."}};
  // 2026-03-09T23:59:59Z, whatever the clock says.
  auto memories = AnalysisMemories(analysis, "conv_p1", 1773100799000, {});
  ASSERT_EQ(memories.size(), 1u);
  EXPECT_EQ(memories[0].content,
            "Call on 2026-03-09: The caller booked a plumber for a leaking boiler.");
  EXPECT_EQ(memories[0].primary, Sector::kEpisodic);
  EXPECT_EQ(memories[0].subject, "call:conv_p1");
  EXPECT_FALSE(memories[0].value.empty());
  EXPECT_TRUE(AnalysisMemories({{"transcript_summary", " "}}, "c", 0, {}).empty());
  EXPECT_TRUE(AnalysisMemories(json::object(), "c", 0, {}).empty());
  EXPECT_TRUE(AnalysisMemories(json("not an object"), "c", 0, {}).empty());
}

TEST(AnalysisMemories, AnInstructionIsNoLabel) {
  const json analysis = {
      {"data_collection_results",
       Results(
           {{"vehicle_reg",
             {{"value", "KX19 ABC"},
              {"json_schema",
               {{"description",
                 "Extract the registration plate of the vehicle involved in the claim if the "
                 "caller states it; otherwise leave empty"}}}}},
            {"policy_number",
             {{"value", "CI-88213"},
              {"json_schema",
               {{"description", "Car insurance policy number. Usually starts with CI-."}}}}}})}};
  auto memories = AnalysisMemories(analysis, "conv_c1", 0, {});
  ASSERT_EQ(memories.size(), 2u);
  EXPECT_EQ(memories[0].content, "Car insurance policy number: CI-88213.");
  EXPECT_EQ(memories[1].content, "Vehicle reg: KX19 ABC.");
}

TEST(CallerName, GenericRuleOnIdAndDescription) {
  // The ids the fixed list knew still qualify.
  for (const char* id : {"customer_name", "caller_name", "user_name", "full_name", "name"}) {
    EXPECT_TRUE(AsksForCallerName(id, "")) << id;
  }
  EXPECT_TRUE(AsksForCallerName("customer_name", "Caller's full name"));
  EXPECT_TRUE(AsksForCallerName("owner", "Pet owner's full name"));
  EXPECT_TRUE(AsksForCallerName("patient", "Patient name"));
  EXPECT_TRUE(AsksForCallerName("policyholder_name", "Name of the policyholder"));
  EXPECT_TRUE(AsksForCallerName("holder", "Name of the account holder"));
  EXPECT_TRUE(AsksForCallerName("member_name", "Plan member's name"));
  EXPECT_FALSE(AsksForCallerName("policy_number", "Policy number of the holder"));
  EXPECT_FALSE(AsksForCallerName("company_name", "Caller's company"));
  EXPECT_FALSE(AsksForCallerName("business", "Name of the caller's business"));
  EXPECT_FALSE(AsksForCallerName("pet_name", "Name of the pet"));
  EXPECT_FALSE(AsksForCallerName("insurance_provider", "Caller's dental insurance provider"));
  EXPECT_FALSE(AsksForCallerName("renamed", "Whether the customer renamed the account"));

  const json results =
      Results({{"company_name", {{"value", "Hollis & Vane"}}},
               {"pet_name", {{"value", "Biscuit"}, {"json_schema", {{"description", "Pet"}}}}},
               {"zz_caller",
                {{"value", " Ada Moss "}, {"json_schema", {{"description", "Caller's name"}}}}}});
  EXPECT_EQ(CallerNameFromDataCollection(results), "Ada Moss");
  EXPECT_EQ(CallerNameFromDataCollection(Results({{"caller_name", {{"value", ""}}}})),
            std::nullopt);
  EXPECT_EQ(CallerNameFromDataCollection(json::array()), std::nullopt);
}

// What an extractor returns, whatever the input.
class OneMemoryExtractor final : public Extractor {
 public:
  std::string CacheIdentity() const override { return "one/1"; }
  Result<std::vector<ExtractedMemory>> Extract(const ExtractionInput&) override {
    ExtractedMemory m;
    m.content = "From the extractor.";
    return std::vector<ExtractedMemory>{m};
  }
};

TEST(ExtractionOfAnalysis, FollowsTheExtractorsMemoriesAndChangesTheCacheKey) {
  json data = {{"conversation_id", "conv_x"},
               {"transcript", json::array({{{"role", "user"}, {"message", "Hi."}}})},
               {"analysis",
                {{"data_collection_results", Results({{"boiler_make", {{"value", "Vaillant"}}}})},
                 {"transcript_summary", "A boiler call."}}}};
  json canonical;
  ExtractionInput input = projections::TranscriptInput(data, "", 1773068650000, &canonical);
  ASSERT_EQ(input.analysis.size(), 2u);
  OneMemoryExtractor extractor;
  auto all = projections::ExtractMemories(extractor, input);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u) << "\"Hi.\" alone is no evidence of anything";
  EXPECT_EQ((*all)[0].content, "From the extractor.") << "the extractor's keep their positions";
  EXPECT_EQ((*all)[1].content, "Boiler make: Vaillant.");
  EXPECT_EQ((*all)[2].content, "Call on 2026-03-09: A boiler call.");

  // Another answer to an item is another cache key: a cached output is never
  // reused for different facts.
  const std::string key = projections::ExtractionCacheKey(extractor.CacheIdentity(), canonical);
  data["analysis"]["data_collection_results"]["boiler_make"]["value"] = "Worcester";
  json other;
  projections::TranscriptInput(data, "", 1773068650000, &other);
  EXPECT_NE(projections::ExtractionCacheKey(extractor.CacheIdentity(), other), key);
  // ...and so is the same input without the analysis rules in the key
  // (what keys were before they existed).
  json old_canonical = {{"name", ""}, {"turns", canonical["turns"]}};
  EXPECT_NE(projections::ExtractionCacheKey(extractor.CacheIdentity(), old_canonical),
            crypto::Sha256Hex(extractor.CacheIdentity() + "\n" + old_canonical.dump()));
}

}  // namespace
}  // namespace engram::memory

namespace engram::memory {
namespace {

// Relative dates in the caller's words are stored with the absolute date
// beside them; the platform's own summary is left in its words.
TEST(ExtractionOfDates, TheCallersRelativeDatesGetTheirAbsoluteDate) {
  json data = {
      {"conversation_id", "conv_d"},
      {"transcript", json::array({{{"role", "user"}, {"message", "I'm flying out next Friday."}}})},
      {"analysis", {{"transcript_summary", "The caller flies out on Friday."}}}};
  // Wednesday 2026-12-02, 10:00 UTC.
  ExtractionInput input = projections::TranscriptInput(data, "", 1796205600000, nullptr);
  OneMemoryExtractor extractor;
  auto all = projections::ExtractMemories(extractor, input);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[1].content, "Call on 2026-12-02: The caller flies out on Friday.");
  EXPECT_EQ((*all)[2].content, "I'm flying out next Friday (2026-12-11).");
}

}  // namespace
}  // namespace engram::memory
