// VectorMatrix: a growing set of vectors of one dimension, stored as the
// columns of one contiguous matrix, so that comparing a few query vectors
// with all of them is one matrix product instead of one dot product per
// stored vector (learning compares each call's statements with every current
// memory of the caller; memory_learning.cc).
//
// Not thread-safe: one owner (the memory projector's thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace engram::memory {

class VectorMatrix {
 public:
  explicit VectorMatrix(int dims);
  ~VectorMatrix();
  VectorMatrix(VectorMatrix&&) noexcept;
  VectorMatrix& operator=(VectorMatrix&&) noexcept;

  int dims() const;
  size_t size() const;
  // Appends `v` as row size(): its first dims() entries, zero-padded.
  void Append(const std::vector<float>& v);
  // Row `i` as a vector of dims() entries (a copy).
  std::vector<float> Row(size_t i) const;
  // For each query (dims() entries each), the rows below `rows` whose dot
  // product with it is at least `floor`, ascending: one matrix product. The
  // products are those of a blocked matrix multiplication and may differ
  // from memory::Dot in the last bits; callers choose `floor` a margin below
  // their threshold and re-check the survivors with memory::Dot.
  std::vector<std::vector<uint32_t>> RowsAtLeast(
      const std::vector<const std::vector<float>*>& queries, size_t rows, float floor) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram::memory
