// engram-loadgen --mode calls: phrase banks, personas, call bodies and the
// calls' start times. Sentence shapes follow what the rule extractor keeps.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "bench_common.h"
#include "loadgen_calls.h"

namespace engram::tools {
namespace {

using nlohmann::ordered_json;

// Phrase banks for callers' statements. Sentence shapes follow what the rule
// extractor keeps (see tools/bench_memory_banks.h for the long version); a few
// dozen entries per bank keep calls from repeating each other.
constexpr std::string_view kFirstNames[] = {
    "Maria", "Tom",   "Aisha", "Kenji", "Lucia", "Omar",  "Sven",   "Grace",  "Diego", "Fatima",
    "Liam",  "Mei",   "Noah",  "Zara",  "Ravi",  "Elena", "Marcus", "Ines",   "Jonah", "Hana",
    "Felix", "Nadia", "Oscar", "Yuki",  "Bruno", "Leila", "Caleb",  "Ingrid", "Mateo", "Sofia"};
constexpr std::string_view kLastNames[] = {"Okafor", "Lindqvist", "Moreau", "Tanaka",  "Brennan",
                                           "Haddad", "Kowalski",  "Reyes",  "Fischer", "Patel",
                                           "Nguyen", "Oduya",     "Larsen"};
constexpr std::string_view kCompanies[] = {
    "Harbor Freight Logistics", "Bluebird Dental",   "Northwind Bakery",  "Crestline Realty",
    "Pinecone Outfitters",      "Riverside Clinic",  "Atlas Movers",      "Copperleaf Catering",
    "Summit Roofing",           "Lakeside Vet",      "Brightpath Tutors", "Meridian Wines",
    "Ironwood Fitness",         "Greenway Florists", "Keystone Plumbing", "Saltmarsh Brewery"};
constexpr std::string_view kCities[] = {"Austin",  "Denver",    "Leeds",   "Rotterdam", "Lyon",
                                        "Toronto", "Phoenix",   "Dublin",  "Melbourne", "Porto",
                                        "Calgary", "Nashville", "Glasgow", "Tucson",    "Hamburg",
                                        "Osaka",   "Raleigh",   "Boise",   "Cork",      "Valencia"};
// Most callers keep their CRM; now and then one switches (a supersession).
constexpr std::string_view kCrms[] = {"HubSpot",    "Salesforce", "Pipedrive", "Zoho",
                                      "Freshsales", "Attio",      "Insightly", "Keap"};
constexpr std::string_view kTools[] = {
    "Xero",   "QuickBooks", "Shopify",  "Slack",    "Excel",   "Airtable",    "Notion",
    "Trello", "Asana",      "Jira",     "Stripe",   "Square",  "Gusto",       "Dropbox",
    "Zapier", "Calendly",   "DocuSign", "Intercom", "Outlook", "Google Drive"};
constexpr std::string_view kDocs[] = {"the pipeline report",
                                      "the payroll sheet",
                                      "the overdue invoice list",
                                      "the shipping manifests",
                                      "the inventory counts",
                                      "the refund requests",
                                      "the support backlog",
                                      "the purchase orders",
                                      "the timesheets",
                                      "the contract renewals",
                                      "the vendor bills",
                                      "the expense receipts",
                                      "the delivery routes",
                                      "the appointment schedule",
                                      "the staff rota",
                                      "the price list",
                                      "the quarterly tax filings",
                                      "the booking calendar",
                                      "the supplier quotes",
                                      "the warranty claims",
                                      "the returns log",
                                      "the loyalty card balances",
                                      "the tenant repair requests",
                                      "the event guest list"};
constexpr std::string_view kGroups[] = {
    "the finance team", "our dispatchers",    "the warehouse crew", "our bookkeepers",
    "the night shift",  "the sales reps",     "the front desk",     "our field technicians",
    "the billing team", "our store managers", "the kitchen staff",  "our delivery drivers"};
constexpr std::string_view kProblems[] = {"the sync creates duplicate contacts",
                                          "the export drops the last column",
                                          "the mobile app logs us out every hour",
                                          "invoices show the wrong tax rate",
                                          "the dashboard takes forever to load",
                                          "large attachments fail to upload",
                                          "the calendar shows double bookings",
                                          "the webhooks time out",
                                          "reminder emails go out twice",
                                          "the barcode scanner stops pairing",
                                          "time zones shift appointments by an hour",
                                          "PDF exports come out blank",
                                          "notifications arrive hours late",
                                          "merged records lose their notes",
                                          "discount codes apply twice",
                                          "phone numbers lose their country code",
                                          "recurring invoices skip February",
                                          "the stock levels go negative",
                                          "refunds post to the wrong bank account",
                                          "the CSV import swaps day and month"};
constexpr std::string_view kPast[] = {
    "since the March update",        "since we opened the second site",
    "ever since the new firmware",   "since the daylight saving change",
    "after the power cut last week", "since the migration",
    "since the Christmas rush",      "after the router was replaced",
    "since the spring sale"};
constexpr std::string_view kFuture[] = {"by Friday",
                                        "before the end of the quarter",
                                        "before our lease renewal",
                                        "before the auditors arrive",
                                        "by the end of next month",
                                        "before the new hires start",
                                        "ahead of Black Friday",
                                        "before the board meeting on the 14th",
                                        "by the first week of June"};
constexpr std::string_view kPlans[] = {
    "open a new warehouse",           "hire three more drivers",         "run the annual stocktake",
    "launch the spring catalogue",    "close the books for the quarter", "renew our contract",
    "start a pilot with five stores", "add a second delivery van",       "open on Sundays",
    "bring payroll in house"};
constexpr std::string_view kBadFeelings[] = {"frustrated", "worried",      "annoyed",
                                             "stressed",   "disappointed", "anxious"};
constexpr std::string_view kDays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"};
constexpr std::string_view kVerbs[] = {"export", "reconcile", "review", "upload", "audit",
                                       "print",  "merge",     "check",  "update", "scan"};
constexpr std::string_view kReasons[] = {
    "the auditors asked for it",    "our insurance requires it",
    "the drivers get paid from it", "we got fined for missing it last year",
    "the busy season starts soon",  "half the team is new",
    "our biggest client audits us", "the owner reads it on Sunday nights"};

// {bank} placeholders in the statements below.
struct CallBank {
  std::string_view name;
  std::span<const std::string_view> words;
};
constexpr CallBank kCallBanks[] = {
    {"tool", kTools}, {"doc", kDocs},      {"group", kGroups},   {"problem", kProblems},
    {"past", kPast},  {"future", kFuture}, {"plan", kPlans},     {"bad", kBadFeelings},
    {"day", kDays},   {"verb", kVerbs},    {"reason", kReasons}, {"city", kCities}};

constexpr std::string_view kStatements[] = {
    "Every {day} I {verb} {doc} with {group}, because {reason}.",
    "Our routine is to {verb} {doc} every {day} before {group} start.",
    "Every month we {verb} {doc} into {tool} so {group} can plan ahead.",
    "Honestly, I'm {bad} because {problem} {past}, and {group} are fed up too.",
    "My team is {bad} that {problem} whenever {group} open {doc}.",
    "We plan to {plan} {future}, and {group} will need {doc} by then.",
    "I need {doc} fixed {future}, because {reason}.",
    "Next week we're going to {plan}, so {tool} has to work for {group}.",
    "We use {tool} for {doc} and {group} check it every {day}.",
    "I'm based in {city} and look after {doc} for {group}.",
    "The problem is that {problem} whenever {group} try to {verb} {doc}.",
    "We also have an issue where {problem} {past}, so {group} {verb} {doc} by hand.",
    "There's an error when we {verb} {doc} from {tool}, and {problem} {past}.",
    "I think the trouble started when we connected {tool} {past}, because {problem}.",
    "Could someone check whether {doc} can be imported into {tool} {future}?"};

constexpr std::string_view kCallAgentLines[] = {"I understand.",
                                                "Thanks for explaining that.",
                                                "Could you tell me a bit more about that?",
                                                "Let me look into that for you.",
                                                "How long has that been going on?",
                                                "Got it, thank you.",
                                                "I'm sorry to hear that.",
                                                "Okay, I'm writing that down."};

// What an agent's LLM asks the memory tool during a call.
constexpr std::string_view kQuestions[] = {"what CRM do they use",
                                           "what problems are they having",
                                           "how does the caller feel about the service",
                                           "what do they do every Monday",
                                           "when is their next deadline",
                                           "what did we promise to send them",
                                           "how do they prefer to be contacted",
                                           "what are they planning next month",
                                           "which reports do they export",
                                           "what went wrong after the last update",
                                           "which tools do they use",
                                           "why are they frustrated",
                                           "where are they based",
                                           "what happened with the duplicate contacts"};

// Hourly share of a support line's calls (local time, 0h..23h): quiet
// nights, a morning peak around 10h and an afternoon one around 14h.
constexpr double kHourWeights[24] = {0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 4.0, 7.0, 8.0, 7.0,
                                     5.0, 6.0, 7.0, 6.0, 5.0, 3.0, 2.0, 1.5, 1.0, 0.7, 0.4, 0.3};
// Share of a day's calls that follow another call within kClusterSecs (a
// dropped call rung back, colleagues hit by the same outage).
constexpr double kClusteredShare = 0.3;
constexpr double kClusterSecs = 600;

template <typename Bank>
std::string_view PickFrom(const Bank& bank, std::mt19937_64& rng) {
  return bank[rng() % std::size(bank)];
}

// Replaces each {bank} in `tmpl` with a pick from that bank.
std::string FillStatement(std::string_view tmpl, std::mt19937_64& rng) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    const size_t open = tmpl.find('{', i);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    const size_t close = tmpl.find('}', open);
    out.append(tmpl.substr(i, open - i));
    const std::string_view name = tmpl.substr(open + 1, close - open - 1);
    bool found = false;
    for (const CallBank& b : kCallBanks) {
      if (b.name != name) continue;
      out.append(b.words[rng() % b.words.size()]);
      found = true;
      break;
    }
    if (!found) out.append(tmpl.substr(open, close - open + 1));  // a typo stays visible
    i = close + 1;
  }
  return out;
}

}  // namespace

Persona PersonaFor(int caller) {
  const size_t c = static_cast<size_t>(caller);
  Persona p;
  p.phone = Format("+1512555%04d", caller);
  p.first_name = kFirstNames[c % std::size(kFirstNames)];
  p.name = p.first_name;
  p.name.append(" ").append(kLastNames[(c / std::size(kFirstNames) + c) % std::size(kLastNames)]);
  p.company = kCompanies[c % std::size(kCompanies)];
  p.city = kCities[(c * 7) % std::size(kCities)];
  p.crm = kCrms[(c * 3) % std::size(kCrms)];
  p.prefers_email = c % 3 != 0;
  return p;
}

std::string BuildCallBody(const CallState& call, const Persona& who, int turns, int64_t now_secs) {
  std::mt19937_64 rng(call.seed ^ 0x5bd1e9955bd1e995ull);
  ordered_json transcript = ordered_json::array();
  int time_in_call = 0;
  auto add = [&](bool agent, const std::string& message) {
    transcript.push_back(TranscriptTurn(agent, kCallsAgentId, message, time_in_call));
    time_in_call += 3 + static_cast<int>(rng() % 15);
  };
  add(true, "Thank you for calling Tandem Desk support, this is Sage. How can I help you today?");
  add(false, Format("Hi, this is %s from %s in %s.", who.name.c_str(), who.company.c_str(),
                    who.city.c_str()));
  // One call in twenty reports a switch of CRM: learning must supersede.
  std::string crm = who.crm;
  if (rng() % 20 == 0) {
    crm = std::string(PickFrom(kCrms, rng));
    add(true, "Thanks. What can I help you with?");
    add(false,
        Format("We switched to %s last month, so %s is our CRM now.", crm.c_str(), crm.c_str()));
  } else {
    add(true, "Thanks. Which CRM are you connecting to Tandem?");
    add(false, Format("We use %s for sales, and Tandem for support.", crm.c_str()));
  }
  const int exchanges = std::max(1, (turns - 6) / 2);
  const int preference_at = static_cast<int>(rng() % static_cast<uint64_t>(exchanges));
  for (int e = 0; e < exchanges; ++e) {
    add(true, std::string(PickFrom(kCallAgentLines, rng)));
    if (e == preference_at) {
      add(false, who.prefers_email ? "Email updates, please, I'd like a written record."
                                   : "Please call me back, I prefer a call to email.");
      continue;
    }
    std::string message = FillStatement(PickFrom(kStatements, rng), rng);
    if (rng() % 3 == 0) message.append(" ").append(FillStatement(PickFrom(kStatements, rng), rng));
    add(false, message);
  }
  add(true, "I've noted all of that and opened a ticket. Is there anything else?");
  add(false, "No, that's everything. Thanks, bye.");

  const std::string problem(PickFrom(kProblems, rng));
  ordered_json doc = PostCallEnvelope(kCallsAgentId, call.conversation_id, call.user_id, now_secs);
  ordered_json& data = doc["data"];
  if (call.user_id.empty()) data["user_id"] = nullptr;  // init failed: resolved by number
  data["transcript"] = std::move(transcript);
  data["metadata"] = {{"start_time_unix_secs", call.start_unix},
                      {"accepted_time_unix_secs", call.start_unix},
                      {"call_duration_secs", time_in_call},
                      {"cost", 700 + static_cast<int>(rng() % 400)},
                      {"authorization_method", "public"},
                      {"phone_call",
                       {{"type", "twilio"},
                        {"direction", "inbound"},
                        {"phone_number_id", "phnum_2201k6yq5a7tnm3x9cp0dw4rbe8h"},
                        {"agent_number", kAgentNumber},
                        {"external_number", who.phone},
                        {"call_sid", call.call_sid}}},
                      {"termination_reason", "Call ended by remote party"},
                      {"error", nullptr},
                      {"warnings", ordered_json::array()},
                      {"main_language", "en"},
                      {"text_only", false}};
  data["analysis"] = {
      {"evaluation_criteria_results", ordered_json::object()},
      {"data_collection_results",
       {{"customer_name",
         {{"data_collection_id", "customer_name"},
          {"value", who.name},
          {"rationale", "The caller introduced themselves."}}}}},
      {"call_successful", "success"},
      {"transcript_summary", Format("%s from %s called because %s.", who.name.c_str(),
                                    who.company.c_str(), problem.c_str())},
      {"call_summary_title", Format("Support call: %s", problem.c_str())}};
  ordered_json vars = {{"system__agent_id", kCallsAgentId},
                       {"system__caller_id", who.phone},
                       {"system__called_number", kAgentNumber},
                       {"system__call_sid", call.call_sid},
                       {"system__conversation_id", call.conversation_id}};
  if (!call.user_id.empty()) vars["user_id"] = call.user_id;
  data["conversation_initiation_client_data"] = {{"dynamic_variables", vars}};
  if (!call.user_id.empty()) data["conversation_initiation_client_data"]["user_id"] = call.user_id;
  return doc.dump();
}

std::vector<PlannedCall> PlanCalls(const Flags& flags) {
  std::mt19937_64 rng(flags.seed);
  std::vector<double> starts;
  if (flags.calls_per_sec > 0) {
    uint64_t n = flags.calls;
    if (flags.duration_secs > 0) {
      const auto by_time = static_cast<uint64_t>(flags.calls_per_sec * flags.duration_secs);
      n = n == 0 ? by_time : std::min(n, by_time);
    }
    std::exponential_distribution<double> gap(flags.calls_per_sec);
    double t = 0;
    for (uint64_t i = 0; i < n; ++i) {
      starts.push_back(flags.poisson ? t : static_cast<double>(i) / flags.calls_per_sec);
      t += gap(rng);
    }
  }
  for (uint64_t i = 0; i < flags.burst_calls; ++i) {
    starts.push_back(flags.burst_at + flags.burst_secs * static_cast<double>(i) /
                                          static_cast<double>(flags.burst_calls));
  }
  if (flags.day_calls > 0) {
    std::discrete_distribution<int> hour(std::begin(kHourWeights), std::end(kHourWeights));
    std::uniform_real_distribution<double> unit(0, 1);
    std::vector<double> day;  // seconds since midnight, real time
    for (uint64_t i = 0; i < flags.day_calls; ++i) {
      if (!day.empty() && unit(rng) < kClusteredShare) {
        day.push_back(std::min(86399.0, day[rng() % day.size()] + unit(rng) * kClusterSecs));
      } else {
        day.push_back(hour(rng) * 3600.0 + unit(rng) * 3600.0);
      }
    }
    // The day starts with its first call: the quiet night before it is not
    // waited through.
    const double first = *std::min_element(day.begin(), day.end());
    for (double t : day) starts.push_back((t - first) / flags.day_compression);
  }
  std::sort(starts.begin(), starts.end());
  std::vector<PlannedCall> plan;
  for (double s : starts) {
    plan.push_back({s, static_cast<int>(rng() % static_cast<uint64_t>(flags.callers))});
  }
  return plan;
}

std::string_view RandomQuestion(std::mt19937_64& rng) { return PickFrom(kQuestions, rng); }

}  // namespace engram::tools
