// The sentence encoder's tokenizer on small hand-made vocabularies: each
// rule of the reference's segmentation, including the quirks kept on
// purpose (sentence_tokenizer.h).
#include "memory/sentence_tokenizer.h"

#include <gtest/gtest.h>

namespace engram::memory {
namespace {

// Six reserved entries first, as in the real vocabulary. Every character a
// test uses is also a (costly) piece of its own, as in the real vocabulary:
// the reference falls back to the unknown id only where no piece starts, and
// that fallback scores 0, above any piece.
SentenceTokenizer Make(std::vector<SentenceTokenizer::Piece> pieces) {
  std::vector<SentenceTokenizer::Piece> all = {{"\xEF\xBF\xBD", 0}, {"<s>", 0}, {"</s>", 0},
                                               {"x1", 0},           {"x2", 0},  {"x3", 0}};
  all.insert(all.end(), pieces.begin(), pieces.end());
  return SentenceTokenizer(std::move(all));
}

TEST(SentenceTokenizer, ChoosesTheHighestScoringSegmentation) {
  // 6: "▁ab" alone (-1) beats "▁a" + "b" (-0.6 - 0.6).
  SentenceTokenizer t = Make({{"\xE2\x96\x81"
                               "ab",
                               -1},
                              {"\xE2\x96\x81"
                               "a",
                               -0.6},
                              {"b", -0.6},
                              {"\xE2\x96\x81", -5},
                              {"a", -5}});
  EXPECT_EQ(t.Encode("ab"), (std::vector<int>{6}));
  SentenceTokenizer u = Make({{"\xE2\x96\x81"
                               "ab",
                               -2},
                              {"\xE2\x96\x81"
                               "a",
                               -0.6},
                              {"b", -0.6},
                              {"\xE2\x96\x81", -5},
                              {"a", -5}});
  EXPECT_EQ(u.Encode("ab"), (std::vector<int>{7, 8}));
}

TEST(SentenceTokenizer, MarksWordStartsAndKeepsEverySpace) {
  SentenceTokenizer t = Make({{"\xE2\x96\x81"
                               "a",
                               -1},
                              {"\xE2\x96\x81", -1},
                              {"a", -5}});
  // "▁a▁▁a": the second space becomes its own "▁".
  EXPECT_EQ(t.Encode("a  a"), (std::vector<int>{6, 7, 6}));
  EXPECT_TRUE(t.Encode("").empty());
}

TEST(SentenceTokenizer, UnknownCharactersBecomeOneIdPerRun) {
  SentenceTokenizer t = Make({{"\xE2\x96\x81"
                               "a",
                               -1},
                              {"b", -1},
                              {"\xE2\x96\x81", -5},
                              {"a", -5}});
  // "▁a" then "zz" (no piece starts with "z": unknown, merged into one 0)
  // then "b" then "z".
  EXPECT_EQ(t.Encode("azzbz"), (std::vector<int>{6, 0, 7, 0}));
}

TEST(SentenceTokenizer, TiesGoToTheLaterCandidate) {
  // "▁a"+"b" and "▁"+"ab" both score -2: the one whose last piece starts
  // later ("b") wins, as the reference's ">=" over ascending starts does.
  SentenceTokenizer t = Make({{"\xE2\x96\x81"
                               "a",
                               -1},
                              {"b", -1},
                              {"\xE2\x96\x81", -1},
                              {"ab", -1},
                              {"a", -5}});
  EXPECT_EQ(t.Encode("ab"), (std::vector<int>{6, 7}));
}

TEST(SentenceTokenizer, NormalisesCompatibilityCharactersFirst) {
  // NFKC: the ligature "ﬁ" is "fi", full-width "ａ" is "a".
  SentenceTokenizer t = Make({{"\xE2\x96\x81"
                               "fi",
                               -1},
                              {"\xE2\x96\x81"
                               "a",
                               -1},
                              {"\xE2\x96\x81", -5},
                              {"f", -5},
                              {"i", -5},
                              {"a", -5}});
  EXPECT_EQ(t.Encode("\xEF\xAC\x81"), (std::vector<int>{6}));
  EXPECT_EQ(t.Encode("\xEF\xBD\x81"), (std::vector<int>{7}));
  EXPECT_EQ(NormalizeNfkc("\xC2\xBD"), U"1\u20442");
}

}  // namespace
}  // namespace engram::memory
