#include "memory/summary.h"

#include <algorithm>
#include <map>

namespace engram::memory {

std::string BuildRuleSummary(const std::string& name, const std::vector<SummaryFact>& facts,
                             size_t max_chars) {
  std::map<std::string, const SummaryFact*> slots;  // newest per subject
  std::vector<const SummaryFact*> others;
  for (const SummaryFact& f : facts) {
    if (f.subject.empty()) {
      others.push_back(&f);
      continue;
    }
    auto& slot = slots[f.subject];
    if (!slot || f.created_at > slot->created_at) slot = &f;
  }
  std::string out;
  auto add = [&](const std::string& s) {
    if (s.empty() || out.size() + s.size() + 1 > max_chars) return;
    if (!out.empty()) out += ' ';
    out += s;
  };
  auto value = [&](const char* subject) -> std::string {
    auto it = slots.find(subject);
    return it == slots.end() ? "" : it->second->value;
  };
  std::string who = name.empty() ? value("name") : name;
  if (auto it = slots.find("employer"); it != slots.end()) {
    add(it->second->content);
  } else if (!who.empty()) {
    add(who + ".");
  }
  if (std::string crm = value("crm"); !crm.empty()) add("CRM: " + crm + ".");
  if (std::string integration = value("integration");
      !integration.empty() && integration != value("crm")) {
    add("Integration: " + integration + ".");
  }
  std::string contact = value("contact_preference");
  std::string email = value("email");
  if (!contact.empty() || !email.empty()) {
    std::string c = "Contact: " + (contact.empty() ? std::string("email") : contact);
    if (!email.empty()) c += " (" + email + ")";
    add(c + ".");
  }
  // Routines first, then the newest events and feelings, most salient first on ties.
  auto newest_first = [](const SummaryFact* a, const SummaryFact* b) {
    if (a->created_at != b->created_at) return a->created_at > b->created_at;
    if (a->salience != b->salience) return a->salience > b->salience;
    return a->content < b->content;
  };
  std::sort(others.begin(), others.end(), newest_first);
  int routines = 0;
  for (const SummaryFact* f : others) {
    if (f->sector == Sector::kProcedural && routines++ < 2) add(f->content);
  }
  int recent = 0;
  for (const SummaryFact* f : others) {
    if (f->sector != Sector::kProcedural && recent++ < 4) add(f->content);
  }
  return out;
}

}  // namespace engram::memory
