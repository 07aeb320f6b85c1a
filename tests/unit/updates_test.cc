#include "memory/updates.h"

#include <gtest/gtest.h>

namespace engram::memory {
namespace {

using Values = std::vector<std::string>;

TEST(ReplacedValues, UpdatesSaidInGeneralWords) {
  EXPECT_EQ(ReplacedValues("My insurance is now Cigna Dental, not Delta anymore."),
            Values{"delta"});
  EXPECT_EQ(ReplacedValues("we're not with Comcast any more"), Values{"comcast"});
  EXPECT_EQ(ReplacedValues("I switched from Verizon to T-Mobile last month"), Values{"verizon"});
  EXPECT_EQ(ReplacedValues("I'm no longer at Brightwater Health, I moved to Kaiser."),
            Values{"brightwater health"});
  EXPECT_EQ(ReplacedValues("Can we do Thursday instead of Tuesday?"), Values{"tuesday"});
  EXPECT_EQ(ReplacedValues("We changed from the Basic plan to Premium."), Values{"basic plan"});
  EXPECT_EQ(ReplacedValues("It's not the blue Honda but the grey one."), Values{"blue honda"});
}

TEST(ReplacedValues, NothingWhenNothingIsReplaced) {
  EXPECT_TRUE(ReplacedValues("I'm not sure.").empty());
  EXPECT_TRUE(ReplacedValues("That's not it anymore.").empty()) << "only stop words";
  EXPECT_TRUE(ReplacedValues("I moved to Denver in May.").empty()) << "no old value said";
  EXPECT_TRUE(ReplacedValues("I'm allergic to latex.").empty());
  EXPECT_TRUE(ReplacedValues("The ink was left at the wrong apartment instead of my door.").empty())
      << "names nothing: a common noun is no value a later call replaces";
  EXPECT_TRUE(ReplacedValues("").empty());
  EXPECT_NO_THROW(ReplacedValues(std::string(100000, 'n') + " not \xff\xfe anymore"));
}

TEST(IsReplacedBy, OnlyTheSameTopicHoldingTheOldValue) {
  const std::string update = "My insurance is now Cigna Dental, not Delta anymore.";
  const Values delta = ReplacedValues(update);
  EXPECT_TRUE(IsReplacedBy(
      "Asked \"Is your insurance still the same?\", Marcus said \"Yes, Delta Dental PPO through my "
      "school district.\"",
      update, delta, {"marcus"}));
  EXPECT_FALSE(IsReplacedBy("My sister flies Delta to Boston every month.", update, delta, {}))
      << "another topic that names the old value";
  EXPECT_FALSE(IsReplacedBy("My insurance covers two cleanings a year.", update, delta, {}))
      << "the topic without the old value";
  EXPECT_FALSE(IsReplacedBy("Deltas of the river", update, delta, {})) << "whole words only";
}

TEST(Restates, SimilarWordingAboutDifferentThingsIsTwoStatements) {
  EXPECT_TRUE(Restates("Every Monday I export the report.",
                       "Every Monday morning I export the weekly report.", {}));
  EXPECT_FALSE(Restates("I'm allergic to latex.", "I'm allergic to peanuts.", {}));
  EXPECT_FALSE(Restates("Pavel Phillips cancelled the Family subscription.",
                        "Maria Lopez cancelled the Family subscription.", {}));
  EXPECT_TRUE(Restates("Then Marcus called.", "Then Marcus called.", {"marcus"}));
}

}  // namespace
}  // namespace engram::memory
