// CallerNameFromTranscript: the caller's name from what was said, in the
// usual forms of self-introduction across trades, and never a word that is
// no name in context (the agent's own name, days, companies, pronouns).
#include "memory/caller_name.h"

#include <gtest/gtest.h>

#include <utility>

namespace engram::memory {
namespace {

using Turns = std::vector<std::pair<std::string, std::string>>;  // role, message

std::optional<std::string> NameOf(const Turns& said) {
  std::vector<TranscriptTurn> turns;
  for (const auto& [role, message] : said) {
    turns.push_back({static_cast<int>(turns.size()), role, message});
  }
  return CallerNameFromTranscript(turns);
}

// The agent's usual opening, which names the agent, never the caller.
const std::pair<std::string, std::string> kRobin = {
    "agent", "Thanks for calling Northside Plumbing, this is Robin. How can I help?"};

struct Case {
  const char* why;
  Turns turns;
  const char* name;
};

TEST(CallerName, SelfIntroductionsInManyForms) {
  const Case cases[] = {
      {"it's, after addressing the agent",
       {kRobin, {"user", "Hi Robin, it's Marcus Oyelaran."}},
       "Marcus Oyelaran"},
      {"it's, bare", {kRobin, {"user", "It's Marcus, the boiler is leaking again."}}, "Marcus"},
      {"this is, then what they do",
       {{"agent", "Good morning, Crumb & Co support, Sage speaking."},
        {"user", "Hello, this is Helena Vasquez-Brandt, I own the bakery on Elm Street."}},
       "Helena Vasquez-Brandt"},
      {"my name's",
       {kRobin, {"user", "Hey there. My name's Dana and my dog needs a checkup."}},
       "Dana"},
      {"my name is",
       {kRobin, {"user", "Yes, my name is Dana Whitfield, I booked a cleaning."}},
       "Dana Whitfield"},
      {"X again from Y",
       {kRobin, {"user", "Nate again from Copperleaf, about the roof quote."}},
       "Nate"},
      {"X from Y opening the turn",
       {kRobin, {"user", "Priyanka from Lakeside Dental, calling to confirm the delivery."}},
       "Priyanka"},
      {"X here",
       {kRobin, {"user", "Oh hi, Tomasz here. The van is making that noise again."}},
       "Tomasz"},
      {"apostrophe in the name",
       {kRobin, {"user", "Hi, this is Siobhan O'Neill from the salon."}},
       "Siobhan O'Neill"},
      {"curly apostrophe",
       {kRobin, {"user", "Hi Robin it\xE2\x80\x99s Keiko Tanaka"}},
       "Keiko Tanaka"},
      {"bare answer to may I have your name",
       {{"agent", "Sure, I can help with that tax return. May I have your name?"},
        {"user", "Dana Whitfield."}},
       "Dana Whitfield"},
      {"it's, answering who am I speaking with",
       {{"agent", "Who am I speaking with?"}, {"user", "It's Dana."}},
       "Dana"},
      {"agent greets by name, not contradicted",
       {{"agent", "Hi Dana, good to hear from you. How is the puppy?"},
        {"user", "She's doing great, thanks."}},
       "Dana"},
      {"agent thanks by name",
       {kRobin, {"user", "I need a locksmith tonight."}, {"agent", "Thanks, Marcus. On our way."}},
       "Marcus"},
      {"the caller beats the agent's greeting",
       {{"agent", "Hi Dana, welcome back."}, {"user", "No, it's Diana Lopez actually."}},
       "Diana Lopez"},
      {"the fuller name wins",
       {kRobin,
        {"user", "It's Marcus, my name is Marcus Oyelaran for the file."},
        {"user", "Marcus here, one more thing."}},
       "Marcus Oyelaran"},
      {"the agent completes a first name",
       {kRobin, {"user", "It's Marcus."}, {"agent", "Thank you, Marcus Oyelaran, found you."}},
       "Marcus Oyelaran"},
      {"a changed name, stated later",
       {kRobin, {"user", "This is Anna Berg."}, {"user", "Sorry, my name is now Anna Lindqvist."}},
       "Anna Lindqvist"},
      {"three tokens",
       {kRobin, {"user", "This is Mary Anne Fitzgerald, the clinic manager."}},
       "Mary Anne Fitzgerald"},
      {"X calling", {kRobin, {"user", "Yeah, Jorge calling about the invoice."}}, "Jorge"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NameOf(c.turns).value_or("<none>"), c.name) << c.why;
  }
}

// More of the usual forms: "I'm X" opening the turn, "you're speaking with
// X", the name repeated fuller after a hesitation, first and last name given
// apart.
TEST(CallerName, IntroductionsWithHesitationsRepetitionsAndNamesGivenInParts) {
  const std::pair<std::string, std::string> ask = {
      "agent", "Thanks for calling, this is Robin. Can I get your full name?"};
  const Case cases[] = {
      {"I'm, opening the turn",
       {kRobin, {"user", "Hi, I'm Thomas Okafor, I have a question about my card."}},
       "Thomas Okafor"},
      {"you're speaking with",
       {kRobin, {"user", "Morning, you're speaking with Kwame Asante."}},
       "Kwame Asante"},
      {"the first name, then the whole name",
       {ask, {"user", "Sure, it's Kwame, Kwame Asante."}},
       "Kwame Asante"},
      {"hesitations",
       {ask, {"user", "Um, yeah, it's uh Thomas, um, Thomas Okafor."}},
       "Thomas Okafor"},
      {"first and last name apart",
       {ask, {"user", "Yeah, first name Thomas, last name Okafor."}},
       "Thomas Okafor"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NameOf(c.turns), std::optional<std::string>(c.name)) << c.why;
  }
  // "I'm" later in a turn introduces no one.
  EXPECT_EQ(
      NameOf({kRobin, {"user", "The boiler broke again. Honestly, I'm Canadian, we know cold."}}),
      std::nullopt);
}

// How names are taken on the phone by offices that keep records: the surname
// first, the parts asked for one at a time, spelled out, titles, the agent
// confirming with a title and surname.
TEST(CallerName, NamesAskedForInPartsSpelledOrSurnameFirst) {
  const std::pair<std::string, std::string> ask = {
      "agent", "Thanks for calling, this is Robin. Can I get your name, please?"};
  const Case cases[] = {
      {"surname asked first, then the first name",
       {kRobin,
        {"agent", "Can I get your last name?"},
        {"user", "Mensah."},
        {"agent", "And your first name?"},
        {"user", "Abena."}},
       "Abena Mensah"},
      {"first name asked first, then the surname",
       {kRobin,
        {"agent", "What's your first name?"},
        {"user", "It's Lucia."},
        {"agent", "And the last name?"},
        {"user", "Ferreira."}},
       "Lucia Ferreira"},
      {"surname first, in words",
       {ask, {"user", "Last name Mensah, first name Abena."}},
       "Abena Mensah"},
      {"surname, comma, first name",
       {ask, {"user", "Sure, it's Mensah, Abena Mensah."}},
       "Abena Mensah"},
      {"spelled surname after the name",
       {ask, {"user", "Lucia Ferreira, that's F-E-R-R-E-I-R-A."}},
       "Lucia Ferreira"},
      {"my surname is, in a later sentence",
       {kRobin, {"user", "Hi, I'm Lucia. My surname is Ferreira, with two Rs."}},
       "Lucia Ferreira"},
      {"a title and the whole name",
       {ask, {"user", "It's Mr. Mensah. Kofi Mensah."}},
       "Kofi Mensah"},
      {"the agent confirms with title and surname",
       {{"agent", "Am I speaking with Mr. Mensah?"}, {"user", "Yes, this is Kofi."}},
       "Kofi Mensah"},
      {"full name in a separate sentence after the first",
       {kRobin, {"user", "My name is Lucia. Lucia Ferreira."}},
       "Lucia Ferreira"},
      {"name speaking",
       {kRobin, {"user", "Yes hello, Kofi Mensah speaking, about my policy."}},
       "Kofi Mensah"},
      {"hesitation between first and last name",
       {kRobin, {"user", "Hi, my name is Lucia, um, Ferreira."}},
       "Lucia Ferreira"},
      {"a short form corrected after a dash",
       {{"agent", "Cascade Savings Bank, my name is Jordan. Who am I speaking with?"},
        {"user", "Yeah, hi, it's Tom \u2014 Thomas Brennan. I lost my card."}},
       "Thomas Brennan"},
      {"a short form corrected after a comma, same initial",
       {kRobin, {"user", "Hi, it's Kate, Katherine Shaw, about the invoice."}},
       "Katherine Shaw"},
      {"yes and the name, to am-I-speaking-with",
       {{"agent", "Hello, this is Imani. Am I speaking with Dana?"},
        {"user", "Yep, Dana Whitfield."}},
       "Dana Whitfield"},
      {"the account is under",
       {{"agent", "What name is the account under?"}, {"user", "It's under Abena Mensah."}},
       "Abena Mensah"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NameOf(c.turns).value_or("<none>"), c.name) << c.why;
  }
  // The agent thanking the caller by title and surname names them.
  EXPECT_EQ(
      NameOf({kRobin, {"user", "I need to add a driver."}, {"agent", "Thank you, Mr. Mensah."}}),
      std::optional<std::string>("Mensah"));
  // A surname alone is still the caller's name.
  EXPECT_EQ(NameOf({kRobin, {"user", "My last name is Mensah."}}),
            std::optional<std::string>("Mensah"));
  EXPECT_EQ(NameOf({kRobin, {"agent", "Can I get your last name?"}, {"user", "Mensah."}}),
            std::optional<std::string>("Mensah"));
  // A surname asked for someone else is not the caller's.
  EXPECT_EQ(NameOf({kRobin,
                    {"user", "It's Lucia Ferreira."},
                    {"agent", "And your landlord's last name?"},
                    {"user", "Brandt."}}),
            std::optional<std::string>("Lucia Ferreira"));
}

TEST(CallerName, WordsThatAreNoNameInContext) {
  const Case cases[] = {
      {"only the agent's own name", {kRobin, {"user", "Hi Robin, I need a plumber."}}, ""},
      {"agent's name in it's-form",
       {{"agent", "Hello, I'm Sage, your assistant."}, {"user", "Hi Sage, how are you?"}},
       ""},
      {"it's about", {kRobin, {"user", "Hi, it's about my order from last week."}}, ""},
      {"this is urgent", {kRobin, {"user", "This is urgent, the pipe burst."}}, ""},
      {"calling from a company",
       {kRobin, {"user", "I'm calling from Acme about the invoice."}},
       ""},
      {"a day", {kRobin, {"user", "It's Tuesday and the heater still doesn't work."}}, ""},
      {"a month", {kRobin, {"user", "Well, it's March already, and no refund."}}, ""},
      {"my name's on the account",
       {kRobin, {"user", "My name's on the account, so you can talk to me."}},
       ""},
      {"a possessive", {kRobin, {"user", "This is Marcus's account, I'm his wife."}}, ""},
      {"a company suffix", {kRobin, {"user", "This is Copperleaf Roofing LLC."}}, ""},
      {"a pronoun", {kRobin, {"user", "It's me again, about the leak."}}, ""},
      {"one letter", {kRobin, {"user", "My name is J, just J."}}, ""},
      {"a bare word with no name question",
       {{"agent", "What can I do for you today?"}, {"user", "Tuesday."}},
       ""},
      {"greeting by name, contradicted",
       {{"agent", "Hi Dana, good to hear from you."}, {"user", "Not Dana, sorry, wrong person."}},
       ""},
      {"no one named", {kRobin, {"user", "I want to book a grooming for my cat."}}, ""},
      {"a company after a dash",
       {kRobin, {"user", "It's Dana \u2014 Copperleaf Roofing."}},
       "Dana"},
      {"a company after a comma, other initial",
       {kRobin, {"user", "It's Dana, Copperleaf Roofing."}},
       "Dana"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NameOf(c.turns).value_or(""), c.name) << c.why;
  }
}

TEST(CallerName, EmptyTranscriptNamesNoOne) { EXPECT_EQ(NameOf({}), std::nullopt); }

}  // namespace
}  // namespace engram::memory
