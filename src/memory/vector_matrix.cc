#include "memory/vector_matrix.h"

#include <Eigen/Core>
#include <algorithm>

namespace engram::memory {

struct VectorMatrix::Impl {
  int dims = 0;
  size_t rows = 0;
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic> columns;  // dims x capacity
};

VectorMatrix::VectorMatrix(int dims) : impl_(std::make_unique<Impl>()) { impl_->dims = dims; }
VectorMatrix::~VectorMatrix() = default;
VectorMatrix::VectorMatrix(VectorMatrix&&) noexcept = default;
VectorMatrix& VectorMatrix::operator=(VectorMatrix&&) noexcept = default;

int VectorMatrix::dims() const { return impl_->dims; }
size_t VectorMatrix::size() const { return impl_->rows; }

void VectorMatrix::Append(const std::vector<float>& v) {
  Impl& m = *impl_;
  const auto at = static_cast<Eigen::Index>(m.rows);
  if (m.columns.cols() <= at) {
    // Geometric growth: appends stay amortised O(dims).
    m.columns.conservativeResize(m.dims, std::max<Eigen::Index>(64, m.columns.cols() * 2));
  }
  for (int d = 0; d < m.dims; ++d) {
    m.columns(d, at) = d < static_cast<int>(v.size()) ? v[d] : 0.0f;
  }
  ++m.rows;
}

std::vector<float> VectorMatrix::Row(size_t i) const {
  const float* p = impl_->columns.col(static_cast<Eigen::Index>(i)).data();
  return std::vector<float>(p, p + impl_->dims);
}

std::vector<std::vector<uint32_t>> VectorMatrix::RowsAtLeast(
    const std::vector<const std::vector<float>*>& queries, size_t rows, float floor) const {
  const Impl& m = *impl_;
  std::vector<std::vector<uint32_t>> out(queries.size());
  rows = std::min(rows, m.rows);
  if (queries.empty() || rows == 0) return out;
  Eigen::MatrixXf q = Eigen::MatrixXf::Zero(m.dims, static_cast<Eigen::Index>(queries.size()));
  for (size_t j = 0; j < queries.size(); ++j) {
    const std::vector<float>& v = *queries[j];
    for (int d = 0; d < m.dims && d < static_cast<int>(v.size()); ++d) {
      q(d, static_cast<Eigen::Index>(j)) = v[d];
    }
  }
  // rows x queries, column-major: each query's scores are contiguous.
  Eigen::MatrixXf scores(static_cast<Eigen::Index>(rows), q.cols());
  scores.noalias() = m.columns.leftCols(static_cast<Eigen::Index>(rows)).transpose() * q;
  for (size_t j = 0; j < queries.size(); ++j) {
    const float* s = scores.col(static_cast<Eigen::Index>(j)).data();
    for (size_t i = 0; i < rows; ++i) {
      if (s[i] >= floor) out[j].push_back(static_cast<uint32_t>(i));
    }
  }
  return out;
}

}  // namespace engram::memory
