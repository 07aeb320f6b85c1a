// Caches for the memory tool's hot path. Thread-safe, bounded (LRU).
//
// RecallCache: the ranked answer for (user, query, limit), valid while the
// user's memory version is unchanged (MemoryIndex::Version: memories added,
// superseded or forgotten) and for at most `ttl`: recalls and restatements
// move salience without changing the version, so a cached ranking may lag
// them by up to `ttl`.
//
// CachingEmbedder: an Embedder that remembers query vectors; worth most in
// front of a remote embedder.
#pragma once

#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "memory/embedder.h"
#include "memory/recall.h"

namespace engram::memory {

template <typename V>
class LruMap {
 public:
  explicit LruMap(size_t capacity) : capacity_(capacity) {}
  std::optional<V> Get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    index_.clear();
    order_.clear();
  }
  void Put(const std::string& key, V value) {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    if (index_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<std::string, V>> order_;
  std::unordered_map<std::string, typename std::list<std::pair<std::string, V>>::iterator> index_;
};

class RecallCache {
 public:
  RecallCache(size_t capacity, std::chrono::milliseconds ttl) : entries_(capacity), ttl_(ttl) {}

  // The cached hits, when present for this version and younger than ttl.
  std::optional<std::vector<RecallHit>> Get(const std::string& user_id, const std::string& query,
                                            size_t limit, uint64_t version);
  void Put(const std::string& user_id, const std::string& query, size_t limit, uint64_t version,
           std::vector<RecallHit> hits);
  // Drops every answer (the read model was swapped: versions start again;
  // or a caller was forgotten: their answers must not stay in memory).
  void Clear() { entries_.Clear(); }

 private:
  struct Entry {
    uint64_t version;
    std::chrono::steady_clock::time_point stored;
    std::vector<RecallHit> hits;
  };
  static std::string Key(const std::string& user_id, const std::string& query, size_t limit);
  LruMap<std::shared_ptr<const Entry>> entries_;
  const std::chrono::milliseconds ttl_;
};

class CachingEmbedder final : public Embedder {
 public:
  // `inner` must outlive this embedder.
  CachingEmbedder(Embedder& inner, size_t capacity) : inner_(inner), vectors_(capacity) {}
  std::string ModelId() const override { return inner_.ModelId(); }
  int Dimensions() const override { return inner_.Dimensions(); }
  bool IsDeterministic() const override { return inner_.IsDeterministic(); }
  Result<std::vector<float>> Embed(std::string_view text) override;
  // Drops every cached vector: the texts are queries, which can hold a
  // forgotten caller's words, and are not tied to one caller.
  void Clear() { vectors_.Clear(); }

 private:
  Embedder& inner_;
  LruMap<std::vector<float>> vectors_;
};

}  // namespace engram::memory
