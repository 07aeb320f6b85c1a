// The held-out generalisation fixtures (tests/fixtures/generalisation/, format
// in its README.md) and the scoring rules that README states. Nothing here
// knows Engram: loading and scoring are pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace engram::generalisation {

struct Question {
  std::string question;
  int after_call = 0;                      // 1 or 2
  std::vector<std::string> must_contain;   // lowercase
  std::vector<std::string> must_not_top1;  // must_not_contain_top1, lowercase
};

struct Call {
  std::string body;  // the post_call_transcription body, keys in file order
  std::string conversation_id;
  std::string caller_id;  // metadata.phone_call.external_number
  std::string agent_id;
  std::string called_number;  // metadata.phone_call.agent_number
  std::string call_sid;
};

struct Fixture {
  std::string file;  // file name without folder, e.g. "hotel.json"
  std::string trade;
  std::string caller_number;
  std::string expected_user_name;
  std::vector<Call> calls;
  std::vector<Question> questions;
};

// The *.json files of `dir`, sorted by name (the generator's .py files and
// the README are not fixtures).
Result<std::vector<std::string>> FixtureFiles(const std::string& dir);

// Reads one fixture. InvalidArgument naming the field when the file does not
// have the README's shape (two calls with phone metadata, questions with
// after_call 1..calls and at least one must_contain string).
Result<Fixture> LoadFixture(const std::string& path);

// ASCII lower case (the fixtures' strings are lowercase ASCII; other bytes are
// compared as they are).
std::string Lower(std::string s);

// Whether every string of `needles` occurs, case-insensitively, in `text`.
bool ContainsAll(const std::string& text, const std::vector<std::string>& needles);

// The README's suggested rule for an updated fact: the top-ranked memory fails
// when it holds one of the old values and not every new one. False when
// there is no old value or no memory at all (a miss is scored by hit@k).
bool Top1Violation(const std::vector<std::string>& contents, const Question& q);

// hit@k: every must_contain string in the concatenated content of the top k
// memories, and no Top1Violation. `contents` are the answer's memories in
// rank order.
bool HitAt(const std::vector<std::string>& contents, const Question& q, size_t k);

// How the user_name the init webhook answered compares with the name the
// caller gave: kExact when equal ignoring case and spacing, kFirstName when
// only the first words are equal, else kNo (an empty answer included).
enum class NameMatch { kNo, kFirstName, kExact };
NameMatch MatchName(const std::string& answered, const std::string& expected);
const char* NameMatchLabel(NameMatch m);

}  // namespace engram::generalisation
