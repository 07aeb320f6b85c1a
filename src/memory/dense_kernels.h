// Matrix products of the sentence encoder (sentence_encoder.cc) with AVX2 and
// FMA when the CPU has them, chosen at run time: the default build targets
// baseline x86-64 (SSE2), where Eigen's products run ~3x slower, and a build
// for AVX2 (-march) would not start on older CPUs. Without AVX2 the encoder
// keeps using Eigen. Only these functions are compiled for AVX2 (function
// attributes), so nothing else in the binary needs it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace engram::memory {

// True when this CPU runs AVX2 and FMA instructions.
bool HasAvx2Fma();

// A K x N weight matrix laid out for the kernel: panels of 16 columns, each
// K rows of 16 contiguous floats. N must be a multiple of 16.
class PackedWeights {
 public:
  PackedWeights() = default;
  // `row_major` holds K rows of N floats.
  PackedWeights(const float* row_major, int k, int n);
  // A K x 0 matrix that grows a column at a time (VectorMatrix): n() is
  // then the columns rounded up to a whole panel, the rest zero.
  explicit PackedWeights(int k) : k_(k) {}
  // Appends column `columns` (k() floats), a panel of 16 zero columns
  // added when the last is full. `columns` counts the ones appended before.
  void SetColumn(size_t columns, const float* column);
  // Entry (row, column) of the matrix.
  float at(int row, size_t column) const {
    return panels_[(column / 16) * static_cast<size_t>(k_) * 16 + static_cast<size_t>(row) * 16 +
                   column % 16];
  }
  bool empty() const { return panels_.empty(); }
  int k() const { return k_; }
  int n() const { return n_; }
  const float* panels() const { return panels_.data(); }

 private:
  int k_ = 0, n_ = 0;
  std::vector<float> panels_;
};

// out (m x N, row-major) = a (m x K, row-major) * w + bias (N floats).
// `split`: half the columns on a second thread (the same result to the bit).
// REQUIRES: HasAvx2Fma().
void MultiplyAddAvx2(const float* a, int m, const PackedWeights& w, const float* bias, float* out,
                     bool split = false);

// For each row r of `a` (m x K, row-major), appends to hits[r], ascending,
// the columns c < `columns` of w with (a * w)[r][c] >= floor. The products are
// those of MultiplyAddAvx2 with a zero bias, to the bit, but thresholded per
// tile while it is in registers: no m x N score matrix is written, faulted in
// and scanned again (8 MB per call at 100k vectors and 20 queries).
// REQUIRES: HasAvx2Fma(), columns <= w.n().
void ColumnsAtLeastAvx2(const float* a, int m, const PackedWeights& w, size_t columns, float floor,
                        std::vector<uint32_t>* hits);

}  // namespace engram::memory
