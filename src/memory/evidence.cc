#include "memory/evidence.h"

#include <algorithm>
#include <iterator>

#include "common/crypto.h"
#include "memory/text.h"
#include "memory/updates.h"

namespace engram::memory {
namespace {

size_t WordCount(std::string_view s) { return SplitSpaces(s).size(); }

// Whether a piece says anything beyond stop words and the words that only
// keep a conversation going ("Okay.", "Yeah, thanks!", "Hi there."). Such a
// piece is kept only as an answer to a question.
bool SaysSomething(std::string_view piece) {
  static constexpr std::string_view kBackchannel[] = {
      "okay", "ok",    "yeah", "yes",     "yep",   "no",    "nope",    "uh",    "um",
      "hmm",  "mm",    "mhm",  "right",   "sure",  "thank", "thanks",  "bye",   "goodbye",
      "hi",   "hello", "hey",  "alright", "great", "cool",  "perfect", "there", "oh"};
  for (const std::string& term : LexicalTerms(piece)) {
    if (std::find(std::begin(kBackchannel), std::end(kBackchannel), term) ==
        std::end(kBackchannel)) {
      return true;
    }
  }
  return false;
}

// The last sentence of an agent turn that asks something, "" when none.
std::string LastQuestion(const std::string& message) {
  std::string out;
  for (const std::string& sentence : SplitSentences(message)) {
    std::string trimmed = Trim(sentence);
    if (!trimmed.empty() && trimmed.back() == '?') out = std::move(trimmed);
  }
  return out;
}

// Whether a question asks about something: an open offer of service ("How
// can I help you today?", "What can I do for you?", "Anything else?") pairs
// with every first reply alike and would only add the same words to all.
bool AsksAboutSomething(std::string_view question) {
  // Stems, as LexicalTerms gives them.
  static constexpr std::string_view kServiceWords[] = {
      "help", "assist",    "today", "call",  "thank", "welcome", "anyth", "els",
      "may",  "do",        "doing", "going", "how",   "what",    "serv",  "morn",
      "even", "afternoon", "hi",    "hello", "bring", "thing"};
  for (const std::string& term : LexicalTerms(question)) {
    if (std::find(std::begin(kServiceWords), std::end(kServiceWords), term) ==
        std::end(kServiceWords)) {
      return true;
    }
  }
  return false;
}

// Sentences joined into pieces of at most kEvidenceMaxWords words.
std::vector<std::string> Pieces(const std::string& message) {
  std::vector<std::string> out;
  std::string piece;
  size_t words = 0;
  for (const std::string& sentence : SplitSentences(message)) {
    std::string s = Trim(sentence);
    if (s.empty()) continue;
    const size_t n = WordCount(s);
    if (!piece.empty() && words + n > kEvidenceMaxWords) {
      out.push_back(std::move(piece));
      piece.clear();
      words = 0;
    }
    if (!piece.empty()) piece += ' ';
    piece += s;
    words += n;
  }
  if (!piece.empty()) out.push_back(std::move(piece));
  return out;
}

// Whitespace runs (newlines, tabs) as one space: the content is read aloud.
std::string Collapse(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

ExtractedMemory Evidence(std::string content, const std::string& conversation_id, int turn,
                         size_t piece, std::vector<int> source_turns) {
  ExtractedMemory m;
  m.primary = Sector::kEpisodic;
  m.sectors = {Sector::kEpisodic};
  m.subject = std::string(kEvidenceSubject) + conversation_id + "#" + std::to_string(turn) + "." +
              std::to_string(piece);
  m.value = crypto::Sha256Hex(content).substr(0, 16);
  m.content = std::move(content);
  m.salience = kEvidenceSalience;
  m.source_turns = std::move(source_turns);
  return m;
}

}  // namespace

bool IsEvidenceSubject(std::string_view subject) {
  return subject.substr(0, sizeof(kEvidenceSubject) - 1) == kEvidenceSubject;
}

std::vector<ExtractedMemory> EvidenceMemories(const std::vector<TranscriptTurn>& turns,
                                              const std::string& conversation_id,
                                              const std::string& caller_name) {
  std::vector<ExtractedMemory> out;
  const std::string speaker = caller_name.empty() ? "the caller" : caller_name;
  const TranscriptTurn* previous = nullptr;  // the last turn with words
  for (const TranscriptTurn& turn : turns) {
    const std::string message = Collapse(Trim(turn.message));
    if (message.empty()) continue;
    const TranscriptTurn* before = previous;
    previous = &turn;
    if (turn.role != "user") continue;
    // What the agent asked just before, if anything: the first piece of the
    // reply is kept with it.
    std::string question =
        before && before->role != "user" ? LastQuestion(Collapse(before->message)) : "";
    if (!AsksAboutSomething(question)) question.clear();
    size_t n = 0;
    for (std::string& piece : Pieces(message)) {
      if (n == 0 && !question.empty()) {
        std::string content = "Asked \"" + question + "\", " + speaker + " said \"" + piece + "\"";
        out.push_back(Evidence(std::move(content), conversation_id, turn.index, n++,
                               {before->index, turn.index}));
        out.back().replaces = ReplacedValues(piece);
        continue;
      }
      if (!SaysSomething(piece)) continue;
      std::vector<std::string> replaces = ReplacedValues(piece);
      out.push_back(Evidence(std::move(piece), conversation_id, turn.index, n++, {turn.index}));
      out.back().replaces = std::move(replaces);
    }
  }
  return out;
}

}  // namespace engram::memory
