// The memory engine's parts: text rules, extraction, sector classification,
// the SIF sentence embedding, the index, composite scoring and waypoints.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <thread>

#include "memory/glove_embedder.h"
#include "memory/memory_index.h"
#include "memory/query_cache.h"
#include "memory/query_expansion.h"
#include "memory/recall.h"
#include "memory/rule_extractor.h"
#include "memory/summary.h"
#include "memory/text.h"
#include "memory/vector_matrix.h"
#include "support/test_support.h"
#include "unit/shared_glove.h"

namespace engram::memory {
namespace {

TEST(Text, SplitsSentencesButKeepsAbbreviationsAndAddresses) {
  EXPECT_EQ(SplitSentences("Before our ten a.m. standup. Email priya.raman@x.example now! Ok?"),
            (std::vector<std::string>{"Before our ten a.m. standup.",
                                      "Email priya.raman@x.example now!", "Ok?"}));
  EXPECT_EQ(SplitSentences("It costs 3.5 dollars. yes"),
            (std::vector<std::string>{"It costs 3.5 dollars. yes"}));
}

TEST(Text, NormalizesSpokenEmailsAndSpelledIds) {
  EXPECT_EQ(NormalizeSpoken("priya dot raman at hollisvane dot example."),
            "priya.raman@hollisvane.example.");
  EXPECT_EQ(NormalizeSpoken("a ticket, T D two zero nine three one, with"),
            "a ticket, TD-20931, with");
  EXPECT_EQ(NormalizeSpoken("by Thursday at the latest."), "by Thursday at the latest.");
}

TEST(Text, StemsInflectionsTogether) {
  EXPECT_EQ(Stem("exports"), Stem("export"));
  EXPECT_EQ(Stem("merging"), Stem("merged"));
  EXPECT_EQ(Stem("duplicates"), Stem("duplicate"));
  EXPECT_EQ(LexicalTerms("What CRM does the customer use?"),
            (std::vector<std::string>{"crm", "customer", "use"}));
}

TEST(RuleExtractor, RewritesFirstPersonIntoStatementsAboutTheCaller) {
  EXPECT_EQ(ToThirdPerson("And I need a real update by Thursday.", "Priya Raman", false),
            "Priya Raman needs a real update by Thursday.");
  EXPECT_EQ(ToThirdPerson("I never pick up calls from numbers I don't know.", "Priya", false),
            "Priya never picks up calls from numbers they don't know.");
  EXPECT_EQ(ToThirdPerson("So we connect Tandem to HubSpot.", "Priya", false),
            "Priya's team connects Tandem to HubSpot.");
  EXPECT_EQ(ToThirdPerson("I've opened a ticket for you.", "Priya", true),
            "The agent has opened a ticket for Priya.");
  EXPECT_EQ(ToThirdPerson("I'm relieved.", "", false), "The caller is relieved.");
}

TEST(RuleExtractor, ClassifiesSectorsByCues) {
  EXPECT_EQ(ClassifySectors("Honestly, I'm really frustrated.").front(), Sector::kEmotional);
  EXPECT_EQ(ClassifySectors("Every Monday morning I export the weekly report.").front(),
            Sector::kProcedural);
  EXPECT_EQ(ClassifySectors("It started right after your February update.").front(),
            Sector::kEpisodic);
  EXPECT_EQ(ClassifySectors("I think the team no longer trusts the data.").front(),
            Sector::kReflective);
  EXPECT_EQ(ClassifySectors("The sky is blue.").front(), Sector::kSemantic);
  auto several = ClassifySectors("I'm frustrated that every Monday the export breaks.");
  EXPECT_GE(several.size(), 2u) << "a primary sector and others";
}

// Slots hold the caller's own facts only: an e-mail given for someone else
// is not theirs, and "call me" without a preference ("in Spanish", "back")
// names no channel (issue 11: no supersession by another statement).
TEST(RuleExtractor, SlotsAreTheCallersOwnAndOnlyStatedPreferences) {
  RuleExtractor ex;
  auto slots = [&](const std::string& said) {
    ExtractionInput in;
    in.turns = {{0, "user", said}};
    std::vector<std::string> out;
    const auto extracted = ex.Extract(in);
    for (const ExtractedMemory& m : *extracted) {
      if (!m.subject.empty()) out.push_back(m.subject + "=" + m.value);
    }
    return out;
  };
  using Slots = std::vector<std::string>;
  EXPECT_EQ(slots("Text me rather than calling, I can't pick up at work."),
            Slots{"contact_preference=text message"});
  EXPECT_EQ(slots("Please call me in Spanish."), Slots{});
  EXPECT_EQ(slots("Naomi from your team said someone would call me back tonight."), Slots{});
  EXPECT_EQ(slots("Send Felix's copy to oldoak77@icloud.com."), Slots{});
  EXPECT_EQ(slots("My email is dana@whitfield.example."), Slots{"email=dana@whitfield.example"});
}

TEST(RuleExtractor, FindsSlotFactsAndDropsSmallTalk) {
  RuleExtractor ex;
  ExtractionInput in;
  in.turns = {{0, "agent", "Thank you for calling. May I have your name?"},
              {1, "user",
               "Hi. This is Priya Raman, I'm the operations manager at Hollis and "
               "Vane Logistics."},
              {2, "user", "HubSpot is our CRM for everything."},
              {3, "user", "Email, please. priya dot raman at hollisvane dot example."},
              {4, "user", "You too. Bye."}};
  auto out = ex.Extract(in);
  ASSERT_TRUE(out.ok());
  auto find = [&](const std::string& subject) -> const ExtractedMemory* {
    for (const auto& m : *out) {
      if (m.subject == subject) return &m;
    }
    return nullptr;
  };
  ASSERT_TRUE(find("name"));
  EXPECT_EQ(find("name")->value, "Priya Raman");
  ASSERT_TRUE(find("employer"));
  EXPECT_EQ(find("employer")->content,
            "Priya Raman is the operations manager at Hollis and Vane Logistics.");
  ASSERT_TRUE(find("crm"));
  EXPECT_EQ(find("crm")->content, "Priya Raman's CRM is HubSpot.");
  EXPECT_EQ(find("crm")->source_turns, std::vector<int>{2});
  ASSERT_TRUE(find("contact_preference"));
  ASSERT_TRUE(find("email"));
  EXPECT_EQ(find("email")->value, "priya.raman@hollisvane.example");
  for (const auto& m : *out) {
    EXPECT_EQ(m.content.find("Bye"), std::string::npos) << "small talk kept: " << m.content;
    EXPECT_NE(m.content.find_first_of("."), std::string::npos);
  }
}

TEST(RuleExtractor, NewCrmSupersedingSentenceNamesTheNewValue) {
  RuleExtractor ex;
  ExtractionInput in;
  in.caller_name = "Priya Raman";
  in.turns = {{3, "user",
               "We moved off HubSpot. As of April first we're on Salesforce for "
               "everything, and HubSpot has been shut off."}};
  auto out = ex.Extract(in);
  ASSERT_TRUE(out.ok());
  std::vector<std::string> crm;
  for (const auto& m : *out) {
    if (m.subject == "crm") crm.push_back(m.value);
  }
  EXPECT_EQ(crm, std::vector<std::string>{"Salesforce"});
}

TEST(RuleExtractor, IsDeterministic) {
  RuleExtractor ex;
  ExtractionInput in;
  in.turns = {{1, "user", "Every Monday I export the report. I'm frustrated with the sync."}};
  auto a = ex.Extract(in), b = ex.Extract(in);
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].content, (*b)[i].content);
}

TEST(GloveEmbedding, RelatedSentencesAreCloserThanUnrelatedOnes) {
  auto v = [](const char* s) { return *Glove().Embed(s); };
  const auto crm = v("Our CRM is Salesforce.");
  const auto crm2 = v("We switched our customer database to HubSpot.");
  const auto weather = v("It rained all weekend at the beach.");
  const auto report = v("Every Monday I export the weekly pipeline report to CSV.");
  const auto report2 = v("Each week she downloads the sales spreadsheet.");
  EXPECT_GT(Cosine(crm, crm2), Cosine(crm, weather));
  EXPECT_GT(Cosine(report, report2), Cosine(report, weather));
  EXPECT_NEAR(Cosine(crm, crm), 1.0, 1e-5);
  EXPECT_EQ(Glove().Dimensions(), 100);
  auto empty = *Glove().Embed("qwzxqv plorbt");
  EXPECT_TRUE(std::all_of(empty.begin(), empty.end(), [](float x) { return x == 0; }));
}

TEST(GloveEmbedding, RejectsAFileThatIsNotOurs) {
  engram::testing::TempDir dir;
  std::string path = dir / "bad.bin";
  FILE* f = fopen(path.c_str(), "w");
  fputs("not a glove file at all", f);
  fclose(f);
  EXPECT_EQ(GloveEmbedder::Open(path).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(GloveEmbedder::Open(dir / "missing.bin").status().code(), StatusCode::kNotFound);
}

IndexedMemory Mem(const std::string& id, const std::string& content, double salience,
                  int64_t seen_ms, const std::string& waypoint = "", float weight = 0) {
  IndexedMemory m;
  m.id = id;
  m.content = content;
  m.salience = salience;
  m.created_at = m.last_seen_at = seen_ms;
  m.waypoint_id = waypoint;
  m.waypoint_weight = weight;
  return m;
}

TEST(Recall, CompositeScoreUsesTheDocumentedWeights) {
  RecallWeights w;
  EXPECT_DOUBLE_EQ(CompositeScore(w, 1, 0, 0, 0), 0.7);
  EXPECT_DOUBLE_EQ(CompositeScore(w, 0, 1, 0, 0), 0.1);
  EXPECT_DOUBLE_EQ(CompositeScore(w, 0, 0, 1, 0), 0.1);
  EXPECT_DOUBLE_EQ(CompositeScore(w, 0, 0, 0, 1), 0.1);
  EXPECT_DOUBLE_EQ(CompositeScore(w, 0.5, 0.5, 0.5, 0.5), 0.5);
}

// Query expansion: a query word brings in the indexed words nearest to it,
// weighted below the literal ones, and never a word among the most frequent.
TEST(QueryExpansion, NearestIndexedWordsJoinTheQueryBelowItsOwn) {
  TermVocabulary vocabulary(Glove());
  vocabulary.Observe("I am allergic to latex and my employer is a hospital.");
  vocabulary.Observe("We need more towels once a week.");
  ExpansionWeights w;
  const std::vector<WeightedTerm> terms = vocabulary.Expand("Any allergies at her job?", w);
  ASSERT_FALSE(terms.empty());
  std::map<std::string, double> by_term;
  for (const WeightedTerm& t : terms) by_term[t.term] = t.weight;
  for (const std::string& literal : LexicalTerms("Any allergies at her job?")) {
    EXPECT_DOUBLE_EQ(by_term.at(literal), 1.0) << literal;
  }
  ASSERT_TRUE(by_term.count(Stem("allergic"))) << "allergies -> allergic";
  EXPECT_GT(by_term.at(Stem("allergic")), 0.0);
  EXPECT_LT(by_term.at(Stem("allergic")), w.weight + 1e-9);
  for (const char* frequent : {"more", "once", "need", "week"}) {
    EXPECT_FALSE(by_term.count(Stem(frequent))) << frequent << " is too common to expand into";
  }
  w.weight = 0;
  EXPECT_EQ(vocabulary.Expand("Any allergies at her job?", w).size(),
            LiteralTerms("Any allergies at her job?").size());
}

TEST(Recall, OnlyQuestionsAboutThePresentPreferTheNewestWords) {
  EXPECT_TRUE(AsksAboutNow("Which insurer does she have now?"));
  EXPECT_TRUE(AsksAboutNow("Is he still with Delta?"));
  EXPECT_TRUE(AsksAboutNow("what is her current plan"));
  EXPECT_TRUE(AsksAboutNow("Where does he live these days?"));
  EXPECT_FALSE(AsksAboutNow("Which insurer does she have?"));
  EXPECT_FALSE(AsksAboutNow("Does she know Snow White?"));  // "now" inside a word
  MemoryIndex index(Glove().Dimensions());
  const int64_t day = 86'400'000;
  auto add = [&](const std::string& id, const std::string& content, int64_t at) {
    IndexedMemory m;
    m.id = id;
    m.content = content;
    m.sector = Sector::kEpisodic;
    m.salience = 0.3;
    m.created_at = m.last_seen_at = at;
    m.conversation_id = id;
    index.Upsert("u", m, *Glove().Embed(content));
  };
  add("old", "My dental insurance is Delta Dental PPO.", 0);
  add("new", "My dental insurance is Cigna Dental PPO.", 60 * day);
  auto now = Recall(index, Glove(), "u", "Which dental insurance does he have now?", 2);
  ASSERT_TRUE(now.ok());
  ASSERT_EQ(now->size(), 2u);
  EXPECT_EQ((*now)[0].memory.id, "new");
  auto plain = Recall(index, Glove(), "u", "Which dental insurance does he have?", 2);
  ASSERT_TRUE(plain.ok());
  ASSERT_EQ(plain->size(), 2u);
  // Without "now", recency is no part of the score: its weight is similarity's.
  RecallWeights timeless;
  timeless.similarity += timeless.recency;
  timeless.recency = 0;
  for (const RecallHit& h : *plain) {
    EXPECT_DOUBLE_EQ(h.score, CompositeScore(timeless, h.similarity, h.salience, 0, h.link));
  }
}

TEST(Recall, RanksBySimilarityThenSalienceAndRecency) {
  MemoryIndex index(Glove().Dimensions());
  const int64_t day = 86'400'000;
  auto add = [&](IndexedMemory m) { index.Upsert("u1", m, *Glove().Embed(m.content)); };
  add(Mem("crm", "Priya's CRM is Salesforce.", 0.8, 100 * day));
  add(Mem("weather", "Priya enjoys hiking when the weather is good.", 0.8, 100 * day));
  add(Mem("old-crm", "Priya's CRM is HubSpot.", 0.3, 10 * day));
  index.Upsert("u2", Mem("other", "Bob's CRM is Zoho.", 1.0, 100 * day),
               *Glove().Embed("Bob's CRM is Zoho."));
  auto hits = Recall(index, Glove(), "u1", "what CRM does she use", 3);
  ASSERT_TRUE(hits.ok());
  ASSERT_GE(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].memory.id, "crm") << "same similarity: more salient and recent wins";
  EXPECT_EQ((*hits)[1].memory.id, "old-crm");
  for (const auto& h : *hits) EXPECT_NE(h.memory.id, "other") << "never another user's memory";
  EXPECT_GE((*hits)[0].score, (*hits)[1].score);
  EXPECT_TRUE(Recall(index, Glove(), "nobody", "crm", 3)->empty());
}

TEST(Recall, ExpandsEachHitByItsWaypoint) {
  MemoryIndex index(Glove().Dimensions());
  const int64_t t = 1'000'000;
  auto add = [&](IndexedMemory m) { index.Upsert("u1", m, *Glove().Embed(m.content)); };
  add(Mem("ticket", "The agent opened ticket TD-20931 for the sync bug.", 0.5, t));
  // Shares no word with the query; reachable only through the waypoint.
  add(Mem("follow", "An update was promised by Thursday.", 0.5, t, "", 0));
  add(Mem("seed", "The duplicate contacts come from the sync bug.", 0.5, t, "follow", 0.9f));
  auto hits = Recall(index, Glove(), "u1", "duplicate contacts", 5);
  ASSERT_TRUE(hits.ok());
  auto it = std::find_if(hits->begin(), hits->end(),
                         [](const RecallHit& h) { return h.memory.id == "follow"; });
  ASSERT_NE(it, hits->end()) << "waypoint target was not expanded";
  EXPECT_GT(it->link, 0.0);
  EXPECT_EQ(hits->front().memory.id, "seed");
}

TEST(MemoryIndex, RemovedMemoriesAreNeverReturnedAndCompactionKeepsTheRest) {
  MemoryIndex index(Glove().Dimensions());
  // Ids and texts by appends: GCC 12 misreports "lit" + std::string (-Wrestrict).
  auto id = [](int i) { return std::string("m").append(std::to_string(i)); };
  for (int i = 0; i < 200; ++i) {
    std::string text =
        std::string("Fact number ").append(std::to_string(i)).append(" about invoices");
    index.Upsert("u", Mem(id(i), text, 0.5, i), *Glove().Embed(text));
  }
  for (int i = 0; i < 150; ++i) index.Remove("u", id(i));
  EXPECT_EQ(index.Count("u"), 50u);
  auto top = index.TopBySimilarity("u", *Glove().Embed("invoices"), {"invoic"}, {}, 100);
  EXPECT_EQ(top.size(), 50u);
  for (const auto& c : top) EXPECT_GE(std::stoi(c.memory.id.substr(1)), 150);
  IndexedMemory m;
  EXPECT_TRUE(index.Get("u", "m199", &m));
  EXPECT_FALSE(index.Get("u", "m3", &m));
}

// The index keeps no per-memory copy of its terms: a removal or a
// replacement takes the terms back out by reading the content again. If that
// missed a term, document frequencies (and so every BM25 score) would drift
// from those of an index that only ever held the survivors; ShrinkToFit must
// change no answer either.
TEST(MemoryIndex, RemovalsReplacementsAndShrinkScoreAsAFreshIndexOfTheSurvivors) {
  const char* kWords[] = {"invoices", "payroll", "shipping", "contacts", "forecast",
                          "tickets",  "labels",  "Monday",   "Xero",     "Shopify"};
  auto text = [&](int i, int variant) {
    return std::string("Fact ")
        .append(kWords[i % 10])
        .append(" ")
        .append(kWords[(i / 10 + variant) % 10])
        .append(" number ")
        .append(std::to_string(i % 37));
  };
  auto id = [](int i) { return std::string("m").append(std::to_string(i)); };
  MemoryIndex churned(Glove().Dimensions());
  for (int i = 0; i < 300; ++i) {
    churned.Upsert("u", Mem(id(i), text(i, 0), 0.5, i), *Glove().Embed(text(i, 0)));
  }
  for (int i = 0; i < 300; i += 3) churned.Remove("u", id(i));
  for (int i = 1; i < 300; i += 9) {  // the same ids, new words: appended last
    churned.Upsert("u", Mem(id(i), text(i, 4), 0.5, i), *Glove().Embed(text(i, 4)));
  }
  for (int i = 2; i < 200; i += 3) churned.Remove("u", id(i));  // compacts
  churned.ShrinkToFit();

  MemoryIndex fresh(Glove().Dimensions());
  auto survivor = [](int i) { return i % 3 == 1 || (i % 3 == 2 && i >= 200); };
  for (int i = 0; i < 300; ++i) {
    if (survivor(i) && (i - 1) % 9 != 0) {
      fresh.Upsert("u", Mem(id(i), text(i, 0), 0.5, i), *Glove().Embed(text(i, 0)));
    }
  }
  for (int i = 1; i < 300; i += 9) {
    fresh.Upsert("u", Mem(id(i), text(i, 4), 0.5, i), *Glove().Embed(text(i, 4)));
  }
  ASSERT_EQ(churned.Count("u"), fresh.Count("u"));
  for (const char* q : {"payroll invoices", "Xero labels", "shipping forecast Monday"}) {
    const auto terms = churned.QueryTerms(q, {});
    // Every memory, by id: slots differ (the churned index has dead ones),
    // and the dense products may differ in their last bits with them.
    std::map<std::string, std::pair<double, double>> a, b;
    for (const auto& c : churned.TopBySimilarity("u", *Glove().Embed(q), terms, {}, 1000)) {
      a[c.memory.id] = {c.lexical, c.dense};
    }
    for (const auto& c : fresh.TopBySimilarity("u", *Glove().Embed(q), terms, {}, 1000)) {
      b[c.memory.id] = {c.lexical, c.dense};
    }
    ASSERT_EQ(a.size(), fresh.Count("u")) << q;
    for (const auto& [memory, scores] : b) {
      ASSERT_TRUE(a.count(memory)) << q << " " << memory;
      EXPECT_EQ(a[memory].first, scores.first) << q << " " << memory << " (BM25)";
      EXPECT_NEAR(a[memory].second, scores.second, 1e-6) << q << " " << memory;
    }
  }
}

// What a node following another's commits applies: the named users take
// their state from the fresh index, one absent there leaves, and the others
// stay as they were; the replaced users' versions move past the old ones
// (cached answers miss) even though the fresh index counted from zero,
// unless only salience changed.
TEST(MemoryIndex, ReplaceUsersSwapsOnlyTheNamedUsersAndMovesTheirVersions) {
  MemoryIndex index(Glove().Dimensions());
  auto add = [](MemoryIndex& to, const std::string& user, const std::string& id,
                const std::string& text) {
    to.Upsert(user, Mem(id, text, 0.5, 1), *Glove().Embed(text));
  };
  for (int i = 0; i < 5; ++i) add(index, "changed", "old" + std::to_string(i), "We use HubSpot");
  add(index, "gone", "g1", "We use Quibblesoft");
  add(index, "kept", "k1", "We use Zoho");
  const uint64_t changed_before = index.Version("changed");
  const uint64_t kept_before = index.Version("kept");
  MemoryIndex fresh(Glove().Dimensions());
  add(fresh, "changed", "new1", "We moved to Salesforce");
  add(fresh, "kept", "k2", "not named, so not taken");
  index.ReplaceUsers(fresh, {"changed", "gone"});
  EXPECT_EQ(index.Count("changed"), 1u);
  IndexedMemory m;
  EXPECT_TRUE(index.Get("changed", "new1", &m));
  EXPECT_FALSE(index.Get("changed", "old0", &m));
  EXPECT_GT(index.Version("changed"), changed_before);
  EXPECT_EQ(index.Count("gone"), 0u);
  EXPECT_EQ(index.Count("kept"), 1u);
  EXPECT_EQ(index.Version("kept"), kept_before);
  EXPECT_FALSE(index.Get("kept", "k2", &m));
  EXPECT_EQ(index.TotalCount(), 2u);
  // The same memories again, with another salience: the version holds.
  const uint64_t changed_after = index.Version("changed");
  MemoryIndex again(Glove().Dimensions());
  again.Upsert("changed", Mem("new1", "We moved to Salesforce", 0.9, 2),
               *Glove().Embed("We moved to Salesforce"));
  index.ReplaceUsers(again, {"changed"});
  EXPECT_EQ(index.Version("changed"), changed_after);
  ASSERT_TRUE(index.Get("changed", "new1", &m));
  EXPECT_DOUBLE_EQ(m.salience, 0.9);
}

TEST(Summary, ServesCurrentSlotsFirst) {
  std::vector<SummaryFact> facts = {
      {"Priya is the operations manager at Hollis.", Sector::kSemantic, "employer", "Hollis", 0.8,
       1},
      {"Priya's CRM is Salesforce.", Sector::kSemantic, "crm", "Salesforce", 0.8, 2},
      {"Every Monday Priya exports the report.", Sector::kProcedural, "", "", 0.6, 2},
      {"Priya is relieved.", Sector::kEmotional, "", "", 0.5, 2}};
  std::string s = BuildRuleSummary("Priya", facts);
  EXPECT_EQ(s.find("Priya is the operations manager"), 0u);
  EXPECT_NE(s.find("Priya's CRM is Salesforce."), std::string::npos) << s;
  EXPECT_LT(s.find("CRM is"), s.find("Every Monday"));
  EXPECT_LE(BuildRuleSummary("Priya", facts, 60).size(), 60u);
}

}  // namespace
}  // namespace engram::memory

namespace engram::memory {
namespace {

// Dialogue transcripts ("Name: text", as LoCoMo is ingested) keep both
// speakers' statements, each about its own speaker.
TEST(RuleExtractor, DialogueKeepsBothSpeakersAndNamesThem) {
  RuleExtractor ex;
  ExtractionInput in;
  in.caller_name = "Caroline";
  in.turns = {{0, "user", "Caroline: I went to an LGBTQ support group yesterday."},
              {1, "agent", "Melanie: That's great! I painted a sunset with my kids last week."},
              {2, "user", "Caroline: Wow, cool!"}};
  auto out = ex.Extract(in);
  ASSERT_TRUE(out.ok());
  bool caroline = false, melanie = false;
  for (const auto& m : *out) {
    if (m.content.find("Caroline went to an LGBTQ support group") != std::string::npos) {
      caroline = true;
      EXPECT_EQ(m.source_turns, std::vector<int>{0});
    }
    if (m.content.find("Melanie painted a sunset") != std::string::npos) {
      melanie = true;
      EXPECT_LT(m.salience, 0.6) << "the other speaker's statements weigh less";
    }
    EXPECT_EQ(m.content.find("Wow, cool"), std::string::npos) << "reactions are dropped";
  }
  EXPECT_TRUE(caroline);
  EXPECT_TRUE(melanie);
}

}  // namespace
}  // namespace engram::memory

namespace engram::memory {
namespace {

TEST(RecallCache, ServesUntilTheUsersMemoriesChangeOrItExpires) {
  RecallCache cache(2, std::chrono::milliseconds(200));
  RecallHit h;
  h.memory.id = "m1";
  cache.Put("u", "crm?", 5, 7, {h});
  ASSERT_TRUE(cache.Get("u", "crm?", 5, 7).has_value());
  EXPECT_EQ(cache.Get("u", "crm?", 5, 7)->front().memory.id, "m1");
  EXPECT_FALSE(cache.Get("u", "crm?", 5, 8).has_value()) << "memories changed";
  EXPECT_FALSE(cache.Get("u", "crm?", 3, 7).has_value()) << "another limit";
  EXPECT_FALSE(cache.Get("v", "crm?", 5, 7).has_value()) << "another user";
  cache.Put("u", "a", 5, 7, {});
  cache.Put("u", "b", 5, 7, {});
  EXPECT_FALSE(cache.Get("u", "crm?", 5, 7).has_value()) << "evicted, capacity 2";
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_FALSE(cache.Get("u", "b", 5, 7).has_value()) << "expired";
}

TEST(MemoryIndex, VersionMovesOnAddAndRemoveButNotOnSalience) {
  MemoryIndex index(Glove().Dimensions());
  EXPECT_EQ(index.Version("u"), 0u);
  index.Upsert("u", Mem("a", "Priya's CRM is Salesforce.", 0.5, 1), *Glove().Embed("crm"));
  const uint64_t v1 = index.Version("u");
  EXPECT_GT(v1, 0u);
  index.UpdateSalience("u", "a", 0.9, 2);
  EXPECT_EQ(index.Version("u"), v1);
  index.Remove("u", "a");
  EXPECT_GT(index.Version("u"), v1);
}

class CountingEmbedder final : public Embedder {
 public:
  std::string ModelId() const override { return "count"; }
  int Dimensions() const override { return 2; }
  Result<std::vector<float>> Embed(std::string_view) override {
    ++calls;
    return std::vector<float>{1, 0};
  }
  int calls = 0;
};

TEST(CachingEmbedder, EmbedsEachTextOnce) {
  CountingEmbedder inner;
  CachingEmbedder cached(inner, 10);
  ASSERT_TRUE(cached.Embed("what crm").ok());
  ASSERT_TRUE(cached.Embed("what crm").ok());
  ASSERT_TRUE(cached.Embed("other").ok());
  EXPECT_EQ(inner.calls, 2);
  EXPECT_EQ(cached.ModelId(), "count");
}

// Learning's prefilter (projections/memory_learning.cc): every row whose
// exact dot product reaches the threshold is among those the matrix product
// keeps a margin below it, none far below it is, and rows come back as
// stored. Random unit vectors in 100 dimensions (GloVe's), several queries,
// more rows than one panel, some near copies of the queries.
TEST(VectorMatrix, ProductKeepsEveryRowAtTheThresholdAndRowsComeBackExact) {
  std::mt19937 rng(7);
  std::normal_distribution<float> gauss;
  // `near` scaled by `pull` plus noise: cosines with it from ~0.7 (pull 10)
  // to ~0.97 (pull 40), many close to the threshold.
  auto unit = [&](const std::vector<float>* near = nullptr, float pull = 0) {
    std::vector<float> v(100);
    for (size_t d = 0; d < v.size(); ++d) v[d] = (near ? (*near)[d] * pull : 0) + gauss(rng);
    float norm = 0;
    for (float x : v) norm += x * x;
    for (float& x : v) x /= std::sqrt(norm);
    return v;
  };
  std::vector<std::vector<float>> queries;
  for (int q = 0; q < 7; ++q) queries.push_back(unit());
  VectorMatrix matrix(100);
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < 1003; ++i) {
    rows.push_back(i % 5 == 0 ? unit(&queries[i % 7], 10.0f + static_cast<float>(i % 31)) : unit());
    matrix.Append(rows.back());
  }
  ASSERT_EQ(matrix.size(), rows.size());
  EXPECT_EQ(matrix.Row(517), rows[517]);
  std::vector<const std::vector<float>*> asked;
  for (const auto& q : queries) asked.push_back(&q);
  const float threshold = 0.8f, margin = 1e-3f;
  const auto kept = matrix.RowsAtLeast(asked, 1000, threshold - margin);
  ASSERT_EQ(kept.size(), queries.size());
  size_t above = 0;
  for (size_t q = 0; q < queries.size(); ++q) {
    for (size_t i = 0; i < rows.size(); ++i) {
      const float dot = Dot(queries[q], rows[i]);
      const bool listed = std::binary_search(kept[q].begin(), kept[q].end(), i);
      if (i >= 1000) {
        EXPECT_FALSE(listed) << "only rows below the limit";
      } else if (dot >= threshold) {
        ++above;
        EXPECT_TRUE(listed) << q << " " << i << " " << dot;
      } else if (dot < threshold - 2 * margin) {
        EXPECT_FALSE(listed) << q << " " << i << " " << dot;
      }
    }
  }
  EXPECT_GT(above, 50u);  // the near copies
}

}  // namespace
}  // namespace engram::memory
