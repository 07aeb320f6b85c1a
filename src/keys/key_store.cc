#include "keys/key_store.h"

#include <algorithm>
#include <cstring>

#include "common/crypto.h"

namespace engram::keys {
namespace {

constexpr char kCheckText[] = "engram keys check v1";
constexpr char kWrapAad[] = "engram data key v1";
constexpr char kSubjectPrefix[] = "engram key subject v1\n";

std::string WrapAad(std::string_view key_id, std::string_view subject_hash) {
  std::string aad(kWrapAad);
  aad.append(key_id).append(subject_hash);
  return aad;
}

}  // namespace

std::string KeyStore::SubjectHash(std::string_view subject) {
  std::string material(kSubjectPrefix);
  material.append(subject);
  auto d = crypto::Sha256(material);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

KeyStore::KeyStore(std::unique_ptr<KeyTable> table, const SecretKey& master, bool read_only)
    : table_(std::move(table)), master_(master), read_only_(read_only), where_(table_->Where()) {}

// The table first: its listener thread calls into the caches below.
KeyStore::~KeyStore() { table_.reset(); }

Result<std::unique_ptr<KeyStore>> KeyStore::Open(const std::string& path, const SecretKey& master,
                                                 bool create, bool read_only) {
  ENGRAM_ASSIGN_OR_RETURN(auto table, SqliteKeyTable::Open(path, create, read_only));
  return Open(std::move(table), master, read_only);
}

Result<std::unique_ptr<KeyStore>> KeyStore::Open(std::unique_ptr<KeyTable> table,
                                                 const SecretKey& master, bool read_only) {
  ENGRAM_ASSIGN_OR_RETURN(std::string check, table->ReadCheck());
  if (check.empty()) {
    if (read_only) return Status::Corruption(table->Where() + " has no check value");
    ENGRAM_ASSIGN_OR_RETURN(std::string value, GcmSeal(master, kCheckText, kCheckText));
    // Another node may have made the store at the same moment: the check
    // value that stands is checked below like any other.
    ENGRAM_ASSIGN_OR_RETURN(check, table->InitCheck(value));
  }
  auto opened = GcmOpen(master, kCheckText, check);
  if (!opened.ok() || *opened != kCheckText) {
    return Status::InvalidArgument(
        "the master key does not open the key store " + table->Where() +
        " (it was made with another key: check ENGRAM_MASTER_KEY / --master-key-file; every "
        "node sharing a key store needs the same master key)");
  }
  std::unique_ptr<KeyStore> store(new KeyStore(std::move(table), master, read_only));
  store->table_->OnKeysDestroyed(
      [s = store.get()](const std::vector<std::string>& ids) { s->ForgetCached(ids); });
  return store;
}

Result<std::shared_ptr<const DataKey>> KeyStore::Unwrap(const StoredKey& row,
                                                        const SecretKey& master) const {
  ENGRAM_ASSIGN_OR_RETURN(std::string raw,
                          GcmOpen(master, WrapAad(row.key_id, row.subject_hash), row.wrapped));
  if (raw.size() != kKeyBytes) return Status::Corruption("key store: a wrapped key has a bad size");
  auto key = std::make_shared<DataKey>();
  key->key_id = row.key_id;
  std::memcpy(key->key.bytes.data(), raw.data(), kKeyBytes);
  std::fill(raw.begin(), raw.end(), '\0');
  return std::shared_ptr<const DataKey>(std::move(key));
}

void KeyStore::Cache(const std::string& subject_hash, std::shared_ptr<const DataKey> key,
                     uint64_t generation) {
  std::lock_guard lock(cache_mu_);
  if (Generation() != generation) return;
  if (by_id_.size() >= kMaxCachedKeys) {
    by_id_.clear();
    by_subject_.clear();
  }
  if (!subject_hash.empty()) by_subject_[subject_hash] = key;
  by_id_[key->key_id] = std::move(key);
}

void KeyStore::ForgetCached(const std::vector<std::string>& key_ids) {
  std::lock_guard lock(cache_mu_);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (key_ids.empty()) {  // anything may have gone
    by_subject_.clear();
    by_id_.clear();
    return;
  }
  const std::unordered_set<std::string> gone(key_ids.begin(), key_ids.end());
  for (auto it = by_subject_.begin(); it != by_subject_.end();) {
    it = gone.count(it->second->key_id) ? by_subject_.erase(it) : std::next(it);
  }
  for (const std::string& id : key_ids) {
    by_id_.erase(id);
    if (destroyed_ids_.size() >= kMaxCachedKeys) destroyed_ids_.clear();
    destroyed_ids_.insert(id);
  }
}

std::shared_ptr<const DataKey> KeyStore::CachedKey(std::string_view subject) {
  if (!table_->CacheIsCoherent()) return nullptr;
  const std::string hash = SubjectHash(subject);
  std::lock_guard lock(cache_mu_);
  auto it = by_subject_.find(hash);
  return it == by_subject_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<const DataKey>> KeyStore::KeyFor(std::string_view subject) {
  const std::string hash = SubjectHash(subject);
  // Cache hits (every event of a known caller) never wait for the table,
  // which a key being made holds through its commit.
  if (table_->CacheIsCoherent()) {
    std::lock_guard lock(cache_mu_);
    if (auto it = by_subject_.find(hash); it != by_subject_.end()) return it->second;
  }
  if (read_only_) {
    const uint64_t generation = Generation();
    std::lock_guard lock(mu_);
    ENGRAM_ASSIGN_OR_RETURN(auto row, table_->FindBySubject(hash));
    if (!row) return Status::Unavailable("key store opened read-only");
    ENGRAM_ASSIGN_OR_RETURN(auto key, Unwrap(*row, master_));
    Cache(hash, key, generation);
    return key;
  }
  // Group commit: callers queue their subject; whoever finds no commit
  // running commits everything queued in one durable transaction, so new
  // callers arriving together share one fsync instead of queueing for one
  // each.
  auto mine = std::make_shared<PendingKey>();
  mine->subject_hash = hash;
  std::unique_lock lock(create_mu_);
  create_queue_.push_back(mine);
  while (!mine->done) {
    if (committing_) {
      create_cv_.wait(lock);
      continue;
    }
    committing_ = true;
    std::vector<std::shared_ptr<PendingKey>> batch;
    batch.swap(create_queue_);
    lock.unlock();
    CommitNewKeys(batch);
    lock.lock();
    for (auto& p : batch) p->done = true;
    committing_ = false;
    create_cv_.notify_all();
  }
  if (!mine->status.ok()) return mine->status;
  return mine->key;
}

void KeyStore::CommitNewKeys(const std::vector<std::shared_ptr<PendingKey>>& batch) {
  const uint64_t generation = Generation();
  std::unordered_map<std::string, std::shared_ptr<const DataKey>> found;
  Status status;
  {
    std::lock_guard lock(mu_);
    status = CommitNewKeysLocked(batch, &found);
  }
  for (const auto& p : batch) {
    if (!status.ok()) {
      p->status = status;
      continue;
    }
    p->key = found[p->subject_hash];
    Cache(p->subject_hash, p->key, generation);
  }
}

Status KeyStore::CommitNewKeysLocked(
    const std::vector<std::shared_ptr<PendingKey>>& batch,
    std::unordered_map<std::string, std::shared_ptr<const DataKey>>* found) {
  // One entry per subject: the batch may name a subject twice, or one that
  // another commit (or another node) made, or a row the cache had dropped.
  std::vector<StoredKey> inserts;
  for (const auto& p : batch) {
    if (found->count(p->subject_hash)) continue;
    ENGRAM_ASSIGN_OR_RETURN(auto row, table_->FindBySubject(p->subject_hash));
    if (row) {
      ENGRAM_ASSIGN_OR_RETURN((*found)[p->subject_hash], Unwrap(*row, master_));
      continue;
    }
    auto key = std::make_shared<DataKey>();
    key->key_id.assign(kKeyIdBytes, '\0');
    ENGRAM_RETURN_IF_ERROR(
        RandomBytes(reinterpret_cast<uint8_t*>(key->key_id.data()), key->key_id.size()));
    ENGRAM_ASSIGN_OR_RETURN(key->key, NewSecretKey());
    ENGRAM_ASSIGN_OR_RETURN(
        std::string wrapped,
        GcmSeal(master_, WrapAad(key->key_id, p->subject_hash), key->key.view()));
    inserts.push_back({p->subject_hash, key->key_id, std::move(wrapped)});
    (*found)[p->subject_hash] = std::move(key);
  }
  if (inserts.empty()) return Status::Ok();
  ENGRAM_ASSIGN_OR_RETURN(std::vector<bool> added, table_->AddKeys(inserts));
  for (size_t i = 0; i < inserts.size(); ++i) {
    if (added[i]) continue;
    // Another node made this subject's first key between our read and our
    // insert: one key per subject, so theirs is the key.
    const std::string& hash = inserts[i].subject_hash;
    ENGRAM_ASSIGN_OR_RETURN(auto row, table_->FindBySubject(hash));
    if (!row) return Status::Unavailable("key store: a key made concurrently vanished; retry");
    ENGRAM_ASSIGN_OR_RETURN((*found)[hash], Unwrap(*row, master_));
  }
  return Status::Ok();
}

Result<std::shared_ptr<const DataKey>> KeyStore::Find(std::string_view key_id) {
  const std::string id(key_id);
  const uint64_t generation = Generation();
  {
    std::lock_guard lock(cache_mu_);
    // Ids are random and never reused, so "gone" stays true whatever the
    // listener knows.
    if (destroyed_ids_.count(id)) return std::shared_ptr<const DataKey>();
    if (table_->CacheIsCoherent()) {
      if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
    }
  }
  std::lock_guard lock(mu_);
  ENGRAM_ASSIGN_OR_RETURN(auto row, table_->FindById(id));
  if (!row) {
    std::lock_guard cache_lock(cache_mu_);
    if (destroyed_ids_.size() >= kMaxCachedKeys) destroyed_ids_.clear();
    destroyed_ids_.insert(id);
    return std::shared_ptr<const DataKey>();
  }
  ENGRAM_ASSIGN_OR_RETURN(auto key, Unwrap(*row, master_));
  Cache(row->subject_hash, key, generation);
  return key;
}

Status KeyStore::BeginErasure(const std::string& pending_key,
                              const std::vector<std::string>& subjects,
                              const std::vector<uint64_t>& erased_seqs,
                              const std::vector<std::string>& key_ids) {
  std::vector<std::string> hashes;
  for (const auto& s : subjects) hashes.push_back(SubjectHash(s));
  std::lock_guard lock(mu_);
  for (const std::string& id : key_ids) {
    ENGRAM_ASSIGN_OR_RETURN(auto row, table_->FindById(id));
    if (row && std::find(hashes.begin(), hashes.end(), row->subject_hash) == hashes.end()) {
      hashes.push_back(row->subject_hash);
    }
  }
  ENGRAM_RETURN_IF_ERROR(table_->RecordErasure(pending_key, hashes, erased_seqs));
  began_[pending_key] = {hashes, erased_seqs};
  return Status::Ok();
}

Status KeyStore::CompleteErasure(const std::string& pending_key, uint64_t forget_seq) {
  std::vector<std::string> destroyed;
  {
    std::lock_guard lock(mu_);
    auto done = table_->CompleteErasure(pending_key, forget_seq);
    auto mine = began_.find(pending_key);
    if (!done.ok() && done.status().code() == StatusCode::kNotFound && mine != began_.end()) {
      // Our intent's row went (another node's recovery dropped it while
      // our connection was down and our ownership with it): the event is
      // appended, so the erasure is recorded again and completed.
      ENGRAM_RETURN_IF_ERROR(
          table_->RecordErasure(pending_key, mine->second.first, mine->second.second));
      done = table_->CompleteErasure(pending_key, forget_seq);
    }
    if (!done.ok()) return done.status();
    if (mine != began_.end()) began_.erase(mine);
    destroyed = std::move(*done);
  }
  // This process's own caches follow at once (other nodes' through the
  // table's notification).
  if (!destroyed.empty()) ForgetCached(destroyed);
  return Status::Ok();
}

Status KeyStore::DropErasure(const std::string& pending_key) {
  std::lock_guard lock(mu_);
  began_.erase(pending_key);
  return table_->DropErasure(pending_key);
}

Result<bool> KeyStore::ClaimErasure(const std::string& pending_key) {
  std::lock_guard lock(mu_);
  return table_->ClaimErasure(pending_key);
}

Result<std::vector<Erasure>> KeyStore::ListErasures() {
  std::lock_guard lock(mu_);
  return table_->ListErasures();
}

Result<size_t> KeyStore::ReapplyErasures() {
  std::vector<std::string> destroyed;
  {
    std::lock_guard lock(mu_);
    ENGRAM_ASSIGN_OR_RETURN(auto erasures, table_->ListErasures());
    // A subject's key goes again only when it is one the erasure destroyed
    // (back from a restore): a key made since for the same subject (a
    // forgotten caller who called again) stays. Erasures recorded before
    // digests were kept fall back to their subjects.
    std::vector<std::string> hashes, ids;
    for (const auto& e : erasures) {
      if (!e.pending_key.empty()) continue;
      if (!e.destroyed_digests) {
        hashes.insert(hashes.end(), e.subject_hashes.begin(), e.subject_hashes.end());
        continue;
      }
      for (const std::string& hash : e.subject_hashes) {
        ENGRAM_ASSIGN_OR_RETURN(auto row, table_->FindBySubject(hash));
        if (row && std::find(e.destroyed_digests->begin(), e.destroyed_digests->end(),
                             KeyIdDigest(row->key_id)) != e.destroyed_digests->end()) {
          ids.push_back(row->key_id);
        }
      }
    }
    if (hashes.empty() && ids.empty()) return size_t{0};
    ENGRAM_ASSIGN_OR_RETURN(destroyed, table_->DestroyKeys(hashes, ids));
  }
  if (!destroyed.empty()) ForgetCached(destroyed);
  return destroyed.size();
}

Status KeyStore::Rotate(const SecretKey& new_master) {
  std::lock_guard lock(mu_);
  ENGRAM_ASSIGN_OR_RETURN(std::string check, GcmSeal(new_master, kCheckText, kCheckText));
  ENGRAM_RETURN_IF_ERROR(table_->RewrapAll(
      [&](const StoredKey& row) -> Result<std::string> {
        ENGRAM_ASSIGN_OR_RETURN(auto key, Unwrap(row, master_));
        return GcmSeal(new_master, WrapAad(row.key_id, row.subject_hash), key->key.view());
      },
      check));
  master_ = new_master;
  return Status::Ok();
}

Result<size_t> KeyStore::KeyCount() {
  std::lock_guard lock(mu_);
  return table_->KeyCount();
}

}  // namespace engram::keys
