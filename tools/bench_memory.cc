// engram-bench-memory: measures the memory engine of a running `engram serve`
// over HTTP, for one caller whose memory grows to each size in --sizes
// (default 1k, 10k, 100k current memories):
//   (a) the memory tool, POST /tools/memory-query: p50/p95/p99/max latency of
//       realistic questions about that caller (issue goal: p95 < 5 ms at 10k);
//   (b) the init webhook, POST /webhook/conversation-init, for that known
//       caller: p50/p95/p99 (goal: p95 < 5 ms);
//   (c) learning: how long the projector takes from a signed post-call
//       webhook's acknowledgement until its memories are applied, per call,
//       and how many calls/s the server ingests *and* projects.
//
// Why: both the tool and the init webhook sit on a live phone call: the
// agent waits for them with the caller listening, so their tail latency is
// what the caller hears, and it must not grow with how much Engram knows
// about the caller. Learning is off the call's path, but it must keep up
// with the calls that arrive; its cost per call as a user's memory grows
// says how far that holds.
//
// How:
//  - The caller's memory is grown the way production grows it: signed
//    post_call_transcription webhooks (~20-turn support calls) for one user
//    (data.user_id, metadata.phone_call.external_number = the caller's
//    number). Caller sentences are drawn from word banks with a fixed seed
//    (--seed): routines, feelings, plans with dates, tools, problems,
//    requests, in the shapes the rule extractor keeps, varied enough that a
//    call yields ~20 new memories rather than restating old ones. The same
//    seed gives the same calls, so runs are comparable.
//  - The memory count is read, never assumed: `SELECT count(*) FROM memories
//    WHERE user_id = ? AND valid_to IS NULL` on DATA_DIR/engram.db, opened
//    read-only through SqliteDb (SQLite's WAL lets a reader share the file
//    with the server). Tools otherwise stay out of the read model; this
//    count is the one figure the HTTP routes do not expose.
//  - Bulk ingestion keeps at most --ingest-window calls acknowledged but not
//    yet projected, so the projector is always busy but the backlog, and the
//    time to drain it at the deadline, stays bounded. Its rate (calls/s from
//    the first send until /healthz "applied" covers the last call) is the
//    server's learning throughput at that size. --ingest-budget-secs bounds
//    all bulk ingestion; a size it cannot reach is measured where ingestion
//    stopped, and the report says so.
//  - The last --extraction-samples calls of each size are sent one at a
//    time on an idle server: acknowledgement, then GET /healthz until
//    "applied" >= the returned seq. Polling backs off with the elapsed time
//    (every 0.1 ms at first, at most every 1 ms, about 5% of the elapsed
//    time), so the poll resolution stays small compared with what it
//    measures and polls do not steal much CPU from the projector.
//  - Tool and init latency: --connections keep-alive connections in a closed
//    loop (each sends when its previous answer arrived), --query-warmup /
//    --init-warmup requests excluded, then --queries / --inits measured
//    requests (30 fixed questions in turn; a fresh call_sid per init), --runs times per
//    size on an idle server (projector caught up); the report gives each run
//    and the median of each percentile across runs. Every request must
//    answer 200; tool answers with no memories and init answers that do not
//    know the caller are counted as errors too.
//  - Only loopback targets are accepted: this tool writes to the server.
//
// Exit status: 0 when every request got the expected answer, 1 otherwise,
// 2 on bad arguments or when the server or its read model cannot be reached.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <latch>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "common/status.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "projections/sqlite_db.h"

namespace engram::tools {
namespace {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;
using nlohmann::json;
using nlohmann::ordered_json;

constexpr char kPostCallPath[] = "/webhook/post-call";
constexpr char kToolPath[] = "/tools/memory-query";
constexpr char kInitPath[] = "/webhook/conversation-init";
constexpr char kAgentId[] = "agent_7401kbench0memory0tandem0sup";
constexpr char kAgentNumber[] = "+17375550100";
constexpr char kCallerNumber[] = "+15125550199";
constexpr char kCallerName[] = "Dana Whitfield";
// The "limit" of each memory-tool request: what the agent's tool config sends.
constexpr int kToolLimit = 5;
// Before any call has been projected, the memories per call assumed when
// deciding how many calls are still needed (the generator aims at ~20).
constexpr double kAssumedMemoriesPerCall = 20;
// Error messages kept for the report, so a failing run says why without
// flooding the terminal.
constexpr size_t kMaxErrorSamples = 5;
// Ingestion gives up after this many failed webhooks in a row: the server is
// refusing them, and sending more only hides the first error.
constexpr int kMaxConsecutiveIngestErrors = 5;
// How long the projector may take to drain a backlog or apply one call
// before the run is declared stuck. At 100k memories one call takes
// seconds; minutes means something is wrong.
constexpr auto kProjectionTimeout = std::chrono::seconds(300);
// Between ingestion progress points recorded for the report.
constexpr auto kTimelineStep = std::chrono::seconds(10);
// The calls' start times: a fixed origin (2026-01-05T09:00Z) and a fixed
// spacing, so content, ids and times are the same on every run.
constexpr int64_t kFirstCallUnixSecs = 1767603600;
constexpr int64_t kCallSpacingSecs = 4 * 3600;

struct Flags {
  std::string url = "http://127.0.0.1:18400";
  std::string data_dir;
  std::string webhook_secret;
  std::string tool_secret;
  std::vector<int64_t> sizes = {1000, 10000, 100000};
  std::string user_id = "bench_user_0001";
  int connections = 4;
  int runs = 3;
  uint64_t queries = 3000;
  uint64_t query_warmup = 300;
  uint64_t inits = 2000;
  uint64_t init_warmup = 200;
  int extraction_samples = 20;
  int ingest_window = 8;
  double ingest_budget_secs = 600;
  uint64_t seed = 20261124;
  int timeout_ms = 30000;
  bool json = false;
};

// printf into a std::string.
[[gnu::format(printf, 1, 2)]] std::string Format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, args);
  va_end(args);
  return out;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
int64_t Micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}
int64_t UnixSecondsNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------
// Target URL (the same rules as engram-loadgen).

// ---------------------------------------------------------------------------
// Transcripts.
//
// Word banks for caller sentences. They avoid what the rule extractor turns
// into slot facts (a name after "this is", "I'm the/a ... at", e-mail
// addresses, contact preferences, CRM product names), because a slot holds
// one current value per caller and so would not add memories; the one CRM
// statement per call is deliberate and realistic. They also avoid phrases
// that contain slot cues by accident ("text messages" holds "text me").
// Memories are new only when a sentence's embedding is not within cosine 0.9
// of a known one, so banks mix semantic fields (tools, documents, places,
// people, numbers) rather than near-synonyms.

using Bank = std::span<const std::string_view>;

constexpr std::string_view kDays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"};
constexpr std::string_view kDayparts[] = {"morning", "afternoon", "evening", "night"};
constexpr std::string_view kMonths[] = {"January",   "February", "March",    "April",
                                        "May",       "June",     "July",     "August",
                                        "September", "October",  "November", "December"};
constexpr std::string_view kPeople[] = {
    "Maria",     "Tom",   "Aisha",  "Kenji", "Lucia",  "Omar",  "Sven",  "Grace",  "Diego",
    "Fatima",    "Liam",  "Mei",    "Noah",  "Zara",   "Ravi",  "Elena", "Marcus", "Ines",
    "Jonah",     "Hana",  "Tobias", "Amara", "Felix",  "Nadia", "Oscar", "Yuki",   "Bruno",
    "Leila",     "Caleb", "Ingrid", "Mateo", "Sofia",  "Arjun", "Chloe", "Dmitri", "Esme",
    "Kwame",     "Rosa",  "Theo",   "Greta", "Hugo",   "Anika", "Pablo", "Wendy",  "Joel",
    "Priscilla", "Ahmed", "Bianca", "Colm",  "Dolores"};
constexpr std::string_view kCities[] = {
    "Austin",    "Denver",    "Leeds",   "Rotterdam", "Lyon",      "Toronto",  "Phoenix",
    "Dublin",    "Melbourne", "Porto",   "Calgary",   "Nashville", "Glasgow",  "Tucson",
    "Hamburg",   "Osaka",     "Raleigh", "Boise",     "Cork",      "Valencia", "Tampa",
    "Oslo",      "Brisbane",  "Halifax", "Bristol",   "Memphis",   "Krakow",   "Santiago",
    "Anchorage", "Winnipeg",  "Seville", "Antwerp",   "Auckland",  "Savannah", "Reno",
    "Bologna",   "Gdansk",    "Tulsa",   "Marseille", "Cardiff"};
constexpr std::string_view kTools[] = {
    "Xero",       "QuickBooks", "Shopify",     "Slack",        "Excel",
    "Airtable",   "Notion",     "Trello",      "Asana",        "Jira",
    "Mailchimp",  "Stripe",     "Square",      "Gusto",        "NetSuite",
    "Tableau",    "Looker",     "Dropbox",     "Outlook",      "Zapier",
    "Calendly",   "DocuSign",   "WooCommerce", "Intercom",     "Twilio",
    "FreshBooks", "Expensify",  "BambooHR",    "ShipStation",  "Klaviyo",
    "Typeform",   "Confluence", "Smartsheet",  "ClickUp",      "Toggl",
    "Brex",       "Loom",       "Canva",       "Figma",        "Deputy",
    "Harvest",    "Wix",        "Squarespace", "Etsy",         "PayPal",
    "Venmo",      "Amazon",     "eBay",        "Google Drive", "the Sage accounting package"};
// Documents and records the caller's business runs on: each carries its own
// vocabulary, which keeps sentences about different ones apart.
constexpr std::string_view kDocs[] = {"the pipeline report",
                                      "the payroll sheet",
                                      "the overdue invoice list",
                                      "the shipping manifests",
                                      "the inventory counts",
                                      "the refund requests",
                                      "the support backlog",
                                      "the wholesale customer list",
                                      "the purchase orders",
                                      "the timesheets",
                                      "the warehouse pick lists",
                                      "the lead scores",
                                      "the churn list",
                                      "the survey responses",
                                      "the contract renewals",
                                      "the vendor bills",
                                      "the expense receipts",
                                      "the delivery routes",
                                      "the appointment schedule",
                                      "the class rosters",
                                      "the menu costs",
                                      "the sales commission sheet",
                                      "the stock transfers",
                                      "the warranty claims",
                                      "the returns log",
                                      "the cash register tallies",
                                      "the grant applications",
                                      "the patient intake forms",
                                      "the maintenance tickets",
                                      "the staff rota",
                                      "the price list",
                                      "the quarterly tax filings",
                                      "the donor list",
                                      "the subscription cancellations",
                                      "the booking calendar",
                                      "the chargebacks",
                                      "the supplier quotes",
                                      "the fleet mileage log",
                                      "the safety training records",
                                      "the lab results",
                                      "the vaccine fridge temperature log",
                                      "the forklift inspection checklist",
                                      "the wine cellar inventory",
                                      "the tuition payment tracker",
                                      "the lumber order sheet",
                                      "the dental recall list",
                                      "the insurance certificates",
                                      "the customs declarations",
                                      "the loyalty card balances",
                                      "the gift voucher ledger",
                                      "the fuel card statements",
                                      "the tenant repair requests",
                                      "the event guest list",
                                      "the seed catalogue orders",
                                      "the bakery production plan",
                                      "the pallet tracking sheet",
                                      "the volunteer sign-up sheet",
                                      "the kennel occupancy chart",
                                      "the uniform size orders",
                                      "the solar panel install schedule",
                                      "the hotel room blocks",
                                      "the student exam grades",
                                      "the photo shoot bookings",
                                      "the boat mooring fees",
                                      "the allergy labels",
                                      "the bike repair queue",
                                      "the trade show leads",
                                      "the rental deposit refunds",
                                      "the florist delivery slots",
                                      "the pharmacy refill reminders"};
constexpr std::string_view kVerbs[] = {
    "export",  "reconcile", "review",   "upload",   "audit",       "print",     "merge",
    "archive", "back up",   "send out", "approve",  "sort",        "tag",       "triage",
    "check",   "download",  "update",   "compile",  "cross-check", "clean up",  "re-import",
    "split",   "forward",   "sign off", "total up", "scan",        "proofread", "file"};
constexpr std::string_view kGroups[] = {"the finance team",
                                        "our dispatchers",
                                        "the warehouse crew",
                                        "our bookkeepers",
                                        "the night shift",
                                        "our regional managers",
                                        "the sales reps",
                                        "the front desk",
                                        "our field technicians",
                                        "the payroll clerk",
                                        "the marketing interns",
                                        "our store managers",
                                        "the billing team",
                                        "the onboarding team",
                                        "our delivery drivers",
                                        "the accountants",
                                        "our nurses",
                                        "the kitchen staff",
                                        "the buyers",
                                        "the QA testers",
                                        "the grounds crew",
                                        "our lawyers",
                                        "the receptionists",
                                        "the lab technicians",
                                        "our franchise owners",
                                        "the event planners",
                                        "the tutors",
                                        "our installers",
                                        "the pharmacists",
                                        "the board of trustees",
                                        "our seasonal pickers",
                                        "the call center agents",
                                        "the landlords we rent from",
                                        "our investors",
                                        "the school principals",
                                        "the veterinary assistants"};
constexpr std::string_view kRoleNouns[] = {
    "drivers",    "agents",       "bookkeepers", "technicians", "nurses",   "buyers",
    "recruiters", "cashiers",     "planners",    "dispatchers", "tutors",   "chefs",
    "cleaners",   "electricians", "pharmacists", "coaches",     "baristas", "welders"};
constexpr std::string_view kBadFeelings[] = {"frustrated",   "worried", "annoyed", "stressed",
                                             "disappointed", "anxious", "upset",   "nervous",
                                             "furious",      "angry"};
constexpr std::string_view kGoodFeelings[] = {"relieved", "excited", "thrilled",
                                              "glad",     "happy",   "delighted"};
constexpr std::string_view kPurposes[] = {"payroll",
                                          "invoicing",
                                          "scheduling",
                                          "inventory",
                                          "shipping labels",
                                          "time tracking",
                                          "expense reports",
                                          "customer surveys",
                                          "contract signing",
                                          "team chat",
                                          "project tracking",
                                          "email campaigns",
                                          "online payments",
                                          "bookkeeping",
                                          "dashboards",
                                          "file sharing",
                                          "recruiting",
                                          "onboarding checklists",
                                          "appointment reminders",
                                          "live chat",
                                          "tip pooling",
                                          "route planning",
                                          "donation receipts",
                                          "menu printing",
                                          "patient reminders",
                                          "room bookings",
                                          "equipment rentals",
                                          "loyalty points",
                                          "wholesale orders",
                                          "course enrolment",
                                          "grant reporting",
                                          "fleet maintenance"};
// Where or for whom, as a caller says it.
constexpr std::string_view kWhere[] = {"for the downtown bakery",
                                       "at the harbour warehouse",
                                       "in the veterinary clinic",
                                       "at our ski rental shop",
                                       "for the {city} branch",
                                       "at the {city} depot",
                                       "in the back office",
                                       "for the wedding venue",
                                       "at the garden centre",
                                       "for the youth football league",
                                       "in the dental surgery",
                                       "at the airport kiosk",
                                       "for our food truck",
                                       "at the climbing gym",
                                       "in the print shop",
                                       "for the charity shop",
                                       "at the car wash",
                                       "for the summer camp",
                                       "in the recording studio",
                                       "at the farmers market stall",
                                       "for the yoga studio",
                                       "at the bike shop",
                                       "in the hotel laundry",
                                       "for the brewery taproom",
                                       "at the marina",
                                       "for the nursing home",
                                       "in the tattoo parlour",
                                       "at the bookshop cafe",
                                       "for the roofing crews",
                                       "at the cold storage unit",
                                       "in the {city} showroom",
                                       "for our online store",
                                       "at the pop-up in {city}",
                                       "for the language school",
                                       "at the pet grooming salon",
                                       "in the museum gift shop"};
// What the caller does next with a document.
constexpr std::string_view kActions[] = {"email it to our accountant",
                                         "pin a printout in the break room",
                                         "upload it to the county permit portal",
                                         "send a copy to {person} in {city}",
                                         "share it with the bank before the overdraft review",
                                         "post the totals in the staff group chat",
                                         "file it with the insurance broker",
                                         "hand it to the auditors on a memory stick",
                                         "check it against the delivery dockets",
                                         "compare it with last year's numbers",
                                         "fax it to the head office, believe it or not",
                                         "read the highlights out at the team huddle",
                                         "attach it to the board pack",
                                         "send the exceptions to the suppliers",
                                         "archive it in the fireproof cabinet",
                                         "update the whiteboard in the warehouse",
                                         "forward the summary to our franchise partners",
                                         "sign every page before it goes to the landlord",
                                         "copy the figures into the tax return",
                                         "send reminders to the parents who haven't paid",
                                         "ring the customers whose orders are late",
                                         "reorder anything that's below the threshold",
                                         "chase the clinics that still owe us money",
                                         "translate it for the Spanish-speaking crew",
                                         "print labels for the morning van run",
                                         "book the repairs with the landlord's contractor",
                                         "update the prices on the website",
                                         "flag anything suspicious to the fraud team",
                                         "send thank-you notes to the donors",
                                         "schedule the follow-up visits"};
constexpr std::string_view kProblems[] = {"the sync creates duplicate contacts",
                                          "the export drops the last column",
                                          "the mobile app logs us out every hour",
                                          "invoices show the wrong tax rate",
                                          "the dashboard takes forever to load",
                                          "large attachments fail to upload",
                                          "the calendar shows double bookings",
                                          "the webhooks time out",
                                          "search misses archived tickets",
                                          "totals get rounded to whole dollars",
                                          "reminder emails go out twice",
                                          "the barcode scanner stops pairing",
                                          "time zones shift appointments by an hour",
                                          "tags disappear after a bulk edit",
                                          "the login page rejects valid passwords",
                                          "PDF exports come out blank",
                                          "notifications arrive hours late",
                                          "merged records lose their notes",
                                          "discount codes apply twice",
                                          "the API returns random server errors",
                                          "the importer chokes on accented names",
                                          "the map view shows the wrong depot",
                                          "phone numbers lose their country code",
                                          "the report filters reset on refresh",
                                          "recurring invoices skip February",
                                          "signatures don't save on tablets",
                                          "the stock levels go negative",
                                          "reminders never reach Canadian numbers",
                                          "custom fields vanish in the export",
                                          "the audit log is missing entries",
                                          "the printer queue jams on long labels",
                                          "currency conversion uses last week's rates",
                                          "the receipt printer cuts off the logo",
                                          "refunds post to the wrong bank account",
                                          "the weekly digest is sent at midnight",
                                          "holiday pay is calculated on the old rate",
                                          "the search bar ignores postcodes",
                                          "photos upload sideways from iPhones",
                                          "shared inboxes show other people's drafts",
                                          "the kiosk freezes when the wifi drops",
                                          "partial deliveries are marked as complete",
                                          "the booking widget double charges deposits",
                                          "archived customers reappear after a restore",
                                          "the CSV import swaps day and month",
                                          "voicemails are transcribed in the wrong language",
                                          "the offline mode loses anything typed in the field",
                                          "overtime is rounded down to the quarter hour",
                                          "the loyalty balance resets after every visit",
                                          "gift cards show a zero balance at the till",
                                          "the dark mode makes the invoices unreadable"};
constexpr std::string_view kReasons[] = {"the auditors asked for it",
                                         "our insurance requires it",
                                         "the landlord charges late fees",
                                         "the health inspector checks it every quarter",
                                         "our bank covenant depends on it",
                                         "the franchise agreement says so",
                                         "the drivers get paid from it",
                                         "the school district reimburses us from it",
                                         "we got fined for missing it last year",
                                         "the grant money is tied to it",
                                         "the busy season starts soon",
                                         "half the team is new",
                                         "our biggest client audits us",
                                         "the owner reads it on Sunday nights",
                                         "the pension provider needs the numbers",
                                         "customs holds the containers otherwise",
                                         "the tips are shared out from it",
                                         "the council licence renewal depends on it",
                                         "we promised the investors a monthly update",
                                         "the union agreement requires it"};
constexpr std::string_view kPastTimes[] = {"since the {month} update",
                                           "since we opened the {city} site",
                                           "ever since the new firmware",
                                           "after we added a second warehouse",
                                           "since the daylight saving change",
                                           "since your price change in {month}",
                                           "after the power cut last week",
                                           "since we moved to the bigger plan",
                                           "ever since {person} left the company",
                                           "since the migration in {month}",
                                           "after the office moved across town",
                                           "since the Christmas rush",
                                           "ever since we switched internet providers",
                                           "since the audit in {month}",
                                           "after the storm took out our server room",
                                           "since the new tablets arrived",
                                           "ever since the bank changed its file format",
                                           "since the spring sale",
                                           "since we hired the temps in {month}",
                                           "after the router was replaced",
                                           "since the warehouse went to two shifts",
                                           "ever since the accountant retired",
                                           "since the clinic started opening on Saturdays",
                                           "after the flood in the basement",
                                           "since we added card payments at the door"};
constexpr std::string_view kFutureTimes[] = {"on {month} {date}",
                                             "before the Easter rush",
                                             "by the end of the quarter",
                                             "before our lease renewal",
                                             "by {day}",
                                             "before the school holidays",
                                             "ahead of the trade show in {city}",
                                             "before {month} {date}",
                                             "in time for the summer menu",
                                             "before the auditors arrive",
                                             "by the end of {month}",
                                             "before the new hires start",
                                             "ahead of Black Friday",
                                             "before the harvest",
                                             "before the board meeting on {month} {date}",
                                             "before the inspection on {month} {date}",
                                             "before the fiscal year closes",
                                             "by the first week of {month}",
                                             "before the festival weekend",
                                             "ahead of the price rise",
                                             "before the new school term",
                                             "by the time the container lands",
                                             "before the insurance renewal in {month}",
                                             "ahead of the grand opening in {city}",
                                             "before peak wedding season"};
constexpr std::string_view kPlans[] = {"migrate our users to {tool}",
                                       "open a new warehouse in {city}",
                                       "hire {n} more {role}",
                                       "roll out {tool} to the {city} office",
                                       "run the annual stocktake",
                                       "launch the spring catalogue",
                                       "close the books for the quarter",
                                       "renew our contract for another year",
                                       "train the new {role} on {tool}",
                                       "move the {city} team onto the business plan",
                                       "start a pilot with {n} stores",
                                       "switch {purpose} over to {tool}",
                                       "retire the old {tool} account",
                                       "merge the {city} and {city2} branches",
                                       "add a second delivery van",
                                       "open on Sundays",
                                       "refit the kitchen",
                                       "move the server into the cloud",
                                       "start a loyalty scheme",
                                       "sell the old forklift",
                                       "bring payroll in house",
                                       "expand the clinic to a second floor"};

// Caller sentences, by what the extractor makes of them. {bank} picks from a
// bank; {bank2} a second pick that differs from the first; a capital letter
// ({Group}) capitalises the pick; {n}, {hour} and {date} are numbers. Each
// has at least four slots from the large phrase banks (documents, places,
// actions, problems, reasons, times, groups, purposes, plans): names, tools
// and numbers hardly move a sentence's embedding, so they cannot be what
// keeps two sentences apart.
constexpr std::string_view kSentences[] = {
    // Routines (procedural).
    "Every {day} {daypart} I {verb} {doc} {where} and {action}, because {reason}.",
    "Each morning I {verb} {doc} with {group} {where}, then {action}.",
    "Our routine is to {verb} {doc} every {day} {where}, then {action} before {group} start.",
    "Every month we {verb} {doc} into {tool} so {group} can plan {purpose} {where}.",
    "I usually {verb} {doc} by hand {where}, because {reason} and {problem}.",
    "First I {verb} {doc}, then {group} check it against {doc2} {where}.",
    // Feelings (emotional).
    "Honestly, I'm {bad} because {problem} {past}, and {group} {where} are fed up too.",
    "I'm really {bad} about {doc}, because {problem} and {group} spent all weekend fixing it "
    "{where}.",
    "My team is {bad} that {problem} whenever {group} {where} open {doc}.",
    "We were {good} when {tool} finally handled {purpose} for {group} {where}, because {reason}.",
    "I'm so fed up, {problem} {past} and {group} {where} keep asking me why.",
    // Plans and dates (episodic).
    "We plan to {plan} {future}, and {group} will need {doc} {where} by then.",
    "I need {doc} fixed {future}, because {reason} and {problem}.",
    "Next week we're going to {plan}, so {tool} has to handle {purpose} for {group} {where}.",
    "Last month we moved {purpose} {where} from {tool} to {tool2}, and now {problem} for {group}.",
    "{Person} called you about {doc} {where} {past} and never heard back, even though {reason}.",
    "We scheduled a review of {doc} with {group} {future}, because {problem}.",
    "Yesterday {person} tried to {verb} {doc} {where} for {group}, but {problem}.",
    // Facts (semantic).
    "We use {tool} for {purpose} {where}, and {tool2} for {purpose2} with {group}.",
    "We have {n} {role} {where} who log into {tool} for {purpose}, and {group} {verb} {doc} "
    "every {day}.",
    "I'm based in {city} and look after {purpose} and {doc} for {group} {where}.",
    "{Group} {where} prefer {tool} for {purpose} because {reason}.",
    // Problems.
    "The problem is that {problem} whenever {group} {where} try to {verb} {doc}.",
    "We also have an issue where {problem} {past}, so {group} {verb} {doc} by hand.",
    "Another problem is that {problem} for {group} {where}, {past}.",
    "It's broken for {group} {where}: {problem} every time they open {doc}.",
    "There's an error when we {verb} {doc} from {tool} {where}, and {problem} {past}.",
    // Reflections and requests.
    "I think the trouble started when we connected {tool} {past}, because {problem} for {group} "
    "{where}.",
    "I feel like {group} {where} stopped trusting {doc} {past}, because {problem}.",
    "I believe {person} set up the {tool} connection {past} for {purpose} with {group} {where}, "
    "so they know the details.",
    "Could someone check whether {doc} {where} can be imported into {tool} {future}, because "
    "{reason}?",
    "I'd like a refund for the duplicate charges on {doc} {where} {past}, because {problem}.",
    "We need {tool} to handle {purpose} for {group} {where} {future}."};

// User turns that carry nothing to remember.
constexpr std::string_view kFillers[] = {
    "Okay.",         "Sure.", "Right, got it.",   "Yes, that's right.", "Hang on a second.",
    "Mm-hm, go on.", "Yeah.", "That makes sense."};

constexpr std::string_view kAgentLines[] = {"I understand.",
                                            "Thanks for explaining that.",
                                            "Could you tell me a bit more about that?",
                                            "Let me look into that for you.",
                                            "How long has that been going on?",
                                            "Is anything else affecting your team?",
                                            "Got it, thank you.",
                                            "That makes sense, go on.",
                                            "I'm sorry to hear that.",
                                            "Okay, I'm writing that down.",
                                            "And how is that affecting your week?",
                                            "Right. What happens next in that process?"};

// The CRM the caller mentions once per call: mostly the same, now and then
// another, as customers do switch.
constexpr std::string_view kCrms[] = {"Pipedrive", "Pipedrive", "Pipedrive", "Pipedrive",
                                      "Pipedrive", "Pipedrive", "Pipedrive", "Attio"};

// Questions an agent's LLM asks the memory tool about this caller.
constexpr std::string_view kQuestions[] = {"what CRM do they use",
                                           "when is the follow-up",
                                           "what tools does the caller use for invoicing",
                                           "what problems are they having with the sync",
                                           "how does the caller feel about the service",
                                           "what do they do every Monday",
                                           "which reports do they export each week",
                                           "when is their next deadline",
                                           "who handles payroll on their team",
                                           "what did we promise to send them",
                                           "do they have an open ticket",
                                           "when is their contract renewal",
                                           "how many locations do they have",
                                           "what went wrong after the last update",
                                           "which integrations are broken",
                                           "what are they planning next month",
                                           "who should we contact in the Denver office",
                                           "why are they frustrated",
                                           "what happened with the duplicate contacts",
                                           "do they fix anything by hand",
                                           "what time zone issues have they reported",
                                           "which spreadsheet do they reconcile",
                                           "what do they use Slack for",
                                           "are they migrating to a new tool",
                                           "how many drivers do they have",
                                           "what did they say about the mobile app",
                                           "what is their routine on Friday afternoons",
                                           "has the invoice tax rate problem been fixed",
                                           "what refund did they ask for",
                                           "when do they close the books"};

struct BankEntry {
  std::string_view name;
  Bank bank;
};

constexpr BankEntry kBanks[] = {
    {"day", kDays},           {"daypart", kDayparts}, {"month", kMonths},
    {"person", kPeople},      {"city", kCities},      {"tool", kTools},
    {"doc", kDocs},           {"verb", kVerbs},       {"group", kGroups},
    {"role", kRoleNouns},     {"bad", kBadFeelings},  {"good", kGoodFeelings},
    {"purpose", kPurposes},   {"where", kWhere},      {"action", kActions},
    {"problem", kProblems},   {"reason", kReasons},   {"past", kPastTimes},
    {"future", kFutureTimes}, {"plan", kPlans}};

std::optional<Bank> FindBank(std::string_view name) {
  for (const BankEntry& e : kBanks) {
    if (e.name == name) return e.bank;
  }
  return std::nullopt;
}

// Writes the post_call_transcription webhooks of one caller. Call `index`
// depends only on the seed and the index, so any call can be rebuilt alone.
class CallWriter {
 public:
  CallWriter(uint64_t seed, std::string user_id) : seed_(seed), user_id_(std::move(user_id)) {}

  std::string ConversationId(uint64_t index) const {
    return Format("conv_bench_%08llx_%08llu", static_cast<unsigned long long>(seed_ & 0xffffffff),
                  static_cast<unsigned long long>(index));
  }

  std::string Body(uint64_t index) const {
    std::mt19937_64 rng(seed_ ^ (index * 0x9e3779b97f4a7c15ull));
    const std::string conversation_id = ConversationId(index);
    const std::string call_sid = Format("CA%016llx%016llx", static_cast<unsigned long long>(rng()),
                                        static_cast<unsigned long long>(rng()));
    const int64_t start = kFirstCallUnixSecs + static_cast<int64_t>(index) * kCallSpacingSecs;

    ordered_json transcript = ordered_json::array();
    int time_in_call = 0;
    auto add = [&](bool agent, const std::string& message) {
      transcript.push_back(TranscriptTurn(agent, kAgentId, message, time_in_call));
      time_in_call += 4 + static_cast<int>(rng() % 20);
    };

    // 22 turns: greeting, 9 exchanges about the caller's business, goodbye.
    add(true,
        "Thank you for calling Tandem Desk support, you're speaking with Sage. How can I "
        "help you today?");
    add(false, std::string("Hi, this is ") + kCallerName + ". We're on " +
                   std::string(Pick(kCrms, rng)) + " for sales, and Tandem for support.");
    const std::string ticket_doc(Pick(kDocs, rng));
    const uint64_t ticket_turn = 1 + rng() % 9;
    for (uint64_t turn = 1; turn <= 9; ++turn) {
      if (turn == ticket_turn) {
        add(true, Format("I've opened ticket TD-%05llu about %s, and %s will follow up %s.",
                         static_cast<unsigned long long>(rng() % 100000), ticket_doc.c_str(),
                         std::string(Pick(kPeople, rng)).c_str(),
                         Fill(Pick(kFutureTimes, rng), rng).c_str()));
      } else {
        add(true, std::string(Pick(kAgentLines, rng)));
      }
      if (rng() % 10 == 0) {
        add(false, std::string(Pick(kFillers, rng)));
        continue;
      }
      // Two to four statements per turn (2.5 on average): ~20 memories per call.
      const int sentences = 2 + static_cast<int>(rng() % 5 == 0) + static_cast<int>(rng() % 3 == 0);
      std::string message;
      for (int i = 0; i < sentences; ++i) {
        if (!message.empty()) message += ' ';
        message += Fill(Pick(kSentences, rng), rng);
      }
      add(false, message);
    }
    add(true, "Thanks for walking me through all of that. We'll be in touch soon.");
    add(false, "Thanks, bye.");

    const std::string title_doc(Pick(kDocs, rng));
    ordered_json doc = PostCallEnvelope(kAgentId, conversation_id, user_id_, start + time_in_call);
    ordered_json& data = doc["data"];
    data["transcript"] = std::move(transcript);
    data["metadata"] = {{"start_time_unix_secs", start},
                        {"accepted_time_unix_secs", start},
                        {"call_duration_secs", time_in_call},
                        {"cost", 700 + static_cast<int>(rng() % 400)},
                        {"phone_call",
                         {{"type", "twilio"},
                          {"direction", "inbound"},
                          {"phone_number_id", "phnum_bench"},
                          {"agent_number", kAgentNumber},
                          {"external_number", kCallerNumber},
                          {"call_sid", call_sid}}},
                        {"termination_reason", "Call ended by remote party"},
                        {"main_language", "en"},
                        {"text_only", false}};
    data["analysis"] = {{"evaluation_criteria_results", ordered_json::object()},
                        {"data_collection_results",
                         {{"customer_name",
                           {{"data_collection_id", "customer_name"},
                            {"value", kCallerName},
                            {"rationale", "The caller introduced herself."}}}}},
                        {"call_successful", "success"},
                        {"transcript_summary", std::string(kCallerName) + " called about " +
                                                   title_doc + " and several other issues."},
                        {"call_summary_title", "Problems with " + title_doc.substr(4)}};
    data["conversation_initiation_client_data"] = {
        {"dynamic_variables",
         {{"system__caller_id", kCallerNumber},
          {"system__called_number", kAgentNumber},
          {"system__call_sid", call_sid},
          {"system__conversation_id", conversation_id}}}};
    return doc.dump();
  }

 private:
  static std::string_view Pick(Bank bank, std::mt19937_64& rng) {
    return bank[rng() % bank.size()];
  }

  // Replaces each {name} in `tmpl`: a bank ("{tool}"), a second pick from it
  // that differs from the first ("{tool2}"), a capitalised pick ("{Group}"),
  // or a number ({n}, {n2}, {hour}, {date}). Bank entries may hold
  // placeholders themselves (plans).
  std::string Fill(std::string_view tmpl, std::mt19937_64& rng) const {
    std::string out;
    std::vector<std::pair<std::string, std::string_view>> picked;  // bank -> first pick
    size_t i = 0;
    while (i < tmpl.size()) {
      const size_t open = tmpl.find('{', i);
      if (open == std::string_view::npos) {
        out.append(tmpl.substr(i));
        break;
      }
      const size_t close = tmpl.find('}', open);
      out.append(tmpl.substr(i, open - i));
      std::string name(tmpl.substr(open + 1, close - open - 1));
      i = close + 1;
      if (name == "n" || name == "n2") {
        // Counts people say: mostly small, sometimes hundreds.
        const uint64_t n = rng() % 4 == 0 ? 20 + rng() % 880 : 2 + rng() % 40;
        out += std::to_string(n);
        continue;
      }
      if (name == "hour") {
        out += std::to_string(7 + rng() % 5);
        continue;
      }
      if (name == "date") {
        static constexpr const char* kSuffix[] = {"th", "st", "nd", "rd"};
        const int day = 1 + static_cast<int>(rng() % 28);
        const int last = day % 10;
        out += std::to_string(day) + ((day / 10 == 1 || last > 3) ? "th" : kSuffix[last]);
        continue;
      }
      const bool capital = !name.empty() && std::isupper(static_cast<unsigned char>(name[0]));
      if (capital) name[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
      const bool second = name.ends_with('2');
      if (second) name.pop_back();
      std::optional<Bank> bank = FindBank(name);
      if (!bank) {  // a typo in a template: keep it visible
        out += "{" + name + "}";
        continue;
      }
      std::string_view first;
      for (const auto& [b, value] : picked) {
        if (b == name) first = value;
      }
      std::string_view value = Pick(*bank, rng);
      for (int tries = 0; second && value == first && tries < 8; ++tries) value = Pick(*bank, rng);
      if (!second && first.empty()) picked.emplace_back(name, value);
      std::string text =
          value.find('{') == std::string_view::npos ? std::string(value) : Fill(value, rng);
      if (capital && !text.empty()) {
        text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
      }
      out += text;
    }
    return out;
  }

  uint64_t seed_;
  std::string user_id_;
};

// ---------------------------------------------------------------------------
// Statistics.

// Nearest-rank percentile of sorted microseconds, in milliseconds.

double MeanMs(const std::vector<int64_t>& us) {
  if (us.empty()) return 0;
  long double sum = 0;
  for (int64_t v : us) sum += v;
  return static_cast<double>(sum / us.size()) / 1000.0;
}

double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Latency {
  double p50 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;

  static Latency Of(std::vector<int64_t> us) {
    std::sort(us.begin(), us.end());
    return {PercentileMs(us, 50), PercentileMs(us, 95), PercentileMs(us, 99), PercentileMs(us, 100),
            MeanMs(us)};
  }
  // Each percentile's median across runs.
  static Latency MedianOf(const std::vector<Latency>& runs) {
    auto med = [&](double Latency::*field) {
      std::vector<double> v;
      for (const Latency& l : runs) v.push_back(l.*field);
      return Median(v);
    };
    return {med(&Latency::p50), med(&Latency::p95), med(&Latency::p99), med(&Latency::max),
            med(&Latency::mean)};
  }
  ordered_json Json() const {
    return {{"p50", Round3(p50)},
            {"p95", Round3(p95)},
            {"p99", Round3(p99)},
            {"max", Round3(max)},
            {"mean", Round3(mean)}};
  }
};

// ---------------------------------------------------------------------------
// The server.

struct Health {
  uint64_t log_head = 0;
  uint64_t applied = 0;
  std::string projection_error;
};

Result<Health> GetHealth(http::HttpConnection& conn) {
  ENGRAM_ASSIGN_OR_RETURN(http::ClientResponse r, conn.Send("GET", "/healthz", ""));
  if (r.status != 200) {
    return Status::Unavailable("GET /healthz answered " + std::to_string(r.status) + ": " + r.body);
  }
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("log_head") || !j.contains("applied")) {
    return Status::Unavailable("GET /healthz: unexpected answer " + r.body);
  }
  Health h;
  h.log_head = j["log_head"].get<uint64_t>();
  h.applied = j["applied"].get<uint64_t>();
  if (j.contains("projection_error")) h.projection_error = j["projection_error"].dump();
  return h;
}

// Polls /healthz until "applied" >= seq; returns when it saw that. The poll
// interval grows with the wait (~5% of it, 0.1 ms to 1 ms): fine resolution
// for short waits, little load on the server for long ones.
Result<Clock::time_point> WaitApplied(http::HttpConnection& conn, uint64_t seq,
                                      Clock::time_point since) {
  const Clock::time_point deadline = Clock::now() + kProjectionTimeout;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(Health h, GetHealth(conn));
    const Clock::time_point now = Clock::now();
    if (h.applied >= seq) return now;
    if (now > deadline) {
      return Status::Unavailable(Format("projector stuck: applied %llu, waiting for %llu %s",
                                        static_cast<unsigned long long>(h.applied),
                                        static_cast<unsigned long long>(seq),
                                        h.projection_error.c_str()));
    }
    const auto step = std::clamp<Clock::duration>(
        (now - since) / 20, std::chrono::microseconds(100), std::chrono::milliseconds(1));
    std::this_thread::sleep_for(step);
  }
}

// Waits until the projector has applied everything in the log.
Status WaitIdle(http::HttpConnection& conn) {
  ENGRAM_ASSIGN_OR_RETURN(Health h, GetHealth(conn));
  auto r = WaitApplied(conn, h.log_head, Clock::now());
  return r.ok() ? Status::Ok() : r.status();
}

// The read model, read-only: the only place the number of a caller's
// current memories can be read.
class ReadModelProbe {
 public:
  static Result<ReadModelProbe> Open(const std::string& data_dir) {
    const std::string path = data_dir + "/engram.db";
    if (!std::ifstream(path)) {
      return Status::NotFound(path + " does not exist: --data-dir must be the server's");
    }
    ENGRAM_ASSIGN_OR_RETURN(
        auto db, projections::SqliteDb::Open(path, projections::SqliteDb::Mode::kReadOnly));
    return ReadModelProbe(std::move(db));
  }

  Result<int64_t> CurrentMemories(const std::string& user_id) {
    return Int("SELECT count(*) FROM memories WHERE user_id = ? AND valid_to IS NULL", user_id);
  }
  Result<int64_t> AllMemories(const std::string& user_id) {
    return Int("SELECT count(*) FROM memories WHERE user_id = ?", user_id);
  }
  Result<int64_t> Conversations(const std::string& user_id) {
    return Int("SELECT count(*) FROM conversations WHERE user_id = ?", user_id);
  }
  // Events a projector could not apply (recorded, then skipped).
  Result<int64_t> FailedEvents() {
    return Int("SELECT count(*) FROM webhook_events WHERE status = 'failed'", std::nullopt);
  }

 private:
  explicit ReadModelProbe(std::unique_ptr<projections::SqliteDb> db) : db_(std::move(db)) {}

  Result<int64_t> Int(const std::string& sql, const std::optional<std::string>& arg) {
    ENGRAM_ASSIGN_OR_RETURN(projections::Statement * st, db_->Cached(sql));
    if (arg) st->Bind(1, *arg);
    auto row = st->Step();
    int64_t value = 0;
    if (row.ok() && *row) value = st->Int(0);
    st->Reset();
    if (!row.ok()) return row.status();
    return value;
  }

  std::unique_ptr<projections::SqliteDb> db_;
};

// ---------------------------------------------------------------------------
// Closed-loop request runs (memory tool, init webhook).

struct LoopResult {
  std::vector<int64_t> latency_us;
  uint64_t sent = 0;
  uint64_t errors = 0;
  std::vector<std::string> error_samples;
  double secs = 0;
};

// What one request sends and how its answer is judged: "" when the answer
// is what the benchmark expects, else why not.
struct RequestKind {
  const char* path;
  Headers headers;
  std::function<std::string(uint64_t)> body;
  std::function<std::string(const http::ClientResponse&)> check;
};

// Sends requests [first, first + count) of `kind` over every connection,
// each sending when its previous answer arrived.
LoopResult RunClosedLoop(std::vector<std::unique_ptr<http::HttpConnection>>& conns,
                         const RequestKind& kind, uint64_t first, uint64_t count) {
  std::vector<LoopResult> per(conns.size());
  std::atomic<uint64_t> next{0};
  std::latch start(1);
  std::vector<std::thread> threads;
  for (size_t c = 0; c < conns.size(); ++c) {
    threads.emplace_back([&, c] {
      LoopResult& out = per[c];
      out.latency_us.reserve(count / conns.size() + 16);
      start.wait();
      for (;;) {
        const uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
        if (i >= count) break;
        const std::string body = kind.body(first + i);
        const Clock::time_point sent = Clock::now();
        auto r = conns[c]->Send("POST", kind.path, body, kind.headers);
        const Clock::time_point done = Clock::now();
        out.sent++;
        out.latency_us.push_back(Micros(done - sent));
        std::string error = r.ok() ? kind.check(*r) : r.status().ToString();
        if (!error.empty()) {
          out.errors++;
          if (out.error_samples.size() < kMaxErrorSamples) out.error_samples.push_back(error);
        }
      }
    });
  }
  const Clock::time_point t0 = Clock::now();
  start.count_down();
  for (auto& t : threads) t.join();
  LoopResult all;
  all.secs = Seconds(Clock::now() - t0);
  for (LoopResult& r : per) {
    all.sent += r.sent;
    all.errors += r.errors;
    all.latency_us.insert(all.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
    for (auto& e : r.error_samples) {
      if (all.error_samples.size() < kMaxErrorSamples) all.error_samples.push_back(std::move(e));
    }
  }
  return all;
}

// ---------------------------------------------------------------------------
// The benchmark.

struct IngestResult {
  uint64_t calls = 0;
  int64_t memories_before = 0;
  int64_t memories_after = 0;
  double secs = 0;
  bool budget_hit = false;
  ordered_json timeline = ordered_json::array();  // [secs, calls applied, memories]

  double CallsPerSec() const { return secs > 0 ? static_cast<double>(calls) / secs : 0; }
  double MemoriesPerSec() const {
    return secs > 0 ? static_cast<double>(memories_after - memories_before) / secs : 0;
  }
};

struct ExtractionResult {
  std::vector<int64_t> apply_us;  // acknowledgement -> applied
  std::vector<int64_t> ack_us;    // send -> acknowledgement
  std::vector<int64_t> added;     // current memories gained per call
  int64_t memories_from = 0;
  int64_t memories_to = 0;
};

struct RunSet {
  std::vector<Latency> runs;
  std::vector<double> throughput;  // requests/s per run
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::vector<std::string> error_samples;

  Latency MedianLatency() const { return Latency::MedianOf(runs); }
};

struct LevelResult {
  int64_t target = 0;
  int64_t memories = 0;  // current memories when tool and init were measured
  int64_t memories_ever = 0;
  int64_t conversations = 0;
  IngestResult ingest;
  ExtractionResult extraction;
  RunSet tool;
  RunSet init;
};

class MemoryBench {
 public:
  MemoryBench(const Flags& flags, Target target, ReadModelProbe probe)
      : flags_(flags),
        target_(std::move(target)),
        probe_(std::move(probe)),
        writer_(flags.seed, flags.user_id) {}

  // Opens every connection (GET /healthz), so connects are never measured.
  Status Connect() {
    const auto timeout = std::chrono::milliseconds(flags_.timeout_ms);
    poll_ = std::make_unique<http::HttpConnection>(target_.host, target_.port, timeout);
    send_ = std::make_unique<http::HttpConnection>(target_.host, target_.port, timeout);
    for (int i = 0; i < flags_.connections; ++i) {
      pool_.push_back(std::make_unique<http::HttpConnection>(target_.host, target_.port, timeout));
    }
    ENGRAM_RETURN_IF_ERROR(GetHealth(*poll_).status());
    ENGRAM_RETURN_IF_ERROR(GetHealth(*send_).status());
    for (auto& c : pool_) ENGRAM_RETURN_IF_ERROR(GetHealth(*c).status());
    // Calls are numbered per caller; continue after the ones already there
    // (a rerun on the same data dir), or the server would deduplicate them.
    ENGRAM_ASSIGN_OR_RETURN(int64_t known, probe_.Conversations(flags_.user_id));
    next_call_ = static_cast<uint64_t>(known);
    return Status::Ok();
  }

  // Grows the caller to `target` current memories, then measures. Sets
  // *stop when the ingestion budget ran out (later sizes are skipped).
  Result<LevelResult> Level(int64_t target, Clock::time_point budget_end, bool* stop) {
    LevelResult level;
    level.target = target;
    // Leave room for the sampled calls, which add memories too.
    const int64_t bulk_target =
        target - static_cast<int64_t>(std::llround(flags_.extraction_samples * per_call_));
    Progress("size %lld: ingesting", static_cast<long long>(target));
    ENGRAM_ASSIGN_OR_RETURN(level.ingest, Ingest(bulk_target, budget_end));
    *stop = level.ingest.budget_hit;
    ENGRAM_ASSIGN_OR_RETURN(level.extraction, SampleExtraction());
    ENGRAM_ASSIGN_OR_RETURN(level.memories, probe_.CurrentMemories(flags_.user_id));
    ENGRAM_ASSIGN_OR_RETURN(level.memories_ever, probe_.AllMemories(flags_.user_id));
    ENGRAM_ASSIGN_OR_RETURN(level.conversations, probe_.Conversations(flags_.user_id));
    Progress("size %lld: %lld current memories, %lld calls; memory tool",
             static_cast<long long>(target), static_cast<long long>(level.memories),
             static_cast<long long>(level.conversations));
    ENGRAM_ASSIGN_OR_RETURN(level.tool,
                            Measure(ToolRequests(), flags_.query_warmup, flags_.queries));
    Progress("size %lld: init webhook", static_cast<long long>(target));
    ENGRAM_ASSIGN_OR_RETURN(level.init, Measure(InitRequests(), flags_.init_warmup, flags_.inits));
    return level;
  }

  Result<int64_t> FailedEvents() { return probe_.FailedEvents(); }

 private:
  template <typename... Args>
  void Progress(const char* fmt, Args... args) {
    std::cerr << "[engram-bench-memory] " << Format(fmt, args...) << "\n";
  }

  // Sends call `index`, signed now. Returns its seq.
  Result<uint64_t> SendCall(uint64_t index, Clock::time_point* sent, Clock::time_point* acked) {
    const std::string body = writer_.Body(index);
    Headers headers = {{"ElevenLabs-Signature",
                        http::SignatureHeaderValue(flags_.webhook_secret, UnixSecondsNow(), body)}};
    *sent = Clock::now();
    ENGRAM_ASSIGN_OR_RETURN(http::ClientResponse r,
                            send_->Send("POST", kPostCallPath, body, headers));
    *acked = Clock::now();
    json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (r.status != 200 || !j.is_object() || j.value("status", "") != "accepted" ||
        !j.contains("seq")) {
      return Status::Unavailable(
          Format("post-call webhook answered %d: %s", r.status, r.body.substr(0, 200).c_str()));
    }
    return j["seq"].get<uint64_t>();
  }

  // Sends calls, at most --ingest-window ahead of the projector, until the
  // applied calls plus the estimated yield of those in flight reach
  // `target` memories, or `deadline` passes; then waits for the projector.
  Result<IngestResult> Ingest(int64_t target, Clock::time_point deadline) {
    IngestResult out;
    ENGRAM_RETURN_IF_ERROR(WaitIdle(*poll_));
    ENGRAM_ASSIGN_OR_RETURN(int64_t count, probe_.CurrentMemories(flags_.user_id));
    out.memories_before = count;
    const Clock::time_point t0 = Clock::now();
    Clock::time_point next_point = t0 + kTimelineStep;
    std::vector<uint64_t> seqs;
    size_t applied_calls = 0;
    int consecutive_errors = 0;
    auto record_point = [&] {
      out.timeline.push_back({Round3(Seconds(Clock::now() - t0)), applied_calls, count});
    };
    record_point();
    for (;;) {
      const double in_flight = static_cast<double>(seqs.size() - applied_calls);
      if (static_cast<double>(count) + in_flight * per_call_ >= static_cast<double>(target)) break;
      if (Clock::now() >= deadline) {
        out.budget_hit = true;
        break;
      }
      Clock::time_point sent, acked;
      auto seq = SendCall(next_call_, &sent, &acked);
      if (!seq.ok()) {
        if (++consecutive_errors >= kMaxConsecutiveIngestErrors) return seq.status();
        continue;
      }
      consecutive_errors = 0;
      ++next_call_;
      seqs.push_back(*seq);
      ENGRAM_ASSIGN_OR_RETURN(Health h, GetHealth(*poll_));
      // Over the window: wait for the projector, polling about 20 times
      // per wait (1-20 ms apart): at 100k memories a call takes seconds, and
      // tight polling would take CPU from the projector it waits for.
      const Clock::time_point wait_start = Clock::now();
      while (*seq > h.applied + static_cast<uint64_t>(flags_.ingest_window)) {
        std::this_thread::sleep_for(std::clamp<Clock::duration>((Clock::now() - wait_start) / 20,
                                                                std::chrono::milliseconds(1),
                                                                std::chrono::milliseconds(20)));
        ENGRAM_ASSIGN_OR_RETURN(h, GetHealth(*poll_));
      }
      const size_t now_applied =
          static_cast<size_t>(std::upper_bound(seqs.begin(), seqs.end(), h.applied) - seqs.begin());
      if (now_applied != applied_calls) {
        applied_calls = now_applied;
        ENGRAM_ASSIGN_OR_RETURN(count, probe_.CurrentMemories(flags_.user_id));
        UpdatePerCall(count - out.memories_before, applied_calls);
      }
      if (Clock::now() >= next_point) {
        record_point();
        next_point += kTimelineStep;
        Progress("  %.0f s: %zu calls applied, %lld current memories", Seconds(Clock::now() - t0),
                 applied_calls, static_cast<long long>(count));
      }
    }
    if (!seqs.empty()) {
      ENGRAM_ASSIGN_OR_RETURN(Clock::time_point done, WaitApplied(*poll_, seqs.back(), t0));
      out.secs = Seconds(done - t0);
    }
    applied_calls = seqs.size();
    ENGRAM_ASSIGN_OR_RETURN(count, probe_.CurrentMemories(flags_.user_id));
    UpdatePerCall(count - out.memories_before, applied_calls);
    out.calls = seqs.size();
    out.memories_after = count;
    record_point();
    return out;
  }

  void UpdatePerCall(int64_t gained, size_t calls) {
    if (calls >= 4 && gained > 0) {
      per_call_ = static_cast<double>(gained) / static_cast<double>(calls);
    }
  }

  // --extraction-samples calls, one at a time on an idle projector.
  Result<ExtractionResult> SampleExtraction() {
    ExtractionResult out;
    ENGRAM_ASSIGN_OR_RETURN(out.memories_from, probe_.CurrentMemories(flags_.user_id));
    int64_t before = out.memories_from;
    for (int i = 0; i < flags_.extraction_samples; ++i) {
      ENGRAM_RETURN_IF_ERROR(WaitIdle(*poll_));
      Clock::time_point sent, acked;
      ENGRAM_ASSIGN_OR_RETURN(uint64_t seq, SendCall(next_call_, &sent, &acked));
      ++next_call_;
      ENGRAM_ASSIGN_OR_RETURN(Clock::time_point done, WaitApplied(*poll_, seq, acked));
      out.ack_us.push_back(Micros(acked - sent));
      out.apply_us.push_back(Micros(done - acked));
      ENGRAM_ASSIGN_OR_RETURN(int64_t after, probe_.CurrentMemories(flags_.user_id));
      out.added.push_back(after - before);
      before = after;
    }
    out.memories_to = before;
    return out;
  }

  RequestKind ToolRequests() const {
    auto bodies = std::make_shared<std::vector<std::string>>();
    for (std::string_view q : kQuestions) {
      bodies->push_back(
          json({{"query", q}, {"user_id", flags_.user_id}, {"limit", kToolLimit}}).dump());
    }
    RequestKind kind;
    kind.path = kToolPath;
    kind.headers = {{"X-Engram-Secret", flags_.tool_secret}};
    kind.body = [bodies](uint64_t i) { return (*bodies)[i % bodies->size()]; };
    kind.check = [](const http::ClientResponse& r) -> std::string {
      if (r.status != 200) return Format("HTTP %d: %s", r.status, r.body.substr(0, 200).c_str());
      if (r.body.find("\"memories\":[{") == std::string::npos) return "no memories: " + r.body;
      return "";
    };
    return kind;
  }

  RequestKind InitRequests() {
    RequestKind kind;
    kind.path = kInitPath;
    kind.headers = {{"X-Engram-Secret", flags_.tool_secret}};
    // Every init is a new call with its own call_sid, as in production (a
    // repeated call_sid is recorded once).
    const uint64_t tag = flags_.seed ^ static_cast<uint64_t>(UnixSecondsNow());
    kind.body = [tag](uint64_t i) {
      return json({{"caller_id", kCallerNumber},
                   {"agent_id", kAgentId},
                   {"called_number", kAgentNumber},
                   {"call_sid", Format("CAinit%016llx%010llu", static_cast<unsigned long long>(tag),
                                       static_cast<unsigned long long>(i))}})
          .dump();
    };
    const std::string user = "\"user_id\":\"" + flags_.user_id + "\"";
    kind.check = [user](const http::ClientResponse& r) -> std::string {
      if (r.status != 200) return Format("HTTP %d: %s", r.status, r.body.substr(0, 200).c_str());
      if (r.body.find("\"caller_known\":true") == std::string::npos ||
          r.body.find(user) == std::string::npos) {
        return "caller not recognised: " + r.body.substr(0, 300);
      }
      return "";
    };
    return kind;
  }

  // --runs closed-loop runs of `kind`, each on an idle projector after its
  // own warm-up.
  Result<RunSet> Measure(const RequestKind& kind, uint64_t warmup, uint64_t count) {
    RunSet set;
    for (int run = 0; run < flags_.runs; ++run) {
      ENGRAM_RETURN_IF_ERROR(WaitIdle(*poll_));
      if (warmup > 0) {
        LoopResult w = RunClosedLoop(pool_, kind, next_request_, warmup);
        next_request_ += warmup;
        set.errors += w.errors;
        for (auto& e : w.error_samples) {
          if (set.error_samples.size() < kMaxErrorSamples) set.error_samples.push_back(e);
        }
      }
      LoopResult r = RunClosedLoop(pool_, kind, next_request_, count);
      next_request_ += count;
      set.requests += r.sent;
      set.errors += r.errors;
      for (auto& e : r.error_samples) {
        if (set.error_samples.size() < kMaxErrorSamples) set.error_samples.push_back(e);
      }
      set.runs.push_back(Latency::Of(std::move(r.latency_us)));
      set.throughput.push_back(r.secs > 0 ? static_cast<double>(r.sent) / r.secs : 0);
    }
    return set;
  }

  const Flags& flags_;
  Target target_;
  ReadModelProbe probe_;
  CallWriter writer_;
  std::unique_ptr<http::HttpConnection> poll_;  // /healthz
  std::unique_ptr<http::HttpConnection> send_;  // post-call webhooks
  std::vector<std::unique_ptr<http::HttpConnection>> pool_;
  uint64_t next_call_ = 0;
  uint64_t next_request_ = 0;
  double per_call_ = kAssumedMemoriesPerCall;
};

// ---------------------------------------------------------------------------
// Reporting.

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("model name")) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

ordered_json RunSetJson(const RunSet& set) {
  ordered_json runs = ordered_json::array();
  for (size_t i = 0; i < set.runs.size(); ++i) {
    ordered_json r = set.runs[i].Json();
    r["throughput_rps"] = Round3(set.throughput[i]);
    runs.push_back(std::move(r));
  }
  ordered_json out = {{"requests", set.requests},
                      {"errors", set.errors},
                      {"median_ms", set.MedianLatency().Json()},
                      {"median_throughput_rps", Round3(Median(set.throughput))},
                      {"runs_ms", std::move(runs)}};
  if (!set.error_samples.empty()) out["error_samples"] = set.error_samples;
  return out;
}

ordered_json LevelJson(const LevelResult& l) {
  const IngestResult& in = l.ingest;
  const ExtractionResult& ex = l.extraction;
  std::vector<int64_t> added = ex.added;
  double mean_added = 0;
  for (int64_t a : added) mean_added += static_cast<double>(a);
  if (!added.empty()) mean_added /= static_cast<double>(added.size());
  return {{"target_memories", l.target},
          {"current_memories", l.memories},
          {"memories_ever", l.memories_ever},
          {"conversations", l.conversations},
          // Ingestion stops on an estimate (in-flight calls count at the mean
          // yield), so a reached size may be a few memories short of it.
          {"reached_target", !l.ingest.budget_hit},
          {"ingest",
           {{"calls", in.calls},
            {"memories_before", in.memories_before},
            {"memories_after", in.memories_after},
            {"secs", Round3(in.secs)},
            {"calls_per_sec", Round3(in.CallsPerSec())},
            {"memories_per_sec", Round3(in.MemoriesPerSec())},
            {"memories_per_call",
             Round3(in.calls ? static_cast<double>(in.memories_after - in.memories_before) /
                                   static_cast<double>(in.calls)
                             : 0)},
            {"budget_hit", in.budget_hit},
            {"timeline_secs_calls_memories", in.timeline}}},
          {"extraction",
           {{"samples", ex.apply_us.size()},
            {"memories_from", ex.memories_from},
            {"memories_to", ex.memories_to},
            {"apply_ms", Latency::Of(ex.apply_us).Json()},
            {"ack_ms", Latency::Of(ex.ack_us).Json()},
            {"memories_per_call", Round3(mean_added)}}},
          {"memory_tool", RunSetJson(l.tool)},
          {"init_webhook", RunSetJson(l.init)}};
}

std::string Table(const Flags& flags, const std::vector<LevelResult>& levels) {
  std::string out = Format(
      "engram-bench-memory: %s, caller %s, %d connections closed loop, %d run(s) per size "
      "(medians)\n",
      flags.url.c_str(), flags.user_id.c_str(), flags.connections, flags.runs);
  out +=
      "\nlearning: signed post-call webhooks (22-turn support calls), bulk with the projector "
      "busy\n"
      "  target   memories  calls  | bulk calls   secs  calls/s  mem/s  mem/call | "
      "extraction ms p50     p95     max  (n, ack p50)\n";
  for (const LevelResult& l : levels) {
    const IngestResult& in = l.ingest;
    const Latency ex = Latency::Of(l.extraction.apply_us);
    const Latency ack = Latency::Of(l.extraction.ack_us);
    out += Format(
        "  %7lld %9lld %6lld  | %10llu %6.1f %8.2f %6.0f %8.1f | %16.1f %7.1f %7.1f  (%zu, "
        "%.2f)%s\n",
        static_cast<long long>(l.target), static_cast<long long>(l.memories),
        static_cast<long long>(l.conversations), static_cast<unsigned long long>(in.calls), in.secs,
        in.CallsPerSec(), in.MemoriesPerSec(),
        in.calls ? static_cast<double>(in.memories_after - in.memories_before) /
                       static_cast<double>(in.calls)
                 : 0.0,
        ex.p50, ex.p95, ex.max, l.extraction.apply_us.size(), ack.p50,
        in.budget_hit ? "  [ingest budget hit]" : "");
  }
  auto section = [&](const char* title, const RunSet LevelResult::*member) {
    out += Format("\n%s, ms\n  memories    p50     p95     p99     max    req/s | p95 per run\n",
                  title);
    for (const LevelResult& l : levels) {
      const RunSet& set = l.*member;
      const Latency m = set.MedianLatency();
      std::string per_run;
      for (const Latency& r : set.runs) per_run += Format(" %.3f", r.p95);
      out += Format(
          "  %8lld %7.3f %7.3f %7.3f %7.2f %8.0f |%s%s\n", static_cast<long long>(l.memories),
          m.p50, m.p95, m.p99, m.max, Median(set.throughput), per_run.c_str(),
          set.errors
              ? Format("  (%llu errors)", static_cast<unsigned long long>(set.errors)).c_str()
              : "");
    }
  };
  section("memory tool POST /tools/memory-query (limit 5)", &LevelResult::tool);
  section("init webhook POST /webhook/conversation-init (known caller)", &LevelResult::init);
  return out;
}

// Per-call projection time as a + b*N seconds (N = current memories), fitted
// by least squares on the sampled calls of every level. Empty without
// samples at two different sizes.
std::optional<std::pair<double, double>> FitCallSecs(const std::vector<LevelResult>& levels) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const LevelResult& l : levels) {
    const ExtractionResult& ex = l.extraction;
    int64_t memories = ex.memories_from;
    for (size_t i = 0; i < ex.apply_us.size(); ++i) {
      const double x = static_cast<double>(memories);
      const double y = static_cast<double>(ex.apply_us[i]) / 1e6;
      n += 1;
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
      memories += ex.added[i];
    }
  }
  const double det = n * sxx - sx * sx;
  if (n < 2 || det <= 0) return std::nullopt;
  const double b = (n * sxy - sx * sy) / det;
  return std::make_pair((sy - b * sx) / n, b);
}

// Seconds of further ingestion to grow the caller from the last level's
// memories to `target`, with the fitted per-call time and the last level's
// memories per call: the integral of (a + b*N) / per_call over N.
std::optional<double> EstimateSecsToTarget(const std::vector<LevelResult>& levels, int64_t target) {
  auto fit = FitCallSecs(levels);
  if (!fit || levels.empty()) return std::nullopt;
  const LevelResult& last = levels.back();
  const IngestResult& in = last.ingest;
  if (in.calls == 0 || in.memories_after <= in.memories_before) return std::nullopt;
  const double per_call =
      static_cast<double>(in.memories_after - in.memories_before) / static_cast<double>(in.calls);
  const double from = static_cast<double>(last.memories);
  const double to = static_cast<double>(target);
  if (to <= from) return 0.0;
  const auto [a, b] = *fit;
  return (a * (to - from) + b * (to * to - from * from) / 2) / per_call;
}

int Main(Flags& flags) {
  auto target = ParseLoopbackUrl(flags.url);
  if (!target.ok()) {
    std::cerr << "engram-bench-memory: " << target.status().message() << "\n";
    return 2;
  }
  if (flags.webhook_secret.empty() || flags.tool_secret.empty()) {
    std::cerr << "engram-bench-memory: pass --webhook-secret and --tool-secret or set "
                 "ENGRAM_WEBHOOK_SECRET and ENGRAM_TOOL_SECRET (the server's)\n";
    return 2;
  }
  auto probe = ReadModelProbe::Open(flags.data_dir);
  if (!probe.ok()) {
    std::cerr << "engram-bench-memory: " << probe.status().ToString() << "\n";
    return 2;
  }
  MemoryBench bench(flags, *target, std::move(probe).value());
  if (Status s = bench.Connect(); !s.ok()) {
    std::cerr << "engram-bench-memory: cannot reach " << flags.url << ": " << s.ToString() << "\n";
    return 2;
  }
  std::sort(flags.sizes.begin(), flags.sizes.end());
  const Clock::time_point t0 = Clock::now();
  const Clock::time_point budget_end =
      t0 + std::chrono::duration_cast<Clock::duration>(
               std::chrono::duration<double>(flags.ingest_budget_secs));
  std::vector<LevelResult> levels;
  std::string failure;
  for (int64_t size : flags.sizes) {
    bool stop = false;
    auto level = bench.Level(size, budget_end, &stop);
    if (!level.ok()) {
      failure = level.status().ToString();
      break;
    }
    levels.push_back(std::move(level).value());
    if (stop) break;  // the budget is spent: larger sizes cannot be reached either
  }
  auto failed = bench.FailedEvents();
  const int64_t failed_events = failed.ok() ? *failed : -1;

  uint64_t errors = 0;
  ordered_json out;
  out["tool"] = "engram-bench-memory";
  out["url"] = flags.url;
  out["machine"] = {{"nproc", std::thread::hardware_concurrency()}, {"cpu", CpuModel()}};
  out["config"] = {{"user_id", flags.user_id},
                   {"sizes", flags.sizes},
                   {"connections", flags.connections},
                   {"runs", flags.runs},
                   {"queries", flags.queries},
                   {"query_warmup", flags.query_warmup},
                   {"inits", flags.inits},
                   {"init_warmup", flags.init_warmup},
                   {"extraction_samples", flags.extraction_samples},
                   {"ingest_window", flags.ingest_window},
                   {"ingest_budget_secs", flags.ingest_budget_secs},
                   {"seed", flags.seed},
                   {"tool_limit", kToolLimit}};
  // A size the budget did not reach can only be the last one.
  const auto fit = FitCallSecs(levels);
  std::optional<double> eta_secs;
  if (!levels.empty() && levels.back().ingest.budget_hit) {
    eta_secs = EstimateSecsToTarget(levels, levels.back().target);
  }
  out["levels"] = ordered_json::array();
  for (const LevelResult& l : levels) {
    out["levels"].push_back(LevelJson(l));
    errors += l.tool.errors + l.init.errors;
  }
  if (fit) {
    out["call_secs_fit"] = {{"a_secs", fit->first}, {"b_secs_per_memory", fit->second}};
  }
  if (eta_secs) out["levels"].back()["ingest"]["estimated_secs_to_target"] = Round3(*eta_secs);
  out["failed_events"] = failed_events;
  out["wall_secs"] = Round3(Seconds(Clock::now() - t0));
  if (!failure.empty()) out["failure"] = failure;

  std::ostream& human = flags.json ? std::cerr : std::cout;
  human << Table(flags, levels);
  for (const LevelResult& l : levels) {
    if (l.ingest.budget_hit) {
      human << Format(
          "\nsize %lld not reached: %lld current memories when the ingest budget "
          "(%.0f s) ran out; learning ran at %.2f calls/s (%.0f memories/s) then.\n",
          static_cast<long long>(l.target), static_cast<long long>(l.memories),
          flags.ingest_budget_secs, l.ingest.CallsPerSec(), l.ingest.MemoriesPerSec());
      if (eta_secs) {
        human << Format(
            "  estimated time to reach it: %.0f s more (per-call projection time fitted as "
            "a + b*N on the sampled calls: %.1f ms + %.2f ms per 1k memories)\n",
            *eta_secs, 1000 * fit->first, 1e6 * fit->second);
      }
    }
    for (const auto& e : l.tool.error_samples) human << "  memory tool error: " << e << "\n";
    for (const auto& e : l.init.error_samples) human << "  init error: " << e << "\n";
  }
  if (failed_events != 0) {
    human << Format("  %lld webhook events failed to project (webhook_events.status)\n",
                    static_cast<long long>(failed_events));
  }
  if (!failure.empty()) human << "engram-bench-memory: stopped: " << failure << "\n";
  if (flags.json) std::cout << out.dump() << "\n";
  return failure.empty() && errors == 0 && failed_events == 0 ? 0 : 1;
}

}  // namespace
}  // namespace engram::tools

int main(int argc, char** argv) {
  engram::tools::Flags flags;
  CLI::App app{
      "Measure the memory tool, the init webhook and learning of a local engram server for one "
      "caller with 1k, 10k and 100k memories."};
  app.add_option("--url", flags.url, "Server base URL; loopback only (127.x.x.x, localhost, ::1)")
      ->capture_default_str();
  app.add_option("--data-dir", flags.data_dir,
                 "The server's --data-dir (its engram.db is read, read-only, for memory counts)")
      ->required();
  app.add_option("--webhook-secret", flags.webhook_secret, "Post-call webhook HMAC secret")
      ->envname("ENGRAM_WEBHOOK_SECRET");
  app.add_option("--tool-secret", flags.tool_secret, "X-Engram-Secret of the tool and init routes")
      ->envname("ENGRAM_TOOL_SECRET");
  app.add_option("--sizes", flags.sizes, "Current memories to grow the caller to, in order")
      ->delimiter(',')
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--user-id", flags.user_id, "The caller's user id")->capture_default_str();
  app.add_option("--connections", flags.connections,
                 "Keep-alive connections for the tool and init runs")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--runs", flags.runs, "Tool and init runs per size (medians are reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--queries", flags.queries, "Measured memory-tool requests per run")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--query-warmup", flags.query_warmup, "Unmeasured tool requests before each run")
      ->capture_default_str();
  app.add_option("--inits", flags.inits, "Measured init requests per run")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--init-warmup", flags.init_warmup, "Unmeasured init requests before each run")
      ->capture_default_str();
  app.add_option("--extraction-samples", flags.extraction_samples,
                 "Calls per size sent one at a time to time their projection")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--ingest-window", flags.ingest_window,
                 "Calls acknowledged but not yet projected allowed during bulk ingestion")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--ingest-budget-secs", flags.ingest_budget_secs,
                 "Time allowed for all bulk ingestion; sizes not reached by then are measured "
                 "where ingestion stopped")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "Seed of the generated calls")->capture_default_str();
  app.add_option("--timeout-ms", flags.timeout_ms, "Per-request timeout")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  app.add_flag("--json", flags.json,
               "Print one JSON object with the results on stdout (the table goes to stderr)");
  CLI11_PARSE(app, argc, argv);
  return engram::tools::Main(flags);
}
