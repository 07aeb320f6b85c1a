// The statements set (tests/fixtures/statements/): many one-statement calls
// of one caller, each statement with a paraphrase an agent would ask. The
// set's shape, the scoring helpers, and a fast run of its first 200
// statements through the same evaluation as engram-statements (a child
// `engram serve` with the embedded defaults, the real routes).
//
// The run asserts only what must hold whatever the memory's quality: every
// call accepted, projected and its extraction done, every paraphrase
// answered. It prints the figures; the thresholds of issue [2/6] come when
// the engine meets them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>

#include "statements/evaluate.h"
#include "statements/report.h"
#include "support/test_support.h"

namespace engram {
namespace {

using nlohmann::json;

TEST(StatementsSet, HoldsOneThousandDistinctStatementsOfManyShapes) {
  auto set = statements::LoadStatementSet(ENGRAM_STATEMENTS_FILE);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->statements.size(), 1000u);
  std::set<std::string> subjects;
  for (const statements::Statement& s : set->statements) {
    EXPECT_NE(s.statement, s.paraphrase) << s.id;
    EXPECT_TRUE(subjects.insert(s.subject).second) << "two statements about " << s.subject;
  }
  // The README promises at least 60 sentence shapes, not a few templates.
  const json doc = json::parse(testing::ReadFile(ENGRAM_STATEMENTS_FILE));
  std::set<std::string> shapes;
  for (const json& e : doc["statements"]) shapes.insert(e["shape"].get<std::string>());
  EXPECT_GE(shapes.size(), 60u);
}

TEST(StatementsSet, RefusesARepeatedStatementOrAMustContainWordItLacks) {
  testing::TempDir dir;
  auto write = [&](const json& statements) {
    std::ofstream(dir / "s.json") << json({{"caller",
                                            {{"phone", "+13035550147"}, {"agent_id", "a"}}},
                                           {"statements", statements}})
                                         .dump();
    return statements::LoadStatementSet(dir / "s.json");
  };
  const json one = {{"id", "s1"},
                    {"statement", "I'm allergic to latex."},
                    {"paraphrase", "Any latex problem?"},
                    {"must_contain", {"latex"}}};
  EXPECT_TRUE(write(json::array({one})).ok());
  json other = one;
  other["id"] = "s2";
  EXPECT_FALSE(write(json::array({one, other})).ok());  // the same words twice
  json lacking = one;
  lacking["must_contain"] = {"penicillin"};
  EXPECT_FALSE(write(json::array({lacking})).ok());
}

TEST(StatementsScoring, RanksByTheSourceCallAndMatchesWords) {
  EXPECT_EQ(statements::RankOf({"c1", "c2", "c2"}, "c2"), 2u);
  EXPECT_EQ(statements::RankOf({"c1"}, "c2"), 0u);
  EXPECT_TRUE(statements::WordsIn({"Ana cancelled", "the FAMILY plan"}, {"ana", "family"}, 2));
  EXPECT_FALSE(statements::WordsIn({"Ana cancelled", "the FAMILY plan"}, {"ana", "family"}, 1));
  EXPECT_EQ(statements::Percentile({5, 1, 4, 2, 3}, 50), 3);
  EXPECT_EQ(statements::Percentile({5, 1, 4, 2, 3}, 95), 5);
  EXPECT_EQ(statements::Percentile({}, 95), 0);
}

TEST(StatementsScoring, CountsASupersessionAcrossStatementsAsWrong) {
  auto memory = [](const std::string& id, const std::string& call, bool current, const char* by) {
    return json{{"id", id},
                {"current", current},
                {"superseded_by", by ? json(by) : json(nullptr)},
                {"source", {{"conversation_id", call}}}};
  };
  const json doc = {
      {"memories",
       {memory("m1", "a", false, "m2"),  // a's memory replaced by b's: wrong
        memory("m2", "b", true, nullptr), memory("m3", "b", false, "m4"),  // within b's own call
        memory("m4", "b", true, nullptr),
        memory("m5", "c", false, "m9"),  // by a memory of no statement
        memory("m9", "x", true, nullptr), memory("m6", "c", false, nullptr)}}};
  auto t = statements::TallyMemories(doc, {"a", "b", "c"});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->wrong_supersessions.size(), 1u);
  EXPECT_EQ(t->wrong_supersessions[0], std::make_pair(std::string("a"), std::string("b")));
  EXPECT_EQ(t->superseded_within_call, 1u);
  EXPECT_EQ(t->superseded_by_unknown, 1u);
  EXPECT_EQ(t->ended_without_replacement, 1u);
  EXPECT_EQ(t->memories, 7u);
  EXPECT_EQ(t->current, 3u);
  EXPECT_EQ(t->current_by_conversation.count("a"), 0u);  // a has none left
  EXPECT_EQ(t->current_by_conversation.at("b"), 2u);
  EXPECT_EQ(t->by_conversation.at("c"), 2u);
  EXPECT_FALSE(statements::TallyMemories(json::array(), {}).ok());
}

TEST(StatementsRun, FirstTwoHundredCallsAreLearntAndEveryParaphraseAnswered) {
  auto set = statements::LoadStatementSet(ENGRAM_STATEMENTS_FILE);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  statements::EvalOptions options;
  // ENGRAM_TEST_BINARY measures another build, as for the other subprocess tests.
  const char* other = std::getenv("ENGRAM_TEST_BINARY");
  options.engram_binary = other && *other ? other : ENGRAM_BINARY;
  options.embeddings = ENGRAM_EMBEDDINGS_FILE;
  options.count = 200;
  const statements::EvalResult r = statements::Evaluate(*set, options);
  std::cout << statements::TextReport(r, options) << std::flush;

  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_FALSE(r.user_id.empty());
  ASSERT_EQ(r.outcomes.size(), 200u);
  for (const statements::StatementOutcome& o : r.outcomes) {
    SCOPED_TRACE(o.id);
    EXPECT_EQ(o.post_call_status, 200);
    EXPECT_EQ(o.extraction, "done");
    EXPECT_EQ(o.query_status, 200);
    EXPECT_LE(o.returned.size(), options.k);
    EXPECT_LE(o.current, o.memories);
  }
  // Every memory the read model holds came from one of these calls.
  size_t from_calls = 0;
  for (const auto& [call, n] : r.tally.by_conversation) from_calls += n;
  EXPECT_LE(from_calls, r.tally.memories);
  // Every statement is kept (its words at least), and none is replaced by a
  // statement about someone or something else (issue 11). The recall floor
  // is what this subset measured when the evidence memories landed (170 of
  // 200); the goal is 95 %, not met yet.
  const statements::Summary sum = statements::Summarise(r);
  EXPECT_EQ(sum.without_current, 0u);
  EXPECT_EQ(sum.wrong_supersessions, 0u);
  EXPECT_GE(sum.found_topk, 160u);
}

}  // namespace
}  // namespace engram
