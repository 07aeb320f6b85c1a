#include "memory/dense_kernels.h"

#include <immintrin.h>

#include <functional>
#include <thread>

namespace engram::memory {

namespace {

constexpr int kPanel = 16;  // columns per panel: two 8-float AVX registers

// R rows of `a` times one panel: 2R accumulators stay in registers while
// the panel's rows stream past, one broadcast per row and column of `a`.
template <int R>
__attribute__((target("avx2,fma"))) inline void Tile(const float* a, int k, const float* panel,
                                                     __m256 bias0, __m256 bias1, float* out,
                                                     int out_stride) {
  __m256 acc0[R], acc1[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    acc0[i] = bias0;
    acc1[i] = bias1;
  }
  for (int kk = 0; kk < k; ++kk) {
    const __m256 w0 = _mm256_loadu_ps(panel + kk * kPanel);
    const __m256 w1 = _mm256_loadu_ps(panel + kk * kPanel + 8);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m256 x = _mm256_broadcast_ss(a + static_cast<size_t>(i) * k + kk);
      acc0[i] = _mm256_fmadd_ps(x, w0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(x, w1, acc1[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    _mm256_storeu_ps(out + static_cast<size_t>(i) * out_stride, acc0[i]);
    _mm256_storeu_ps(out + static_cast<size_t>(i) * out_stride + 8, acc1[i]);
  }
}

}  // namespace

bool HasAvx2Fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

PackedWeights::PackedWeights(const float* row_major, int k, int n) : k_(k), n_(n) {
  panels_.resize(static_cast<size_t>(k) * n);
  float* out = panels_.data();
  for (int p = 0; p < n / kPanel; ++p) {
    for (int kk = 0; kk < k; ++kk) {
      const float* row = row_major + static_cast<size_t>(kk) * n + p * kPanel;
      for (int j = 0; j < kPanel; ++j) *out++ = row[j];
    }
  }
}

void PackedWeights::SetColumn(size_t columns, const float* column) {
  if (columns % kPanel == 0) {
    panels_.resize(panels_.size() + static_cast<size_t>(k_) * kPanel, 0.0f);
    n_ += kPanel;
  }
  float* panel = panels_.data() + (columns / kPanel) * static_cast<size_t>(k_) * kPanel;
  for (int kk = 0; kk < k_; ++kk)
    panel[static_cast<size_t>(kk) * kPanel + columns % kPanel] = column[kk];
}

namespace {

// Panels [first, last) of the product.
__attribute__((target("avx2,fma"))) void Panels(const float* a, int m, const PackedWeights& w,
                                                const float* bias, float* out, int first,
                                                int last) {
  const int k = w.k(), n = w.n();
  // Panel by panel: one panel (K x 16) stays in cache while every row of
  // `a` passes it, six rows at a time (12 accumulators of 16 registers).
  for (int p = first; p < last; ++p) {
    const float* panel = w.panels() + static_cast<size_t>(p) * k * kPanel;
    const __m256 b0 = _mm256_loadu_ps(bias + p * kPanel);
    const __m256 b1 = _mm256_loadu_ps(bias + p * kPanel + 8);
    int r = 0;
    for (; r + 6 <= m; r += 6) {
      Tile<6>(a + static_cast<size_t>(r) * k, k, panel, b0, b1,
              out + static_cast<size_t>(r) * n + p * kPanel, n);
    }
    for (; r + 2 <= m; r += 2) {
      Tile<2>(a + static_cast<size_t>(r) * k, k, panel, b0, b1,
              out + static_cast<size_t>(r) * n + p * kPanel, n);
    }
    for (; r < m; ++r) {
      Tile<1>(a + static_cast<size_t>(r) * k, k, panel, b0, b1,
              out + static_cast<size_t>(r) * n + p * kPanel, n);
    }
  }
}

// Appends to hits[i] the columns of one tile's rows (R x 16 scores in
// `tile`, stride 16) that are at least `floor` and below `columns`.
template <int R>
__attribute__((target("avx2,fma"))) inline void CollectAtLeast(const float* tile, size_t first,
                                                               size_t columns, __m256 floor,
                                                               std::vector<uint32_t>* hits) {
  for (int i = 0; i < R; ++i) {
    const __m256 lo = _mm256_cmp_ps(_mm256_loadu_ps(tile + i * kPanel), floor, _CMP_GE_OQ);
    const __m256 hi = _mm256_cmp_ps(_mm256_loadu_ps(tile + i * kPanel + 8), floor, _CMP_GE_OQ);
    unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(lo)) |
                    (static_cast<unsigned>(_mm256_movemask_ps(hi)) << 8);
    while (mask != 0) {
      const size_t c = first + static_cast<size_t>(__builtin_ctz(mask));
      mask &= mask - 1;
      if (c < columns) hits[i].push_back(static_cast<uint32_t>(c));
    }
  }
}

}  // namespace

__attribute__((target("avx2,fma"))) void ColumnsAtLeastAvx2(const float* a, int m,
                                                            const PackedWeights& w, size_t columns,
                                                            float floor,
                                                            std::vector<uint32_t>* hits) {
  const int k = w.k();
  const size_t panels = (columns + kPanel - 1) / kPanel;
  const __m256 zero = _mm256_setzero_ps();
  const __m256 at_least = _mm256_set1_ps(floor);
  alignas(32) float tile[6 * kPanel];
  // Panel by panel, as Panels does, so each row's hits come out ascending.
  for (size_t p = 0; p < panels; ++p) {
    const float* panel = w.panels() + p * static_cast<size_t>(k) * kPanel;
    const size_t first = p * kPanel;
    int r = 0;
    for (; r + 6 <= m; r += 6) {
      Tile<6>(a + static_cast<size_t>(r) * k, k, panel, zero, zero, tile, kPanel);
      CollectAtLeast<6>(tile, first, columns, at_least, hits + r);
    }
    for (; r + 2 <= m; r += 2) {
      Tile<2>(a + static_cast<size_t>(r) * k, k, panel, zero, zero, tile, kPanel);
      CollectAtLeast<2>(tile, first, columns, at_least, hits + r);
    }
    for (; r < m; ++r) {
      Tile<1>(a + static_cast<size_t>(r) * k, k, panel, zero, zero, tile, kPanel);
      CollectAtLeast<1>(tile, first, columns, at_least, hits + r);
    }
  }
}

void MultiplyAddAvx2(const float* a, int m, const PackedWeights& w, const float* bias, float* out,
                     bool split) {
  const int panels = w.n() / kPanel;
  if (!split || panels < 2) {
    Panels(a, m, w, bias, out, 0, panels);
    return;
  }
  // Two threads, each its own columns: every output is computed by the same
  // operations as on one thread, so the result is the same to the bit.
  std::thread other(Panels, a, m, std::cref(w), bias, out, panels / 2, panels);
  Panels(a, m, w, bias, out, 0, panels / 2);
  other.join();
}

}  // namespace engram::memory
