// IdSlotTable: the slot of each live memory of one user, found by the
// memory's id: an open-addressing hash table of slot numbers that does not
// copy the ids. The caller keeps the ids (MemoryIndex's records) and passes
// `id_of(slot)` to every call, which the table uses to compare and rehash.
//
// Why: a std::unordered_map<std::string, int> copied every id into a node
// and cost ~100 bytes per memory, a tenth of the index's heap with 1,000
// callers and 1M memories (issue 14); this costs 8-11 bytes per memory.
//
// Not thread-safe: the owner (MemoryIndex::UserState) locks around it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace engram::memory {

class IdSlotTable {
 public:
  size_t size() const { return live_; }

  // The slot holding `id`, or -1.
  template <class IdOf>
  int Find(std::string_view id, const IdOf& id_of) const {
    if (cells_.empty()) return -1;
    const size_t mask = cells_.size() - 1;
    for (size_t i = HashOf(id) & mask;; i = (i + 1) & mask) {
      const int32_t c = cells_[i];
      if (c == kEmpty) return -1;
      if (c >= 0 && id_of(c) == id) return c;
    }
  }

  // Records that `slot` holds `id`. REQUIRES: no slot holds `id`.
  template <class IdOf>
  void Insert(std::string_view id, int slot, const IdOf& id_of) {
    if ((used_ + 1) * 4 > cells_.size() * 3) Rehash(live_ + 1, id_of);
    const size_t mask = cells_.size() - 1;
    size_t i = HashOf(id) & mask;
    while (cells_[i] >= 0) i = (i + 1) & mask;
    if (cells_[i] == kEmpty) ++used_;  // else reuses a tombstone
    cells_[i] = slot;
    ++live_;
  }

  // Forgets `id`. No-op when absent.
  template <class IdOf>
  void Erase(std::string_view id, const IdOf& id_of) {
    if (cells_.empty()) return;
    const size_t mask = cells_.size() - 1;
    for (size_t i = HashOf(id) & mask;; i = (i + 1) & mask) {
      const int32_t c = cells_[i];
      if (c == kEmpty) return;
      if (c >= 0 && id_of(c) == id) {
        cells_[i] = kTombstone;
        --live_;
        return;
      }
    }
  }

  // Room for `n` ids without rehashing.
  template <class IdOf>
  void Reserve(size_t n, const IdOf& id_of) {
    if (n * 4 > cells_.size() * 3) Rehash(n, id_of);
  }

 private:
  static constexpr int32_t kEmpty = -1;
  static constexpr int32_t kTombstone = -2;

  static size_t HashOf(std::string_view id) { return std::hash<std::string_view>{}(id); }

  // A table at most half full with `n` ids, without tombstones.
  template <class IdOf>
  void Rehash(size_t n, const IdOf& id_of) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    std::vector<int32_t> old = std::exchange(cells_, std::vector<int32_t>(cap, kEmpty));
    used_ = 0;
    live_ = 0;
    const size_t mask = cap - 1;
    for (int32_t c : old) {
      if (c < 0) continue;
      size_t i = HashOf(id_of(c)) & mask;
      while (cells_[i] != kEmpty) i = (i + 1) & mask;
      cells_[i] = c;
      ++used_;
      ++live_;
    }
  }

  std::vector<int32_t> cells_;  // slot, kEmpty or kTombstone; size a power of 2
  size_t live_ = 0;             // cells holding a slot
  size_t used_ = 0;             // cells not kEmpty (live + tombstones)
};

}  // namespace engram::memory
