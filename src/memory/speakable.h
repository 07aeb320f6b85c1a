// Sentences a human agent can read aloud before a call: the pieces of the
// user summary (memory_context) and of recent_topics.
//
// Why: the init webhook's variables are read by the agent's LLM and often
// said back almost word for word ("Last time you told us ..."). A memory's
// content is stored for recall, not for speech: it may start with a pronoun
// whose referent was in another memory ("It started after the update."),
// be a question the caller asked, or be a data-collection answer in the form
// "<label>: <value>.". These functions turn such text into plain English
// about the caller, or refuse it ("" / false) when it cannot be said well.
//
// Generic English rules over any trade's words: no list of domain terms.
// Pure functions of their arguments, so a projector may call them.
#pragma once

#include <string>
#include <string_view>

namespace engram::memory {

// How the summary refers to the caller.
struct CallerReference {
  // The name said once, in the opening ("Priya Raman"); "" when unknown.
  std::string full;
  // The name used after the opening: the first name when the full name has
  // two words or more and does not start with a title ("Priya"), else the
  // full name; "the caller" when the name is unknown.
  std::string short_form;

  static CallerReference FromName(std::string_view name);
  // short_form with its first letter in upper case, to open a sentence.
  std::string Capitalised() const;
};

// Whether `sentence` (trimmed) is a question: it ends with '?'.
bool IsQuestion(std::string_view sentence);

// Words separated by white space.
size_t CountWords(std::string_view text);

// "2026-04-16" -> "16 April 2026" (`with_year`) or "16 April"; "" when
// `iso` is not a valid YYYY-MM-DD date.
std::string SpokenDate(std::string_view iso, bool with_year = true);

// One sentence of a memory made speakable about `caller`, or "" when it
// should not be said:
//   - a question ("... ?") is dropped, and so is a sentence of fewer than 3
//     words; a discourse marker opening it ("Honestly", "So") and asides in
//     parentheses ("(TD-20931)") are removed;
//   - when `alone` (the sentence before it is not said with it), a sentence
//     opening with "it", "this", "that", "these" or "those" (not followed by
//     a time word: "This morning ...") is dropped, since its referent was
//     in another sentence the summary may not include; so is one whose "it"
//     or "them" has no noun phrase before it ("Priya merges them nightly"),
//     or with a bare "this"/"that" ("Priya is upset about this.");
//   - "They"/"He"/"She" (and their contractions), "Them"/"Him", "I",
//     "Their"/"His"/"Her"/"My" opening the sentence become the caller's
//     name ("Priya"/"Priya's"), with the verb that follows made singular
//     ("They export" -> "Priya exports", "They are" -> "Priya is");
//   - "The caller", "The user", "The customer" opening it become the name
//     when it is known, and "the caller" elsewhere in it too;
//   - the full name after the opening becomes the short form;
//   - a plural verb right after the caller's name is made singular
//     ("Priya are" -> "Priya is"), and so is a verb joined to the caller's
//     by "and" ("Priya exports the report and reconcile it" -> "...
//     reconciles it").
// The result ends with '.', '!' or the sentence's own closing punctuation.
std::string SpeakableSentence(std::string_view sentence, const CallerReference& caller,
                              bool alone = true);

// A data-collection answer as a sentence about the caller, from its label
// and value (memory content "<label>: <value>."):
//   "Caller's dental insurance provider", "Delta Dental PPO"
//     -> "Helena's dental insurance provider is Delta Dental PPO."
//        (the name, not "Their": the sentence before may be about another)
//   "CRM the customer uses", "Salesforce" -> "The CRM Priya uses is Salesforce."
//   "Agreed follow-up date (ISO 8601)", "2026-04-16"
//     -> "The agreed follow-up date is 16 April 2026."
//   "How the customer wants to be contacted", "email"
//     -> "How Priya wants to be contacted: email."
//   "Does the caller have pets", "yes" -> "Priya does have pets."
// Parentheses, a trailing '?' and an instruction verb opening the label
// ("Extract the caller's ...") are dropped; a plural head noun takes "are".
std::string DataCollectionSentence(std::string_view label, std::string_view value,
                                   const CallerReference& caller);

// A call's topic title as a list item: trimmed, without closing '.', or ""
// when it is a question (the caller's words, not a topic).
std::string SpeakableTopic(std::string_view title);

}  // namespace engram::memory
