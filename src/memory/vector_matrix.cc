#include "memory/vector_matrix.h"

#include <algorithm>

#include "memory/dense_kernels.h"

namespace engram::memory {

// The vectors are the columns of a K x N matrix in the sentence encoder's
// panel layout (dense_kernels.h), so that the AVX2 kernel multiplies them
// in place: no copy or packing of the whole matrix per product, which is
// most of the cost of a general matrix product at 100k vectors.
struct VectorMatrix::Impl {
  explicit Impl(int d) : dims(d), columns(d) {}
  int dims = 0;
  size_t rows = 0;
  PackedWeights columns;
};

VectorMatrix::VectorMatrix(int dims) : impl_(std::make_unique<Impl>(dims)) {}
VectorMatrix::~VectorMatrix() = default;
VectorMatrix::VectorMatrix(VectorMatrix&&) noexcept = default;
VectorMatrix& VectorMatrix::operator=(VectorMatrix&&) noexcept = default;

int VectorMatrix::dims() const { return impl_->dims; }
size_t VectorMatrix::size() const { return impl_->rows; }

void VectorMatrix::Append(const std::vector<float>& v) {
  Impl& m = *impl_;
  std::vector<float> column(static_cast<size_t>(m.dims), 0.0f);
  std::copy_n(v.begin(), std::min(v.size(), column.size()), column.begin());
  m.columns.SetColumn(m.rows, column.data());
  ++m.rows;
}

std::vector<float> VectorMatrix::Row(size_t i) const {
  std::vector<float> out(static_cast<size_t>(impl_->dims));
  for (int d = 0; d < impl_->dims; ++d) out[d] = impl_->columns.at(d, i);
  return out;
}

std::vector<std::vector<uint32_t>> VectorMatrix::RowsAtLeast(
    const std::vector<const std::vector<float>*>& queries, size_t rows, float floor) const {
  const Impl& m = *impl_;
  std::vector<std::vector<uint32_t>> out(queries.size());
  rows = std::min(rows, m.rows);
  if (queries.empty() || rows == 0) return out;
  const int k = m.dims;
  // The queries as rows of a (queries x K, row-major), zero-padded.
  std::vector<float> a(queries.size() * static_cast<size_t>(k), 0.0f);
  for (size_t j = 0; j < queries.size(); ++j) {
    const std::vector<float>& v = *queries[j];
    std::copy_n(v.begin(), std::min(v.size(), static_cast<size_t>(k)), a.begin() + j * k);
  }
  if (HasAvx2Fma()) {
    ColumnsAtLeastAvx2(a.data(), static_cast<int>(queries.size()), m.columns, rows, floor,
                       out.data());
    return out;
  }
  // Panel by panel, 16 independent sums per query: vectorises on SSE2.
  const float* panels = m.columns.panels();
  for (size_t p = 0; p * 16 < rows; ++p) {
    const float* panel = panels + p * static_cast<size_t>(k) * 16;
    for (size_t j = 0; j < queries.size(); ++j) {
      float acc[16] = {};
      for (int kk = 0; kk < k; ++kk) {
        const float q = a[j * k + kk];
        for (int c = 0; c < 16; ++c) acc[c] += panel[kk * 16 + c] * q;
      }
      for (size_t c = 0; c < 16 && p * 16 + c < rows; ++c) {
        if (acc[c] >= floor) out[j].push_back(static_cast<uint32_t>(p * 16 + c));
      }
    }
  }
  return out;
}

}  // namespace engram::memory
