#include "memory/evidence.h"

#include <gtest/gtest.h>

#include "memory/recall.h"
#include "memory/text.h"

namespace engram::memory {
namespace {

std::vector<TranscriptTurn> Turns(std::vector<std::pair<std::string, std::string>> said) {
  std::vector<TranscriptTurn> out;
  int i = 0;
  for (auto& [role, message] : said) out.push_back({i++, role, message});
  return out;
}

TEST(Evidence, EveryCallerUtteranceIsKeptAndShortAnswersKeepTheirQuestion) {
  auto turns = Turns({{"agent", "Thanks for calling. Is your insurance still the same?"},
                      {"user", "Yes, Delta Dental PPO through my school district."},
                      {"agent", "Great."},
                      {"user", "Please make sure the notes still say I'm allergic to penicillin."},
                      {"user", "Okay."},
                      {"agent", ""}});
  auto m = EvidenceMemories(turns, "conv_1", "Marcus");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].content,
            "Asked \"Is your insurance still the same?\", Marcus said \"Yes, Delta Dental PPO "
            "through my school district.\"");
  EXPECT_EQ(m[0].source_turns, (std::vector<int>{0, 1}));
  EXPECT_EQ(m[1].content, "Please make sure the notes still say I'm allergic to penicillin.");
  EXPECT_EQ(m[1].source_turns, (std::vector<int>{3}));
  EXPECT_EQ(m[1].subject, "utt:conv_1#3.0");
  EXPECT_TRUE(IsEvidenceSubject(m[1].subject));
  EXPECT_FALSE(IsEvidenceSubject("dc:utt"));
  EXPECT_EQ(m[1].primary, Sector::kEpisodic);
  EXPECT_DOUBLE_EQ(m[1].salience, kEvidenceSalience);
  EXPECT_NE(m[0].value, m[1].value);
}

TEST(Evidence, AnUnknownCallerIsTheCallerAndABareYesStillAnswers) {
  auto turns = Turns({{"agent", "Do you still want the nine o'clock slot?"}, {"user", "Yes."}});
  auto m = EvidenceMemories(turns, "c", "");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].content,
            "Asked \"Do you still want the nine o'clock slot?\", the caller said "
            "\"Yes.\"");
}

TEST(Evidence, ALongTurnIsCutAtSentenceEndsIntoShortPieces) {
  std::string sentence = "I moved the delivery window to the mornings because of work.";
  std::string monologue;
  for (int i = 0; i < 9; ++i) monologue += (i ? " " : "") + sentence;
  auto m = EvidenceMemories(Turns({{"user", monologue}}), "c", "");
  ASSERT_GE(m.size(), 3u);
  for (const auto& piece : m) {
    size_t words = 1 + std::count(piece.content.begin(), piece.content.end(), ' ');
    EXPECT_LE(words, kEvidenceMaxWords) << piece.content;
    EXPECT_EQ(piece.source_turns, (std::vector<int>{0}));
  }
  EXPECT_NE(m[0].subject, m[1].subject);
}

TEST(Evidence, WhitespaceIsCollapsedAndHostileTextDoesNotBreakIt) {
  auto m = EvidenceMemories(Turns({{"user", "my  new\n\taddress is 12 Elm Street"}}), "c", "");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].content, "my new address is 12 Elm Street");
  std::string hostile(100000, '?');
  hostile += std::string("\xff\xfe\x01", 3);
  EXPECT_NO_THROW(EvidenceMemories(Turns({{"agent", hostile}, {"user", hostile}}), "c", ""));
}

RecallHit Hit(std::string id, std::string conversation, std::vector<int> turns) {
  RecallHit h;
  h.memory.id = std::move(id);
  h.memory.conversation_id = std::move(conversation);
  h.memory.source_turns = std::move(turns);
  return h;
}

TEST(WithoutRepeatedSources, AFactAndTheWordsItCameFromTakeOneSlot) {
  std::vector<RecallHit> ranked = {Hit("fact", "c1", {3}),      Hit("words", "c1", {2, 3}),
                                   Hit("same-turn", "c1", {3}), Hit("other-call", "c2", {3}),
                                   Hit("summary", "c1", {}),    Hit("late", "c3", {1})};
  auto kept = WithoutRepeatedSources(ranked, 4);
  std::vector<std::string> ids;
  for (const auto& h : kept) ids.push_back(h.memory.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"fact", "words", "other-call", "summary"}));
}

}  // namespace
}  // namespace engram::memory

namespace engram::memory {
namespace {

TEST(NamesSomeoneElse, PossessivesOfOthersButNotContractions) {
  EXPECT_TRUE(NamesSomeoneElse("Send Felix's copy to oldoak77@icloud.com."));
  EXPECT_TRUE(NamesSomeoneElse("My son's email is a@b.example"));
  EXPECT_TRUE(NamesSomeoneElse("Use her address, sunflower@fastmail.example"));
  EXPECT_FALSE(NamesSomeoneElse("It's priya.raman@hollisvane.example"));
  EXPECT_FALSE(NamesSomeoneElse("That's right, my email is dana@x.example"));
}

}  // namespace
}  // namespace engram::memory
