// The index's compact layout (issue 14): ids found through IdSlotTable,
// conversation ids, waypoints and source turns in per-user pools, arrays
// reserved before a bulk load. None of it may change what callers get back.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "memory/glove_embedder.h"
#include "memory/id_slot_table.h"
#include "memory/memory_index.h"
#include "support/test_support.h"
#include "unit/shared_glove.h"

namespace engram::memory {
namespace {

// Random inserts and erases, some of ids erased before, checked against a
// std::map after every step; enough of them to rehash several times and to
// fill the table with tombstones.
TEST(IdSlotTable, FindsWhatAMapFindsThroughInsertsErasesAndRehashes) {
  std::vector<std::string> id_at;  // by slot, as the index keeps them
  auto id_of = [&](int slot) -> const std::string& { return id_at[slot]; };
  IdSlotTable table;
  std::map<std::string, int> model;
  std::mt19937 rng(14);
  for (int step = 0; step < 20'000; ++step) {
    const std::string id = "m_" + std::to_string(rng() % 3'000);
    if (rng() % 3 == 0) {
      table.Erase(id, id_of);
      model.erase(id);
    } else if (!model.count(id)) {
      id_at.push_back(id);
      const int slot = static_cast<int>(id_at.size()) - 1;
      table.Insert(id, slot, id_of);
      model[id] = slot;
    }
    ASSERT_EQ(table.size(), model.size()) << step;
    const std::string probe = "m_" + std::to_string(rng() % 3'000);
    auto it = model.find(probe);
    ASSERT_EQ(table.Find(probe, id_of), it == model.end() ? -1 : it->second) << step;
  }
  for (const auto& [id, slot] : model) EXPECT_EQ(table.Find(id, id_of), slot) << id;
  table.Reserve(100'000, id_of);  // a rehash keeps every entry
  for (const auto& [id, slot] : model) EXPECT_EQ(table.Find(id, id_of), slot) << id;
}

IndexedMemory Memory(int i, int variant) {
  const char* kWords[] = {"invoices", "payroll", "shipping", "contacts", "forecast",
                          "tickets",  "labels",  "Monday",   "Xero",     "Shopify"};
  IndexedMemory m;
  m.id = "m_" + std::to_string(i);
  m.content = std::string("Fact ") + kWords[i % 10] + " " + kWords[(i / 10 + variant) % 10] +
              " number " + std::to_string(i % 37);
  m.sector = static_cast<Sector>(i % kSectorCount);
  m.salience = 0.1 + 0.001 * i;
  m.created_at = 1'000 + i;
  m.last_seen_at = 2'000 + i + variant;
  m.conversation_id = i % 11 == 0 ? "" : "conv_" + std::to_string(i / 7);
  for (int t = 0; t < i % 4; ++t) m.source_turns.push_back(i + t);
  if (i % 5 == 0) {
    m.waypoint_id = "m_" + std::to_string(i / 2);
    m.waypoint_weight = 0.8f + 0.0001f * static_cast<float>(i);
  }
  return m;
}

void ExpectSame(const IndexedMemory& got, const IndexedMemory& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.content, want.content) << want.id;
  EXPECT_EQ(got.sector, want.sector) << want.id;
  EXPECT_EQ(got.salience, want.salience) << want.id;
  EXPECT_EQ(got.created_at, want.created_at) << want.id;
  EXPECT_EQ(got.last_seen_at, want.last_seen_at) << want.id;
  EXPECT_EQ(got.conversation_id, want.conversation_id) << want.id;
  EXPECT_EQ(got.source_turns, want.source_turns) << want.id;
  EXPECT_EQ(got.waypoint_id, want.waypoint_id) << want.id;
  EXPECT_EQ(got.waypoint_weight, want.waypoint_weight) << want.id;
}

// Every field a caller gets back is the one upserted last, through
// replacements, removals and the compaction they cause; removed ids are gone.
TEST(MemoryIndex, ReturnsEachMemorysFieldsThroughReplacementsRemovalsAndCompaction) {
  MemoryIndex index(Glove().Dimensions());
  std::map<std::string, IndexedMemory> model;
  auto upsert = [&](const IndexedMemory& m) {
    index.Upsert("u", m, *Glove().Embed(m.content));
    model[m.id] = m;
  };
  for (int i = 0; i < 400; ++i) upsert(Memory(i, 0));
  for (int i = 0; i < 400; i += 3) {
    index.Remove("u", "m_" + std::to_string(i));
    model.erase("m_" + std::to_string(i));
  }
  for (int i = 1; i < 400; i += 9) upsert(Memory(i, 4));
  for (int i = 2; i < 300; i += 3) {  // the dead become the majority: compacts
    index.Remove("u", "m_" + std::to_string(i));
    model.erase("m_" + std::to_string(i));
  }
  index.ShrinkToFit();
  ASSERT_EQ(index.Count("u"), model.size());
  for (int i = 0; i < 400; ++i) {
    const std::string id = "m_" + std::to_string(i);
    IndexedMemory got;
    ASSERT_EQ(index.Get("u", id, &got), model.count(id) == 1) << id;
    if (model.count(id)) ExpectSame(got, model[id]);
  }
  const auto terms = index.QueryTerms("payroll invoices Monday", {});
  const auto top =
      index.TopBySimilarity("u", *Glove().Embed("payroll invoices Monday"), terms, {}, 1'000);
  ASSERT_EQ(top.size(), model.size());
  for (const auto& c : top) ExpectSame(c.memory, model[c.memory.id]);
}

// A user reserved at its final size before the load answers exactly as one
// grown memory by memory: same slots, same scores, same order.
TEST(MemoryIndex, ReservingBeforeALoadChangesNoAnswer) {
  MemoryIndex grown(Glove().Dimensions());
  MemoryIndex reserved(Glove().Dimensions());
  reserved.Reserve("u", 250);
  for (int i = 0; i < 250; ++i) {
    const IndexedMemory m = Memory(i, 0);
    grown.Upsert("u", m, *Glove().Embed(m.content));
    reserved.Upsert("u", m, *Glove().Embed(m.content));
  }
  EXPECT_EQ(reserved.Count("u"), 250u);
  for (const char* q : {"payroll invoices", "Xero labels", "shipping forecast Monday"}) {
    const auto a = grown.TopBySimilarity("u", *Glove().Embed(q), grown.QueryTerms(q, {}), {}, 50);
    const auto b =
        reserved.TopBySimilarity("u", *Glove().Embed(q), reserved.QueryTerms(q, {}), {}, 50);
    ASSERT_EQ(a.size(), b.size()) << q;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].memory.id, b[i].memory.id) << q << " " << i;
      EXPECT_EQ(a[i].similarity, b[i].similarity) << q << " " << i;
    }
  }
}

}  // namespace
}  // namespace engram::memory
