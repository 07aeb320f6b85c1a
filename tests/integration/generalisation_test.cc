// The held-out generalisation set (tests/fixtures/generalisation/) through
// the same evaluation as engram-generalisation: every fixture from an empty
// data folder, through the real routes of a child `engram serve` with the
// embedded defaults. Prints the per-trade table.
//
// It asserts only what must hold whatever the memory's quality: the fixtures
// load, every call is accepted and projected and its extraction done, every
// question is answered (HTTP 200) and scored. There is no minimum score yet:
// the threshold comes with the memory work of issue [2/6]. The set is held
// out; do not tune against it (its README.md).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "generalisation/evaluate.h"
#include "generalisation/report.h"
#include "support/test_support.h"

namespace engram {
namespace {

using generalisation::Question;

TEST(GeneralisationScoring, FollowsTheReadmeRuleForUpdatedFacts) {
  Question q;
  q.must_contain = {"cigna"};
  q.must_not_top1 = {"delta"};
  // The README's examples: the old value beside the new one passes, alone fails.
  EXPECT_FALSE(generalisation::Top1Violation({"Switched from Delta Dental to Cigna"}, q));
  EXPECT_TRUE(generalisation::Top1Violation({"insurance: Delta Dental PPO", "now Cigna"}, q));
  EXPECT_FALSE(generalisation::HitAt({"insurance: Delta Dental PPO", "now Cigna"}, q, 3));
  EXPECT_TRUE(generalisation::HitAt({"dentist", "now CIGNA"}, q, 3));
  EXPECT_FALSE(generalisation::HitAt({"dentist", "now CIGNA"}, q, 1));
  EXPECT_FALSE(generalisation::HitAt({}, q, 3));
  Question two;
  two.must_contain = {"alder court", "gresham"};
  EXPECT_TRUE(generalisation::HitAt({"12 Alder Court", "in Gresham"}, two, 3));
  EXPECT_FALSE(generalisation::HitAt({"12 Alder Court", "x", "in Gresham"}, two, 2));
}

TEST(GeneralisationScoring, MatchesNamesExactlyOrByFirstName) {
  using generalisation::MatchName;
  using generalisation::NameMatch;
  EXPECT_EQ(MatchName("marisol  VEGA", "Marisol Vega"), NameMatch::kExact);
  EXPECT_EQ(MatchName("Marisol", "Marisol Vega"), NameMatch::kFirstName);
  EXPECT_EQ(MatchName("Tom", "Thomas Brennan"), NameMatch::kNo);
  EXPECT_EQ(MatchName("", "Thomas Brennan"), NameMatch::kNo);
}

TEST(GeneralisationSet, EveryCallIsLearntAndEveryQuestionAnswered) {
  auto files = generalisation::FixtureFiles(ENGRAM_GENERALISATION_DIR);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  // The README's totals: 14 callers, 28 calls, 94 questions.
  ASSERT_EQ(files->size(), 14u);
  size_t calls = 0, questions = 0;
  for (const std::string& file : *files) {
    auto f = generalisation::LoadFixture(file);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    calls += f->calls.size();
    questions += f->questions.size();
  }
  EXPECT_EQ(calls, 28u);
  EXPECT_EQ(questions, 94u);

  generalisation::EvalOptions options;
  // ENGRAM_TEST_BINARY measures another build, as for the other subprocess tests.
  const char* other = std::getenv("ENGRAM_TEST_BINARY");
  options.engram_binary = other && *other ? other : ENGRAM_BINARY;
  options.embeddings = ENGRAM_EMBEDDINGS_FILE;
  const auto results = generalisation::EvaluateAll(*files, options);
  std::cout << generalisation::TextReport(results, options) << std::flush;

  ASSERT_EQ(results.size(), files->size());
  for (const generalisation::FixtureResult& r : results) {
    SCOPED_TRACE(r.file);
    EXPECT_TRUE(r.errors.empty()) << r.errors.front();
    ASSERT_EQ(r.calls.size(), 2u);
    for (const generalisation::CallOutcome& c : r.calls) {
      EXPECT_EQ(c.init_status, 200) << c.conversation_id;
      EXPECT_EQ(c.post_call_status, 200) << c.conversation_id;
      EXPECT_EQ(c.extraction, "done") << c.conversation_id;
    }
    EXPECT_FALSE(r.user_id.empty());
    for (const generalisation::QuestionOutcome& q : r.questions) {
      EXPECT_EQ(q.http_status, 200) << q.question.question;
      EXPECT_EQ(q.hit.size(), generalisation::Cutoffs(options.k).size()) << q.question.question;
    }
  }
  const generalisation::Tally all = generalisation::Count(results);
  EXPECT_EQ(all.questions, 94u);
  EXPECT_EQ(all.answered, 94u);
  // The goal: at least 90 % answered in the top 3 with the embedded
  // defaults (85 of 94), and no update question answered first with the
  // value it replaced more than once.
  EXPECT_GE(all.hits.at(3), 85u);
  EXPECT_LE(all.top1_violations, 1u);
}

}  // namespace
}  // namespace engram
