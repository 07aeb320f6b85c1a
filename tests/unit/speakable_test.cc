// The user summary (memory_context) and its sentences read as English an
// agent can say aloud, for callers of trades the rules were not written
// for. All callers and facts here are made up for these tests.
#include "memory/speakable.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "memory/summary.h"
#include "memory/text.h"

namespace engram::memory {
namespace {

CallerReference Ref(const std::string& name) { return CallerReference::FromName(name); }

TEST(CallerReference, UsesTheFirstNameAfterTheOpening) {
  EXPECT_EQ(Ref("Priya Raman").short_form, "Priya");
  EXPECT_EQ(Ref("Priya Raman").full, "Priya Raman");
  EXPECT_EQ(Ref("Dr Okafor").short_form, "Dr Okafor") << "a title is no first name";
  EXPECT_EQ(Ref("Cher").short_form, "Cher");
  EXPECT_EQ(Ref("").short_form, "the caller");
  EXPECT_EQ(Ref("").Capitalised(), "The caller");
}

TEST(SpeakableSentence, NamesTheCallerForAnOpeningPronounAndAgreesTheVerb) {
  const CallerReference marcus = Ref("Marcus Oyelaran");
  EXPECT_EQ(SpeakableSentence("They restart the router every morning.", marcus),
            "Marcus restarts the router every morning.");
  EXPECT_EQ(SpeakableSentence("They usually watch the match on Sundays.", marcus),
            "Marcus usually watches the match on Sundays.");
  EXPECT_EQ(SpeakableSentence("They are relieved that the line works.", marcus),
            "Marcus is relieved that the line works.");
  EXPECT_EQ(SpeakableSentence("They've been waiting since Tuesday.", marcus),
            "Marcus has been waiting since Tuesday.");
  EXPECT_EQ(SpeakableSentence("She's been a customer for ten years.", marcus),
            "Marcus has been a customer for ten years.");
  EXPECT_EQ(SpeakableSentence("They needed a new router last year.", marcus),
            "Marcus needed a new router last year.")
      << "a past form stays";
  EXPECT_EQ(SpeakableSentence("Their router is in the basement.", marcus),
            "Marcus's router is in the basement.");
  EXPECT_EQ(SpeakableSentence("Marcus Oyelaran are moving offices in May.", marcus),
            "Marcus is moving offices in May.");
  EXPECT_EQ(SpeakableSentence("The customer asked for a refund of the setup fee.", marcus),
            "Marcus asked for a refund of the setup fee.");
  EXPECT_EQ(SpeakableSentence("The user, Marcus Oyelaran, reported slow speeds at night.", marcus),
            "Marcus reported slow speeds at night.");
  EXPECT_EQ(SpeakableSentence("The agent will call the caller back on Friday.", marcus),
            "The agent will call Marcus back on Friday.");
  EXPECT_EQ(SpeakableSentence("They restart the router every morning.", Ref("")),
            "The caller restarts the router every morning.");
}

TEST(SpeakableSentence, DropsQuestionsAndPronounsWithoutReferent) {
  const CallerReference ana = Ref("Ana Lima");
  EXPECT_EQ(SpeakableSentence("Could someone call Ana Lima back?", ana), "");
  EXPECT_EQ(SpeakableSentence("It started right after the update.", ana), "");
  EXPECT_EQ(SpeakableSentence("That lines up with the billing change.", ana), "");
  EXPECT_EQ(SpeakableSentence("Email, please.", ana), "") << "too short to say alone";
  EXPECT_EQ(SpeakableSentence("This morning Ana Lima paid the invoice", ana),
            "This morning Ana paid the invoice.")
      << "a time, not a thing said elsewhere";
  EXPECT_EQ(SpeakableSentence("Ana Lima has been merging them by hand every night.", ana), "")
      << "'them' points at nothing in the sentence";
  EXPECT_EQ(SpeakableSentence("The agent will email them by Thursday.", ana), "");
  EXPECT_EQ(SpeakableSentence("Ana Lima is really upset about this.", ana), "");
  EXPECT_EQ(SpeakableSentence("Ana Lima never reads that inbox.", ana),
            "Ana never reads that inbox.");
  EXPECT_EQ(SpeakableSentence("Sure, the agent has noted text messages for updates.", ana),
            "The agent has noted text messages for updates.");
  EXPECT_EQ(SpeakableSentence("Ana Lima moved off Zendesk and shut it down in May.", ana),
            "Ana moved off Zendesk and shut it down in May.");
  EXPECT_EQ(SpeakableSentence("It was fixed on 12 March.", ana, /*alone=*/false),
            "It was fixed on 12 March.")
      << "said right after the sentence it points at";
  EXPECT_EQ(SpeakableSentence("Honestly, Ana Lima is relieved this time.", ana),
            "Ana is relieved this time.");
  EXPECT_EQ(SpeakableSentence("Ana Lima (Lima Bakes) confirmed the refund arrived (RF-2231).", ana),
            "Ana confirmed the refund arrived.")
      << "asides written for the eye";
}

TEST(SpeakableSentence, AgreesAVerbJoinedToTheCallersByAnd) {
  const CallerReference ana = Ref("Ana Lima");
  EXPECT_EQ(SpeakableSentence("Every Friday Ana Lima exports the ledger and reconcile it with the "
                              "bank statement.",
                              ana),
            "Every Friday Ana exports the ledger and reconciles it with the bank statement.");
  EXPECT_EQ(
      SpeakableSentence("Ana Lima prints the labels and usually post them the same day.", ana),
      "Ana prints the labels and usually posts them the same day.");
  EXPECT_EQ(SpeakableSentence("Ana Lima compares invoicing and payroll every week.", ana),
            "Ana compares invoicing and payroll every week.")
      << "no object after it: not taken for a verb";
  EXPECT_EQ(SpeakableSentence("Ana Lima has moved off Zendesk and shut it down.", ana),
            "Ana has moved off Zendesk and shut it down.")
      << "the auxiliary is shared";
}

TEST(DataCollectionSentence, MakesASentenceFromAnyLabel) {
  const CallerReference helena = Ref("Helena Vasquez-Brandt");
  EXPECT_EQ(
      DataCollectionSentence("Caller's dental insurance provider", "Delta Dental PPO", helena),
      "Helena's dental insurance provider is Delta Dental PPO.");
  EXPECT_EQ(DataCollectionSentence("CRM the customer uses", "Salesforce", Ref("Priya Raman")),
            "The CRM Priya uses is Salesforce.");
  EXPECT_EQ(DataCollectionSentence("Agreed follow-up date (ISO 8601)", "2026-04-16", helena),
            "The agreed follow-up date is 16 April 2026.");
  EXPECT_EQ(DataCollectionSentence("How the customer wants to be contacted", "email", helena),
            "How Helena wants to be contacted: email.");
  EXPECT_EQ(DataCollectionSentence("Caller's medication allergies", "sulfa drugs", helena),
            "Helena's medication allergies are sulfa drugs.");
  EXPECT_EQ(DataCollectionSentence("Number of bedrooms to move", "3", helena),
            "The number of bedrooms to move is 3.");
  EXPECT_EQ(DataCollectionSentence("Next vaccination", "2026-05-04", helena),
            "The next vaccination is 4 May 2026.");
  EXPECT_EQ(DataCollectionSentence("Name of the pet", "Biscuit", helena),
            "The name of the pet is Biscuit.");
  EXPECT_EQ(DataCollectionSentence("What is the caller's account number?", "AC-4471", helena),
            "Helena's account number is AC-4471.");
  EXPECT_EQ(DataCollectionSentence("Extract the patient's date of birth.", "1988-02-29", helena),
            "The patient's date of birth is 29 February 1988.");
  EXPECT_EQ(DataCollectionSentence("Does the caller have pets", "yes", helena),
            "Helena does have pets.");
  EXPECT_EQ(DataCollectionSentence("Is the invoice paid", "no", helena),
            "The invoice is not paid.");
  EXPECT_EQ(DataCollectionSentence("Whether the pet has insurance", "yes", helena),
            "The pet has insurance.");
  EXPECT_EQ(DataCollectionSentence("Follow-up needed", "no", helena), "Follow-up needed: no.");
}

TEST(SpeakableTopic, KeepsTitlesAndDropsQuestions) {
  EXPECT_EQ(SpeakableTopic("Fibre line dropping during calls."),
            "Fibre line dropping during calls");
  EXPECT_EQ(SpeakableTopic("Can I move my cleaning to Friday?"), "");
  EXPECT_EQ(SpeakableTopic("  "), "");
}

// What a speakable summary must hold, whatever the trade.
void ExpectSpeakable(const std::string& summary, const std::string& name) {
  SCOPED_TRACE(summary);
  ::testing::Test::RecordProperty("summary", summary);  // in --gtest_output=xml, to read
  const size_t words = CountWords(summary);
  EXPECT_GE(words, 60u);
  EXPECT_LE(words, kSummaryMaxWords);
  EXPECT_LE(summary.size(), 700u);
  const std::vector<std::string> sentences = SplitSentences(summary);
  ASSERT_FALSE(sentences.empty());
  bool named = false;
  // A sentence's first word, lower case, after a "Last call, on 9 March: "
  // lead-in when `past_lead_in`.
  auto first_word = [](std::string s, bool past_lead_in) {
    const size_t colon = s.find(": ");
    if (past_lead_in && colon != std::string::npos && s.find(", on ") < colon) {
      s = s.substr(colon + 2);
    }
    return ToLower(s.substr(0, s.find_first_of(" ,.;:!?")));
  };
  const std::vector<std::string> bare = {"they", "them", "it", "he", "she", "this", "that"};
  for (const std::string& s : sentences) {
    EXPECT_NE(s.back(), '?') << s;
    if (!named) {
      EXPECT_EQ(std::find(bare.begin(), bare.end(), first_word(s, true)), bare.end())
          << "no referent yet: " << s;
    }
    const std::string opening = first_word(s, false);
    EXPECT_TRUE(opening != "it" && opening != "them") << s;
    if (!name.empty() && s.find(name.substr(0, name.find(' '))) != std::string::npos) named = true;
    if (name.empty() && ToLower(s).find("the caller") != std::string::npos) named = true;
  }
  EXPECT_TRUE(named) << "the caller is named";
  EXPECT_EQ(sentences.back().back(), '.') << "never cut mid-sentence";
}

constexpr int64_t kCall1 = 1764000000;  // 2025-11-24
constexpr int64_t kCall2 = 1764590000;  // 2025-12-01

TEST(RuleSummary, DentalPracticeNewInsurerReplacesTheOldOne) {
  const std::vector<SummaryFact> facts = {
      {"Caller's full name: Helena Vasquez-Brandt.", Sector::kSemantic, "dc:patient_name",
       "Helena Vasquez-Brandt", 0.7, kCall1},
      // The same item answered on two calls: only the newest is current.
      {"Caller's dental insurance provider: Delta Dental PPO.", Sector::kSemantic,
       "dc:insurance_provider", "Delta Dental PPO", 0.7, kCall1},
      {"Caller's dental insurance provider: Cigna Dental.", Sector::kSemantic,
       "dc:insurance_provider", "Cigna Dental", 0.7, kCall2},
      {"Preferred appointment time: weekday mornings.", Sector::kSemantic, "dc:preferred_time",
       "weekday mornings", 0.7, kCall2},
      {"Helena Vasquez-Brandt is allergic to penicillin.", Sector::kSemantic, "", "", 0.6, kCall1},
      {"Helena Vasquez-Brandt owns a bakery on Fifth Street.", Sector::kSemantic, "", "", 0.6,
       kCall1},
      {"They floss every night after the late shift.", Sector::kProcedural, "", "", 0.6, kCall1},
      {"It keeps hurting when Helena Vasquez-Brandt drinks something cold.", Sector::kEmotional, "",
       "", 0.5, kCall2},
      {"Could someone check whether the crown is covered?", Sector::kEpisodic, "", "", 0.6, kCall2},
      {"Helena Vasquez-Brandt is worried about the cost of the crown.", Sector::kEmotional, "", "",
       0.5, kCall2},
      {"The agent booked a cleaning for Helena Vasquez-Brandt on 9 December at 8 a.m.",
       Sector::kEpisodic, "", "", 0.35, kCall2},
      {"Call on 2025-11-24: Helena Vasquez-Brandt called about a sore molar.", Sector::kEpisodic,
       "call:conv_d1", "a1", 0.5, kCall1},
      {"Call on 2025-12-01: The patient switched her insurance to Cigna Dental and booked a "
       "cleaning. She is anxious about the cost of a crown on her lower molar. Is the crown "
       "covered?",
       Sector::kEpisodic, "call:conv_d2", "b2", 0.5, kCall2},
      // Evidence: the caller's words verbatim, never in the summary.
      {"my insurance is now Cigna Dental, not Delta anymore", Sector::kEpisodic, "utt:conv_d2:3",
       "", 0.4, kCall2},
      {"asked Is your insurance still the same?, Helena said Yes, Delta Dental PPO through my "
       "school district.",
       Sector::kEpisodic, "utt:conv_d1:5", "", 0.4, kCall1}};
  const std::string s = BuildRuleSummary("Helena Vasquez-Brandt", facts);
  ExpectSpeakable(s, "Helena Vasquez-Brandt");
  EXPECT_EQ(s.find("The caller is Helena Vasquez-Brandt."), 0u) << s;
  EXPECT_NE(s.find("Helena's dental insurance provider is Cigna Dental."), std::string::npos) << s;
  EXPECT_NE(s.find("The preferred appointment time is weekday mornings."), std::string::npos) << s;
  EXPECT_EQ(s.find("Delta"), std::string::npos) << "superseded, and only in evidence: " << s;
  EXPECT_EQ(s.find("school district"), std::string::npos) << s;
  EXPECT_EQ(s.find("not Delta anymore"), std::string::npos) << s;
  EXPECT_EQ(s.find("Caller's full name"), std::string::npos) << "the name is said once: " << s;
  EXPECT_NE(s.find("Helena flosses every night"), std::string::npos) << s;
  // "The patient" may be someone else than the caller: left as said; "She"
  // after it is the caller.
  EXPECT_NE(s.find("Last call, on 1 December: The patient switched her insurance to Cigna "
                   "Dental and booked a cleaning. Helena is anxious"),
            std::string::npos)
      << "the newest call: " << s;
  EXPECT_EQ(s.find("sore molar"), std::string::npos) << "an older call's summary: " << s;
  EXPECT_EQ(s.find("keeps hurting"), std::string::npos) << "'It' has no referent: " << s;
  EXPECT_LT(s.find("Cigna"), s.find("flosses"));
  EXPECT_LT(s.find("flosses"), s.find("Last call"));
}

TEST(RuleSummary, BusinessInternetCallerWithRuleSlotsAndNoDataCollectionName) {
  const std::vector<SummaryFact> facts = {
      {"Marcus Oyelaran is the office manager at Copperleaf Studio.", Sector::kSemantic, "employer",
       "Copperleaf Studio", 0.8, kCall1},
      {"Marcus Oyelaran prefers to be contacted by text message.", Sector::kSemantic,
       "contact_preference", "text message", 0.8, kCall1},
      {"How the customer wants to be contacted: text message.", Sector::kSemantic,
       "dc:contact_channel", "text message", 0.7, kCall2},
      {"Current tariff plan: Business Fibre 500.", Sector::kSemantic, "dc:tariff_plan",
       "Business Fibre 500", 0.7, kCall1},
      {"Current tariff plan: Business Fibre 900.", Sector::kSemantic, "dc:tariff_plan",
       "Business Fibre 900", 0.7, kCall2},
      {"Service address: 14 Wharf Road, Leeds.", Sector::kSemantic, "dc:service_address",
       "14 Wharf Road, Leeds", 0.7, kCall1},
      {"Whether the customer reported an outage: yes.", Sector::kSemantic, "dc:outage", "yes", 0.7,
       kCall2},
      {"They restart the router every morning before the studio opens.", Sector::kProcedural, "",
       "", 0.6, kCall2},
      {"Marcus Oyelaran is frustrated because the line drops during video calls.",
       Sector::kEmotional, "", "", 0.5, kCall2},
      {"The agent will send an engineer to the studio on Tuesday.", Sector::kEpisodic, "", "", 0.35,
       kCall2},
      {"Call on 2025-12-01: Marcus Oyelaran of Copperleaf Studio reported the fibre line dropping "
       "several times a day since the upgrade. The agent booked an engineer visit for Tuesday. "
       "Could the old router be the cause?",
       Sector::kEpisodic, "call:conv_i2", "c3", 0.5, kCall2},
      {"yeah so it's like, the line just drops, you know, every afternoon", Sector::kEpisodic,
       "utt:conv_i2:1", "", 0.4, kCall2}};
  const std::string s = BuildRuleSummary("Marcus Oyelaran", facts);
  ExpectSpeakable(s, "Marcus Oyelaran");
  EXPECT_EQ(s.find("Marcus Oyelaran is the office manager at Copperleaf Studio."), 0u) << s;
  EXPECT_NE(s.find("The current tariff plan is Business Fibre 900."), std::string::npos) << s;
  EXPECT_EQ(s.find("Fibre 500"), std::string::npos) << s;
  EXPECT_NE(s.find("The service address is 14 Wharf Road, Leeds."), std::string::npos) << s;
  EXPECT_NE(s.find("Marcus reported an outage."), std::string::npos) << s;
  EXPECT_NE(s.find("Marcus restarts the router"), std::string::npos) << s;
  EXPECT_EQ(s.find("text message"), s.rfind("text message")) << "said once: " << s;
  EXPECT_EQ(s.find("you know"), std::string::npos) << s;
  EXPECT_EQ(s.find("old router"), std::string::npos) << "a question: " << s;
  EXPECT_NE(s.find("Last call, on 1 December: Marcus of Copperleaf Studio reported"),
            std::string::npos)
      << s;
}

TEST(RuleSummary, AirlineCallerWithoutANameIsTheCaller) {
  const std::vector<SummaryFact> facts = {
      {"Booking reference: QX7R2M.", Sector::kSemantic, "dc:booking_reference", "QX7R2M", 0.7,
       kCall1},
      {"Frequent flyer tier: Gold.", Sector::kSemantic, "dc:tier", "Gold", 0.7, kCall1},
      {"Caller's seat preference: aisle.", Sector::kSemantic, "dc:seat", "aisle", 0.7, kCall2},
      {"Does the passenger need special assistance: yes.", Sector::kSemantic, "dc:assistance",
       "yes", 0.7, kCall2},
      {"The caller is flying to Lisbon on 14 December with two children.", Sector::kEpisodic, "",
       "", 0.6, kCall2},
      {"They always check in online the night before.", Sector::kProcedural, "", "", 0.6, kCall1},
      {"The caller is annoyed that the flight was rescheduled twice.", Sector::kEmotional, "", "",
       0.5, kCall2},
      {"Call on 2025-12-01: The caller asked to move the family to seats together after the "
       "schedule change. The agent found three seats in row 21.",
       Sector::kEpisodic, "call:conv_a2", "d4", 0.5, kCall2},
      {"asked Can I have your booking reference?, the caller said Q X seven R two M.",
       Sector::kEpisodic, "utt:conv_a2:2", "", 0.4, kCall2}};
  const std::string s = BuildRuleSummary("", facts);
  ExpectSpeakable(s, "");
  EXPECT_EQ(s.find("The caller's name is not on record."), 0u) << s;
  EXPECT_NE(s.find("The booking reference is QX7R2M."), std::string::npos) << s;
  EXPECT_NE(s.find("The caller's seat preference is aisle."), std::string::npos) << s;
  EXPECT_NE(s.find("The passenger does need special assistance."), std::string::npos) << s;
  EXPECT_NE(s.find("The caller always checks in online"), std::string::npos) << s;
  EXPECT_EQ(s.find("Q X seven"), std::string::npos) << s;
}

TEST(RuleSummary, PharmacyNameFromDataCollectionRenamesTheCallerInOlderMemories) {
  const std::vector<SummaryFact> facts = {
      {"Customer's full name: Tomasz Wrobel.", Sector::kSemantic, "dc:customer_name",
       "Tomasz Wrobel", 0.7, kCall2},
      {"Caller's medication allergies: sulfa drugs.", Sector::kSemantic, "dc:allergies",
       "sulfa drugs", 0.7, kCall2},
      {"Caller's pharmacy branch: Elm Street.", Sector::kSemantic, "dc:branch", "Elm Street", 0.7,
       kCall1},
      {"Prescription ready for pickup: no.", Sector::kSemantic, "dc:ready", "no", 0.7, kCall2},
      // Learnt before the name was: "the caller".
      {"The caller picks up a blood pressure prescription every month.", Sector::kProcedural, "",
       "", 0.6, kCall1},
      {"The caller's insurance card was replaced in October.", Sector::kSemantic, "", "", 0.6,
       kCall1},
      {"Tomasz Wrobel is upset that the refill was late again.", Sector::kEmotional, "", "", 0.5,
       kCall2},
      {"The agent has asked the pharmacist to call Tomasz Wrobel before noon.", Sector::kEpisodic,
       "", "", 0.35, kCall2},
      {"Call on 2025-12-01: Tomasz Wrobel called because his refill of lisinopril was not ready. "
       "The pharmacist will call him before noon.",
       Sector::kEpisodic, "call:conv_p2", "e5", 0.5, kCall2},
      {"erm yes it's Tomasz, Tomasz Wrobel, the refill again", Sector::kEpisodic, "utt:conv_p2:0",
       "", 0.4, kCall2}};
  const std::string s = BuildRuleSummary("", facts);
  ExpectSpeakable(s, "Tomasz Wrobel");
  EXPECT_EQ(s.find("The caller is Tomasz Wrobel."), 0u) << s;
  EXPECT_NE(s.find("Tomasz's medication allergies are sulfa drugs."), std::string::npos) << s;
  EXPECT_NE(s.find("Tomasz picks up a blood pressure prescription every month."), std::string::npos)
      << s;
  EXPECT_NE(s.find("Tomasz's insurance card"), std::string::npos) << s;
  EXPECT_EQ(s.find("erm"), std::string::npos) << s;
  EXPECT_EQ(ToLower(s).find("the caller", 1), std::string::npos) << "after the opening: " << s;
}

TEST(RuleSummary, AnAgentWithManyItemsDoesNotCrowdOutTheLastCall) {
  // A hotel whose agent collects fourteen items.
  std::vector<SummaryFact> facts = {
      {"Guest's full name: Ines Carvalho.", Sector::kSemantic, "dc:guest_name", "Ines Carvalho",
       0.7, kCall2},
      {"Call on 2025-12-01: Ines Carvalho moved her stay to the weekend of 12 December and asked "
       "for a quiet room away from the lift.",
       Sector::kEpisodic, "call:conv_h2", "f6", 0.5, kCall2},
      // A subject the extractor supersedes within, not a profile slot: a
      // statement like the others.
      {"Ines Carvalho now parks in the underground garage instead of the street.",
       Sector::kSemantic, "parking", "underground garage", 0.6, kCall2}};
  for (int i = 0; i < 14; ++i) {
    const std::string n = std::to_string(10 + i);
    facts.push_back({"Stay preference " + n + ": option " + n + ".", Sector::kSemantic,
                     "dc:pref_" + n, "option " + n, 0.7, kCall2});
  }
  const std::string s = BuildRuleSummary("Ines Carvalho", facts);
  ExpectSpeakable(s, "Ines Carvalho");
  EXPECT_NE(s.find("Last call, on 1 December: Ines moved her stay"), std::string::npos) << s;
  EXPECT_NE(s.find("Ines now parks in the underground garage"), std::string::npos) << s;
  EXPECT_NE(s.find("The stay preference 10 is option 10."), std::string::npos) << s;
}

TEST(RuleSummary, StaysWithinTheWordCapAndNeverCutsASentence) {
  std::vector<SummaryFact> facts;
  for (int i = 0; i < 40; ++i) {
    facts.push_back({"Item " + std::to_string(i) + " of the order: a boxed set of linen towels.",
                     Sector::kSemantic, "dc:item_" + std::to_string(100 + i),
                     "a boxed set of linen towels", 0.7, kCall1});
    facts.push_back({"Noor Haddad returned parcel " + std::to_string(i) +
                         " because the towels arrived torn and damp.",
                     Sector::kEpisodic, "", "", 0.5, kCall1 + i});
  }
  const std::string s = BuildRuleSummary("Noor Haddad", facts);
  EXPECT_LE(CountWords(s), kSummaryMaxWords) << s;
  EXPECT_LE(s.size(), 700u);
  EXPECT_EQ(s.back(), '.');
  const std::string tight = BuildRuleSummary("Noor Haddad", facts, 60);
  EXPECT_LE(tight.size(), 60u);
  EXPECT_EQ(tight, "The caller is Noor Haddad.") << "whole sentences only";
}

}  // namespace
}  // namespace engram::memory
