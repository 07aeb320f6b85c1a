#include "memory/query_cache.h"

namespace engram::memory {

std::string RecallCache::Key(const std::string& user_id, const std::string& query, size_t limit) {
  std::string key = user_id;
  key += '\x1f';
  key += query;
  key += '\x1f';
  key += std::to_string(limit);
  return key;
}

std::optional<std::vector<RecallHit>> RecallCache::Get(const std::string& user_id,
                                                       const std::string& query, size_t limit,
                                                       uint64_t version) {
  auto entry = entries_.Get(Key(user_id, query, limit));
  if (!entry || (*entry)->version != version ||
      std::chrono::steady_clock::now() - (*entry)->stored > ttl_) {
    return std::nullopt;
  }
  return (*entry)->hits;
}

void RecallCache::Put(const std::string& user_id, const std::string& query, size_t limit,
                      uint64_t version, std::vector<RecallHit> hits) {
  entries_.Put(Key(user_id, query, limit),
               std::make_shared<const Entry>(
                   Entry{version, std::chrono::steady_clock::now(), std::move(hits)}));
}

Result<std::vector<float>> CachingEmbedder::Embed(std::string_view text) {
  const std::string key(text);
  if (auto hit = vectors_.Get(key)) return *hit;
  ENGRAM_ASSIGN_OR_RETURN(std::vector<float> v, inner_.Embed(text));
  vectors_.Put(key, v);
  return v;
}

}  // namespace engram::memory
