#include "memory/glove_embedder.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Eigen/Core>
#include <cmath>
#include <cstring>

#include "memory/text.h"

namespace engram::memory {

namespace {
constexpr char kMagic[8] = {'E', 'G', 'L', 'O', 'V', 'E', '0', '1'};
// SIF's smoothing constant; the paper finds 1e-3 to 1e-4 work well.
constexpr double kSifA = 1e-3;

// FNV-1a: short words, few collisions at a load factor under one half.
size_t HashWord(std::string_view word) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : word) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h ^ (h >> 32));
}
}  // namespace

float Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  if (na == 0 || nb == 0) return 0;
  return static_cast<float>(dot / std::sqrt(na * nb));
}

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  // Eigen's explicit SIMD: a plain float loop does not vectorise (the
  // compiler keeps the order of the additions), and learning runs this
  // against every current memory of the caller.
  const auto n = static_cast<Eigen::Index>(a.size());
  return Eigen::Map<const Eigen::VectorXf>(a.data(), n)
      .dot(Eigen::Map<const Eigen::VectorXf>(b.data(), n));
}

Result<std::unique_ptr<GloveEmbedder>> GloveEmbedder::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    return Status::NotFound("embedding file " + path + " is missing (tools/setup.sh makes it)");
  }
  struct stat st {};
  fstat(fd, &st);
  size_t size = static_cast<size_t>(st.st_size);
  void* map = size ? mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (map == MAP_FAILED) return Status::IOError("cannot map " + path);
  std::unique_ptr<GloveEmbedder> e(new GloveEmbedder());
  e->map_ = map;
  e->map_size_ = size;
  const char* p = static_cast<const char*>(map);
  auto corrupt = [&](const char* why) {
    return Status::Corruption(path + " is not an Engram GloVe file: " + why);
  };
  if (size < 16 || std::memcmp(p, kMagic, 8) != 0) return corrupt("bad magic");
  uint32_t dims = 0, count = 0;
  std::memcpy(&dims, p + 8, 4);
  std::memcpy(&count, p + 12, 4);
  size_t off = 16;
  const size_t common_bytes = size_t(dims) * 4;
  const size_t offsets_bytes = (size_t(count) + 1) * 4;
  const size_t ranks_bytes = size_t(count) * 4;
  if (dims == 0 || dims > 4096 || off + common_bytes + offsets_bytes + ranks_bytes > size) {
    return corrupt("truncated header");
  }
  e->dims_ = static_cast<int>(dims);
  e->count_ = count;
  e->common_ = reinterpret_cast<const float*>(p + off);
  off += common_bytes;
  e->offsets_ = reinterpret_cast<const uint32_t*>(p + off);
  off += offsets_bytes;
  e->ranks_ = reinterpret_cast<const uint32_t*>(p + off);
  off += ranks_bytes;
  e->strings_ = p + off;
  size_t strings_bytes = e->offsets_[count];
  off += (strings_bytes + 3) / 4 * 4;
  if (off + size_t(count) * dims * 4 != size) return corrupt("size mismatch");
  e->vectors_ = reinterpret_cast<const float*>(p + off);
  for (uint32_t i = 0; i < count; ++i) {
    if (e->offsets_[i] > e->offsets_[i + 1] || e->offsets_[i + 1] > strings_bytes) {
      return corrupt("bad word offsets");
    }
  }
  size_t slots = 16;
  while (slots < size_t(count) * 2) slots *= 2;
  e->slots_.assign(slots, 0);
  e->slot_mask_ = slots - 1;
  for (uint32_t i = 0; i < count; ++i) {
    size_t s = HashWord(e->Word(i)) & e->slot_mask_;
    while (e->slots_[s] != 0) s = (s + 1) & e->slot_mask_;
    e->slots_[s] = i + 1;
  }
  return e;
}

GloveEmbedder::~GloveEmbedder() {
  if (map_) munmap(map_, map_size_);
}

int GloveEmbedder::Find(std::string_view word) const {
  // The file's words are distinct (sorted, as convert_glove writes them), so
  // the first equal word is the one the binary search used to find.
  for (size_t s = HashWord(word) & slot_mask_; slots_[s] != 0; s = (s + 1) & slot_mask_) {
    const uint32_t i = slots_[s] - 1;
    if (Word(i) == word) return static_cast<int>(i);
  }
  return -1;
}

const float* GloveEmbedder::WordVector(std::string_view word) const {
  int i = Find(word);
  return i < 0 ? nullptr : vectors_ + size_t(i) * dims_;
}

int GloveEmbedder::WordRank(std::string_view word) const {
  int i = Find(word);
  return i < 0 ? -1 : static_cast<int>(ranks_[i]);
}

Result<std::vector<float>> GloveEmbedder::Embed(std::string_view text) {
  std::vector<double> sum(dims_, 0.0);
  // Zipf: p(rank r) = 1 / ((r + 1) * H), H the harmonic number of the vocabulary.
  const double harmonic = std::log(double(count_)) + 0.5772156649;
  int known = 0;
  for (const std::string& token : Tokenize(text)) {
    int i = Find(token);
    if (i < 0) {
      // "doesn't" is two GloVe tokens; try the part before the apostrophe.
      size_t apo = token.find('\'');
      if (apo == std::string::npos || apo == 0) continue;
      i = Find(std::string_view(token).substr(0, apo));
      if (i < 0) continue;
    }
    const double p = 1.0 / ((double(ranks_[i]) + 1.0) * harmonic);
    const double weight = kSifA / (kSifA + p);
    const float* v = vectors_ + size_t(i) * dims_;
    for (int d = 0; d < dims_; ++d) sum[d] += weight * v[d];
    ++known;
  }
  std::vector<float> out(dims_, 0.0f);
  if (known == 0) return out;
  double proj = 0;
  for (int d = 0; d < dims_; ++d) proj += sum[d] * common_[d];
  double norm = 0;
  for (int d = 0; d < dims_; ++d) {
    sum[d] -= proj * common_[d];
    norm += sum[d] * sum[d];
  }
  norm = std::sqrt(norm);
  if (norm == 0) return out;
  for (int d = 0; d < dims_; ++d) out[d] = static_cast<float>(sum[d] / norm);
  return out;
}

}  // namespace engram::memory
