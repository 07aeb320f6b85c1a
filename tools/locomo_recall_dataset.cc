// engram-locomo: the LoCoMo dataset file and the target URL.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "locomo_recall.h"

namespace engram::tools::locomo {
namespace {

// "1:56 pm on 8 May, 2023" -> Unix seconds (UTC). InvalidArgument otherwise.
Result<int64_t> ParseSessionTime(const std::string& text) {
  int hour = 0, minute = 0, day = 0, year = 0;
  char ampm[3] = {};
  char month_name[16] = {};
  if (std::sscanf(text.c_str(), "%d:%d %2s on %d %15[A-Za-z], %d", &hour, &minute, ampm, &day,
                  month_name, &year) != 6) {
    return Status::InvalidArgument("unparsable session date '" + text + "'");
  }
  static constexpr std::array<std::string_view, 12> kMonths = {
      "January", "February", "March",     "April",   "May",      "June",
      "July",    "August",   "September", "October", "November", "December"};
  auto it = std::find(kMonths.begin(), kMonths.end(), std::string_view(month_name));
  const std::string half = ampm;
  if (it == kMonths.end() || hour < 1 || hour > 12 || minute < 0 || minute > 59 ||
      (half != "am" && half != "pm")) {
    return Status::InvalidArgument("unparsable session date '" + text + "'");
  }
  const int h24 = hour % 12 + (half == "pm" ? 12 : 0);
  const std::chrono::year_month_day ymd{
      std::chrono::year(year), std::chrono::month(static_cast<unsigned>(it - kMonths.begin() + 1)),
      std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return Status::InvalidArgument("no such date '" + text + "'");
  const auto days = std::chrono::sys_days(ymd).time_since_epoch();
  return std::chrono::duration_cast<std::chrono::seconds>(days).count() + h24 * 3600 + minute * 60;
}

// All ids an evidence string names, canonical ("D8:6; D9:17" -> D8:6, D9:17;
// "D:11:26" -> D11:26; "D01:2" -> D1:2): what the pattern
// D\s*:?\s*(\d+)\s*:\s*(\d+) matches, scanned by hand (std::regex trips GCC 12's
// -Wmaybe-uninitialized in the sanitizer build).
std::vector<std::string> NormaliseEvidence(const std::string& raw) {
  std::vector<std::string> out;
  const size_t n = raw.size();
  auto skip_spaces = [&](size_t j) {
    while (j < n && std::isspace(static_cast<unsigned char>(raw[j]))) ++j;
    return j;
  };
  // Digits at j as a number (leading zeros dropped), or nullopt; j moves past them.
  auto number = [&](size_t& j) -> std::optional<long> {
    const size_t from = j;
    while (j < n && std::isdigit(static_cast<unsigned char>(raw[j]))) ++j;
    if (j == from || j - from > 9) return std::nullopt;
    return std::stol(raw.substr(from, j - from));
  };
  for (size_t i = 0; i < n; ++i) {
    if (raw[i] != 'D') continue;
    size_t j = skip_spaces(i + 1);
    if (j < n && raw[j] == ':') j = skip_spaces(j + 1);
    auto dialogue = number(j);
    if (!dialogue) continue;
    j = skip_spaces(j);
    if (j >= n || raw[j] != ':') continue;
    j = skip_spaces(j + 1);
    auto turn = number(j);
    if (!turn) continue;
    // Appended piece by piece: GCC 12 warns -Wrestrict on "lit" + std::string.
    std::string id = "D";
    id += std::to_string(*dialogue);
    id += ':';
    id += std::to_string(*turn);
    out.push_back(std::move(id));
    i = j - 1;
  }
  return out;
}

bool IsLoopbackLiteral(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace

Result<std::vector<Sample>> LoadDataset(const std::string& path,
                                        const std::vector<std::string>& only) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path);
  json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array()) {
    return Status::InvalidArgument(path + " is not a JSON array of LoCoMo samples");
  }
  std::vector<Sample> out;
  try {
    for (const json& s : doc) {
      Sample sample;
      sample.id = s.at("sample_id").get<std::string>();
      if (!only.empty() && std::find(only.begin(), only.end(), sample.id) == only.end()) continue;
      const json& conv = s.at("conversation");
      sample.speaker_a = conv.at("speaker_a").get<std::string>();
      sample.speaker_b = conv.at("speaker_b").get<std::string>();
      // Sessions by number. Some samples carry date keys for sessions that do
      // not exist (conv-26): only session_N arrays count.
      for (const auto& [key, value] : conv.items()) {
        if (!key.starts_with("session_") || !value.is_array()) continue;
        const std::string digits = key.substr(8);
        if (digits.empty() ||
            !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
          continue;
        Session session;
        session.number = std::stoi(digits);
        session.date_time = conv.at(key + "_date_time").get<std::string>();
        auto start = ParseSessionTime(session.date_time);
        if (!start.ok()) return start.status();
        session.start_secs = *start;
        for (const json& t : value) {
          Turn turn;
          turn.speaker = t.at("speaker").get<std::string>();
          turn.dia_id = t.at("dia_id").get<std::string>();
          turn.text = t.at("text").get<std::string>();
          if (auto c = t.find("blip_caption"); c != t.end() && c->is_string()) {
            turn.caption = c->get<std::string>();
          }
          session.turns.push_back(std::move(turn));
        }
        sample.sessions.push_back(std::move(session));
      }
      std::sort(sample.sessions.begin(), sample.sessions.end(),
                [](const Session& a, const Session& b) { return a.number < b.number; });
      std::set<std::string> known;
      for (const Session& session : sample.sessions) {
        for (const Turn& t : session.turns) known.insert(t.dia_id);
      }
      for (const json& q : s.at("qa")) {
        const int category = q.at("category").get<int>();
        if (!kCategoryNames.count(category)) continue;
        Question question;
        question.text = q.at("question").get<std::string>();
        question.category = category;
        for (const json& raw : q.value("evidence", json::array())) {
          if (!raw.is_string()) continue;
          for (std::string& id : NormaliseEvidence(raw.get<std::string>())) {
            if (!known.count(id)) {
              ++sample.dropped_ids;
              continue;
            }
            if (std::find(question.evidence.begin(), question.evidence.end(), id) ==
                question.evidence.end()) {
              question.evidence.push_back(std::move(id));
            }
          }
        }
        if (question.evidence.empty()) {
          ++sample.skipped;
          continue;
        }
        sample.questions.push_back(std::move(question));
      }
      out.push_back(std::move(sample));
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  if (out.empty()) return Status::NotFound("no samples selected from " + path);
  return out;
}

// http://HOST:PORT with HOST a loopback literal. Names are refused, even
// "localhost": the tool writes into the server it targets, and a name could
// resolve anywhere.
Result<Target> ParseTarget(const std::string& url) {
  auto parsed = http::ParseHttpUrl(url);
  if (!parsed.ok()) return parsed.status();
  Target t{parsed->first, parsed->second};
  if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') {
    t.host = t.host.substr(1, t.host.size() - 2);
  }
  if (!IsLoopbackLiteral(t.host)) {
    return Status::Forbidden("refusing " + t.host +
                             ": only loopback addresses (127.x.x.x, ::1) are allowed");
  }
  return t;
}

}  // namespace engram::tools::locomo
