// What the agent platform extracted becomes memory: each answered
// data-collection item a slot fact, the call summary an episodic memory.
// Three trades nobody tuned the rules for (a veterinary clinic, an energy
// utility, a law office), over HTTP with the extraction workers, then
// replayed. All data here is made up for these tests.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/http_connection.h"
#include "http/signature.h"
#include "log/rocksdb_event_log.h"
#include "projections/extraction_workers.h"
#include "projections/table_dump.h"
#include "replay/rebuild.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::MakeTranscription;
using engram::testing::QueryColumn;
using engram::testing::QueryInt;
using engram::testing::TempDir;
using nlohmann::json;

// A data_collection_results item as ElevenLabs sends it.
json Item(const std::string& id, json value, const std::string& description = "") {
  json item = {{"data_collection_id", id}, {"value", std::move(value)}, {"rationale", "r"}};
  if (!description.empty())
    item["json_schema"] = {{"type", "string"}, {"description", description}};
  return item;
}

// A transcript of `user_id` whose analysis holds `items` and `summary`.
json Call(const std::string& conversation_id, const std::string& user_id,
          const std::vector<std::string>& lines, int64_t start_secs, const json& items,
          const std::string& summary) {
  const std::string caller = "+1555019" + std::to_string(1000 + user_id.size() * 31 % 9000);
  json body = MakeTranscription(conversation_id, caller, lines, start_secs);
  body["data"]["user_id"] = user_id;
  json results = json::object();
  for (const json& item : items) results[item["data_collection_id"].get<std::string>()] = item;
  body["data"]["analysis"]["data_collection_results"] = results;
  body["data"]["analysis"]["transcript_summary"] = summary;
  return body;
}

class AnalysisMemory : public ::testing::Test {
 protected:
  explicit AnalysisMemory(EngramInstance::Options options = {})
      : engram_(dir_ / "data", std::move(options)), client_("127.0.0.1", engram_.port) {}

  void Post(const json& body) {
    const std::string text = body.dump();
    int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r = client_.Send(
        "POST", "/webhook/post-call", text,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, text)}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, 200) << r->body;
    engram_.WaitForProjection();
  }

  json Recall(const std::string& user_id, const std::string& query, int limit = 5) {
    auto r = client_.Send("POST", "/tools/memory-query",
                          json({{"query", query}, {"user_id", user_id}, {"limit", limit}}).dump(),
                          {{"X-Engram-Secret", testing::kToolSecret}});
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    return r.ok() ? json::parse(r->body) : json::object();
  }

  std::vector<std::string> Contents(const json& answer) {
    std::vector<std::string> out;
    for (const json& m : answer.value("memories", json::array())) out.push_back(m["content"]);
    return out;
  }

  // The user's current memories; only those from the analysis (slot subjects
  // "dc:..." and "call:...") unless `all`.
  std::vector<std::string> Current(const std::string& user_id, bool all = false) {
    auto db = testing::OpenDb(engram_.db_path());
    return QueryColumn(*db, "SELECT content FROM memories WHERE user_id = '" + user_id +
                                "' AND valid_to IS NULL" +
                                (all ? "" : " AND (subject LIKE 'dc:%' OR subject LIKE 'call:%')") +
                                " ORDER BY content");
  }

  TempDir dir_;
  EngramInstance engram_;
  http::HttpConnection client_;
};

const json kVetItems = json::array(
    {Item("owner_name", "Dana Whitfield", "Pet owner's full name"),
     Item("pet_name", "Biscuit", "Name of the pet"),
     Item("pet_species", "beagle", "Species or breed of the pet"),
     Item("weight_kg", 11.5, "Pet's weight in kilograms"),
     Item("insured", true, "Whether the pet has insurance"),
     Item("next_vaccination", "2026-05-04"),  // no schema: the id is the label
     Item("allergies", nullptr, "Known allergies of the pet"), Item("referral", "", "Referred by"),
     Item("microchip", "   ", "Microchip number")});

TEST_F(AnalysisMemory, VetClinicItemsBecomeRecallableFactsAboutTheCaller) {
  Post(Call("vet_call_1", "vet-owner-1",
            {"Hi, my dog has been scratching his ears all week.", "Can someone see him soon?"},
            1773068650, kVetItems,
            "Dana Whitfield booked an ear check for her beagle Biscuit on Thursday."));

  // Every answered item, generic sentences from the descriptions (or the id);
  // the null, empty and blank ones are skipped; the summary is dated by the
  // call's start (2026-03-09), not by the clock.
  EXPECT_EQ(Current("vet-owner-1"),
            (std::vector<std::string>{
                "Call on 2026-03-09: Dana Whitfield booked an ear check for her beagle Biscuit on "
                "Thursday.",
                "Name of the pet: Biscuit.", "Next vaccination: 2026-05-04.",
                "Pet owner's full name: Dana Whitfield.", "Pet's weight in kilograms: 11.5.",
                "Species or breed of the pet: beagle.", "Whether the pet has insurance: yes."}));
  auto db = testing::OpenDb(engram_.db_path());
  EXPECT_EQ(QueryColumn(*db, "SELECT subject FROM memories WHERE content LIKE 'Name of the pet%'"),
            std::vector<std::string>{"dc:pet_name=Biscuit"});
  EXPECT_EQ(QueryColumn(*db, "SELECT primary_sector FROM memories WHERE content LIKE 'Call on%'"),
            std::vector<std::string>{"episodic"});
  // The owner's full name names the caller; the pet's name does not.
  EXPECT_EQ(QueryColumn(*db, "SELECT name FROM users WHERE id = 'vet-owner-1'"),
            std::vector<std::string>{"Dana Whitfield"});

  json answer = Recall("vet-owner-1", "what is the pet's name");
  ASSERT_FALSE(Contents(answer).empty()) << answer;
  EXPECT_EQ(Contents(answer)[0], "Name of the pet: Biscuit.") << answer;
  answer = Recall("vet-owner-1", "when is the next vaccination due");
  ASSERT_FALSE(Contents(answer).empty()) << answer;
  EXPECT_EQ(Contents(answer)[0], "Next vaccination: 2026-05-04.") << answer;
}

TEST_F(AnalysisMemory, UtilityTariffChangeSupersedesAndTheToolShowsTheNewValue) {
  const std::string user = "utility-acct-7";
  const std::string tariff = "Customer's current tariff plan";
  Post(Call("util_call_1", user, {"I want to check my last bill, it looked high."}, 1773068650,
            {Item("tariff_plan", "Green Saver Fixed", tariff),
             Item("meter_number", "E19K 004512", "Electricity meter serial number"),
             Item("customer_name", "Ravi Menon", "Customer's name")},
            "Ravi Menon queried a high bill on the Green Saver Fixed tariff."));
  json first = Recall(user, "which tariff plan is the customer on");
  ASSERT_FALSE(Contents(first).empty()) << first;
  EXPECT_EQ(Contents(first)[0], tariff + ": Green Saver Fixed.") << first;

  // A week later: another tariff (supersedes), the same meter (reinforces).
  Post(Call("util_call_2", user, {"I switched plans online yesterday."}, 1773068650 + 7 * 86400,
            {Item("tariff_plan", "Economy 7 Variable", tariff),
             Item("meter_number", "E19K 004512", "Electricity meter serial number")},
            "Ravi Menon moved to Economy 7 Variable and asked for a new direct debit amount."));
  json second = Recall(user, "which tariff plan is the customer on");
  ASSERT_FALSE(Contents(second).empty()) << second;
  EXPECT_EQ(Contents(second)[0], tariff + ": Economy 7 Variable.") << second;
  for (const std::string& c : Contents(second)) {
    EXPECT_NE(c, tariff + ": Green Saver Fixed.") << "superseded, no longer served";
  }

  auto db = testing::OpenDb(engram_.db_path());
  EXPECT_EQ(QueryColumn(*db,
                        "SELECT old.content || ' -> ' || new.content FROM memories old JOIN "
                        "memories new ON new.id = old.superseded_by WHERE old.valid_to = "
                        "(1773068650 + 7 * 86400) * 1000"),
            std::vector<std::string>{tariff + ": Green Saver Fixed. -> " + tariff +
                                     ": Economy 7 Variable."});
  EXPECT_EQ(QueryInt(*db,
                     "SELECT reinforcements FROM memories WHERE subject = "
                     "'dc:meter_number=E19K 004512'"),
            1);
  // One summary per call: the second call's does not replace the first's.
  EXPECT_EQ(QueryInt(*db,
                     "SELECT count(*) FROM memories WHERE content LIKE 'Call on %' AND "
                     "valid_to IS NULL AND user_id = '" +
                         user + "'"),
            2);
  json calls = Recall(user, "what happened on the call about the direct debit amount");
  ASSERT_FALSE(Contents(calls).empty()) << calls;
  EXPECT_EQ(Contents(calls)[0],
            "Call on 2026-03-16: Ravi Menon moved to Economy 7 Variable and asked for a new "
            "direct debit amount.")
      << calls;
}

TEST_F(AnalysisMemory, LawOfficeHistoryReplaysToTheSameRows) {
  const std::string user = "law-client-3";
  Post(Call("law_call_1", user, {"My landlord kept my whole deposit."}, 1773068650,
            {Item("client_name", "Marisol Ortega", "Client's full name"),
             Item("matter_type", "Tenancy deposit dispute", "Type of legal matter"),
             Item("firm_name", "Ortega Holdings", "Name of the client's company"),
             Item("deposit_amount", 1850, "Amount in dispute, in dollars"),
             Item("conflict_check_passed", false, "Whether the conflict check passed")},
            "Marisol Ortega asked about recovering a $1,850 tenancy deposit."));
  Post(Call("law_call_2", user, {"The landlord answered our letter."}, 1773068650 + 86400,
            {Item("matter_type", "Tenancy deposit dispute", "Type of legal matter"),
             Item("conflict_check_passed", true, "Whether the conflict check passed")},
            "Marisol Ortega reported the landlord's reply; the conflict check has passed."));

  auto db = testing::OpenDb(engram_.db_path());
  // The client's full name names her; the company's name does not.
  EXPECT_EQ(QueryColumn(*db, "SELECT name FROM users WHERE id = '" + user + "'"),
            std::vector<std::string>{"Marisol Ortega"});
  EXPECT_EQ(QueryColumn(*db,
                        "SELECT content FROM memories WHERE subject LIKE "
                        "'dc:conflict_check_passed=%' AND valid_to IS NULL"),
            std::vector<std::string>{"Whether the conflict check passed: yes."});
  json answer = Recall(user, "how much is the deposit amount in dispute");
  ASSERT_FALSE(Contents(answer).empty()) << answer;
  EXPECT_EQ(Contents(answer)[0], "Amount in dispute, in dollars: 1850.") << answer;

  // The facts went through the log (memories_extracted), so a rebuild from
  // the log gives the same rows, and re-extracting gives the same memories.
  auto engine = testing::TestEngine(dir_ / "replay-cache.db");
  auto report = replay::RebuildAndVerify(*engram_.log, engram_.db_path(), dir_ / "verify.db",
                                         engine->Parts(nullptr));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->differences.empty()) << report->differences.front();
  auto inline_parts = engine->Parts(nullptr);
  inline_parts.extraction = projections::ExtractionMode::kInline;
  ASSERT_TRUE(
      replay::RebuildReadModel(*engram_.log, dir_ / "reextracted.db", 0, inline_parts).ok());
  const std::string memories =
      "SELECT id || '|' || content || '|' || coalesce(valid_to, '') || '|' || "
      "coalesce(superseded_by, '') || '|' || reinforcements FROM memories ORDER BY id";
  EXPECT_EQ(QueryColumn(*testing::OpenDb(dir_ / "reextracted.db"), memories),
            QueryColumn(*db, memories));
  int extracted_with_facts = 0;
  auto events = engram_.log->ReadAfter(0, 1000);
  ASSERT_TRUE(events.ok());
  for (const log::Event& e : *events) {
    if (e.type != "memories_extracted") continue;
    const json body = json::parse(e.body);
    for (const json& m : body["memories"]) {
      if (m["subject"] == "dc:matter_type") ++extracted_with_facts;
    }
  }
  EXPECT_EQ(extracted_with_facts, 2) << "recorded in each call's memories_extracted event";
}

// An extractor configured in place of the rules (as an LLM would be): the
// platform's facts come with whatever it proposes.
class FixedExtractor final : public memory::Extractor {
 public:
  std::string CacheIdentity() const override { return "fixed/1"; }
  Result<std::vector<memory::ExtractedMemory>> Extract(const memory::ExtractionInput&) override {
    memory::ExtractedMemory m;
    m.content = "The caller prefers morning appointments.";
    m.sectors = {m.primary};
    return std::vector<memory::ExtractedMemory>{m};
  }
};

EngramInstance::Options WithFixedExtractor() {
  EngramInstance::Options o;
  o.make_engine = [](const std::string& data_dir) {
    auto engine = testing::TestEngine(data_dir + "/cache.db");
    engine->extractor = std::make_unique<FixedExtractor>();
    return engine;
  };
  return o;
}

class AnalysisMemoryOtherExtractor : public AnalysisMemory {
 protected:
  AnalysisMemoryOtherExtractor() : AnalysisMemory(WithFixedExtractor()) {}
};

TEST_F(AnalysisMemoryOtherExtractor, GetsThePlatformFactsToo) {
  Post(Call("vet_call_9", "vet-owner-9", {"Hello."}, 1773068650, kVetItems, "A short call."));
  const std::vector<std::string> current = Current("vet-owner-9", /*all=*/true);
  EXPECT_EQ(current.size(), 8u);  // the extractor's and the platform's ("Hello." says nothing)
  EXPECT_NE(std::find(current.begin(), current.end(), "The caller prefers morning appointments."),
            current.end());
  EXPECT_NE(std::find(current.begin(), current.end(), "Name of the pet: Biscuit."), current.end());
  EXPECT_NE(std::find(current.begin(), current.end(), "Call on 2026-03-09: A short call."),
            current.end());
}

}  // namespace
}  // namespace engram

namespace engram {
namespace {

// A log written before the analysis memories existed: its memories_extracted
// event holds the extractor's memories only. A plain replay applies exactly
// that (so --verify stays equal); --re-extract learns the platform's facts.
TEST(AnalysisMemoryOldLog, PlainReplayKeepsWhatWasLoggedReExtractionAddsTheFacts) {
  TempDir dir;
  log::RocksDbEventLogOptions options;
  options.path = dir / "log";
  auto opened = log::RocksDbEventLog::Open(options, SystemClock::Instance());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& event_log = **opened;
  log::NewEvent transcript;
  transcript.type = "post_call_transcription";
  transcript.route = "/webhook/post-call";
  transcript.body =
      Call("old_call_1", "vet-owner-old", {"Hello."}, 1773068650, kVetItems, "An old call.").dump();
  auto appended = event_log.Append(transcript);
  ASSERT_TRUE(appended.ok());
  const log::Seq seq = appended->seq;
  log::NewEvent outcome;  // as the extraction workers logged it then
  outcome.type = projections::kMemoriesExtractedType;
  outcome.route = projections::kInternalRoute;
  outcome.idempotency_key = projections::ExtractionOutcomeKey(seq, 1);
  outcome.body = json({{"source_seq", seq},
                       {"prior_attempts", 1},
                       {"attempts", 1},
                       {"extractor", "rules/rules-v1"},
                       {"conversation_id", "old_call_1"},
                       {"user_id", "vet-owner-old"},
                       {"caller_name", ""},
                       {"call_time", int64_t{1773068650} * 1000},
                       {"memories", json::array()}})
                     .dump();
  ASSERT_TRUE(event_log.Append(outcome).ok());

  auto engine = testing::TestEngine(dir / "cache.db");
  ASSERT_TRUE(
      replay::RebuildReadModel(event_log, dir / "plain.db", 0, engine->Parts(nullptr)).ok());
  auto plain = testing::OpenDb(dir / "plain.db");
  EXPECT_EQ(QueryInt(*plain, "SELECT count(*) FROM memories"), 0);
  EXPECT_EQ(
      QueryColumn(*plain, "SELECT status FROM webhook_events WHERE seq = " + std::to_string(seq)),
      std::vector<std::string>{"done"});

  auto inline_parts = engine->Parts(nullptr);
  inline_parts.extraction = projections::ExtractionMode::kInline;
  ASSERT_TRUE(replay::RebuildReadModel(event_log, dir / "reextracted.db", 0, inline_parts).ok());
  auto reextracted = testing::OpenDb(dir / "reextracted.db");
  EXPECT_EQ(QueryInt(*reextracted, "SELECT count(*) FROM memories WHERE subject LIKE 'dc:%'"), 6);
  EXPECT_EQ(QueryColumn(*reextracted, "SELECT content FROM memories WHERE subject LIKE 'call:%'"),
            std::vector<std::string>{"Call on 2026-03-09: An old call."});
}

}  // namespace
}  // namespace engram
