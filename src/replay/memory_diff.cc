#include "replay/memory_diff.h"

#include <map>
#include <set>
#include <vector>

#include "memory/evidence.h"

namespace engram::replay {
namespace {

using nlohmann::json;

struct Row {
  std::string id, user_id, content, sector, subject, source;  // source: conversation#turns
  bool current = false;
  bool evidence() const { return memory::IsEvidenceSubject(subject); }
};

Result<std::map<std::string, std::vector<Row>>> LoadByUser(projections::ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(
      projections::Statement st,
      db.Prepare("SELECT id, user_id, content, primary_sector, coalesce(subject, ''), "
                 "coalesce(source_conversation_id, '') || '#' || coalesce(source_turns, ''), "
                 "valid_to IS NULL FROM memories ORDER BY user_id, created_seq, id"));
  std::map<std::string, std::vector<Row>> out;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Row r{st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Text(4), st.Text(5), st.Int(6) != 0};
    out[r.user_id].push_back(std::move(r));
  }
  return out;
}

std::string State(bool current) { return current ? "current" : "superseded"; }

// What differs between two forms of one memory; "" when nothing does.
std::string Differences(const Row& a, const Row& b) {
  std::string what;
  auto add = [&what](const std::string& s) { what.append(what.empty() ? "" : ", ").append(s); };
  if (a.content != b.content) add("content");
  if (a.sector != b.sector) add("sector " + a.sector + " -> " + b.sector);
  if (a.subject != b.subject) add("subject " + a.subject + " -> " + b.subject);
  if (a.current != b.current) add(State(a.current) + " -> " + State(b.current));
  return what;
}

}  // namespace

Result<std::vector<UserDiff>> DiffMemories(projections::ReadModelDb& old_db,
                                           projections::ReadModelDb& new_db) {
  ENGRAM_ASSIGN_OR_RETURN(auto before, LoadByUser(old_db));
  ENGRAM_ASSIGN_OR_RETURN(auto after, LoadByUser(new_db));
  std::set<std::string> users;
  for (const auto& [u, _] : before) users.insert(u);
  for (const auto& [u, _] : after) users.insert(u);
  std::vector<UserDiff> out;
  for (const std::string& user : users) {
    UserDiff d{user, {}};
    const std::vector<Row>& olds = before[user];
    const std::vector<Row>& news = after[user];
    std::map<std::string, const Row*> old_by_id, new_by_id;
    for (const Row& r : olds) old_by_id[r.id] = &r;
    for (const Row& r : news) new_by_id[r.id] = &r;
    // Unmatched by id (ids derive from the wording and its position), the
    // best counterpart among the old rows: the same sentence, then the same
    // slot (crm, email, ...), then the same turns of the same call. A match
    // is a change (or nothing, when only the id moved), not a removal and an
    // addition.
    std::vector<const Row*> pool;
    for (const Row& r : olds) {
      if (!new_by_id.count(r.id)) pool.push_back(&r);
    }
    auto slot = [](const Row& r) { return r.subject.substr(0, r.subject.find('=')); };
    auto take = [&pool](const Row& r, auto same) -> const Row* {
      for (auto it = pool.begin(); it != pool.end(); ++it) {
        if ((*it)->evidence() == r.evidence() && same(**it)) {
          const Row* found = *it;
          pool.erase(it);
          return found;
        }
      }
      return nullptr;
    };
    for (const Row& r : news) {
      if (auto it = old_by_id.find(r.id); it != old_by_id.end()) {
        if (std::string what = Differences(*it->second, r); !what.empty()) {
          d.changes.push_back({MemoryChange::kChanged, r.content, "", what, r.evidence()});
        }
        continue;
      }
      const Row* old = take(r, [&](const Row& o) { return o.content == r.content; });
      if (!old && !r.subject.empty()) {
        old = take(r, [&](const Row& o) { return !o.subject.empty() && slot(o) == slot(r); });
      }
      if (!old) old = take(r, [&](const Row& o) { return o.source == r.source; });
      if (!old) {
        d.changes.push_back({MemoryChange::kAdded, r.content, "", "", r.evidence(), !r.current});
      } else if (std::string what = Differences(*old, r); !what.empty()) {
        d.changes.push_back({MemoryChange::kChanged, r.content,
                             old->content == r.content ? "" : old->content, what, r.evidence()});
      }
    }
    for (const Row* r : pool) {
      d.changes.push_back({MemoryChange::kRemoved, r->content, "", "", r->evidence()});
    }
    if (!d.changes.empty()) out.push_back(std::move(d));
  }
  return out;
}

json ToJson(const std::vector<UserDiff>& diff) {
  json users = json::array();
  for (const UserDiff& d : diff) {
    json added = json::array(), removed = json::array(), changed = json::array();
    json evidence = {{"added", 0}, {"removed", 0}, {"changed", 0}};
    for (const MemoryChange& c : d.changes) {
      if (c.evidence) {
        const char* kind = c.kind == MemoryChange::kAdded     ? "added"
                           : c.kind == MemoryChange::kRemoved ? "removed"
                                                              : "changed";
        evidence[kind] = evidence[kind].get<int>() + 1;
      }
      if (c.kind == MemoryChange::kAdded) added.push_back(c.content);
      if (c.kind == MemoryChange::kRemoved) removed.push_back(c.content);
      if (c.kind == MemoryChange::kChanged) {
        json j = {{"content", c.content}, {"what", c.what}};
        if (!c.old_content.empty()) j["old_content"] = c.old_content;
        changed.push_back(std::move(j));
      }
    }
    users.push_back({{"user_id", d.user_id},
                     {"added", added},
                     {"removed", removed},
                     {"changed", changed},
                     {"evidence", evidence}});
  }
  return {{"users", users}};
}

std::string FormatDiff(const std::vector<UserDiff>& diff) {
  if (diff.empty()) return "no memory differs\n";
  std::string out;
  size_t added = 0, removed = 0, changed = 0;
  size_t evidence[3] = {0, 0, 0};  // by MemoryChange::Kind
  for (const UserDiff& d : diff) {
    out.append("user ").append(d.user_id).append("\n");
    for (const MemoryChange& c : d.changes) {
      if (c.evidence) ++evidence[c.kind];
      switch (c.kind) {
        case MemoryChange::kAdded:
          ++added;
          out.append("  + ").append(c.content).append(c.superseded ? "  (superseded)\n" : "\n");
          break;
        case MemoryChange::kRemoved:
          ++removed;
          out.append("  - ").append(c.content).append("\n");
          break;
        case MemoryChange::kChanged:
          ++changed;
          out.append("  ~ ");
          if (!c.old_content.empty() && c.old_content != c.content) {
            out.append(c.old_content).append("\n    -> ");
          }
          out.append(c.content).append("  (").append(c.what).append(")\n");
          break;
      }
    }
  }
  // "14 added (11 of them utterances kept as said)"
  auto total = [&evidence](size_t n, const char* what, MemoryChange::Kind kind) {
    std::string s = std::to_string(n) + " " + what;
    if (evidence[kind] > 0) {
      s.append(" (")
          .append(std::to_string(evidence[kind]))
          .append(" of them utterances kept as said)");
    }
    return s;
  };
  out.append(std::to_string(diff.size()))
      .append(" user(s): ")
      .append(total(added, "added", MemoryChange::kAdded))
      .append(", ")
      .append(total(removed, "removed", MemoryChange::kRemoved))
      .append(", ")
      .append(total(changed, "changed", MemoryChange::kChanged))
      .append("\n");
  return out;
}

}  // namespace engram::replay
