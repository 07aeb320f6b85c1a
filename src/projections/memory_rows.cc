#include "projections/memory_rows.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "memory/evidence.h"
#include "memory/summary.h"
#include "memory/text.h"
#include "projections/memory_projector.h"

namespace engram::projections {

using memory::Sector;
using nlohmann::json;

std::string VectorBlob(const std::vector<float>& v) {
  std::string out(v.size() * sizeof(float), '\0');
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<float> BlobVector(const std::string& blob) {
  std::vector<float> v(blob.size() / sizeof(float));
  std::memcpy(v.data(), blob.data(), v.size() * sizeof(float));
  return v;
}

std::string JsonInts(const std::vector<int>& v) { return json(v).dump(); }

// "[3,7]" -> {3, 7}: the source_turns column, written by JsonInts. Parsed by
// hand because it runs for every memory of a user on every call.
std::vector<int> ParseInts(const std::string& text) {
  std::vector<int> out;
  int value = 0;
  bool in_number = false, negative = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      in_number = true;
    } else {
      if (in_number) out.push_back(negative ? -value : value);
      negative = c == '-';
      value = 0;
      in_number = false;
    }
  }
  if (in_number) out.push_back(negative ? -value : value);
  return out;
}

Result<std::vector<Known>> LoadKnown(ReadModelDb& db, const std::string& user_id) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached(
          "SELECT m.id, m.content, coalesce(m.subject, ''), m.primary_sector, m.salience, "
          "m.created_at, m.last_seen_at, coalesce(m.source_conversation_id, ''), "
          "m.source_turns, e.vector, m.created_seq FROM memories m JOIN memory_embeddings e ON "
          "e.memory_id = m.id AND e.sector = m.primary_sector WHERE m.user_id = ? AND "
          "m.valid_to IS NULL ORDER BY m.created_seq, m.id"));
  st->Bind(1, user_id);
  std::vector<Known> out;
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) {
      st->Reset();
      return row.status();
    }
    if (!*row) break;
    Known k;
    k.id = st->Text(0);
    k.content = st->Text(1);
    k.subject = st->Text(2);
    k.sector = memory::ParseSector(st->Text(3)).value_or(Sector::kSemantic);
    k.salience = st->Double(4);
    k.created_at = st->Int(5);
    k.last_seen_at = st->Int(6);
    k.conversation_id = st->Text(7);
    k.source_turns = ParseInts(st->Text(8));
    k.lower = memory::ToLower(k.content);
    k.vector = BlobVector(st->Blob(9));
    k.created_seq = st->Int(10);
    out.push_back(std::move(k));
  }
  st->Reset();
  // The subject's value is not a column of its own: it is the slot value
  // recorded in memories.subject as "subject=value".
  for (Known& k : out) {
    if (auto eq = k.subject.find('='); eq != std::string::npos) {
      k.value = k.subject.substr(eq + 1);
      k.subject = k.subject.substr(0, eq);
    }
  }
  return out;
}

Result<std::vector<ExtractionJob>> PendingExtractionJobs(ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT w.seq, w.attempts, c.user_id, c.id, coalesce(u.name, ''), "
                 "coalesce(c.started_at, 0) FROM "
                 "webhook_events w JOIN conversations c ON c.transcript_seq = w.seq JOIN users u "
                 "ON u.id = c.user_id WHERE w.status = 'pending' AND w.type = "
                 "'post_call_transcription' ORDER BY w.seq"));
  std::vector<ExtractionJob> jobs;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    jobs.push_back({static_cast<log::Seq>(st.Int(0)), st.Int(1), st.Text(2), st.Text(3), st.Text(4),
                    st.Int(5)});
  }
  return jobs;
}

Status RefreshUserSummary(ReadModelDb& db, const std::string& user_id, log::Seq seq,
                          const MemoryEngineParts& parts) {
  ENGRAM_ASSIGN_OR_RETURN(std::vector<Known> known, LoadKnown(db, user_id));
  return WriteUserSummary(db, user_id, seq, parts, known);
}

Result<std::string> ReadUserName(ReadModelDb& db, const std::string& user_id) {
  ENGRAM_ASSIGN_OR_RETURN(Statement * st,
                          db.Cached("SELECT coalesce(name, '') FROM users WHERE id = ?"));
  st->Bind(1, user_id);
  auto row = st->Step();
  std::string name = row.ok() && *row ? st->Text(0) : "";
  st->Reset();
  if (!row.ok()) return row.status();
  return name;
}

Status WriteUserSummary(ReadModelDb& db, const std::string& user_id, log::Seq seq,
                        const MemoryEngineParts& parts, const std::vector<Known>& known) {
  std::vector<memory::SummaryFact> facts;
  for (const Known& k : known) {
    // The evidence (each utterance verbatim) is for recall; a summary, by
    // rules or by an LLM, is made from the facts.
    if (!memory::IsSummarised(k.subject)) continue;
    facts.push_back({k.content, k.sector, k.subject, k.value, k.salience, k.created_at});
  }
  return WriteUserSummary(db, user_id, seq, parts, facts);
}

Status WriteUserSummary(ReadModelDb& db, const std::string& user_id, log::Seq seq,
                        const MemoryEngineParts& parts,
                        const std::vector<memory::SummaryFact>& facts) {
  ENGRAM_ASSIGN_OR_RETURN(std::string name, ReadUserName(db, user_id));
  std::string summary;
  memory::RuleSummarizer rules;
  memory::Summarizer* summarizer = parts.summarizer ? parts.summarizer : &rules;
  if (summarizer == &rules || dynamic_cast<memory::RuleSummarizer*>(summarizer)) {
    summary = memory::BuildRuleSummary(name, facts);
  } else {
    json key_material = {{"identity", summarizer->CacheIdentity()}, {"name", name}};
    for (const auto& f : facts)
      key_material["facts"].push_back({std::string(memory::SectorName(f.sector)), f.content});
    const std::string key = crypto::Sha256Hex(key_material.dump());
    std::optional<std::string> cached;
    if (parts.cache) {
      ENGRAM_ASSIGN_OR_RETURN(cached, parts.cache->Get("summary", key));
    }
    if (cached) {
      summary = *cached;
    } else {
      auto made = summarizer->SummarizeUser(name, facts);
      summary = made.ok() ? *made : memory::BuildRuleSummary(name, facts);
      // Owned by the user: it holds their name and facts (a forget deletes it).
      if (parts.cache) ENGRAM_RETURN_IF_ERROR(parts.cache->Put("summary", key, summary, user_id));
    }
  }
  return db.Run("UPDATE users SET summary = ?, summary_seq = ? WHERE id = ?", summary, seq,
                user_id);
}

namespace {

// Every current memory with its primary vector and waypoint; `where` narrows
// it ("" for all).
constexpr char kIndexRowsSql[] =
    "SELECT m.id, m.user_id, m.content, m.primary_sector, m.salience, m.created_at, "
    "m.last_seen_at, coalesce(m.source_conversation_id, ''), m.source_turns, e.vector, e.model, "
    "coalesce(l.dst_id, ''), coalesce(l.weight, 0) FROM memories m JOIN memory_embeddings e ON "
    "e.memory_id = m.id AND e.sector = m.primary_sector LEFT JOIN memory_links l ON l.src_id = "
    "m.id AND l.is_waypoint = 1 WHERE m.valid_to IS NULL";

// Steps `st` (columns as kIndexRowsSql) into `index`.
Status IndexRows(Statement& st, memory::MemoryIndex& index, const std::string& model_id) {
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (st.Text(10) != model_id) {
      return Status::Conflict("stored memory vectors were made by " + st.Text(10) + ", not " +
                              model_id + ": rebuild with `engram replay`");
    }
    memory::IndexedMemory m;
    m.id = st.Text(0);
    m.content = st.Text(2);
    m.sector = memory::ParseSector(st.Text(3)).value_or(Sector::kSemantic);
    m.salience = st.Double(4);
    m.created_at = st.Int(5);
    m.last_seen_at = st.Int(6);
    m.conversation_id = st.Text(7);
    m.source_turns = ParseInts(st.Text(8));
    m.waypoint_id = st.Text(11);
    m.waypoint_weight = static_cast<float>(st.Double(12));
    index.Upsert(st.Text(1), std::move(m), BlobVector(st.Blob(9)));
  }
  return Status::Ok();
}

}  // namespace

Status LoadMemoryIndex(ReadModelDb& db, memory::MemoryIndex& index, const std::string& model_id) {
  {
    // Each user's arrays sized once before the rows arrive: growing them by
    // doubling made the load's peak RSS ~500 MB above what it keeps (issue
    // 14, 1M memories). A count from the (user_id, valid_to) index.
    ENGRAM_ASSIGN_OR_RETURN(
        Statement counts,
        db.Prepare(
            "SELECT user_id, count(*) FROM memories WHERE valid_to IS NULL GROUP BY user_id"));
    for (;;) {
      ENGRAM_ASSIGN_OR_RETURN(bool row, counts.Step());
      if (!row) break;
      index.Reserve(counts.Text(0), static_cast<size_t>(counts.Int(1)));
    }
  }
  ENGRAM_ASSIGN_OR_RETURN(Statement st,
                          db.Prepare(std::string(kIndexRowsSql) + " ORDER BY m.created_seq, m.id"));
  return IndexRows(st, index, model_id);
}

Status LoadUserMemories(ReadModelDb& db, const std::string& user_id, memory::MemoryIndex& index,
                        const std::string& model_id) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached(std::string(kIndexRowsSql) + " AND m.user_id = ? ORDER BY m.created_seq, m.id"));
  st->Bind(1, user_id);
  Status s = IndexRows(*st, index, model_id);
  st->Reset();
  return s;
}

}  // namespace engram::projections
