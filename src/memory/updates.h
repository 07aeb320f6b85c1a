// When a new statement restates or replaces an older one. Pure functions of
// the two texts: the memory projector decides with them.
//
// Why here: the rule is the product's answer to "supersede only what was
// really replaced" (issue 11, item 4): similar wording about different
// people or things never replaces anything; a slot (same subject, new value)
// or an update said in words ("now Cigna, not Delta anymore", "switched from
// Verizon", "instead of Tuesday", "no longer with Acme") does.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace engram::memory {

// Names and numbers of a sentence: capitalised words (but the first) and
// tokens holding digits, lower-cased, minus `ignore` (the caller's name).
std::set<std::string> KeyTerms(std::string_view content, const std::set<std::string>& ignore);

// Whether two near-identical sentences state the same thing: they name the
// same things (KeyTerms) and the content terms of one are all among the
// other's ("Every Monday I export the report" / "Every Monday morning I
// export the weekly report"), so "allergic to latex" never restates
// "allergic to peanuts".
bool Restates(std::string_view older, std::string_view newer, const std::set<std::string>& ignore);

// The values an utterance says are no longer so, in lower case: Y of
// "not Y anymore/any more", "no longer (with|at|on|using) Y", "instead of Y",
// "(switched|changed|moved|went) from Y to", "not Y but". Y is at most four
// words, without leading articles or prepositions, and names something: one
// of its words is capitalised or holds a digit ("instead of Tuesday", not
// "instead of my door"). Empty when it states no update.
std::vector<std::string> ReplacedValues(std::string_view utterance);

// Whether `older` is the statement an update replaced: it holds one of
// `replaced` as whole words, and it shares a content term with `newer`
// besides the replaced words and `ignore` (the caller's name): the same
// topic ("insurance"), so "I'm not with Delta anymore" does not retire "my
// sister flies Delta to Boston".
bool IsReplacedBy(std::string_view older, std::string_view newer,
                  const std::vector<std::string>& replaced, const std::set<std::string>& ignore);

}  // namespace engram::memory
