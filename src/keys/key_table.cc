#include "keys/key_table.h"

#include <cstdlib>

#include "common/crypto.h"

namespace engram::keys {

std::string JoinSeqs(const std::vector<uint64_t>& seqs) {
  std::string out;
  for (uint64_t s : seqs) {
    if (!out.empty()) out.push_back(',');
    out.append(std::to_string(s));
  }
  return out;
}

std::vector<uint64_t> SplitSeqs(const std::string& text) {
  std::vector<uint64_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(std::strtoull(text.substr(pos, comma - pos).c_str(), nullptr, 10));
    pos = comma + 1;
  }
  return out;
}

std::string JoinHashes(const std::vector<std::string>& hashes) {
  std::string out;
  for (const std::string& h : hashes) out.append(h);
  return out;
}

std::vector<std::string> SplitHashes(const std::string& blob) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 32 <= blob.size(); i += 32) out.push_back(blob.substr(i, 32));
  return out;
}

std::string KeyIdDigest(const std::string& key_id) {
  auto d = crypto::Sha256("engram destroyed key v1\n" + key_id);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

std::string JoinDigests(const std::vector<std::string>& key_ids) {
  std::string out;
  for (const std::string& id : key_ids) out.append(KeyIdDigest(id));
  return out;
}

}  // namespace engram::keys
