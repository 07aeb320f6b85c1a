// engram-bench-scale: the generated population of callers (MakeCaller).
//
// Each caller is a small business with its own owner name, phone number and
// trade. Its calls are engram-bench-memory's support calls (the sentence
// templates of bench_memory_banks.h), but the slots a real customer fills
// with the same few things every time (their tools, their sites, their
// staff, their city) draw from that caller's own short lists. So two
// callers' memories share the shapes of speech but not the facts, and a
// question about one caller's tools or sites only finds that caller's.
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "bench_memory_banks.h"
#include "bench_scale.h"

namespace engram::tools::scale_bench {
namespace {

using memory_bench::Bank;

constexpr std::string_view kFirstNames[] = {
    "Aaron",   "Beatrice", "Carlos", "Delia",   "Emeka",   "Freya",   "Gustavo", "Harriet",
    "Ibrahim", "Jolene",   "Kofi",   "Lorna",   "Mikhail", "Nuala",   "Orlando", "Petra",
    "Quentin", "Rhiannon", "Samir",  "Tamsin",  "Ulrich",  "Valeria", "Wesley",  "Ximena",
    "Yusuf",   "Zelda",    "Anders", "Bronwen", "Cedric",  "Dagny",   "Esteban", "Fiona",
    "Gideon",  "Hollis",   "Isolde", "Jasper",  "Keiko",   "Lionel",  "Magnus",  "Niamh"};
constexpr std::string_view kLastNames[] = {
    "Abernathy",  "Bellweather", "Castellano", "Drummond",  "Eriksen",    "Fairbanks", "Galloway",
    "Hargreaves", "Iwasaki",     "Jablonski",  "Kowalczyk", "Lindqvist",  "Mbeki",     "Nakamura",
    "Okonkwo",    "Pemberton",   "Quintero",   "Rasmussen", "Szabo",      "Thorne",    "Underwood",
    "Vasquez",    "Whitlock",    "Yilmaz",     "Zimmerman", "Achterberg", "Brannigan", "Coutinho",
    "Delacroix",  "Esposito",    "Fitzgerald", "Grunewald", "Halvorsen",  "Ingram",    "Jovanovic",
    "Kavanagh",   "Lombardi",    "Moreau",     "Nieminen",  "Oyelaran"};

// A trade: how its owner names the business, and the places its owner
// talks about ("where" slots, as a caller says them).
struct Trade {
  std::string_view business;
  std::string_view places[3];
};

constexpr Trade kTrades[] = {
    {"a family bakery",
     {"at the bakery counter", "in the proving room", "for the wholesale rounds"}},
    {"a plumbing company",
     {"for the emergency call-outs", "at the parts yard", "in the van fleet"}},
    {"a dental practice",
     {"at the front desk", "in the hygiene rooms", "for the orthodontic clinic"}},
    {"a law firm",
     {"for the conveyancing team", "in the records room", "at the county court office"}},
    {"a landscaping business",
     {"at the tree nursery", "for the lawn crews", "in the equipment shed"}},
    {"a veterinary clinic", {"in the kennels", "at the reception desk", "for the farm visits"}},
    {"a small hotel", {"at the front desk", "in the hotel laundry", "for the breakfast service"}},
    {"a brewery", {"in the brewhouse", "at the brewery taproom", "for the keg deliveries"}},
    {"a roofing contractor",
     {"for the roofing crews", "at the scaffold yard", "in the site office"}},
    {"a yoga studio",
     {"for the yoga studio", "in the teacher training room", "at the retreat centre"}},
    {"an electrical contractor",
     {"for the rewiring jobs", "at the cable store", "in the estimating office"}},
    {"a bookshop", {"at the bookshop cafe", "in the stockroom", "for the school orders"}},
    {"a car repair garage", {"in the workshop bays", "at the tyre bay", "for the MOT bookings"}},
    {"a catering company",
     {"in the prep kitchen", "for the wedding venue", "at the corporate events"}},
    {"a physiotherapy clinic",
     {"in the treatment rooms", "for the sports club", "at the hydrotherapy pool"}},
    {"a print shop", {"in the print shop", "at the finishing table", "for the signage jobs"}},
    {"a cleaning company",
     {"for the office contracts", "in the supplies cage", "at the hospital site"}},
    {"a bike shop", {"at the bike shop", "in the repair stand area", "for the rental fleet"}},
    {"a florist", {"in the cold room", "for the funeral orders", "at the market stall"}},
    {"a nursery school",
     {"in the toddler room", "for the parents evening", "at the after-school club"}},
    {"a removals firm",
     {"in the storage depot", "for the long-distance moves", "at the packing shed"}},
    {"an accounting practice",
     {"for the payroll clients", "in the tax team", "at the satellite office"}},
    {"a pet grooming salon",
     {"at the pet grooming salon", "in the bathing area", "for the mobile van"}},
    {"a recording studio",
     {"in the recording studio", "in the mixing suite", "for the podcast clients"}},
};

// `count` distinct picks from `bank`, in a caller-specific order.
std::vector<std::string_view> Distinct(Bank bank, size_t count, std::mt19937_64& rng) {
  std::vector<std::string_view> all(bank.begin(), bank.end());
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(std::min(count, all.size()));
  return all;
}

}  // namespace

Caller MakeCaller(uint64_t seed, uint64_t index) {
  std::mt19937_64 rng(seed ^ ((index + 1) * 0xd1b54a32d192ed03ull));
  constexpr size_t kFirst = std::size(kFirstNames);
  constexpr size_t kLast = std::size(kLastNames);
  Caller c;
  c.user_id = Format("scale_user_%06llu", static_cast<unsigned long long>(index));
  CallerProfile& p = c.profile;
  p.tag = Format("scale%06llu", static_cast<unsigned long long>(index));
  // Distinct (first, last) pairs for the first 1,600 callers.
  p.name = std::string(kFirstNames[index % kFirst]) + " " +
           std::string(kLastNames[(index / kFirst + index) % kLast]);
  // Distinct numbers: a fictional exchange per block of 10,000 callers.
  p.number = Format("+1%03llu555%04llu", static_cast<unsigned long long>(201 + index / 10000 % 700),
                    static_cast<unsigned long long>(index % 10000));
  const Trade& trade = kTrades[rng() % std::size(kTrades)];
  std::vector<std::string_view> cities = Distinct(memory_bench::kCities, 2, rng);
  p.business = std::string(trade.business) + " in " + std::string(cities[0]);

  std::vector<std::string_view> places(std::begin(trade.places), std::end(trade.places));
  for (std::string_view w : Distinct(memory_bench::kWhere, 2, rng)) places.push_back(w);
  std::vector<std::string_view> tools = Distinct(memory_bench::kTools, 8, rng);
  std::vector<std::string_view> people = Distinct(memory_bench::kPeople, 6, rng);
  p.own_banks = {{"where", places}, {"tool", tools}, {"person", people}, {"city", cities}};

  for (std::string_view q : memory_bench::kQuestions) c.questions.emplace_back(q);
  auto place = [&](size_t i) {
    std::string s(places[i % 3]);
    return s;
  };
  c.questions.push_back("what do they use " + std::string(tools[0]) + " for");
  c.questions.push_back("what problems do they have with " + std::string(tools[1]));
  c.questions.push_back("what is going wrong " + place(0));
  c.questions.push_back("what do they do every week " + place(1));
  c.questions.push_back("who is " + std::string(people[0]));
  c.questions.push_back("what did " + std::string(people[1]) + " try to do");
  c.questions.push_back("what happens " + place(2));
  c.questions.push_back("what do they do in " + std::string(cities[0]));
  c.questions.push_back("are they moving anything to " + std::string(tools[2]));
  c.questions.push_back("how does " + p.name.substr(0, p.name.find(' ')) + " feel about " +
                        std::string(tools[3]));
  return c;
}

}  // namespace engram::tools::scale_bench
