// The thresholded product learning uses (ColumnsAtLeastAvx2) keeps exactly
// the columns whose score in the full product (MultiplyAddAvx2, zero bias)
// reaches the floor: the same decisions as before it stopped writing the
// score matrix, for every row count the tiles split into (6, 2, 1) and a
// column count that ends inside a panel.
#include "memory/dense_kernels.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace engram::memory {
namespace {

TEST(DenseKernels, ColumnsAtLeastKeepsExactlyTheFullProductsColumnsAtTheFloor) {
  if (!HasAvx2Fma()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  constexpr int kDims = 100;
  std::mt19937 rng(11);
  std::normal_distribution<float> gauss;
  PackedWeights w(kDims);
  const size_t columns = 16 * 40 + 7;
  std::vector<float> column(kDims);
  for (size_t c = 0; c < columns; ++c) {
    for (float& x : column) x = gauss(rng) * 0.1f;
    w.SetColumn(c, column.data());
  }
  const std::vector<float> zero(static_cast<size_t>(w.n()), 0.0f);
  for (int m : {1, 2, 3, 5, 6, 7, 9, 13, 20}) {
    std::vector<float> a(static_cast<size_t>(m) * kDims);
    for (float& x : a) x = gauss(rng) * 0.1f;
    std::vector<float> full(static_cast<size_t>(m) * w.n());
    MultiplyAddAvx2(a.data(), m, w, zero.data(), full.data());
    // A floor with about a tenth of the scores above it, and one exactly at
    // a score (ties are kept).
    const float floor = 0.13f;
    const float tie = full[static_cast<size_t>(m - 1) * w.n() + 5];
    for (float f : {floor, tie}) {
      for (size_t limit : {columns, columns - 9, size_t{16}}) {
        std::vector<std::vector<uint32_t>> hits(static_cast<size_t>(m));
        ColumnsAtLeastAvx2(a.data(), m, w, limit, f, hits.data());
        size_t kept = 0;
        for (int r = 0; r < m; ++r) {
          std::vector<uint32_t> want;
          for (size_t c = 0; c < limit; ++c) {
            if (full[static_cast<size_t>(r) * w.n() + c] >= f) want.push_back(c);
          }
          EXPECT_EQ(hits[r], want) << "m " << m << " row " << r << " limit " << limit;
          kept += want.size();
        }
        if (limit == columns && f == floor) {
          EXPECT_GT(kept, static_cast<size_t>(m) * 20);
        }
      }
    }
  }
}

}  // namespace
}  // namespace engram::memory
