#include "keys/key_table.h"

#include <cstdlib>

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

}  // namespace engram::keys
